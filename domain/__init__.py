"""The receivables domain: pure business rules, no I/O, no clock.

Concept
    Every fact a billing coordinator records about a customer account is an
    immutable event on the :class:`~domain.account.Account` aggregate. The
    modules here hold one concept each: ``money`` (exact amounts), ``account``
    (the aggregate, its events, commands and queries), ``charges``,
    ``open_items`` (invoices and terms), ``schedules`` (due schedules and
    installment shares), ``payments`` and ``allocation`` (cash and how it is
    applied), ``ledger`` (the balance equation), ``write_offs``, ``settlement``,
    ``plans`` (payment arrangements), ``subscriptions`` (proration),
    ``claims`` (insurance), ``disputes``, ``collections_activity`` (dunning,
    promises), ``dunning`` (a tenant's dunning policy), ``tenant`` (the tenant's
    settings aggregate: dunning policy versions, close schedule, days closed),
    ``hash_chain`` (tamper evidence), ``provenance``, ``errors`` and ``transcodings``.

Invariants
    Imports only the standard library and eventsourcing's domain classes (plus
    the abstract ``Transcoding`` in ``transcodings``); dates and ids come in as
    arguments; nothing here reads a clock, a file, a network or a random source.
"""

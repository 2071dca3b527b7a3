"""A seeded fault simulation of the whole stack, in the manner of TigerBeetle's VOPR (issue 12).

``generator`` makes a seeded stream of commands (valid and hostile), ``shadow`` predicts what
the product must answer, ``faults`` makes the database refuse or drop saves, ``harness`` runs
a stream against real PostgreSQL (and Kafka) and checks every invariant, ``shrink`` cuts a
failing stream down. Run one seed with ``python -m tests.simulation --seed N --commands M``;
``make soak SEED=N MINUTES=M`` runs many.
"""

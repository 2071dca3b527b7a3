"""What the office sends: invoices, statements and letters, rendered and delivered.

Each document is built from an account's events as of a business date and as known at a
moment (:mod:`domain.documents`), written out by the tenant's templates in HTML and PDF
(:mod:`services.documents.rendering`), and delivered by e-mail (:mod:`services.documents.mail`)
or gathered into a print batch; what was sent is recorded on the account with the document's
hash. Statement runs and dunning letters produce many at once (:mod:`services.documents.runs`).
"""

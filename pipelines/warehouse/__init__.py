"""The warehouse: connecting, the schema, rendering the SQL models, the ledger of inbox files, scoping of
recomputations, versions and publishing. It imports nothing from `assets`; every stage reaches DuckDB
through it."""

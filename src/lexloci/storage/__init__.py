"""Storage adapters: SQLAlchemy engines, the shared table metadata, and the SQL audit log.

SQLite is the default (one file, WAL, every write transaction BEGIN IMMEDIATE) and PostgreSQL
the fleet option; both run the same test suite (tests marked ``postgres`` need
LEXLOCI_TEST_POSTGRES_URL).
"""

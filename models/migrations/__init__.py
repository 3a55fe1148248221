"""Alembic migrations for the dondoc schema (run with `dondoc init`)."""

"""The journal's tables in SQL, shared by the SQLite and PostgreSQL backends."""

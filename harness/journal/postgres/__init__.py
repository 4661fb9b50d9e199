"""The PostgreSQL backend (psycopg 3): ``[journal] url = "postgresql://..."`` or
``HARNESS_JOURNAL_URL``; the journal's tables, blobs and run locks in that database."""

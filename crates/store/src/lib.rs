//! Store traits per consumer, with SQLite (embedded default) and PostgreSQL backends

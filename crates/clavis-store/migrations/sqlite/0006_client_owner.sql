-- Clavis schema v6 (SQLite): Hydra's client `owner`, a column so lists can filter on it.
-- Keep in step with migrations/postgres/0006_client_owner.sql.

ALTER TABLE clients ADD COLUMN owner TEXT NOT NULL DEFAULT '';

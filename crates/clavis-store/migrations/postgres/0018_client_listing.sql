-- Clavis schema v18 (PostgreSQL): client lists whose cost does not grow with the registry.
-- Keep in step with migrations/sqlite/0018_client_listing.sql.
--
-- `seq` orders a tenant's clients as they were added (unique across tenants; the authms list
-- is newest first by it). `client_counts` holds each tenant's live clients per status, kept
-- with every write in its transaction, so a list's `total` is one row. `client_pages` splits
-- a tenant's clients into runs of 4096 consecutive `seq`s with the live count of each, so
-- page N is found by summing a few hundred rows and skipping fewer than 4096 index entries,
-- not by an OFFSET over every row. `client_owner_counts` is the same total per owner (Hydra's
-- `owner` filter). The name search index is the one structure of its own per database: on SQLite
-- an FTS5 trigram table keyed by `seq`, here a pg_trgm GIN index.

ALTER TABLE clients ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE clients SET seq = r.n
  FROM (SELECT tenant_id, client_id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM clients) AS r
  WHERE clients.tenant_id = r.tenant_id AND clients.client_id = r.client_id;
CREATE UNIQUE INDEX clients_by_seq ON clients (seq);

DROP INDEX clients_by_tenant;
CREATE INDEX clients_live_by_id ON clients (tenant_id, id) WHERE deleted_at IS NULL;
CREATE INDEX clients_live_by_seq ON clients (tenant_id, seq) WHERE deleted_at IS NULL;
CREATE INDEX clients_live_by_status ON clients (tenant_id, status, seq) WHERE deleted_at IS NULL;
CREATE INDEX clients_live_by_owner ON clients (tenant_id, owner, id) WHERE deleted_at IS NULL;
CREATE INDEX clients_live_by_name ON clients (tenant_id, name, id) WHERE deleted_at IS NULL;

CREATE TABLE client_counts (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
    active     BIGINT NOT NULL,
    suspended  BIGINT NOT NULL
);
INSERT INTO client_counts (tenant_id, active, suspended)
  SELECT tenant_id, SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'suspended' THEN 1 ELSE 0 END)
  FROM clients WHERE deleted_at IS NULL GROUP BY tenant_id;

CREATE TABLE client_pages (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    first_seq  BIGINT NOT NULL,
    added      BIGINT NOT NULL,
    active     BIGINT NOT NULL,
    suspended  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, first_seq)
);
INSERT INTO client_pages (tenant_id, first_seq, added, active, suspended)
  SELECT tenant_id, MIN(seq), COUNT(*),
         SUM(CASE WHEN deleted_at IS NULL AND status = 'active' THEN 1 ELSE 0 END),
         SUM(CASE WHEN deleted_at IS NULL AND status = 'suspended' THEN 1 ELSE 0 END)
  FROM (SELECT tenant_id, seq, status, deleted_at,
               (ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY seq) - 1) / 4096 AS run
        FROM clients) AS r
  GROUP BY tenant_id, run;

CREATE TABLE client_owner_counts (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    owner      TEXT NOT NULL,
    live       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, owner)
);
INSERT INTO client_owner_counts (tenant_id, owner, live)
  SELECT tenant_id, owner, COUNT(*) FROM clients WHERE deleted_at IS NULL GROUP BY tenant_id, owner;

-- Case-insensitive substring search of live clients' names (LOWER(name) LIKE '%…%').
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX client_name_search ON clients USING gin (LOWER(name) gin_trgm_ops) WHERE deleted_at IS NULL;
-- The next seq (a sequence: concurrent creates in other tenants never wait for each other).
CREATE SEQUENCE client_seq;
SELECT setval('client_seq', COALESCE((SELECT MAX(seq) FROM clients), 0) + 1, false);

-- Clavis schema v4 (PostgreSQL): client settings beyond the seed fields (JSON), and opaque
-- access tokens (stored hashed with their claims).
-- Keep in step with migrations/sqlite/0004_client_extras_opaque_tokens.sql.

ALTER TABLE clients ADD COLUMN extra TEXT NOT NULL DEFAULT '{}';

CREATE TABLE opaque_tokens (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    token_hash  TEXT NOT NULL,
    claims      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, token_hash)
);

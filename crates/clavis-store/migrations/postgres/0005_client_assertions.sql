-- Clavis schema v5 (PostgreSQL): client assertions. `used_jtis` makes every assertion single
-- use until it expires (on every node); `sealed` keeps an AES-256-GCM copy of a secret
-- for clients that use client_secret_jwt (the HMAC key must be the secret itself).
-- Keep in step with migrations/sqlite/0005_client_assertions.sql.

CREATE TABLE used_jtis (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    client_id   TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, jti)
);

ALTER TABLE client_secrets ADD COLUMN sealed TEXT;

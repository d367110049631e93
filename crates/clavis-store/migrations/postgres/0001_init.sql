-- Clavis schema v1 (PostgreSQL). Keep in step with migrations/sqlite/0001_init.sql.
-- Timestamps are unix seconds; lists of strings are JSON arrays in TEXT columns.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    kid           TEXT NOT NULL,
    alg           TEXT NOT NULL,
    private_pkcs8 TEXT NOT NULL,
    public_jwk    TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kid)
);

CREATE TABLE clients (
    id               TEXT NOT NULL UNIQUE,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    client_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    redirect_uris    TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    grant_types      TEXT NOT NULL,
    auth_methods     TEXT NOT NULL,
    is_confidential  BOOLEAN NOT NULL,
    jwks             TEXT NOT NULL,
    jwks_uri         TEXT NOT NULL,
    fapi_profile     TEXT NOT NULL,
    logo_url         TEXT NOT NULL,
    privacy_policy   TEXT NOT NULL,
    terms_url        TEXT NOT NULL,
    website          TEXT NOT NULL,
    cors_origins     TEXT NOT NULL,
    secret_last_four TEXT NOT NULL,
    status           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT,
    PRIMARY KEY (tenant_id, client_id)
);
CREATE INDEX clients_by_tenant ON clients (tenant_id, id);

CREATE TABLE client_secrets (
    tenant_id    TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    secret_id    TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    last_four    TEXT NOT NULL,
    description  TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    PRIMARY KEY (tenant_id, secret_id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, client_id)
);
CREATE INDEX client_secrets_by_client ON client_secrets (tenant_id, client_id);

CREATE TABLE audit_log (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    changed_fields TEXT NOT NULL,
    detail         TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX audit_log_by_client ON audit_log (tenant_id, client_id, id);

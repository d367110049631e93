-- Clavis schema v2 (SQLite): login/consent flows, authorization codes, refresh tokens,
-- revoked access tokens, login sessions and remembered consents.
-- Keep in step with migrations/postgres/0002_user_flows.sql.
-- Random handles (challenges, verifiers, codes, refresh tokens, session ids) are stored
-- as SHA-256 hex, never as issued. `data` columns hold JSON documents.

CREATE TABLE auth_flows (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    id                 TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    login_challenge    TEXT NOT NULL,
    login_verifier     TEXT,
    consent_challenge  TEXT,
    consent_verifier   TEXT,
    state              TEXT NOT NULL,
    data               TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX auth_flows_login_challenge ON auth_flows (tenant_id, login_challenge);
CREATE UNIQUE INDEX auth_flows_login_verifier ON auth_flows (tenant_id, login_verifier);
CREATE UNIQUE INDEX auth_flows_consent_challenge ON auth_flows (tenant_id, consent_challenge);
CREATE UNIQUE INDEX auth_flows_consent_verifier ON auth_flows (tenant_id, consent_verifier);

CREATE TABLE auth_codes (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    code_hash   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (tenant_id, code_hash)
);

CREATE TABLE refresh_tokens (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    token_hash  TEXT NOT NULL,
    family_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);

CREATE TABLE revoked_tokens (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);

CREATE TABLE login_sessions (
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    id_hash           TEXT NOT NULL,
    sid               TEXT NOT NULL,
    subject           TEXT NOT NULL,
    authenticated_at  BIGINT NOT NULL,
    data              TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id_hash)
);

CREATE TABLE consent_grants (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    subject     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject, client_id)
);

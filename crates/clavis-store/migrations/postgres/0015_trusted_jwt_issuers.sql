-- Clavis schema v15 (PostgreSQL): trusted issuers of the JWT bearer grant (RFC 7523 §2.1,
-- Hydra's trust API). Each row trusts one public key of an issuer to assert one subject
-- (or any, with allow_any_subject and subject '') for at most the listed scopes, until
-- expires_at. scopes is a JSON array; public_jwk the key as given, public members only.
-- Keep in step with migrations/sqlite/0015_trusted_jwt_issuers.sql.

CREATE TABLE trusted_jwt_issuers (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    id                 TEXT NOT NULL,
    issuer             TEXT NOT NULL,
    subject            TEXT NOT NULL,
    allow_any_subject  BOOLEAN NOT NULL,
    scopes             TEXT NOT NULL,
    kid                TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    expires_at         BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, issuer, subject, kid)
);

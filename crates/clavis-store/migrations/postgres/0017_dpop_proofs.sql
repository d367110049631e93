-- Clavis schema v17 (PostgreSQL): DPoP (RFC 9449). `dpop_proofs` makes every proof single use
-- (RFC 9449 §11.1) on every node while its `iat` is within the accepted window; a proof's
-- jti is unique per key (`jkt`, the key's RFC 7638 thumbprint).
-- Keep in step with migrations/sqlite/0017_dpop_proofs.sql.

CREATE TABLE dpop_proofs (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    jkt         TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jkt, jti)
);

-- Clavis schema v10 (SQLite): a tenant's policy for dynamically registered clients (JSON
-- {"allowed_scopes":[…],"allowed_grant_types":[…]}) and for introspection
-- (`any_confidential` | `marked_only`); NULL means the defaults. Clients registered
-- dynamically before v10 are marked as such (they are the ones with a registration token).
-- Keep in step with migrations/postgres/0010_tenant_policies.sql.

ALTER TABLE tenants ADD COLUMN dcr_policy TEXT;
ALTER TABLE tenants ADD COLUMN introspection TEXT;

UPDATE clients SET extra = json_set(extra, '$.self_registered', json('true'))
WHERE json_extract(extra, '$.hydra.registration_token_hash') IS NOT NULL;

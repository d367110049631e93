//! State of the user-facing flows: login/consent flows, authorization codes, refresh
//! tokens, revoked access tokens, login sessions and remembered consents. Handles are
//! stored hashed (the caller hashes); `data` is an opaque JSON document of the service
//! layer.

use clavis_core::TenantId;

use crate::db::on_pool;
use crate::group_commit::grouped;
use crate::{Result, Store};

/// Which handle of a flow a lookup goes by.
#[derive(Debug, Clone, Copy)]
pub enum FlowHandle {
    LoginChallenge,
    LoginVerifier,
    ConsentChallenge,
    ConsentVerifier,
}

impl FlowHandle {
    fn column(self) -> &'static str {
        match self {
            Self::LoginChallenge => "login_challenge",
            Self::LoginVerifier => "login_verifier",
            Self::ConsentChallenge => "consent_challenge",
            Self::ConsentVerifier => "consent_verifier",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowRow {
    pub id: String,
    pub client_id: String,
    pub login_challenge: String,
    pub login_verifier: Option<String>,
    pub consent_challenge: Option<String>,
    pub consent_verifier: Option<String>,
    pub state: String,
    pub data: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub data: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub subject: String,
    pub data: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub sid: String,
    pub subject: String,
    pub authenticated_at: i64,
    pub data: String,
    pub expires_at: i64,
}

/// The outcome of spending a single-use handle (code, refresh token).
#[derive(Debug)]
pub enum Spend<T> {
    /// First use: it is now marked used.
    Fresh(T),
    /// Used before: a replay.
    Replayed(T),
    Unknown,
}

const FLOW_COLUMNS: &str = "id, client_id, login_challenge, login_verifier, consent_challenge, consent_verifier, state, data, created_at, expires_at";
const REFRESH_COLUMNS: &str = "token_hash, family_id, client_id, subject, data, created_at, expires_at, used_at, revoked_at";

macro_rules! insert_refresh {
    ($exec:expr, $t:expr, $r:expr) => {{
        let sql = format!("INSERT INTO refresh_tokens (tenant_id, {REFRESH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        let r = &$r;
        sqlx::query(&sql)
            .bind($t.as_str())
            .bind(&r.token_hash)
            .bind(&r.family_id)
            .bind(&r.client_id)
            .bind(&r.subject)
            .bind(&r.data)
            .bind(r.created_at)
            .bind(r.expires_at)
            .bind(r.used_at)
            .bind(r.revoked_at)
            .execute($exec)
            .await?;
        Ok(())
    }};
}

macro_rules! spend_refresh {
    ($exec:expr, $t:expr, $hash:expr, $now:expr) => {{
        let mark = "UPDATE refresh_tokens SET used_at = $3 WHERE tenant_id = $1 AND token_hash = $2 \
                    AND used_at IS NULL AND revoked_at IS NULL";
        let get = format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2");
        let marked = sqlx::query(mark).bind($t.as_str()).bind(&$hash).bind($now).execute($exec).await?.rows_affected();
        let row: Option<RefreshRow> = sqlx::query_as(&get).bind($t.as_str()).bind(&$hash).fetch_optional($exec).await?;
        Ok(match (marked, row) {
            (1, Some(r)) => Spend::Fresh(r),
            (_, Some(r)) => Spend::Replayed(r),
            _ => Spend::Unknown,
        })
    }};
}

impl Store {
    pub async fn insert_flow(&self, tenant: &TenantId, f: &FlowRow) -> Result<()> {
        let sql = format!("INSERT INTO auth_flows (tenant_id, {FLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(&sql).bind(tenant.as_str()).bind(&f.id).bind(&f.client_id).bind(&f.login_challenge)
                .bind(&f.login_verifier).bind(&f.consent_challenge).bind(&f.consent_verifier).bind(&f.state)
                .bind(&f.data).bind(f.created_at).bind(f.expires_at).execute(pool).await?;
        });
        Ok(())
    }

    /// The unexpired flow a handle (hash) belongs to.
    pub async fn find_flow(&self, tenant: &TenantId, by: FlowHandle, hash: &str, now: i64) -> Result<Option<FlowRow>> {
        let sql = format!("SELECT {FLOW_COLUMNS} FROM auth_flows WHERE tenant_id = $1 AND {} = $2 AND expires_at > $3", by.column());
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(hash).bind(now).fetch_optional(pool).await?))
    }

    /// Moves a flow from state `from` to `f.state`, writing its handles and data.
    /// `false` when the flow was not in state `from` any more (a concurrent or replayed step).
    pub async fn advance_flow(&self, tenant: &TenantId, from: &str, f: &FlowRow) -> Result<bool> {
        let sql = "UPDATE auth_flows SET login_verifier = $3, consent_challenge = $4, consent_verifier = $5, state = $6, \
                   data = $7, login_challenge = $9, client_id = $10 WHERE tenant_id = $1 AND id = $2 AND state = $8";
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant.as_str()).bind(&f.id).bind(&f.login_verifier)
            .bind(&f.consent_challenge).bind(&f.consent_verifier).bind(&f.state).bind(&f.data).bind(from).bind(&f.login_challenge).bind(&f.client_id)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    pub async fn insert_code(&self, tenant: &TenantId, c: &CodeRow) -> Result<()> {
        let sql = "INSERT INTO auth_codes (tenant_id, code_hash, client_id, data, created_at, expires_at, used_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(&c.code_hash).bind(&c.client_id).bind(&c.data)
                .bind(c.created_at).bind(c.expires_at).bind(c.used_at).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn find_code(&self, tenant: &TenantId, code_hash: &str) -> Result<Option<CodeRow>> {
        let sql = "SELECT code_hash, client_id, data, created_at, expires_at, used_at FROM auth_codes \
                   WHERE tenant_id = $1 AND code_hash = $2";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(tenant.as_str()).bind(code_hash).fetch_optional(pool).await?))
    }

    /// Marks a code used; tells whether this was its first use.
    pub async fn spend_code(&self, tenant: &TenantId, code_hash: &str, now: i64) -> Result<Spend<CodeRow>> {
        let mark = "UPDATE auth_codes SET used_at = $3 WHERE tenant_id = $1 AND code_hash = $2 AND used_at IS NULL";
        let get = "SELECT code_hash, client_id, data, created_at, expires_at, used_at FROM auth_codes \
                   WHERE tenant_id = $1 AND code_hash = $2";
        let _w = self.write_guard().await;
        let (marked, row): (u64, Option<CodeRow>) = on_pool!(self, pool => (
            sqlx::query(mark).bind(tenant.as_str()).bind(code_hash).bind(now).execute(pool).await?.rows_affected(),
            sqlx::query_as(get).bind(tenant.as_str()).bind(code_hash).fetch_optional(pool).await?,
        ));
        Ok(match (marked, row) {
            (1, Some(r)) => Spend::Fresh(r),
            (_, Some(r)) => Spend::Replayed(r),
            _ => Spend::Unknown,
        })
    }

    /// Records what a code issued, so that a replay can revoke it.
    pub async fn set_code_data(&self, tenant: &TenantId, code_hash: &str, data: &str) -> Result<()> {
        let sql = "UPDATE auth_codes SET data = $3 WHERE tenant_id = $1 AND code_hash = $2";
        let _w = self.write_guard().await;
        on_pool!(self, pool => { sqlx::query(sql).bind(tenant.as_str()).bind(code_hash).bind(data).execute(pool).await?; });
        Ok(())
    }

    pub async fn insert_refresh(&self, tenant: &TenantId, r: &RefreshRow) -> Result<()> {
        let (t, r) = (tenant.clone(), r.clone());
        grouped!(self, conn => insert_refresh!(&mut *conn, t, r))
    }

    pub async fn find_refresh(&self, tenant: &TenantId, token_hash: &str) -> Result<Option<RefreshRow>> {
        let sql = format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(token_hash).fetch_optional(pool).await?))
    }

    /// Spends a refresh token and, if it was live, stores the one that replaces it, in one
    /// write; a used or revoked token is a replay and nothing is stored.
    pub async fn rotate_refresh(&self, tenant: &TenantId, token_hash: &str, now: i64, next: Option<RefreshRow>) -> Result<Spend<RefreshRow>> {
        let (t, hash) = (tenant.clone(), token_hash.to_owned());
        grouped!(self, conn => {
            let spent: Result<Spend<RefreshRow>> = spend_refresh!(&mut *conn, t, hash, now);
            let spent = spent?;
            if let (Spend::Fresh(_), Some(next)) = (&spent, &next) {
                let stored: Result<()> = insert_refresh!(&mut *conn, t, next);
                stored?;
            }
            Ok(spent)
        })
    }

    /// Revokes every refresh token of a family (a replay, a revocation, a code replay).
    pub async fn revoke_family(&self, tenant: &TenantId, family_id: &str, now: i64) -> Result<()> {
        let sql = "UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL";
        let _w = self.write_guard().await;
        on_pool!(self, pool => { sqlx::query(sql).bind(tenant.as_str()).bind(family_id).bind(now).execute(pool).await?; });
        Ok(())
    }

    /// Every token of a family (to revoke the access tokens they were issued with).
    pub async fn family_tokens(&self, tenant: &TenantId, family_id: &str) -> Result<Vec<RefreshRow>> {
        let sql = format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE tenant_id = $1 AND family_id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(family_id).fetch_all(pool).await?))
    }

    /// Puts an access token's `jti` on the revocation list until the token expires anyway.
    pub async fn revoke_jti(&self, tenant: &TenantId, jti: &str, expires_at: i64) -> Result<()> {
        let sql = "INSERT INTO revoked_tokens (tenant_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, jti) DO NOTHING";
        let _w = self.write_guard().await;
        on_pool!(self, pool => { sqlx::query(sql).bind(tenant.as_str()).bind(jti).bind(expires_at).execute(pool).await?; });
        Ok(())
    }

    pub async fn is_revoked(&self, tenant: &TenantId, jti: &str) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM revoked_tokens WHERE tenant_id = $1 AND jti = $2";
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).bind(jti).fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// Keeps what `/userinfo` answers for an access token.
    pub async fn insert_userinfo(&self, tenant: &TenantId, jti: &str, subject: &str, client_id: &str, data: &str, expires_at: i64) -> Result<()> {
        let sql = "INSERT INTO userinfo_claims (tenant_id, jti, subject, client_id, data, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
        let (t, row) = (tenant.clone(), [jti.to_owned(), subject.to_owned(), client_id.to_owned(), data.to_owned()]);
        grouped!(self, conn => {
            let [jti, subject, client_id, data] = &row;
            sqlx::query(sql).bind(t.as_str()).bind(jti).bind(subject).bind(client_id).bind(data).bind(expires_at).execute(&mut *conn).await?;
            Ok(())
        })
    }

    pub async fn find_userinfo(&self, tenant: &TenantId, jti: &str) -> Result<Option<String>> {
        let sql = "SELECT data FROM userinfo_claims WHERE tenant_id = $1 AND jti = $2";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).bind(jti).fetch_optional(pool).await?))
    }

    /// An opaque access token of `client_id`: its hash and its claims (JSON).
    pub async fn insert_opaque_token(
        &self,
        tenant: &TenantId,
        client_id: &str,
        token_hash: &str,
        claims: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        let sql = "INSERT INTO opaque_tokens (tenant_id, token_hash, claims, expires_at, client_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(token_hash).bind(claims).bind(expires_at).bind(client_id).bind(created_at)
                .execute(pool).await?;
        });
        Ok(())
    }

    /// The claims of an unexpired opaque access token.
    pub async fn find_opaque_token(&self, tenant: &TenantId, token_hash: &str, now: i64) -> Result<Option<String>> {
        let sql = "SELECT claims FROM opaque_tokens WHERE tenant_id = $1 AND token_hash = $2 AND expires_at > $3";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).bind(token_hash).bind(now).fetch_optional(pool).await?))
    }

    pub async fn insert_session(&self, tenant: &TenantId, s: &SessionRow) -> Result<()> {
        let sql = "INSERT INTO login_sessions (tenant_id, id_hash, sid, subject, authenticated_at, data, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(&s.id_hash).bind(&s.sid).bind(&s.subject)
                .bind(s.authenticated_at).bind(&s.data).bind(s.expires_at).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn find_session(&self, tenant: &TenantId, id_hash: &str, now: i64) -> Result<Option<SessionRow>> {
        let sql = "SELECT id_hash, sid, subject, authenticated_at, data, expires_at FROM login_sessions \
                   WHERE tenant_id = $1 AND id_hash = $2 AND expires_at > $3";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(tenant.as_str()).bind(id_hash).bind(now).fetch_optional(pool).await?))
    }

    /// Ends login sessions by their `sid` (logout).
    pub async fn delete_session_by_sid(&self, tenant: &TenantId, sid: &str) -> Result<()> {
        let sql = "DELETE FROM login_sessions WHERE tenant_id = $1 AND sid = $2";
        let _w = self.write_guard().await;
        on_pool!(self, pool => { sqlx::query(sql).bind(tenant.as_str()).bind(sid).execute(pool).await?; });
        Ok(())
    }

    /// Ends every login session of a subject ("sign out everywhere").
    pub async fn delete_sessions_of_subject(&self, tenant: &TenantId, subject: &str) -> Result<()> {
        let sql = "DELETE FROM login_sessions WHERE tenant_id = $1 AND subject = $2";
        let _w = self.write_guard().await;
        on_pool!(self, pool => { sqlx::query(sql).bind(tenant.as_str()).bind(subject).execute(pool).await?; });
        Ok(())
    }

    /// Forgets a subject's remembered consents: for one client, or (`None`) for all.
    pub async fn delete_consents(&self, tenant: &TenantId, subject: &str, client_id: Option<&str>) -> Result<()> {
        let sql = "DELETE FROM consent_grants WHERE tenant_id = $1 AND subject = $2 AND ($3 = '' OR client_id = $3)";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(subject).bind(client_id.unwrap_or("")).execute(pool).await?;
        });
        Ok(())
    }

    /// The refresh-token families of a subject still alive: for one client, or for all.
    pub async fn live_families(&self, tenant: &TenantId, subject: &str, client_id: Option<&str>) -> Result<Vec<String>> {
        let sql = "SELECT DISTINCT family_id FROM refresh_tokens WHERE tenant_id = $1 AND subject = $2 \
                   AND ($3 = '' OR client_id = $3) AND revoked_at IS NULL";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).bind(subject).bind(client_id.unwrap_or(""))
            .fetch_all(pool).await?))
    }

    pub async fn upsert_consent(&self, tenant: &TenantId, subject: &str, client_id: &str, data: &str, now: i64, expires_at: i64) -> Result<()> {
        let sql = "INSERT INTO consent_grants (tenant_id, subject, client_id, data, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, subject, client_id) \
                   DO UPDATE SET data = excluded.data, created_at = excluded.created_at, expires_at = excluded.expires_at";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(subject).bind(client_id).bind(data).bind(now).bind(expires_at)
                .execute(pool).await?;
        });
        Ok(())
    }

    /// A subject's remembered consents still valid at `now`, by client id after `after`
    /// (exclusive), at most `limit`: (client_id, data, created_at).
    pub async fn list_consents(&self, tenant: &TenantId, subject: &str, now: i64, after: &str, limit: i64) -> Result<Vec<(String, String, i64)>> {
        let sql = "SELECT client_id, data, created_at FROM consent_grants WHERE tenant_id = $1 AND subject = $2 AND expires_at > $3 \
                   AND client_id > $4 ORDER BY client_id LIMIT $5";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(tenant.as_str()).bind(subject).bind(now).bind(after).bind(limit)
            .fetch_all(pool).await?))
    }

    pub async fn find_consent(&self, tenant: &TenantId, subject: &str, client_id: &str, now: i64) -> Result<Option<String>> {
        let sql = "SELECT data FROM consent_grants WHERE tenant_id = $1 AND subject = $2 AND client_id = $3 AND expires_at > $4";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).bind(subject).bind(client_id).bind(now)
            .fetch_optional(pool).await?))
    }
}

impl Store {
    /// Keeps a pushed authorization request (RFC 9126) under the hash of its request_uri.
    pub async fn insert_pushed(&self, tenant: &TenantId, uri_hash: &str, client_id: &str, params: &str, expires_at: i64) -> Result<()> {
        let sql = "INSERT INTO pushed_requests (tenant_id, request_uri_hash, client_id, params, expires_at) VALUES ($1, $2, $3, $4, $5)";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(uri_hash).bind(client_id).bind(params).bind(expires_at).execute(pool).await?;
        });
        Ok(())
    }

    /// Takes an unexpired pushed request: `(client_id, params)`, and it is gone, so that
    /// a request_uri is used once even when two nodes race for it.
    pub async fn take_pushed(&self, tenant: &TenantId, uri_hash: &str, now: i64) -> Result<Option<(String, String)>> {
        let get = "SELECT client_id, params FROM pushed_requests WHERE tenant_id = $1 AND request_uri_hash = $2 AND expires_at > $3";
        let delete = "DELETE FROM pushed_requests WHERE tenant_id = $1 AND request_uri_hash = $2";
        let _w = self.write_guard().await;
        let (row, deleted): (Option<(String, String)>, u64) = on_pool!(self, pool => (
            sqlx::query_as(get).bind(tenant.as_str()).bind(uri_hash).bind(now).fetch_optional(pool).await?,
            sqlx::query(delete).bind(tenant.as_str()).bind(uri_hash).execute(pool).await?.rows_affected(),
        ));
        Ok(row.filter(|_| deleted == 1))
    }
}

/// A logout request's state: `pending` (at the logout app), `accepted` (a verifier was
/// issued), `done` (the verifier was used) or `rejected`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogoutRow {
    pub state: String,
    pub data: String,
}

impl Store {
    pub async fn insert_logout(&self, tenant: &TenantId, challenge_hash: &str, data: &str, expires_at: i64) -> Result<()> {
        let sql = "INSERT INTO logout_requests (tenant_id, challenge_hash, verifier_hash, state, data, expires_at) \
                   VALUES ($1, $2, NULL, 'pending', $3, $4)";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(challenge_hash).bind(data).bind(expires_at).execute(pool).await?;
        });
        Ok(())
    }

    /// The unexpired logout request of a challenge (hash).
    pub async fn find_logout(&self, tenant: &TenantId, challenge_hash: &str, now: i64) -> Result<Option<LogoutRow>> {
        let sql = "SELECT state, data FROM logout_requests WHERE tenant_id = $1 AND challenge_hash = $2 AND expires_at > $3";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(tenant.as_str()).bind(challenge_hash).bind(now).fetch_optional(pool).await?))
    }

    /// Moves a pending request on: accepted (with the verifier's hash) or rejected. False if
    /// it was not pending (handled already, on this node or another).
    pub async fn settle_logout(&self, tenant: &TenantId, challenge_hash: &str, verifier_hash: Option<&str>) -> Result<bool> {
        let sql = "UPDATE logout_requests SET state = $3, verifier_hash = $4 WHERE tenant_id = $1 AND challenge_hash = $2 AND state = 'pending'";
        let state = if verifier_hash.is_some() { "accepted" } else { "rejected" };
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant.as_str()).bind(challenge_hash).bind(state).bind(verifier_hash)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Uses an accepted request's verifier, once: its data, and it is `done`.
    pub async fn use_logout_verifier(&self, tenant: &TenantId, verifier_hash: &str, now: i64) -> Result<Option<String>> {
        let mark = "UPDATE logout_requests SET state = 'done' WHERE tenant_id = $1 AND verifier_hash = $2 AND state = 'accepted' AND expires_at > $3";
        let get = "SELECT data FROM logout_requests WHERE tenant_id = $1 AND verifier_hash = $2";
        let _w = self.write_guard().await;
        let (marked, data): (u64, Option<(String,)>) = on_pool!(self, pool => (
            sqlx::query(mark).bind(tenant.as_str()).bind(verifier_hash).bind(now).execute(pool).await?.rows_affected(),
            sqlx::query_as(get).bind(tenant.as_str()).bind(verifier_hash).fetch_optional(pool).await?,
        ));
        Ok(data.filter(|_| marked == 1).map(|(d,)| d))
    }
}

/// Tables whose rows die at `expires_at`.
const EXPIRING_TABLES: &[&str] = &[
    "auth_flows",
    "auth_codes",
    "refresh_tokens",
    "revoked_tokens",
    "used_jtis",
    "dpop_proofs",
    "opaque_tokens",
    "userinfo_claims",
    "login_sessions",
    "consent_grants",
    "pushed_requests",
    "logout_requests",
    "session_clients",
    "logout_deliveries",
    "device_codes",
];

impl Store {
    /// Deletes a tenant's expired flows, codes, tokens, revocations, `jti`s, sessions and
    /// consents (they can no longer matter), and secrets expired more than `keep_secrets`
    /// seconds ago. Returns how many rows went.
    pub async fn purge_expired(&self, tenant: &TenantId, now: i64, keep_secrets: i64) -> Result<u64> {
        let _w = self.write_guard().await;
        let mut total = 0;
        for table in EXPIRING_TABLES {
            let sql = format!("DELETE FROM {table} WHERE tenant_id = $1 AND expires_at <= $2");
            total += on_pool!(self, pool => sqlx::query(&sql).bind(tenant.as_str()).bind(now).execute(pool).await?.rows_affected());
        }
        let sql = "DELETE FROM client_secrets WHERE tenant_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2";
        total += on_pool!(self, pool => sqlx::query(sql).bind(tenant.as_str()).bind(now - keep_secrets).execute(pool).await?.rows_affected());
        Ok(total)
    }
}

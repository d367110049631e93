//! OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0: when a login
//! session ends (RP-initiated logout, Hydra's `revokeOAuth2LoginSessions`, or the
//! session's expiry), every client that was given tokens in it and registered a logout
//! URI is told.
//!
//! - Back-channel: a logout token (§2.4, `typ: logout+jwt`, signed like the client's ID
//!   tokens) is POSTed to `backchannel_logout_uri` through the hardened outbound client.
//!   The delivery is a database row before anything is sent, so a 2xx of the logout means
//!   it will be tried. Attempts come after [`RETRY_DELAYS`] (about six minutes in all); a
//!   4xx is the client's final refusal (§2.8: 400 means it could not log out), as is a
//!   destination the outbound policy refuses; anything else is retried. A node that stops mid-way leaves the row, which any node's cleanup
//!   sweep resumes (each attempt first claims the row, so two nodes never send the same
//!   attempt). A delivery not done within [`DELIVERY_LIFETIME_SECS`] is dropped.
//! - Front-channel: the browser that logs out loads each `frontchannel_logout_uri` in an
//!   invisible iframe of the logout page, with `iss` and `sid` (§2).
//!
//! Only clients with a logout URI are recorded (one row per session and client), so the
//! authorization of any other client costs nothing here. Decision: a client that adds a
//! logout URI later is told about sessions that start after the change.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clavis_core::{ids, Client, TenantId};
use clavis_store::{LogoutDelivery, SessionClient, StoreError};
use serde_json::{json, Value};

use crate::flows::with_params;
use crate::outbound::{loggable, OutboundError};
use crate::Services;

/// The `events` member of a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Seconds to wait before each attempt: the first goes at once.
pub const RETRY_DELAYS: [i64; 5] = [0, 2, 10, 60, 300];
/// A delivery still not done after this long is given up.
pub const DELIVERY_LIFETIME_SECS: i64 = 24 * 3600;
/// How long an attempt holds its row (more than the outbound client's total timeout).
const LEASE_SECS: i64 = 30;
/// A logout token is valid this long after it is signed (the spec suggests two minutes).
const LOGOUT_TOKEN_TTL_SECS: i64 = 120;
/// Deliveries this node works on at once; more wait in the database for a sweep.
const MAX_IN_FLIGHT: usize = 256;
/// Deliveries one sweep picks up per tenant.
const SWEEP_BATCH: i64 = 100;

/// A failure that another attempt cannot mend: the client's refusal (§2.8: a 4xx means it
/// could not log out), or a destination the outbound policy refuses.
fn is_final(error: &OutboundError) -> bool {
    matches!(error, OutboundError::Status(400..=499) | OutboundError::Refused(_) | OutboundError::BadUrl)
}

/// Deliveries in progress on this node.
#[derive(Default)]
pub(crate) struct InFlight(AtomicUsize);

/// Which sessions ended.
pub(crate) enum Ended<'a> {
    Session(&'a str),
    Subject(&'a str),
}

impl Services {
    /// After consent: remember that `client` took part in session `sid`, if it wants to
    /// hear when the session ends. The row lives as long as the remembered session, or,
    /// for a login that was not remembered, as long as its refresh tokens can.
    pub(crate) async fn record_session_client(
        &self,
        t: &TenantId,
        client: &Client,
        sid: &str,
        subject: &str,
        issuer: &str,
    ) -> Result<(), StoreError> {
        let h = &client.extras.hydra;
        if sid.is_empty() || (h.backchannel_logout_uri.is_empty() && h.frontchannel_logout_uri.is_empty()) {
            return Ok(());
        }
        let until = match self.store.session_expiry(t, sid).await? {
            Some(at) => at,
            None => self.now() + self.settings.refresh_family_ttl_secs,
        };
        let row = SessionClient { sid: sid.into(), client_id: client.client_id.clone(), subject: subject.into(), issuer: issuer.into() };
        self.store.add_session_client(t, &row, until).await
    }

    /// Tells the clients of the sessions that ended: back-channel deliveries start, and
    /// the front-channel URLs the logout page must load are returned.
    pub(crate) async fn notify_logout(&self, t: &TenantId, ended: Ended<'_>) -> Result<Vec<String>, StoreError> {
        let taken = match ended {
            Ended::Session(sid) => self.store.take_session_clients(t, sid).await?,
            Ended::Subject(subject) => self.store.take_session_clients_of_subject(t, subject).await?,
        };
        let mut frames = Vec::new();
        for sc in taken {
            let Some(entry) = self.clients.load(&self.store, t, &sc.client_id).await? else { continue };
            let h = &entry.client.extras.hydra;
            if !h.frontchannel_logout_uri.is_empty() {
                frames.push(with_params(&h.frontchannel_logout_uri, &[("iss", &sc.issuer), ("sid", &sc.sid)]));
            }
            if !h.backchannel_logout_uri.is_empty() {
                self.start_delivery(t, &entry.client, &sc).await?;
            }
        }
        Ok(frames)
    }

    /// Session expiry: the clients of sessions that expired by `now` are told (by
    /// back-channel; there is no browser), before the sessions are purged.
    pub(crate) async fn notify_expired_sessions(&self, t: &TenantId, now: i64) -> Result<(), StoreError> {
        for sc in self.store.take_clients_of_expired_sessions(t, now).await? {
            match self.clients.load(&self.store, t, &sc.client_id).await? {
                Some(entry) if !entry.client.extras.hydra.backchannel_logout_uri.is_empty() => self.start_delivery(t, &entry.client, &sc).await?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The logout token's claims (§2.4): `sub` as the client sees it, and always `sid`,
    /// which satisfies `backchannel_logout_session_required`. Never a `nonce`.
    async fn start_delivery(&self, t: &TenantId, client: &Client, sc: &SessionClient) -> Result<(), StoreError> {
        let sub = self.subject_for(t, client, &sc.subject).await?;
        let claims = json!({
            "iss": sc.issuer, "aud": client.client_id, "sub": sub, "sid": sc.sid, "jti": ids::ulid(),
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        });
        let now = self.now();
        let delivery = LogoutDelivery {
            id: ids::ulid(),
            client_id: client.client_id.clone(),
            claims: claims.to_string(),
            attempts: 0,
            next_attempt_at: now,
            expires_at: now + DELIVERY_LIFETIME_SECS,
        };
        self.store.insert_logout_delivery(t, &delivery).await?;
        self.spawn_delivery(t.clone(), delivery.id);
        Ok(())
    }

    /// Works on delivery `id` in the background, unless this node is at its limit (the
    /// row then waits for a sweep).
    fn spawn_delivery(&self, t: TenantId, id: String) {
        if self.logout_in_flight.0.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            self.logout_in_flight.0.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let services = self.clone();
        tokio::spawn(async move {
            if let Err(e) = services.deliver(&t, &id).await {
                tracing::warn!(tenant = %t, error = %e, "back-channel logout delivery interrupted; the cleanup sweep resumes it");
            }
            services.logout_in_flight.0.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Attempts until delivered, refused, out of attempts, or taken by another node.
    async fn deliver(&self, t: &TenantId, id: &str) -> Result<(), StoreError> {
        loop {
            let now = self.now();
            let Some(d) = self.store.claim_logout_delivery(t, id, now, now + LEASE_SECS).await? else { return Ok(()) };
            let Some(entry) = self.clients.load(&self.store, t, &d.client_id).await? else {
                return self.store.delete_logout_delivery(t, id).await;
            };
            let uri = entry.client.extras.hydra.backchannel_logout_uri.clone();
            let (client_id, attempt, target) = (&d.client_id, d.attempts as usize, loggable(&uri));
            if uri.is_empty() {
                tracing::info!(tenant = %t, %client_id, "back-channel logout dropped: the client no longer has a backchannel_logout_uri");
                return self.store.delete_logout_delivery(t, id).await;
            }
            let token = self.sign_logout_token(t, &entry.client, &d.claims, now).await?;
            match self.outbound.post_form(&uri, &[("logout_token", &token)]).await {
                Ok(()) => {
                    tracing::info!(tenant = %t, %client_id, %target, attempt, "back-channel logout delivered");
                    return self.store.delete_logout_delivery(t, id).await;
                }
                Err(error) if is_final(&error) || attempt >= RETRY_DELAYS.len() => {
                    tracing::warn!(tenant = %t, %client_id, %target, attempt, %error, "back-channel logout given up");
                    return self.store.delete_logout_delivery(t, id).await;
                }
                Err(error) => {
                    let wait = RETRY_DELAYS[attempt];
                    tracing::info!(tenant = %t, %client_id, %target, attempt, %error, retry_in_secs = wait, "back-channel logout failed");
                    self.store.reschedule_logout_delivery(t, id, self.now() + wait).await?;
                    tokio::time::sleep(Duration::from_secs(wait as u64)).await;
                }
            }
        }
    }

    async fn sign_logout_token(&self, t: &TenantId, client: &Client, claims: &str, now: i64) -> Result<String, StoreError> {
        let mut claims: Value = serde_json::from_str(claims).map_err(|e| StoreError::Corrupt(format!("logout delivery: {e}")))?;
        claims["iat"] = now.into();
        claims["exp"] = (now + LOGOUT_TOKEN_TTL_SECS).into();
        Ok(self.keys.for_tenant(t).await?.id_token_signer(client).sign_typed("logout+jwt", &claims))
    }

    /// The cleanup sweep: deliveries left by a node that stopped, or over this node's
    /// limit, are resumed.
    pub(crate) async fn resume_logout_deliveries(&self, t: &TenantId, now: i64) -> Result<(), StoreError> {
        for id in self.store.due_logout_deliveries(t, now, SWEEP_BATCH).await? {
            self.spawn_delivery(t.clone(), id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_a_retry_could_mend_are_retried() {
        for final_ in [OutboundError::Status(400), OutboundError::Status(404), OutboundError::Refused("10.0.0.1".into()), OutboundError::BadUrl] {
            assert!(is_final(&final_), "{final_}");
        }
        for retried in [OutboundError::Status(500), OutboundError::Status(503), OutboundError::Timeout, OutboundError::Connect("refused".into())] {
            assert!(!is_final(&retried), "{retried}");
        }
    }
}

//! DPoP at this server (RFC 9449): the checks of a proof that need the clock, the store
//! or a secret, on top of [`clavis_core::dpop::check_proof`].
//!
//! - **`iat` window**: a proof is accepted from [`PROOF_MAX_AGE_SECS`] before the
//!   server's time to [`PROOF_MAX_AHEAD_SECS`] after it.
//! - **Single use** (§11.1): the proof's `jti` is recorded for its key in the store, on
//!   every node, until its `iat` leaves the window. It is recorded only once the request
//!   is otherwise authenticated (the client at the token endpoint and PAR, the access
//!   token at a resource), so an unauthenticated request writes nothing.
//! - **Server nonces** (§8, §9): a nonce is an HMAC under the tenant's secret of the
//!   current [`NONCE_ROTATION_SECS`] slot, the same on every node without any state.
//!   The current and the previous slot's nonces are accepted, so a nonce lives 5 to 10
//!   minutes; responses to DPoP requests carry the current one in `DPoP-Nonce`. A proof
//!   that carries a stale or foreign nonce is answered `use_dpop_nonce`; one without a
//!   nonce too, when the server requires nonces (`CLAVIS_DPOP_REQUIRE_NONCE`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use clavis_core::dpop::{check_proof, DpopProof, ProofTarget};
use clavis_core::TenantId;
use clavis_store::StoreError;
use ring::hmac;

use crate::tokens::TokenRejection;
use crate::{OAuthError, Services};

/// How long after its `iat` a proof is accepted.
pub const PROOF_MAX_AGE_SECS: i64 = 300;
/// How far ahead of the server's clock a proof's `iat` may be.
pub const PROOF_MAX_AHEAD_SECS: i64 = 60;
/// How often the server nonce changes.
pub const NONCE_ROTATION_SECS: i64 = 300;

/// A `DPoP` header as received, with the request it came with.
#[derive(Debug, Clone)]
pub struct DpopInput {
    /// The header's value: the proof JWT.
    pub proof: String,
    /// The request's method (`htm`).
    pub method: String,
    /// The URL of the endpoint as clients reach it (`htu`).
    pub url: String,
}

/// Why a proof was not accepted.
#[derive(Debug)]
pub enum DpopRefusal {
    /// A check failed (`invalid_dpop_proof`).
    Invalid(String),
    /// Prove again with this nonce (`use_dpop_nonce`).
    UseNonce(String),
    Store(StoreError),
}

impl From<StoreError> for DpopRefusal {
    fn from(e: StoreError) -> Self {
        DpopRefusal::Store(e)
    }
}

impl From<DpopRefusal> for OAuthError {
    fn from(r: DpopRefusal) -> Self {
        match r {
            DpopRefusal::Invalid(m) => OAuthError::InvalidDpopProof(m),
            DpopRefusal::UseNonce(nonce) => OAuthError::UseDpopNonce { nonce },
            DpopRefusal::Store(e) => e.into(),
        }
    }
}

impl From<DpopRefusal> for TokenRejection {
    fn from(r: DpopRefusal) -> Self {
        match r {
            DpopRefusal::Invalid(m) => TokenRejection::Dpop(m),
            DpopRefusal::UseNonce(nonce) => TokenRejection::UseDpopNonce(nonce),
            DpopRefusal::Store(e) => TokenRejection::Store(e),
        }
    }
}

impl Services {
    /// Checks a proof in full for its request (and the access token it comes with, at a
    /// resource), and spends its `jti`. Call it once the request is otherwise
    /// authenticated.
    pub(crate) async fn prove_dpop(&self, t: &TenantId, input: &DpopInput, access_token: Option<&str>) -> Result<DpopProof, DpopRefusal> {
        let target = ProofTarget { method: &input.method, url: &input.url, access_token };
        let proof = check_proof(&input.proof, &target).map_err(|m| DpopRefusal::Invalid(m.into()))?;
        let now = self.now();
        if proof.iat > now + PROOF_MAX_AHEAD_SECS || proof.iat < now - PROOF_MAX_AGE_SECS {
            return Err(DpopRefusal::Invalid("the DPoP proof's iat is too far from the server's time".into()));
        }
        match &proof.nonce {
            Some(nonce) if self.dpop_nonce_is_current(t, nonce, now).await? => {}
            Some(_) => return Err(DpopRefusal::UseNonce(self.dpop_nonce(t).await?)),
            None if self.settings.dpop_require_nonce => return Err(DpopRefusal::UseNonce(self.dpop_nonce(t).await?)),
            None => {}
        }
        if !self.store.use_dpop_jti(t, &proof.jkt, &proof.jti, proof.iat + PROOF_MAX_AGE_SECS + 1).await? {
            return Err(DpopRefusal::Invalid("the DPoP proof was used before (its jti is spent)".into()));
        }
        Ok(proof)
    }

    /// The tenant's current DPoP nonce, for `DPoP-Nonce`.
    pub async fn dpop_nonce(&self, t: &TenantId) -> Result<String, StoreError> {
        let key = self.tenant_key(t, b"clavis dpop nonce").await?;
        Ok(B64.encode(hmac::sign(&key, &nonce_slot(self.now() / NONCE_ROTATION_SECS)).as_ref()))
    }

    async fn dpop_nonce_is_current(&self, t: &TenantId, nonce: &str, now: i64) -> Result<bool, StoreError> {
        let Ok(mac) = B64.decode(nonce) else { return Ok(false) };
        let key = self.tenant_key(t, b"clavis dpop nonce").await?;
        let slot = now / NONCE_ROTATION_SECS;
        Ok([slot, slot - 1].iter().any(|s| hmac::verify(&key, &nonce_slot(*s), &mac).is_ok()))
    }
}

fn nonce_slot(slot: i64) -> [u8; 8] {
    slot.to_be_bytes()
}

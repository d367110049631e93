//! The expiry branches of the use cases, reached by moving an injected clock instead of
//! waiting: codes, refresh tokens and their families, login flows, pushed requests,
//! rotated and expiring secrets, assertion `exp`/`nbf`/`iat`, access tokens, and signing
//! key rotation seen by another node. Each test runs the service alone on an in-memory
//! SQLite database; no HTTP.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use clavis_core::time::ManualClock;
use clavis_core::{ClientInput, TenantId};
use clavis_service::{
    Actor, AuthorizeError, AuthorizeStep, ClientAuthRequest, ClientRef, ConsentAccept, CsrfCookie, LoginAccept, OAuthError, Services, Settings,
    Store, TokenRequest, TokenSet,
};
use serde_json::{json, Value};

const START: i64 = 1_800_000_000;
const REDIRECT: &str = "https://app.example/cb";
const VERIFIER: &str = "pkce-verifier-0123456789-0123456789-0123456789";

struct World {
    svc: Services,
    clock: ManualClock,
    store: Store,
    t: TenantId,
}

async fn world(tweak: impl FnOnce(&mut Settings)) -> World {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let clock = ManualClock::new(START);
    let mut settings = Settings {
        login_url: Some("https://login.example/login".into()),
        consent_url: Some("https://login.example/consent".into()),
        ..Default::default()
    };
    tweak(&mut settings);
    let svc = Services::with_clock(settings, store.clone(), Arc::new(clock.clone()));
    let t = TenantId::default_tenant();
    svc.ensure_tenant(&t).await.unwrap();
    World { svc, clock, store, t }
}

impl World {
    /// Another node over the same database and clock.
    fn another_node(&self) -> Services {
        Services::with_clock((*self.svc.settings).clone(), self.store.clone(), Arc::new(self.clock.clone()))
    }

    fn issuer(&self) -> String {
        self.svc.issuer(&self.t, true)
    }

    async fn client(&self, body: Value) -> (String, String) {
        let input: ClientInput = serde_json::from_value(body).unwrap();
        let (c, secret) = self.svc.create_client(&self.t, &input, &Actor("test".into())).await.unwrap();
        (c.client_id, secret.unwrap_or_default())
    }

    /// A confidential web client with refresh tokens.
    async fn web_client(&self) -> (String, String) {
        self.client(json!({"name": "web", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
                           "scopes": ["openid", "offline_access"]}))
            .await
    }

    async fn authenticate(&self, svc: &Services, id: &str, secret: &str) -> Result<ClientRef, OAuthError> {
        let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        svc.authenticate_request(&self.t, &self.issuer(), ClientAuthRequest { authorization: Some(&basic), params: &[], certificate: None }).await
    }

    async fn token_on(&self, svc: &Services, id: &str, secret: &str, params: &[(&str, &str)]) -> Result<TokenSet, OAuthError> {
        let client = self.authenticate(svc, id, secret).await?;
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let issuer = self.issuer();
        svc.token(&TokenRequest::new(&self.t, &issuer, &params)?, &client).await
    }

    async fn token(&self, id: &str, secret: &str, params: &[(&str, &str)]) -> Result<TokenSet, OAuthError> {
        self.token_on(&self.svc, id, secret, params).await
    }

    async fn authorize(&self, params: &[(&str, &str)], csrf: &[String]) -> Result<AuthorizeStep, AuthorizeError> {
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.svc.authorize(&self.t, &self.issuer(), &params, "https://issuer.example/oauth2/auth", None, csrf).await
    }

    fn request(&self, client_id: &str, scope: &str) -> Vec<(String, String)> {
        let challenge = clavis_core::jose::pkce_s256(VERIFIER);
        [("response_type", "code"), ("client_id", client_id), ("redirect_uri", REDIRECT), ("scope", scope), ("state", "state-1234")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("code_challenge".into(), challenge), ("code_challenge_method".into(), "S256".into())])
            .collect()
    }

    /// Starts a login flow: the login challenge and the browser's binding cookie.
    async fn start_flow(&self, client_id: &str, scope: &str) -> (String, String) {
        let params = self.request(client_id, scope);
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let step = self.authorize(&pairs, &[]).await.unwrap();
        let Some(CsrfCookie::Set { value, .. }) = step.csrf else { panic!("a new flow sets its cookie") };
        (query(step.next.target(), "login_challenge"), value)
    }

    /// The whole login and consent flow: a code for `scope`.
    async fn code(&self, client_id: &str, scope: &str) -> String {
        let (challenge, cookie) = self.start_flow(client_id, scope).await;
        self.finish_flow(&challenge, cookie, scope).await
    }

    /// Login and consent of a started flow (`scope` all granted): its code.
    async fn finish_flow(&self, challenge: &str, cookie: String, scope: &str) -> String {
        let accept: LoginAccept = serde_json::from_value(json!({"subject": "alice"})).unwrap();
        let back = self.svc.accept_login(&self.t, challenge, accept).await.unwrap();
        let step = self.authorize(&[("login_verifier", &query(&back, "login_verifier"))], std::slice::from_ref(&cookie)).await.unwrap();
        let consent = query(step.next.target(), "consent_challenge");
        let scopes: Vec<&str> = scope.split(' ').collect();
        let accept: ConsentAccept = serde_json::from_value(json!({"grant_scope": scopes})).unwrap();
        let back = self.svc.accept_consent(&self.t, &consent, accept).await.unwrap();
        let step = self.authorize(&[("consent_verifier", &query(&back, "consent_verifier"))], &[cookie]).await.unwrap();
        query(step.next.target(), "code")
    }

    async fn redeem(&self, id: &str, secret: &str, code: &str) -> Result<TokenSet, OAuthError> {
        self.token(id, secret, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)]).await
    }

    async fn refresh(&self, id: &str, secret: &str, refresh_token: &str) -> Result<TokenSet, OAuthError> {
        self.token(id, secret, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }
}

fn query(url: &str, name: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_else(|| panic!("{name} in {url}"))
}

fn invalid_grant(r: Result<TokenSet, OAuthError>) -> String {
    match r {
        Err(OAuthError::InvalidGrant(why)) => why,
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

fn refused_client(r: Result<impl std::fmt::Debug, OAuthError>) -> String {
    match r {
        Err(OAuthError::InvalidClient(why)) => why,
        other => panic!("expected invalid_client, got {other:?}"),
    }
}

#[tokio::test]
async fn a_code_works_until_its_lifetime_ends() {
    let w = world(|s| s.auth_code_ttl_secs = 600).await;
    let (id, secret) = w.web_client().await;
    let late = w.code(&id, "openid").await;
    let in_time = w.code(&id, "openid").await;
    w.clock.advance(599);
    w.redeem(&id, &secret, &in_time).await.expect("one second before the end");
    w.clock.advance(1);
    assert_eq!(invalid_grant(w.redeem(&id, &secret, &late).await), "the code has expired");
}

#[tokio::test]
async fn refresh_tokens_expire_and_a_family_ends_at_its_absolute_lifetime() {
    let w = world(|s| {
        s.refresh_token_ttl_secs = 100;
        s.refresh_family_ttl_secs = 250;
    })
    .await;
    let (id, secret) = w.web_client().await;

    // A refresh token unused for its lifetime expires.
    let idle = w.redeem(&id, &secret, &w.code(&id, "openid offline_access").await).await.unwrap().refresh_token.unwrap();
    // A family used often still ends 250 s after its code was exchanged.
    let mut busy = w.redeem(&id, &secret, &w.code(&id, "openid offline_access").await).await.unwrap().refresh_token.unwrap();
    w.clock.advance(99);
    busy = w.refresh(&id, &secret, &busy).await.unwrap().refresh_token.unwrap();
    w.clock.advance(1);
    assert_eq!(invalid_grant(w.refresh(&id, &secret, &idle).await), "the refresh token has expired");
    w.clock.advance(90); // 190 s into the family
    busy = w.refresh(&id, &secret, &busy).await.unwrap().refresh_token.unwrap();
    w.clock.advance(59); // 249 s: the last token was cut to the family's end, not 100 s
    busy = w.refresh(&id, &secret, &busy).await.unwrap().refresh_token.unwrap();
    w.clock.advance(1); // 250 s
    assert_eq!(invalid_grant(w.refresh(&id, &secret, &busy).await), "the refresh token has expired");
}

#[tokio::test]
async fn a_login_flow_ends_with_its_lifetime() {
    let w = world(|s| s.flow_ttl_secs = 300).await;
    let (id, _) = w.web_client().await;
    let (live, _) = w.start_flow(&id, "openid").await;
    let (late, _) = w.start_flow(&id, "openid").await;
    w.clock.advance(299);
    w.svc.login_request(&w.t, &live).await.expect("in time");
    w.clock.advance(1);
    assert!(matches!(w.svc.login_request(&w.t, &late).await, Err(clavis_service::ServiceError::NotFound(_))));
    let accept: LoginAccept = serde_json::from_value(json!({"subject": "alice"})).unwrap();
    assert!(matches!(w.svc.accept_login(&w.t, &late, accept).await, Err(clavis_service::ServiceError::NotFound(_))));
}

#[tokio::test]
async fn a_pushed_request_can_be_used_until_it_expires() {
    let w = world(|s| s.par_ttl_secs = 90).await;
    let (id, secret) = w.web_client().await;
    let client = w.authenticate(&w.svc, &id, &secret).await.unwrap();
    let (early, ttl) = w.svc.push_authorization_request(&w.t, "http://127.0.0.1:4444", &client, &w.request(&id, "openid"), None).await.unwrap();
    let (late, _) = w.svc.push_authorization_request(&w.t, "http://127.0.0.1:4444", &client, &w.request(&id, "openid"), None).await.unwrap();
    assert_eq!(ttl, 90);
    w.clock.advance(89);
    w.authorize(&[("client_id", &id), ("request_uri", &early)], &[]).await.expect("in time");
    w.clock.advance(1);
    match w.authorize(&[("client_id", &id), ("request_uri", &late)], &[]).await {
        // OpenID Connect Core §3.1.2.6: sent to the client's only redirect URI.
        Err(AuthorizeError::Client(to)) => assert!(to.target().contains("error=invalid_request_uri") && to.target().contains("expired"), "{to:?}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rotated_secret_works_until_its_grace_period_ends() {
    let w = world(|_| {}).await;
    let (id, old) = w.client(json!({"name": "m", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"], "scopes": ["read"]})).await;
    let (new, _) = w.svc.rotate_secret(&w.t, &id, Some(60), &Actor("test".into())).await.unwrap();
    w.clock.advance(59);
    w.authenticate(&w.svc, &id, &old).await.expect("the old secret, within the grace period");
    w.clock.advance(1);
    assert_eq!(refused_client(w.authenticate(&w.svc, &id, &old).await), "wrong secret");
    w.authenticate(&w.svc, &id, &new).await.expect("the new secret");
}

/// What Hydra and RFC 7591 call `client_secret_expires_at` is, here, a secret's
/// `expires_at` (authms `POST …/secrets`); the generated one never expires.
#[tokio::test]
async fn a_secret_with_an_expiry_stops_working_then() {
    let w = world(|_| {}).await;
    let (id, first) = w.client(json!({"name": "m", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"], "scopes": ["read"]})).await;
    let (_, second) = w.svc.add_secret(&w.t, &id, None, Some(START + 3600), &Actor("test".into())).await.unwrap();
    w.clock.advance(3599);
    w.authenticate(&w.svc, &id, &second).await.expect("before expires_at");
    w.clock.advance(1);
    assert_eq!(refused_client(w.authenticate(&w.svc, &id, &second).await), "wrong secret");
    w.authenticate(&w.svc, &id, &first).await.expect("the secret without expiry");
}

#[tokio::test]
async fn an_access_token_is_live_until_exp() {
    let w = world(|s| s.access_token_ttl_secs = 300).await;
    let (id, secret) = w.client(json!({"name": "m", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"], "scopes": ["read"]})).await;
    let token = w.token(&id, &secret, &[("grant_type", "client_credentials")]).await.unwrap().access_token;
    w.clock.advance(299);
    assert!(w.svc.introspect(&w.t, &token).await.unwrap().active);
    w.clock.advance(1);
    assert!(!w.svc.introspect(&w.t, &token).await.unwrap().active);
}

/// `client_secret_jwt` (RFC 7523 §3): `exp` may be at most 30 s past and at most an hour
/// (plus 30 s) ahead; `nbf` and `iat` at most 30 s ahead.
#[tokio::test]
async fn an_assertion_is_accepted_only_within_its_time_claims() {
    let w = world(|s| s.secret_sealing_key = Some([7; 32])).await;
    let issuer = w.issuer();
    let now = START;
    let cases: [(&str, Value, Option<&str>); 6] = [
        ("valid", json!({"exp": now + 300, "iat": now}), None),
        ("expired beyond the leeway", json!({"exp": now - 31}), Some("expired")),
        ("expired within the leeway", json!({"exp": now - 29}), None),
        ("exp too far ahead", json!({"exp": now + 3600 + 31}), Some("too far ahead")),
        ("nbf in the future", json!({"exp": now + 300, "nbf": now + 31}), Some("not valid yet")),
        ("iat in the future", json!({"exp": now + 300, "iat": now + 31}), Some("not valid yet")),
    ];
    for (i, (case, times, refusal)) in cases.into_iter().enumerate() {
        // A client per case: failures count per client id, and must not add up here.
        let (id, secret) = w
            .client(json!({"name": format!("jwt {i}"), "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"],
                           "scopes": ["read"], "client_auth_methods": ["client_secret_jwt"]}))
            .await;
        let mut claims = json!({"iss": id, "sub": id, "aud": format!("{issuer}/oauth2/token"), "jti": format!("jti-{i}")});
        claims.as_object_mut().unwrap().extend(times.as_object().unwrap().clone());
        let assertion = hs256(&secret, &claims);
        let params = [
            ("client_assertion_type".to_string(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string()),
            ("client_assertion".to_string(), assertion),
        ];
        let result = w.svc.authenticate_request(&w.t, &issuer, ClientAuthRequest { authorization: None, params: &params, certificate: None }).await;
        match refusal {
            None => assert!(result.is_ok(), "{case}: {:?}", result.err()),
            Some(why) => assert!(refused_client(result).contains(why), "{case}"),
        }
    }
}

fn hs256(secret: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes()).as_ref()))
}

/// A key rotated on one node signs there at once; another node verifies with it after
/// it re-reads the key set for an unknown `kid` (at most every 5 s), and stops accepting
/// a retired key when its cached set ages out (60 s).
#[tokio::test]
async fn another_node_sees_a_rotated_key_and_drops_a_retired_one_by_its_clock() {
    let w = world(|_| {}).await;
    let other = w.another_node();
    let (id, secret) = w.client(json!({"name": "m", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"], "scopes": ["read"]})).await;
    let cc = [("grant_type", "client_credentials")];
    let before = w.token(&id, &secret, &cc).await.unwrap().access_token;
    assert!(other.introspect(&w.t, &before).await.unwrap().active, "the other node loads the first key");

    let old_kid = kid(&before);
    let new_kids = w.svc.keys.rotate(&w.t, None).await.unwrap();
    assert_eq!(new_kids.len(), 4, "one new key per algorithm");
    let after = w.token(&id, &secret, &cc).await.unwrap().access_token;
    assert!(new_kids.contains(&kid(&after)));
    assert!(!other.introspect(&w.t, &after).await.unwrap().active, "within 5 s the unknown kid does not re-read the key set");
    w.clock.advance(5);
    assert!(other.introspect(&w.t, &after).await.unwrap().active, "after 5 s it does");

    w.svc.keys.retire(&w.t, &old_kid).await.unwrap();
    assert!(!w.svc.introspect(&w.t, &before).await.unwrap().active, "retired on its own node at once");
    w.clock.advance(59);
    assert!(other.introspect(&w.t, &before).await.unwrap().active, "the other node's set is still fresh");
    w.clock.advance(1);
    assert!(!other.introspect(&w.t, &before).await.unwrap().active, "after 60 s the other node re-read the set");
}

fn kid(jwt: &str) -> String {
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// RFC 8628 §3.5: polls within the interval are told to slow down (and the interval grows
/// by 5 s), polls after it are pending; the codes end after 600 s, a pending verification
/// with them.
#[tokio::test]
async fn device_codes_are_polled_at_their_interval_and_expire() {
    let w = world(|_| {}).await;
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let (id, secret) = w.client(json!({"name": "tv", "redirect_uris": [REDIRECT], "grant_types": [grant], "scopes": ["openid"]})).await;
    let client = w.authenticate(&w.svc, &id, &secret).await.unwrap();
    let d = w.svc.device_authorization(&w.t, &w.issuer(), &client, &[]).await.unwrap();
    let form = [("grant_type", grant), ("device_code", d.device_code.as_str())];
    let poll = || w.token(&id, &secret, &form);
    let code = |r: Result<TokenSet, OAuthError>| r.err().map(|e| e.code().to_owned()).unwrap_or_default();
    assert_eq!(code(poll().await), "authorization_pending");
    w.clock.advance(4);
    assert_eq!(code(poll().await), "slow_down", "4 s < 5 s");
    w.clock.advance(9);
    assert_eq!(code(poll().await), "slow_down", "9 s < the new interval of 10 s");
    w.clock.advance(15);
    assert_eq!(code(poll().await), "authorization_pending", "15 s ≥ 15 s");
    w.clock.advance(600);
    assert_eq!(code(poll().await), "expired_token");
}

#[tokio::test]
async fn a_fapi2_clients_request_uris_live_under_600_s_and_its_codes_60_s() {
    // FAPI 2.0 Security Profile §5.3.2.2-7 and -8, whatever the server's own lifetimes.
    let w = world(|s| {
        s.auth_code_ttl_secs = 600;
        s.par_ttl_secs = 900;
    })
    .await;
    let (key, _) = clavis_core::jose::SigningKey::generate(clavis_core::jose::Alg::Es256);
    let jwks = json!({"keys": [key.public_jwk().to_json()]}).to_string();
    let (id, _) = w
        .client(json!({"name": "bank", "redirect_uris": [REDIRECT], "fapi_profile": "fapi2", "client_auth_methods": ["private_key_jwt"],
                       "jwks": jwks, "scopes": ["openid"]}))
        .await;
    let client = w.svc.get_client(&w.t, &id).await.unwrap();
    let (request_uri, ttl) = w.svc.push_authorization_request(&w.t, &w.issuer(), &client, &w.request(&id, "openid"), None).await.unwrap();
    assert_eq!(ttl, 599);
    let step = w.authorize(&[("client_id", &id), ("request_uri", &request_uri)], &[]).await.unwrap();
    let Some(CsrfCookie::Set { value: cookie, .. }) = step.csrf else { panic!("a new flow sets its cookie") };
    let code = w.finish_flow(&query(step.next.target(), "login_challenge"), cookie, "openid").await;
    let row = w.store.find_code(&w.t, &clavis_core::secret::hash(&code)).await.unwrap().unwrap();
    assert_eq!(row.expires_at - row.created_at, 60);
}

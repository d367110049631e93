//! Mutual TLS (RFC 8705) end to end, with certificates made here (rcgen): the mTLS
//! listener, `tls_client_auth` (trusted CA and the registered name), `self_signed_tls_client_auth`
//! (the client's JWKS), certificate-bound access tokens at the token endpoint, userinfo
//! and introspection, `mtls_endpoint_aliases`, the RFC 9440 `Client-Cert` header from a
//! trusted proxy only, and a certificate reloaded without restart.

use crate::common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::flow::{auth_url, login_and_consent, param, pkce, Browser, CONSENT_URL, LOGIN_URL, REDIRECT};
use common::{claims, TestApp};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A CA that signs certificates.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        Self { cert: params.self_signed(&key).unwrap(), key }
    }

    /// A client certificate with subject `CN=cn, O=Bank` and DNS SAN `dns`.
    fn client(&self, cn: &str, dns: &str) -> Leaf {
        leaf(client_params(cn, dns), Some(self))
    }

    /// A server certificate for 127.0.0.1.
    fn server(&self) -> Leaf {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        leaf(params, Some(self))
    }
}

fn client_params(cn: &str, dns: &str) -> CertificateParams {
    let mut params = CertificateParams::new(vec![dns.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::OrganizationName, "Bank");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

struct Leaf {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn leaf(params: CertificateParams, ca: Option<&Ca>) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = match ca {
        Some(ca) => params.signed_by(&key, &ca.cert, &ca.key).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    Leaf { cert, key }
}

impl Leaf {
    fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.cert.pem(), self.key.serialize_pem()).as_bytes()).unwrap()
    }

    fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, self.cert.der()))
    }
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("clavis-mtls-{}", clavis_core::ids::random_token(8)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server with the mTLS listener (its certificate by `server_ca`, client CA `client_ca`).
async fn spawn(server_ca: &Ca, client_ca: &Ca, dir: &std::path::Path) -> (TestApp, String) {
    let server = server_ca.server();
    std::fs::write(dir.join("server.pem"), server.cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server.key.serialize_pem()).unwrap();
    std::fs::write(dir.join("clients-ca.pem"), client_ca.cert.pem()).unwrap();
    let d = dir.to_owned();
    let app = TestApp::spawn_with(move |a| {
        a.mtls_addr = Some("127.0.0.1:0".into());
        a.mtls_cert = Some(d.join("server.pem"));
        a.mtls_key = Some(d.join("server.key"));
        a.mtls_client_ca = Some(d.join("clients-ca.pem"));
        a.login_url = Some(LOGIN_URL.into());
        a.consent_url = Some(CONSENT_URL.into());
    })
    .await;
    let url = format!("https://127.0.0.1:{}", app.server.as_ref().unwrap().mtls_addr.unwrap().port());
    (app, url)
}

/// An HTTPS client that trusts `ca` and presents `identity`.
fn https(ca: &Ca, identity: Option<&Leaf>) -> reqwest::Client {
    let mut b = reqwest::Client::builder().use_rustls_tls().add_root_certificate(reqwest::Certificate::from_pem(ca.cert.pem().as_bytes()).unwrap());
    if let Some(leaf) = identity {
        b = b.identity(leaf.identity());
    }
    b.redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn hydra_client(app: &TestApp, body: Value) -> Value {
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c
}

async fn post(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = http.post(url).form(form).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn tls_client_auth_authenticates_by_a_trusted_certificate_and_binds_the_token() {
    let (server_ca, client_ca, dir) = (Ca::new("server CA"), Ca::new("client CA"), temp_dir());
    let (app, mtls) = spawn(&server_ca, &client_ca, &dir).await;
    let c = hydra_client(
        &app,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_subject_dn": "CN=bank-client,O=Bank", "tls_client_certificate_bound_access_tokens": true}),
    )
    .await;
    assert!(c.get("client_secret").is_none_or(Value::is_null), "no secret for a certificate client: {c}");
    let id = c["client_id"].as_str().unwrap();
    let good = client_ca.client("bank-client", "client.bank.example");
    let token_url = format!("{mtls}/oauth2/token");
    let form = [("grant_type", "client_credentials"), ("client_id", id)];
    let (s, t) = post(&https(&server_ca, Some(&good)), &token_url, &form).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["cnf"]["x5t#S256"], good.x5t().as_str());
    assert_eq!(app.introspect(at).await["cnf"]["x5t#S256"], good.x5t().as_str());

    // Refused: the public listener (no TLS at all); another subject; the right subject
    // from an untrusted CA; a self-signed one; no certificate. (Failures are few enough
    // to stay under the failure backoff.)
    let (s, _) = post(&app.http, &app.token_url(""), &form).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let other_ca = Ca::new("rogue CA");
    let twin = hydra_client(
        &app,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_subject_dn": "CN=bank-client,O=Bank"}),
    )
    .await;
    let twin_form = [("grant_type", "client_credentials"), ("client_id", twin["client_id"].as_str().unwrap())];
    for (what, http, form) in [
        ("another subject", https(&server_ca, Some(&client_ca.client("someone-else", "client.bank.example"))), &form),
        ("untrusted CA", https(&server_ca, Some(&other_ca.client("bank-client", "client.bank.example"))), &form),
        ("self-signed", https(&server_ca, Some(&leaf(client_params("bank-client", "client.bank.example"), None))), &twin_form),
        ("no certificate", https(&server_ca, None), &twin_form),
    ] {
        let (s, body) = post(&http, &token_url, form).await;
        assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{what}: {body}");
    }

    // A SAN instead of the DN; discovery's aliases name the mTLS listener.
    let c = hydra_client(
        &app,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "client.bank.example"}),
    )
    .await;
    let (s, t) =
        post(&https(&server_ca, Some(&good)), &token_url, &[("grant_type", "client_credentials"), ("client_id", c["client_id"].as_str().unwrap())])
            .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert!(claims(t["access_token"].as_str().unwrap()).get("cnf").is_none(), "not bound unless registered so");
    let d: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["mtls_endpoint_aliases"]["token_endpoint"], token_url.as_str());
    assert_eq!(d["tls_client_certificate_bound_access_tokens"], true);
    assert!(d["token_endpoint_auth_methods_supported"].as_array().unwrap().iter().any(|m| m == "self_signed_tls_client_auth"));
}

#[tokio::test]
async fn self_signed_tls_client_auth_matches_the_clients_jwks() {
    let (server_ca, client_ca, dir) = (Ca::new("server CA"), Ca::new("client CA"), temp_dir());
    let (app, mtls) = spawn(&server_ca, &client_ca, &dir).await;
    let mine = leaf(client_params("device-7", "device.example"), None);
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "x5c": [STANDARD.encode(mine.cert.der())]}]});
    let c =
        hydra_client(&app, json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": jwks}))
            .await;
    let form = [("grant_type", "client_credentials"), ("client_id", c["client_id"].as_str().unwrap())];
    let url = format!("{mtls}/oauth2/token");
    let (s, t) = post(&https(&server_ca, Some(&mine)), &url, &form).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let stranger = leaf(client_params("device-7", "device.example"), None);
    let (s, _) = post(&https(&server_ca, Some(&stranger)), &url, &form).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the same names, another certificate");
}

#[tokio::test]
async fn a_certificate_bound_token_works_only_with_its_certificate() {
    let (server_ca, client_ca, dir) = (Ca::new("server CA"), Ca::new("client CA"), temp_dir());
    let (app, mtls) = spawn(&server_ca, &client_ca, &dir).await;
    let c = hydra_client(
        &app,
        json!({"grant_types": ["authorization_code"], "redirect_uris": [REDIRECT], "scope": "openid",
               "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "rp.bank.example",
               "tls_client_certificate_bound_access_tokens": true}),
    )
    .await;
    let id = c["client_id"].as_str().unwrap();
    let cert = client_ca.client("rp", "rp.bank.example");
    let (verifier, challenge) = pkce();
    let start =
        auth_url(&app, id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]).replace("openid+offline_access+profile", "openid");
    let code = param(&login_and_consent(&app, &mut Browser::new(), &start, "hana", false).await, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier), ("client_id", id)];
    let holder = https(&server_ca, Some(&cert));
    let (s, t) = post(&holder, &format!("{mtls}/oauth2/token"), &form).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let at = t["access_token"].as_str().unwrap();
    let userinfo = |http: &reqwest::Client, base: &str| http.get(format!("{base}/userinfo")).bearer_auth(at).send();
    assert_eq!(userinfo(&holder, &mtls).await.unwrap().status(), StatusCode::OK);
    assert_eq!(userinfo(&app.http, &app.public).await.unwrap().status(), StatusCode::UNAUTHORIZED, "no certificate");
    let other = https(&server_ca, Some(&client_ca.client("rp", "rp.bank.example")));
    assert_eq!(userinfo(&other, &mtls).await.unwrap().status(), StatusCode::UNAUTHORIZED, "another certificate, same names");
}

#[tokio::test]
async fn registration_refuses_what_mtls_cannot_honour() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"token_endpoint_auth_method": "tls_client_auth"}), "tls_client_auth_subject_dn"),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "a.example", "tls_client_auth_san_uri": "https://a.example"}),
            "tls_client_auth",
        ),
        (json!({"tls_client_auth_san_dns": "a.example"}), "tls_client_auth_san_dns"),
        (json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_ip": "not-an-ip"}), "tls_client_auth_san_ip"),
        (json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "no equals sign"}), "tls_client_auth_subject_dn"),
        (json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"}), "jwks"),
    ] {
        let (s, e) = app.admin(Method::POST, "/admin/clients", Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert!(e.to_string().contains(field), "{body}: {e}");
    }
    // The authms API takes the same metadata as an extension object.
    let (s, c) = app
        .admin(
            Method::POST,
            "/admin/oauth/clients",
            Some(json!({"name": "bank", "redirect_uris": ["https://bank.example/cb"], "client_auth_methods": ["tls_client_auth"],
                        "mtls": {"tls_client_auth_subject_dn": "CN=bank,O=Bank"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["data"]["mtls"]["tls_client_auth_subject_dn"], "CN=bank,O=Bank");
}

#[tokio::test]
async fn a_trusted_proxy_may_pass_the_certificate_in_client_cert() {
    let client_ca = Ca::new("client CA");
    let dir = temp_dir();
    std::fs::write(dir.join("ca.pem"), client_ca.cert.pem()).unwrap();
    let cert = client_ca.client("bank-client", "client.bank.example");
    let header = format!(":{}:", STANDARD.encode(cert.cert.der()));
    for trusted in [true, false] {
        let d = dir.clone();
        let app = TestApp::spawn_with(move |a| {
            // No TLS here at all: the proxy terminated it.
            a.mtls_client_ca = Some(d.join("ca.pem"));
            if trusted {
                a.trusted_proxies = Some("127.0.0.1".into());
            }
        })
        .await;
        let c = hydra_client(
            &app,
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth",
                   "tls_client_auth_subject_dn": "CN=bank-client,O=Bank", "tls_client_certificate_bound_access_tokens": true}),
        )
        .await;
        let resp = app
            .http
            .post(app.token_url(""))
            .header("Client-Cert", &header)
            .form(&[("grant_type", "client_credentials"), ("client_id", c["client_id"].as_str().unwrap())])
            .send()
            .await
            .unwrap();
        if trusted {
            assert_eq!(resp.status(), StatusCode::OK);
            let t: Value = resp.json().await.unwrap();
            assert_eq!(claims(t["access_token"].as_str().unwrap())["cnf"]["x5t#S256"], cert.x5t().as_str());
        } else {
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "from anyone else the header is ignored");
        }
    }
}

#[tokio::test]
async fn the_server_certificate_is_reloaded_without_restart() {
    let (server_ca, client_ca, dir) = (Ca::new("server CA"), Ca::new("client CA"), temp_dir());
    let (_app, mtls) = spawn(&server_ca, &client_ca, &dir).await;
    let discovery = format!("{mtls}/.well-known/openid-configuration");
    let new_ca = Ca::new("new server CA");
    let trusts_new = || https(&new_ca, None);
    assert!(trusts_new().get(&discovery).send().await.is_err(), "the old certificate is not the new CA's");
    assert_eq!(https(&server_ca, None).get(&discovery).send().await.unwrap().status(), StatusCode::OK);
    let renewed = new_ca.server();
    // The key first, then the certificate: until both match, the old pair keeps serving.
    std::fs::write(dir.join("server.key"), renewed.key.serialize_pem()).unwrap();
    assert_eq!(https(&server_ca, None).get(&discovery).send().await.unwrap().status(), StatusCode::OK, "a mismatched pair is not loaded");
    std::fs::write(dir.join("server.pem"), renewed.cert.pem()).unwrap();
    assert_eq!(trusts_new().get(&discovery).send().await.unwrap().status(), StatusCode::OK);
    assert!(https(&server_ca, None).get(&discovery).send().await.is_err(), "the old certificate is gone");
}

#[tokio::test]
async fn the_public_and_admin_listeners_serve_https_and_dpop_proofs_name_the_mtls_url() {
    let (server_ca, dir) = (Ca::new("server CA"), temp_dir());
    let server = server_ca.server();
    std::fs::write(dir.join("s.pem"), server.cert.pem()).unwrap();
    std::fs::write(dir.join("s.key"), server.key.serialize_pem()).unwrap();
    let d = dir.clone();
    let app = TestApp::spawn_with(move |a| {
        a.tls_cert = Some(d.join("s.pem"));
        a.tls_key = Some(d.join("s.key"));
        a.mtls_addr = Some("127.0.0.1:0".into());
    })
    .await;
    let s = app.server.as_ref().unwrap();
    let (public, admin) = (format!("https://127.0.0.1:{}", s.public_addr.port()), format!("https://127.0.0.1:{}", s.admin_addr.port()));
    assert_eq!(s.public_url, public, "the issuer is https by default");
    let http = https(&server_ca, None);
    let d: Value = http.get(format!("{public}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["issuer"], public.as_str());
    assert_eq!(http.get(format!("{admin}/health/ready")).send().await.unwrap().status(), StatusCode::OK);
    assert!(reqwest::get(format!("http://127.0.0.1:{}/health/alive", s.public_addr.port())).await.is_err(), "no plain HTTP");

    // On the mTLS listener (its certificate falls back to the TLS pair) a proof names that listener.
    let mtls = format!("https://127.0.0.1:{}", s.mtls_addr.unwrap().port());
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(json!({"grant_types": ["client_credentials"]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let key = common::dpop::DpopKey::new();
    let url = format!("{mtls}/oauth2/token");
    for (htu, ok) in [(format!("{public}/oauth2/token"), false), (url.clone(), true)] {
        let resp = http
            .post(&url)
            .basic_auth(c["client_id"].as_str().unwrap(), c["client_secret"].as_str())
            .header("DPoP", key.proof("POST", &htu, None, None))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().is_success(), ok, "{htu}");
    }
}

#[tokio::test]
async fn fapi1_advanced_needs_par_or_signed_requests_hybrid_or_jarm_and_certificate_bound_tokens() {
    let (server_ca, client_ca, dir) = (Ca::new("server CA"), Ca::new("client CA"), temp_dir());
    let (app, mtls) = spawn(&server_ca, &client_ca, &dir).await;
    let key = clavis_core::jose::SigningKey::generate(clavis_core::jose::Alg::Es256).0;
    let jwks = json!({"keys": [key.public_jwk().to_json()]}).to_string();
    let c = app
        .create_client(json!({"name": "bank", "redirect_uris": [REDIRECT], "fapi_profile": "fapi1", "scopes": ["openid"],
                              "client_auth_methods": ["private_key_jwt"], "jwks": jwks}))
        .await;
    let id = c["client_id"].as_str().unwrap().to_owned();
    let assertion = || {
        let now = clavis_core::time::now_unix();
        key.sign_jwt(&json!({"iss": id, "sub": id, "aud": app.public, "iat": now, "exp": now + 60, "jti": clavis_core::ids::random_token(12)}))
    };
    let jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let (verifier, challenge) = pkce();
    // A plain authorization request is refused (to the client).
    let (s, to, _) = Browser::new().get(&auth_url(&app, &id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(param(&to, "error_description").unwrap().contains("fapi1"), "{to}");
    // Pushed, but response_type code without JARM: refused.
    let par = format!("{}/oauth2/par", app.public);
    let mut request = vec![
        ("response_type", "code".to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("scope", "openid".to_owned()),
        ("state", "state-1234567890".to_owned()),
        ("code_challenge", challenge.clone()),
        ("code_challenge_method", "S256".to_owned()),
        ("client_assertion_type", jwt_bearer.to_owned()),
        ("client_assertion", assertion()),
    ];
    let (s, body) = post(&app.http, &par, &request.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    request.retain(|(k, _)| *k != "client_assertion");
    request.push(("client_assertion", assertion()));
    request.push(("response_mode", "jwt".to_owned()));
    let (s, pushed) = post(&app.http, &par, &request.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let start = format!("{}/oauth2/auth?client_id={id}&request_uri={}", app.public, pushed["request_uri"].as_str().unwrap());
    let jarm = param(&login_and_consent(&app, &mut Browser::new(), &start, "jo", false).await, "response").unwrap();
    assert_eq!(common::header(&jarm)["alg"], "PS256", "a FAPI client's default JARM algorithm");
    let code = common::verify_with_jwks(&app, &jarm).await["code"].as_str().unwrap().to_owned();
    // Without a client certificate no token; over mTLS a certificate-bound one.
    let form = |a: String| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", verifier.clone()),
            ("client_assertion_type", jwt_bearer.to_owned()),
            ("client_assertion", a),
        ]
    };
    let f = form(assertion());
    let (s, body) = post(&app.http, &app.token_url(""), &f.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    let cert = client_ca.client("bank", "bank.example");
    let f = form(assertion());
    let (s, t) =
        post(&https(&server_ca, Some(&cert)), &format!("{mtls}/oauth2/token"), &f.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(claims(t["access_token"].as_str().unwrap())["cnf"]["x5t#S256"], cert.x5t().as_str());
}

//! Black-box test harness: every test starts the real server in-process on ephemeral
//! loopback ports, with a fresh database (SQLite file, or a new PostgreSQL database when
//! `CLAVIS_TEST_DB` is a `postgres://` server URL), and talks HTTP to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clavis::config::{Config, ConfigArgs};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub mod dpop;
pub mod flow;
pub mod receiver;

pub const ADMIN_ID: &str = "test-admin";
pub const ADMIN_SECRET: &str = "test-admin-secret-0123456789abcdefghij";
pub const INTERNAL_KEY: &str = "internal-key-for-tests-0123456789";

/// Everything the server logged during this test process.
pub fn logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buf.clone());
        // Debug level: a secret must not leak even in the most verbose logs.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,sqlx=debug,hyper=info,h2=info")
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        buf
    })
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(b)?;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub http: reqwest::Client,
    pub server: Option<clavis::Server>,
    /// Admin token of tenant `default` (the bootstrap client).
    pub admin_token: String,
    config: Config,
    _dir: Option<TempDir>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn random_name() -> String {
    clavis_core::ids::ulid().to_ascii_lowercase()
}

/// A database URL for a fresh database of the configured kind.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("CLAVIS_TEST_DB") {
        Ok(url) if url.starts_with("postgres") => {
            let name = format!("clavis_test_{}", random_name());
            let server = clavis_service::Store::connect(&url).await.expect("CLAVIS_TEST_DB must be reachable");
            server.execute_raw(&format!("CREATE DATABASE {name}")).await.expect("create test database");
            server.close().await;
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}", dir.join("clavis.db").display()),
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut ConfigArgs)) -> TestApp {
        log_buffer();
        let dir = std::env::temp_dir().join(format!("clavis-test-{}", random_name()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = ConfigArgs {
            config: Some(write_empty_config(&dir)),
            public_addr: Some("127.0.0.1:0".into()),
            admin_addr: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.clone()),
            internal_api_keys: Some(format!("other-key-0123456789,{INTERNAL_KEY}")),
            bootstrap_client_id: Some(ADMIN_ID.into()),
            bootstrap_client_secret: Some(ADMIN_SECRET.into()),
            // Tests serve jwks_uri documents from 127.0.0.1, which is refused by default.
            outbound_allow: Some("127.0.0.1".into()),
            ..Default::default()
        };
        tweak(&mut args);
        // The settings of this test only, whatever CLAVIS_* the test process has.
        let config = Config::layered(&args, &|_| None).unwrap().0.with_database_url(fresh_database(&dir).await);
        let server = clavis::start(config.clone()).await.expect("server starts");
        // With TLS the harness's own calls skip certificate checks: the tests that
        // configure TLS check the certificates with clients of their own.
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let mut app = TestApp {
            public: format!("{scheme}://{}", server.public_addr),
            admin: format!("{scheme}://{}", server.admin_addr),
            http: reqwest::Client::builder().danger_accept_invalid_certs(config.tls.is_some()).build().unwrap(),
            server: Some(server),
            admin_token: String::new(),
            config,
            _dir: Some(TempDir(dir)),
        };
        app.admin_token = app.token_ok("", ADMIN_ID, ADMIN_SECRET, None).await["access_token"].as_str().unwrap().to_owned();
        app
    }

    /// The token endpoint of a tenant (`""` = the root issuer).
    pub fn token_url(&self, tenant: &str) -> String {
        if tenant.is_empty() {
            format!("{}/oauth2/token", self.public)
        } else {
            format!("{}/t/{tenant}/oauth2/token", self.public)
        }
    }

    /// client_credentials with client_secret_basic.
    pub async fn token(&self, tenant: &str, id: &str, secret: &str, scope: Option<&str>) -> (StatusCode, Value) {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let resp = self.http.post(self.token_url(tenant)).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Introspects `token` at the root issuer with the admin token (which sees every token).
    pub async fn introspect(&self, token: &str) -> Value {
        let resp = self.http.post(format!("{}/oauth2/introspect", self.public)).bearer_auth(&self.admin_token).form(&[("token", token)]);
        resp.send().await.unwrap().json().await.unwrap()
    }

    pub async fn token_ok(&self, tenant: &str, id: &str, secret: &str, scope: Option<&str>) -> Value {
        let (status, body) = self.token(tenant, id, secret, scope).await;
        assert_eq!(status, StatusCode::OK, "token for {id}: {body}");
        body
    }

    /// An admin call with `token`; returns status and JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.admin)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, &self.admin_token, body).await
    }

    /// Creates a client through the authms API as the default tenant's admin.
    pub async fn create_client(&self, body: Value) -> Value {
        let (status, resp) = self.admin(Method::POST, "/admin/oauth/clients", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{resp}");
        resp["data"].clone()
    }

    /// A confidential client_credentials client with scopes read and write.
    pub async fn machine_client(&self) -> (String, String) {
        let c = self
            .create_client(json!({
                "name": "machine", "redirect_uris": ["https://app.example.com/cb"],
                "grant_types": ["client_credentials"], "scopes": ["read", "write"],
                "client_auth_methods": ["client_secret_basic", "client_secret_post"],
            }))
            .await;
        (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
    }

    /// An admin client and token for another tenant, created through the internal API.
    pub async fn tenant_admin(&self, tenant: &str) -> String {
        let resp = self
            .http
            .post(format!("{}/internal/oauth/clients", self.admin))
            .header("X-API-Key", INTERNAL_KEY)
            .header("X-Tenant-ID", tenant)
            .json(&json!({"name": "tenant admin", "redirect_uris": ["https://t.example/cb"],
                          "grant_types": ["client_credentials"], "scopes": ["admin"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        let (id, secret) = (body["data"]["client_id"].as_str().unwrap(), body["data"]["client_secret"].as_str().unwrap());
        self.token_ok(tenant, id, secret, None).await["access_token"].as_str().unwrap().to_owned()
    }

    /// A second node: another server over the same database (give both the same
    /// `public_url`, so that they are one issuer).
    pub async fn another_node(&self) -> TestApp {
        let mut config = self.config.clone();
        config.public_addr = "127.0.0.1:0".parse().unwrap();
        config.admin_addr = "127.0.0.1:0".parse().unwrap();
        let server = clavis::start(config.clone()).await.expect("second node starts");
        TestApp {
            public: format!("http://{}", server.public_addr),
            admin: format!("http://{}", server.admin_addr),
            http: reqwest::Client::new(),
            server: Some(server),
            admin_token: self.admin_token.clone(),
            config,
            _dir: None,
        }
    }

    /// Stops the server and starts it again on the same database and addresses.
    pub async fn restart(&mut self) {
        let old = self.server.take().expect("running");
        let mut config = self.config.clone();
        config.public_addr = old.public_addr;
        config.admin_addr = old.admin_addr;
        old.shutdown().await;
        self.server = Some(clavis::start(config).await.expect("server restarts"));
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

fn write_empty_config(dir: &std::path::Path) -> std::path::PathBuf {
    // An explicit (empty) config file, so a developer's ./clavis.toml cannot leak in.
    let path = dir.join("clavis.toml");
    std::fs::write(&path, "").unwrap();
    path
}

/// The claims of a JWT, without verification (tests verify separately).
/// The `name=value` of a response's (first) `Set-Cookie`, as a browser would send it back.
pub fn set_cookie(resp: &reqwest::Response) -> String {
    resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
}

pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn header(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

// ---- The `clavis` binary as a separate process (CLI and crash tests). ----

/// A working directory and a fresh database (`CLAVIS_TEST_DB` decides which kind).
pub struct Workspace {
    pub dir: PathBuf,
    pub database_url: String,
}

impl Workspace {
    pub async fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("clavis-cli-{}", clavis_core::ids::ulid().to_ascii_lowercase()));
        std::fs::create_dir_all(&dir).unwrap();
        let database_url = fresh_database(&dir.join("clavis-data")).await;
        Self { dir, database_url }
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite")
    }

    /// `clavis ARGS` in this workspace, with a clean environment. On SQLite the database
    /// is the default (`./clavis-data/clavis.db`), so the defaults are what is tested.
    pub fn clavis(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clavis"));
        cmd.current_dir(&self.dir).args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
        if !self.is_sqlite() {
            cmd.env("CLAVIS_DATABASE_URL", &self.database_url);
        }
        cmd
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `clavis serve` process; killed on drop.
pub struct Serve {
    pub child: Child,
    pub public: String,
    pub admin: String,
    /// Every JSON log line after the "listening" one, as it is written.
    pub log: std::sync::mpsc::Receiver<Value>,
}

impl Serve {
    /// The first log line (waiting up to 10 s for it) that `matches`.
    pub fn log_line(&self, matches: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(v) if matches(&v) => return Some(v),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client_credentials request to `token_url` with HTTP Basic (and `scope`, unless empty).
pub async fn client_credentials(token_url: &str, id: &str, secret: &str, scope: &str) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    reqwest::Client::new().post(token_url).basic_auth(id, Some(secret)).form(&form).send().await.unwrap()
}

/// Starts `clavis serve` on ephemeral ports and waits for its "listening" log line.
pub fn serve(ws: &Workspace, extra_env: &[(&str, &str)]) -> Serve {
    let mut cmd = ws.clavis(&["serve"]);
    cmd.env("CLAVIS_PUBLIC_ADDR", "127.0.0.1:0").env("CLAVIS_ADMIN_ADDR", "127.0.0.1:0").env("CLAVIS_LOG_FORMAT", "json");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (log_tx, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut listening = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
            if listening {
                let _ = log_tx.send(v);
            } else if v["fields"]["message"] == "clavis listening" {
                listening = true;
                let _ = tx.send(v["fields"].clone());
            }
        }
    });
    let fields = rx.recv_timeout(Duration::from_secs(60)).expect("clavis serve did not start");
    Serve {
        child,
        public: format!("http://{}", fields["public_addr"].as_str().unwrap()),
        admin: format!("http://{}", fields["admin_addr"].as_str().unwrap()),
        log,
    }
}

/// Verifies `jwt` with the key its header names from the issuer's published JWKS.
pub async fn verify_with_jwks(app: &TestApp, jwt: &str) -> Value {
    let jwks: Value = app.http.get(format!("{}/.well-known/jwks.json", app.public)).send().await.unwrap().json().await.unwrap();
    let parsed = clavis_core::jose::UnverifiedJwt::parse(jwt).unwrap();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == parsed.kid.as_str()).expect("the kid is published");
    assert_eq!(key["alg"], parsed.alg.as_str(), "the published key is of the token's algorithm");
    parsed.verify(&clavis_core::jose::PublicJwk::from_json(key).unwrap()).unwrap()
}

/// `at_hash` (OpenID Connect Core §3.1.3.6): the left half of SHA-256, or of SHA-512 for
/// EdDSA over Ed25519, computed here without Clavis's helper.
pub fn expected_at_hash(alg: &str, access_token: &str) -> String {
    use base64::Engine;
    let digest = if alg == "EdDSA" { &ring::digest::SHA512 } else { &ring::digest::SHA256 };
    let d = ring::digest::digest(digest, access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d.as_ref()[..d.as_ref().len() / 2])
}

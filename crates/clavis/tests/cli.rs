//! The `clavis` binary itself: `serve` with embedded defaults, `migrate`, `tenant`, and
//! `client create --admin`, run as separate processes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_clavis");

/// A working directory and a fresh database (`CLAVIS_TEST_DB` decides which kind).
struct Workspace {
    dir: PathBuf,
    database_url: String,
}

impl Workspace {
    async fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("clavis-cli-{}", clavis_core::ids::ulid().to_ascii_lowercase()));
        std::fs::create_dir_all(&dir).unwrap();
        let database_url = common::fresh_database(&dir.join("clavis-data")).await;
        Self { dir, database_url }
    }

    fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite")
    }

    /// `clavis ARGS` in this workspace, with a clean environment. On SQLite the database
    /// is the default (`./clavis-data/clavis.db`), so the defaults are what is tested.
    fn clavis(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
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
struct Serve {
    child: Child,
    public: String,
    admin: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `clavis serve` on ephemeral ports and waits for its "listening" log line.
fn serve(ws: &Workspace, extra_env: &[(&str, &str)]) -> Serve {
    let mut cmd = ws.clavis(&["serve"]);
    cmd.env("CLAVIS_PUBLIC_ADDR", "127.0.0.1:0").env("CLAVIS_ADMIN_ADDR", "127.0.0.1:0").env("CLAVIS_LOG_FORMAT", "json");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["fields"]["message"] == "clavis listening" {
                    let _ = tx.send(v["fields"].clone());
                }
            }
        }
    });
    let fields = rx.recv_timeout(Duration::from_secs(60)).expect("clavis serve did not start");
    Serve {
        child,
        public: format!("http://{}", fields["public_addr"].as_str().unwrap()),
        admin: format!("http://{}", fields["admin_addr"].as_str().unwrap()),
    }
}

async fn token(url: &str, id: &str, secret: &str) -> Value {
    let resp = reqwest::Client::new()
        .post(url)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn serve_with_defaults_creates_its_database_and_the_default_tenant() {
    let ws = Workspace::new().await;
    let server = serve(&ws, &[]);
    if ws.is_sqlite() {
        assert!(ws.dir.join("clavis-data/clavis.db").exists(), "SQLite under ./clavis-data by default");
    }
    let v: Value = reqwest::get(format!("{}/.well-known/openid-configuration", server.public)).await.unwrap().json().await.unwrap();
    assert_eq!(v["issuer"], server.public.as_str());
    let out = ws.clavis(&["tenant", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l == "default"));
    drop(server);
}

#[tokio::test]
async fn offline_admin_client_works_against_the_server() {
    let ws = Workspace::new().await;
    let out = ws.clavis(&["migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = ws.clavis(&["tenant", "create", "acme"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "created acme");
    let out = ws.clavis(&["tenant", "create", "Bad Tenant"]).output().unwrap();
    assert!(!out.status.success());

    let out = ws.clavis(&["client", "create", "--tenant", "acme", "--admin"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let get = |k: &str| stdout.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap().to_owned();
    let (id, secret) = (get("client_id"), get("client_secret"));
    assert!(secret.len() >= 43);

    let out = ws.clavis(&["keys", "rotate", "--tenant", "acme"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let kid = String::from_utf8(out.stdout).unwrap().trim().strip_prefix("kid=").unwrap().to_owned();
    let out = ws.clavis(&["keys", "list", "--tenant", "acme"]).output().unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.lines().any(|l| l.starts_with(&kid) && l.contains("active")), "{listed}");

    let server = serve(&ws, &[]);
    let t = token(&format!("{}/t/acme/oauth2/token", server.public), &id, &secret).await;
    let at_kid = common::header(t["access_token"].as_str().unwrap())["kid"].as_str().unwrap().to_owned();
    assert_eq!(at_kid, kid, "signed with the rotated key");
    let resp = reqwest::Client::new()
        .get(format!("{}/admin/oauth/clients", server.admin))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let list: Value = resp.json().await.unwrap();
    assert_eq!(list["data"]["items"][0]["client_id"], id.as_str());
    assert_eq!(list["data"]["items"][0]["tenant_id"], "acme");
    drop(server);
}

#[tokio::test]
async fn bootstrap_client_is_ensured_and_its_secret_follows_the_setting() {
    let ws = Workspace::new().await;
    let (id, s1, s2) = ("ops-admin", "first-bootstrap-secret-0123456789abcdef", "second-bootstrap-secret-0123456789abcdef");
    let server = serve(&ws, &[("CLAVIS_BOOTSTRAP_CLIENT_ID", id), ("CLAVIS_BOOTSTRAP_CLIENT_SECRET", s1)]);
    let url = format!("{}/oauth2/token", server.public);
    assert_eq!(token(&url, id, s1).await["scope"], "admin");
    drop(server);
    // Restart with another secret: the old one stops working at once.
    let server = serve(&ws, &[("CLAVIS_BOOTSTRAP_CLIENT_ID", id), ("CLAVIS_BOOTSTRAP_CLIENT_SECRET", s2)]);
    let url = format!("{}/oauth2/token", server.public);
    token(&url, id, s2).await;
    let resp = reqwest::Client::new().post(&url).basic_auth(id, Some(s1)).form(&[("grant_type", "client_credentials")])
        .send().await.unwrap();
    assert_eq!(resp.status(), 401);
    drop(server);
    // A short bootstrap secret is refused at start.
    let out = ws.clavis(&["serve"]).env("CLAVIS_BOOTSTRAP_CLIENT_ID", id).env("CLAVIS_BOOTSTRAP_CLIENT_SECRET", "short")
        .output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"));
}

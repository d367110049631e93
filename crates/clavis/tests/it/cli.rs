//! The `clavis` binary itself: `serve` with embedded defaults, `migrate`, `tenant`, and
//! `client create --admin`, run as separate processes.

use crate::common;

use common::{serve, Workspace};
use serde_json::Value;

async fn token(url: &str, id: &str, secret: &str) -> Value {
    let resp = common::client_credentials(url, id, secret, "").await;
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
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().filter(|l| l.starts_with("kid=")).count(), 4, "every algorithm");
    let out = ws.clavis(&["keys", "rotate", "--tenant", "acme", "--alg", "HS256"]).output().unwrap();
    assert!(!out.status.success(), "not an algorithm Clavis signs with");
    let out = ws.clavis(&["keys", "rotate", "--tenant", "acme", "--alg", "ES256"]).output().unwrap();
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
    assert_eq!(common::client_credentials(&url, id, s1, "").await.status(), 401);
    drop(server);
    // A short bootstrap secret is refused at start.
    let out = ws.clavis(&["serve"]).env("CLAVIS_BOOTSTRAP_CLIENT_ID", id).env("CLAVIS_BOOTSTRAP_CLIENT_SECRET", "short").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"));
}

/// In JSON logs (`CLAVIS_LOG_FORMAT=json`), a request's lines carry its span: the request
/// id from the start, the tenant and client recorded later.
#[tokio::test]
async fn json_log_lines_carry_the_request_span() {
    let ws = Workspace::new().await;
    let (id, secret) = ("json-log-admin", "json-log-bootstrap-secret-0123456789abcdef");
    let server = serve(&ws, &[("CLAVIS_BOOTSTRAP_CLIENT_ID", id), ("CLAVIS_BOOTSTRAP_CLIENT_SECRET", secret)]);
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth2/token", server.public))
        .header("x-request-id", "json-span-1")
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let line =
        server.log_line(|v| v["target"] == "clavis::access" && v["fields"]["request_id"] == "json-span-1").expect("the token request's access line");
    assert_eq!(line["span"]["name"], "request", "{line}");
    assert_eq!(line["span"]["request_id"], "json-span-1", "{line}");
    assert_eq!(line["span"]["tenant"], "default", "{line}");
    assert_eq!(line["span"]["client"], id, "{line}");
    drop(server);
}

/// Settings are flags of every subcommand (after it, and listed in its `--help`), booleans
/// take 1/0/yes/no, `config check` exits 2 on a bad configuration, and `config show` says
/// where each value came from.
#[tokio::test]
async fn settings_follow_the_subcommand_and_config_commands_report_them() {
    let ws = Workspace::new().await;
    let out = ws.clavis(&["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--config", "--public-addr", "--dcr-enabled", "--auth-code-ttl", "--par-ttl", "--database-url-file", "CLAVIS_FLOW_TTL"] {
        assert!(help.contains(flag), "serve --help lists {flag}:\n{help}");
    }
    std::fs::write(ws.dir.join("clavis.toml"), "log = \"debug\"\ndcr_enabled = true\n").unwrap();
    let out = ws
        .clavis(&["config", "show", "--format", "json", "--admin-addr", "127.0.0.1:9"])
        .env("CLAVIS_DCR_ENABLED", "0")
        .env("CLAVIS_ID_TOKEN_TTL", "15m")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let row = |k: &str| rows.iter().find(|r| r["key"] == k).cloned().unwrap();
    assert_eq!((row("admin_addr")["value"].clone(), row("admin_addr")["source"].clone()), ("127.0.0.1:9".into(), "flag --admin-addr".into()));
    assert_eq!(row("dcr_enabled")["value"], "false", "CLAVIS_DCR_ENABLED=0 over the file's true");
    assert_eq!(row("log")["source"], "file clavis.toml (log)");
    assert_eq!(row("id_token_ttl")["value"], "15m");
    let out = ws.clavis(&["config", "check", "--dcr-enabled", "yes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(ws.dir.join("clavis.toml"), "log = \"debug\"\nlogin_uri = \"https://login.example\"\n").unwrap();
    for args in [&["config", "check"][..], &["serve"][..], &["migrate"][..]] {
        let out = ws.clavis(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("login_uri"), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A text log written to a file or a pipe has no colour codes.
#[tokio::test]
async fn text_logs_off_a_terminal_have_no_colours() {
    let ws = Workspace::new().await;
    let out = ws.clavis(&["migrate", "--log", "debug", "--log-format", "text"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.is_empty() && !log.contains('\u{1b}'), "{log:?}");
}

//! `clavis client import --from-hydra-db`: the clients of an Ory Hydra database (its
//! `hydra_client` table, on the test's database kind) move over with their secrets' BCrypt
//! and PBKDF2 hashes, which verify as they are, are replaced by argon2id on their first
//! successful use, and keep working after that; importing again changes nothing.

use crate::common;

use common::{serve, Workspace};
use serde_json::Value;

// Made by Python's `bcrypt` and `hashlib`, in the formats Hydra stores (ory/x hasherx).
const BCRYPT_SECRET_1: &str = "$2a$04$5lqWrg6hbghZV3U.rnze6OZ3QGyA/VZiY90r0Ltq1Net5MF./e5bW";
const PBKDF2_SHA1_SECRET_2: &str = "$pbkdf2-sha1$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$ozBgjf8BWhpRQEmsEuRHxNwHDXpdzo3ADrGn3tnt2vY";
const PBKDF2_SHA512_SECRET_2: &str = "$pbkdf2-sha512$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$G3gCrazM5mvI7p//T91WTs9jvOZyGNteL1mEBtJmN0c";
const NETWORK: &str = "8f3c1c1e-3b59-4b5e-9a43-0d3c2a1f0b11";
const OTHER_NETWORK: &str = "0b7a7f3e-52a8-4a51-8d2b-6a3f1e9c7d22";

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A Hydra 2 database with its client table (the columns of Hydra's `client.Client`).
async fn hydra_database(ws: &Workspace) -> String {
    let dir = ws.dir.join("hydra");
    std::fs::create_dir_all(&dir).unwrap();
    let url = common::fresh_database(&dir).await;
    let db = clavis_service::Store::connect(&url).await.unwrap();
    db.execute_raw(
        "CREATE TABLE hydra_client (id VARCHAR(255) NOT NULL, nid UUID NOT NULL, pk UUID, client_name TEXT NOT NULL, \
         client_secret TEXT NOT NULL, rotated_secrets TEXT NOT NULL DEFAULT '', redirect_uris TEXT NOT NULL, grant_types TEXT NOT NULL, \
         response_types TEXT NOT NULL, scope TEXT NOT NULL, owner TEXT NOT NULL, policy_uri TEXT NOT NULL, tos_uri TEXT NOT NULL, \
         client_uri TEXT NOT NULL, logo_uri TEXT NOT NULL, contacts TEXT NOT NULL, client_secret_expires_at INTEGER NOT NULL DEFAULT 0, \
         sector_identifier_uri TEXT NOT NULL, jwks TEXT NOT NULL, jwks_uri TEXT NOT NULL, request_uris TEXT NOT NULL, \
         token_endpoint_auth_method VARCHAR(25) NOT NULL DEFAULT '', request_object_signing_alg VARCHAR(10) NOT NULL DEFAULT '', \
         userinfo_signed_response_alg VARCHAR(10) NOT NULL DEFAULT '', subject_type VARCHAR(15) NOT NULL DEFAULT '', \
         allowed_cors_origins TEXT NOT NULL, audience TEXT NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, \
         frontchannel_logout_uri TEXT NOT NULL DEFAULT '', frontchannel_logout_session_required BOOLEAN NOT NULL DEFAULT false, \
         post_logout_redirect_uris TEXT NOT NULL DEFAULT '', backchannel_logout_uri TEXT NOT NULL DEFAULT '', \
         backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT false, metadata TEXT NOT NULL DEFAULT '{}', \
         token_endpoint_auth_signing_alg VARCHAR(10) NOT NULL DEFAULT '', registration_access_token_signature VARCHAR(128) NOT NULL DEFAULT '', \
         access_token_strategy VARCHAR(10) NOT NULL DEFAULT '', skip_consent BOOLEAN NOT NULL DEFAULT false, skip_logout_consent BOOLEAN NULL, \
         client_credentials_grant_access_token_lifespan BIGINT NULL, authorization_code_grant_access_token_lifespan BIGINT NULL, \
         PRIMARY KEY (id, nid))",
    )
    .await
    .unwrap();
    let row = |nid: &str, id: &str, secret: &str, rotated: &str, grants: &str, method: &str, redirect: &str, lifespan: &str| {
        format!(
            "INSERT INTO hydra_client (id, nid, client_name, client_secret, rotated_secrets, redirect_uris, grant_types, response_types, \
             scope, owner, policy_uri, tos_uri, client_uri, logo_uri, contacts, sector_identifier_uri, jwks, jwks_uri, request_uris, \
             token_endpoint_auth_method, allowed_cors_origins, audience, created_at, updated_at, metadata, skip_consent, \
             client_credentials_grant_access_token_lifespan) VALUES ('{id}', '{nid}', 'Hydra {id}', '{secret}', '{rotated}', '{redirect}', \
             '{grants}', '[\"code\"]', 'read write', 'team-a', '', '', '', '', '[]', '', '{{}}', '', '[]', '{method}', '[]', '[]', \
             '2024-03-01 10:00:00', '2024-03-01 10:00:00', '{{\"tier\":\"gold\"}}', true, {lifespan})"
        )
    };
    let machine = r#"["client_credentials"]"#;
    for sql in [
        row(NETWORK, "billing", BCRYPT_SECRET_1, &format!(r#"["{PBKDF2_SHA1_SECRET_2}"]"#), machine, "client_secret_basic", "[]", "1800000000000"),
        row(NETWORK, "reports", PBKDF2_SHA512_SECRET_2, "[]", machine, "client_secret_post", "[]", "NULL"),
        row(NETWORK, "spa", "", "", r#"["authorization_code"]"#, "none", r#"["https://spa.example.com/cb"]"#, "NULL"),
        row(NETWORK, "costly", &BCRYPT_SECRET_1.replace("$04$", "$14$"), "[]", machine, "client_secret_basic", "[]", "NULL"),
        row(OTHER_NETWORK, "elsewhere", BCRYPT_SECRET_1, "[]", machine, "client_secret_basic", "[]", "NULL"),
    ] {
        db.execute_raw(&sql).await.unwrap();
    }
    db.close().await;
    url
}

async fn token(server: &common::Serve, id: &str, secret: &str) -> (u16, Value) {
    let resp = common::client_credentials(&format!("{}/t/acme/oauth2/token", server.public), id, secret, "read").await;
    (resp.status().as_u16(), resp.json().await.unwrap_or_default())
}

/// The stored secrets of a client, from an export.
fn exported_secrets(ws: &Workspace, client_id: &str) -> Vec<Value> {
    let text = ok(ws.clavis(&["client", "export", "--tenant", "acme"]).output().unwrap());
    let line: Value = text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|l| l["client_id"] == client_id).unwrap();
    line["clavis"]["secrets"].as_array().unwrap().clone()
}

/// A Hydra 2 database on MySQL (here MariaDB, from `CLAVIS_TEST_MYSQL_URL`): Hydra's MySQL
/// schema keeps the lists and `rotated_secrets` in JSON columns, booleans in TINYINT(1) and
/// `nid` in CHAR(36). The same rows as [`hydra_database`].
async fn hydra_mysql_database(server: &str) -> String {
    use sqlx::Executor;
    let name = format!("hydra_{}", clavis_core::ids::ulid().to_lowercase());
    let admin = sqlx::MySqlPool::connect(server).await.unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    admin.close().await;
    let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);
    let db = sqlx::MySqlPool::connect(&url).await.unwrap();
    db.execute(
        "CREATE TABLE hydra_client (id VARCHAR(255) NOT NULL, nid CHAR(36) NOT NULL, pk CHAR(36), client_name TEXT NOT NULL, \
         client_secret TEXT NOT NULL, rotated_secrets JSON NULL, redirect_uris JSON NOT NULL, grant_types JSON NOT NULL, \
         response_types JSON NOT NULL, scope TEXT NOT NULL, owner TEXT NOT NULL, policy_uri TEXT NOT NULL, tos_uri TEXT NOT NULL, \
         client_uri TEXT NOT NULL, logo_uri TEXT NOT NULL, contacts JSON NOT NULL, client_secret_expires_at INT NOT NULL DEFAULT 0, \
         sector_identifier_uri TEXT NOT NULL, jwks TEXT NOT NULL, jwks_uri TEXT NOT NULL, request_uris JSON NOT NULL, \
         token_endpoint_auth_method VARCHAR(25) NOT NULL DEFAULT '', request_object_signing_alg VARCHAR(10) NOT NULL DEFAULT '', \
         userinfo_signed_response_alg VARCHAR(10) NOT NULL DEFAULT '', subject_type VARCHAR(15) NOT NULL DEFAULT '', \
         allowed_cors_origins JSON NOT NULL, audience JSON NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, frontchannel_logout_uri TEXT NOT NULL, \
         frontchannel_logout_session_required TINYINT(1) NOT NULL DEFAULT 0, post_logout_redirect_uris JSON NOT NULL, \
         backchannel_logout_uri TEXT NOT NULL, backchannel_logout_session_required TINYINT(1) NOT NULL DEFAULT 0, \
         metadata JSON NOT NULL, token_endpoint_auth_signing_alg VARCHAR(10) NOT NULL DEFAULT '', \
         registration_access_token_signature VARCHAR(128) NOT NULL DEFAULT '', access_token_strategy VARCHAR(10) NOT NULL DEFAULT '', \
         skip_consent TINYINT(1) NOT NULL DEFAULT 0, skip_logout_consent TINYINT(1) NULL, \
         client_credentials_grant_access_token_lifespan BIGINT NULL, authorization_code_grant_access_token_lifespan BIGINT NULL, \
         PRIMARY KEY (id, nid))",
    )
    .await
    .unwrap();
    let insert = "INSERT INTO hydra_client (id, nid, client_name, client_secret, rotated_secrets, redirect_uris, grant_types, \
         response_types, scope, owner, policy_uri, tos_uri, client_uri, logo_uri, contacts, sector_identifier_uri, jwks, jwks_uri, \
         request_uris, token_endpoint_auth_method, allowed_cors_origins, audience, frontchannel_logout_uri, post_logout_redirect_uris, \
         backchannel_logout_uri, metadata, skip_consent, client_credentials_grant_access_token_lifespan) \
         VALUES (?, ?, ?, ?, ?, ?, ?, '[\"code\"]', 'read write', 'team-a', '', '', '', '', '[]', '', '{}', '', '[]', ?, '[]', '[]', \
         '', '[]', '', '{\"tier\":\"gold\"}', 1, ?)";
    let machine = r#"["client_credentials"]"#;
    let rotated = format!(r#"["{PBKDF2_SHA1_SECRET_2}"]"#);
    let costly = BCRYPT_SECRET_1.replace("$04$", "$14$");
    // (nid, id, client_secret, rotated_secrets, grant_types, auth method, redirect_uris, lifespan)
    type Row<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a str, &'a str, &'a str, Option<i64>);
    let rows: [Row; 5] = [
        (NETWORK, "billing", BCRYPT_SECRET_1, Some(&rotated), machine, "client_secret_basic", "[]", Some(1_800_000_000_000)),
        (NETWORK, "reports", PBKDF2_SHA512_SECRET_2, Some("[]"), machine, "client_secret_post", "[]", None),
        (NETWORK, "spa", "", None, r#"["authorization_code"]"#, "none", r#"["https://spa.example.com/cb"]"#, None),
        (NETWORK, "costly", &costly, Some("[]"), machine, "client_secret_basic", "[]", None),
        (OTHER_NETWORK, "elsewhere", BCRYPT_SECRET_1, None, machine, "client_secret_basic", "[]", None),
    ];
    for (nid, id, secret, rotated, grants, method, redirect, lifespan) in rows {
        sqlx::query(insert)
            .bind(id)
            .bind(nid)
            .bind(format!("Hydra {id}"))
            .bind(secret)
            .bind(rotated)
            .bind(redirect)
            .bind(grants)
            .bind(method)
            .bind(lifespan)
            .execute(&db)
            .await
            .unwrap();
    }
    db.close().await;
    url
}

#[tokio::test]
async fn hydra_clients_move_over_with_their_secret_hashes_which_are_rehashed_on_first_use() {
    let ws = Workspace::new().await;
    let hydra = hydra_database(&ws).await;
    move_over(&ws, &hydra).await;
}

/// The same from a MySQL Hydra database. It needs a MySQL or MariaDB server
/// (`CLAVIS_TEST_MYSQL_URL`, which scripts/test.sh starts); without one it is skipped, unless
/// `CLAVIS_REQUIRE_MYSQL` is set, as in CI, where a missing server fails it.
#[tokio::test]
async fn hydra_clients_move_over_from_a_mysql_database() {
    let Ok(server) = std::env::var("CLAVIS_TEST_MYSQL_URL") else {
        assert!(std::env::var_os("CLAVIS_REQUIRE_MYSQL").is_none(), "CLAVIS_REQUIRE_MYSQL is set but CLAVIS_TEST_MYSQL_URL is not");
        eprintln!("skipped: no CLAVIS_TEST_MYSQL_URL");
        return;
    };
    let ws = Workspace::new().await;
    let hydra = hydra_mysql_database(&server).await;
    move_over(&ws, &hydra).await;
    // Hydra's own DSN form (Go's driver: `tcp(host:port)`, its parameters) is read as well.
    let rest = hydra.strip_prefix("mysql://").unwrap();
    let (user, rest) = rest.split_once('@').unwrap();
    let (host, db) = rest.split_once('/').unwrap();
    let dsn = format!("mysql://{user}@tcp({host})/{db}?parseTime=true&max_conns=20");
    let out = ws.clavis(&["client", "import", "--tenant", "acme", "--from-hydra-db", &dsn, "--hydra-network", NETWORK]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 rows: 0 created, 0 updated, 3 unchanged, 0 deleted earlier, 1 refused"), "{stdout}");
}

/// Imports the clients of the Hydra database at `hydra` into a new tenant `acme`, uses their
/// secrets, and imports again.
async fn move_over(ws: &Workspace, hydra: &str) {
    ok(ws.clavis(&["tenant", "create", "acme"]).output().unwrap());
    let hydra = hydra.to_owned();

    let out = ws.clavis(&["client", "import", "--tenant", "acme", "--from-hydra-db", &hydra]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hydra-network"), "two networks: which one must be said");

    let import = || ws.clavis(&["client", "import", "--tenant", "acme", "--from-hydra-db", &hydra, "--hydra-network", NETWORK]).output().unwrap();
    let out = import();
    assert_eq!(out.status.code(), Some(3), "the costly hash is refused");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("4 rows: 3 created, 0 updated, 0 unchanged, 0 deleted earlier, 1 refused"), "{stdout}");
    assert!(stderr.contains("row 2: refused: hydra_secret_hashes") && stderr.contains("cost 4 to 13"), "{stderr}");
    let before = exported_secrets(ws, "billing");
    assert_eq!(before.len(), 2, "client_secret and the rotated one");
    assert!(before.iter().all(|s| s["secret_hash"].as_str().unwrap().starts_with('$') && s["last_four"] == ""), "{before:?}");

    let server = serve(ws, &[]);
    let (status, body) = token(&server, "billing", "hydra-secret-1").await;
    assert_eq!(status, 200, "Hydra's BCrypt hash verifies: {body}");
    assert_eq!(body["expires_in"], 1800, "the client's lifespan came along");
    assert_eq!(token(&server, "billing", "hydra-secret-2").await.0, 200, "so does the rotated secret's PBKDF2-SHA1");
    assert_eq!(token(&server, "billing", "hydra-secret-3").await.0, 401);
    assert_eq!(token(&server, "elsewhere", "hydra-secret-1").await.0, 401, "another network's client stayed in Hydra");
    let post = reqwest::Client::new()
        .post(format!("{}/t/acme/oauth2/token", server.public))
        .form(&[("grant_type", "client_credentials"), ("client_id", "reports"), ("client_secret", "hydra-secret-2")])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200, "PBKDF2-SHA512 with client_secret_post");

    // Both of billing's secrets were used once: each is argon2id now, with its last four.
    let after = exported_secrets(ws, "billing");
    let mut four: Vec<&str> = after.iter().map(|s| s["last_four"].as_str().unwrap()).collect();
    four.sort();
    assert_eq!(four, ["et-1", "et-2"]);
    assert!(after.iter().all(|s| s["secret_hash"].as_str().unwrap().starts_with("$argon2id$")), "{after:?}");
    drop(server);

    // A fresh process has nothing cached: the argon2id hashes verify, the old secrets still work.
    let server = serve(ws, &[]);
    assert_eq!(token(&server, "billing", "hydra-secret-1").await.0, 200);
    assert_eq!(token(&server, "billing", "hydra-secret-2").await.0, 200);
    assert_eq!(token(&server, "billing", "hydra-secret-3").await.0, 401);
    drop(server);

    // Importing again changes nothing, and keeps the re-hashed secrets.
    let again = import();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("4 rows: 0 created, 0 updated, 3 unchanged, 0 deleted earlier, 1 refused"), "{stdout}");
    let hashes = |v: &[Value]| v.iter().map(|s| (s["secret_id"].clone(), s["secret_hash"].clone())).collect::<Vec<_>>();
    assert_eq!(hashes(&exported_secrets(ws, "billing")), hashes(&after));
}

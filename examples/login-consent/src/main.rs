//! `clavis-example-login-consent`: serve the login & consent pages, or
//! `clavis-example-login-consent hash-password < password.txt` to make a users-file hash.

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use login_consent::admin_api::{AdminApi, AdminApiConfig};
use login_consent::users::{hash_password, Users};
use login_consent::{router, serve_until, AppState, Options};

#[derive(Parser)]
#[command(version, about = "Example login & consent app for Clavis", args_conflicts_with_subcommands = true)]
#[command(subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "LOGIN_APP_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Base URL of Clavis's admin listener.
    #[arg(long, env = "LOGIN_APP_CLAVIS_ADMIN_URL", default_value = "http://127.0.0.1:4445")]
    clavis_admin_url: String,
    /// Token endpoint of the admin client's tenant (`{public}/t/{tenant}/oauth2/token` for a tenant).
    #[arg(long, env = "LOGIN_APP_CLAVIS_TOKEN_URL", default_value = "http://127.0.0.1:4444/oauth2/token")]
    clavis_token_url: String,
    /// Client id of a Clavis client with scope `admin`.
    #[arg(long, env = "LOGIN_APP_CLIENT_ID", required = true)]
    client_id: Option<String>,
    /// Its secret (prefer the environment variable: flags show up in `ps`).
    #[arg(long, env = "LOGIN_APP_CLIENT_SECRET", hide_env_values = true, required = true)]
    client_secret: Option<String>,
    /// Users file: TOML (`[[users]]`) or JSON (`.json`), see users.example.toml.
    #[arg(long, env = "LOGIN_APP_USERS", required = true)]
    users: Option<PathBuf>,
    /// Seconds Clavis remembers a login or consent when the user ticks "remember".
    #[arg(long, env = "LOGIN_APP_REMEMBER_FOR", default_value_t = 3600)]
    remember_for: i64,
    /// Mark the CSRF cookie `Secure` (set this when serving over HTTPS).
    #[arg(long, env = "LOGIN_APP_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Log filter, e.g. `info` or `debug`.
    #[arg(long, env = "LOGIN_APP_LOG", default_value = "info")]
    log: String,
}

#[derive(Subcommand)]
enum Command {
    /// Reads a password from standard input (its first line) and prints its argon2id
    /// hash in PHC string format, for the `password_hash` of a users-file entry.
    HashPassword,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::HashPassword) = cli.command {
        return hash_password_command();
    }
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log)?).init();

    let (Some(client_id), Some(client_secret), Some(users_path)) = (cli.client_id, cli.client_secret, cli.users) else {
        bail!("--client-id, --client-secret and --users are required");
    };
    anyhow::ensure!(cli.remember_for >= 0, "--remember-for must not be negative");
    let users = Users::load(&users_path)?;
    if users.is_empty() {
        tracing::warn!(file = %users_path.display(), "the users file has no users: nobody can sign in");
    }
    let admin =
        AdminApi::new(AdminApiConfig { admin_url: cli.clavis_admin_url.clone(), token_url: cli.clavis_token_url.clone(), client_id, client_secret })?;
    // Not fatal (Clavis may start later), but a wrong secret is better reported now.
    match admin.check().await {
        Ok(()) => tracing::info!(token_url = %cli.clavis_token_url, "got an admin token from Clavis"),
        Err(e) => tracing::warn!(error = %e, token_url = %cli.clavis_token_url, "could not get an admin token from Clavis yet"),
    }
    let state = AppState::new(admin, users, Options { remember_for: cli.remember_for, secure_cookies: cli.secure_cookies });
    let listener = tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("binding {}", cli.listen))?;
    tracing::info!(addr = %listener.local_addr()?, admin_url = %cli.clavis_admin_url, "login & consent app listening");
    serve_until(listener, router(state), async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
    .await?;
    Ok(())
}

fn hash_password_command() -> anyhow::Result<()> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as you type; pipe it in to avoid that): ");
        std::io::stderr().flush()?;
    }
    let mut input = String::new();
    if stdin.is_terminal() {
        stdin.read_line(&mut input)?;
    } else {
        stdin.read_to_string(&mut input)?;
    }
    let password = input.lines().next().unwrap_or_default();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    println!("{}", hash_password(password)?);
    Ok(())
}

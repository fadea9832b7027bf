//! `brain keys create|list|revoke`: API keys, managed directly in the state store (whoever can open the
//! store is trusted, as with every other command).

use anyhow::{Context, anyhow};
use brain_http::Role;
use clap::{Args, Subcommand};
use comfy_table::Table;
use eventstream_core::TenantId;

use crate::backend::open_store;
use crate::cli::LogArgs;
use crate::config::Settings;
use brain_server::keys::KeyStore;

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(subcommand)]
    pub(crate) command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key; prints the key alone on stdout (it is shown only this once).
    Create {
        /// The tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// `admin` (every tenant), `writer`, `reader` or `metrics` (`GET /metrics` only, for Prometheus).
        #[arg(long)]
        role: String,
    },
    /// List keys (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (`key_...`).
    Revoke {
        /// The key id, as `brain keys list` shows it.
        id: String,
    },
}

pub(crate) async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.log, None, None)?;
    let store = open_store(&settings).await?;
    let keys = KeyStore::open(store).await.context("cannot prepare the api_keys table")?;
    match args.command {
        KeysCommand::Create { tenant, role } => {
            let tenant: TenantId = tenant.parse().map_err(|e| anyhow!("--tenant: {e}"))?;
            let role: Role = role.parse().map_err(|e| anyhow!("--role: {e}"))?;
            let (info, secret) = keys.create(&tenant, role).await?;
            println!("{secret}");
            eprintln!("created {} ({} of tenant {}); the key is shown only once", info.id, info.role, info.tenant);
        }
        KeysCommand::List { json } => {
            let list = keys.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                eprintln!("no keys");
            } else {
                let mut table = Table::new();
                table.set_header(["id", "tenant", "role", "created", "revoked"]);
                for k in &list {
                    let when = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
                    table.add_row([
                        k.id.clone(),
                        k.tenant.to_string(),
                        k.role.to_string(),
                        when(&k.created),
                        k.revoked.as_ref().map_or_else(|| "-".to_owned(), when),
                    ]);
                }
                println!("{table}");
            }
        }
        KeysCommand::Revoke { id } => {
            if !keys.revoke(&id).await? {
                anyhow::bail!("no live key with id {id:?} (see `brain keys list`)");
            }
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}

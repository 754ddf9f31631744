//! `territory token create | list | revoke`: made on the machine that holds the database.

use super::DbArgs;
use crate::domain::access::Role;
use clap::Subcommand;

/// `territory token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only its hash is stored: it cannot be shown again).
    Create {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// A label (who or what uses it).
        #[arg(long)]
        name: String,
        /// `viewer` (read), `planner` (read, checks, scoring, plans, exports) or `admin` (everything).
        #[arg(long)]
        role: String,
        /// Limit it to one network.
        #[arg(long)]
        network: Option<String>,
        /// Make it a partner token: it sees and acts only for this partner, and never
        /// grants, revokes, creates partners or replaces demand, whatever its role.
        #[arg(long)]
        partner_id: Option<i64>,
    },
    /// List tokens (never their secrets).
    List {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token; the service refuses it from its next request (another process: within a second).
    Revoke {
        /// Database.
        #[command(flatten)]
        db: DbArgs,
        /// Token id (from `token list`).
        id: i64,
    },
}

/// Runs a token command.
pub async fn run(what: TokenCommand) -> anyhow::Result<i32> {
    match what {
        TokenCommand::Create { db, name, role, network, partner_id } => {
            let Some(role) = Role::parse(&role) else {
                eprintln!("error: role `{role}`: expected viewer, planner or admin");
                return Ok(2);
            };
            let app = db.open().await?;
            let made = app.access.create(&name, role, network.as_deref(), partner_id).await?;
            let info = &made.info;
            eprintln!(
                "token {} `{}`: role {}, network {}, partner {} — shown once, keep it:",
                info.id,
                info.name,
                role,
                info.network.as_deref().unwrap_or("all"),
                info.partner_id.map_or("none".to_string(), |p| p.to_string())
            );
            if info.partner_id.is_some() && role == Role::Admin {
                eprintln!("note: a partner token never grants, revokes, creates partners or replaces demand; `admin` lets it manage its own outlets");
            }
            println!("{}", made.secret);
        }
        TokenCommand::List { db } => {
            let app = db.open().await?;
            for t in app.access.list().await? {
                println!(
                    "{}\t{}\t{}\tnetwork={}\tpartner={}\tcreated={}\t{}",
                    t.id,
                    t.name,
                    t.role.0,
                    t.network.as_deref().unwrap_or("all"),
                    t.partner_id.map_or("-".to_string(), |p| p.to_string()),
                    t.created_at,
                    t.revoked_at.map_or("active".to_string(), |r| format!("revoked {r}"))
                );
            }
        }
        TokenCommand::Revoke { db, id } => {
            let app = db.open().await?;
            let t = app.access.revoke(id).await?;
            eprintln!("token {} `{}` revoked at {}", t.id, t.name, t.revoked_at.unwrap_or_default());
        }
    }
    Ok(0)
}

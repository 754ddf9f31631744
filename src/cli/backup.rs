//! `territory backup FILE`: an online, consistent copy of the database.

use super::DbArgs;
use crate::domain::access::Caller;
use clap::Args;
use std::path::PathBuf;

/// `territory backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The copy to write (must not exist).
    pub file: PathBuf,
}

/// Writes the copy (`VACUUM INTO`, synced, never overwriting).
pub async fn run(args: BackupArgs) -> anyhow::Result<i32> {
    let app = args.db.open().await?;
    let bytes = app.backup(&Caller::cli(), &args.file).await?;
    println!("backed up {} to {} ({bytes} bytes)", args.db.db.display(), args.file.display());
    Ok(0)
}

//! Command-line definitions of `jpki log …` and `jpki phone history`'s bundle download.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::{CaPassphraseArgs, PortalArgs};

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// The portal's latest signed tree head (checked with --key when given)
    Sth(LogSthArgs),
    /// The log's public key (PEM): this data directory's, or a portal's with --portal
    Key(LogKeyArgs),
    /// Verify a downloaded history bundle (or any jpki-log document) offline with the
    /// log's key; without FILE, audit the whole database of the data directory.
    /// Exit codes: 0 verified, 3 an entry was altered or removed, 4 a tree head,
    /// consistency proof or checkpoint does not hold, 5 not a usable document or key,
    /// 1 the check could not run
    Verify(LogVerifyArgs),
    /// Create the usage log's keys in a data directory made before the log existed
    Init(LogInitArgs),
}

#[derive(Debug, Args)]
pub struct LogSthArgs {
    #[command(flatten)]
    pub portal: PortalArgs,
    /// The log's public key (PEM) to check the head's signature with
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Save the head (JSON; `jpki log verify FILE --key KEY` checks it)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogKeyArgs {
    /// Fetch the key a portal serves (GET /api/v1/log/key) instead of this data directory's
    #[arg(long, value_name = "URL")]
    pub portal: Option<String>,
    /// Write the PEM to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogVerifyArgs {
    /// A history bundle, entry proof, consistency proof or tree head (JSON); none: audit
    /// the data directory's database
    pub file: Option<PathBuf>,
    /// The log's public key (PEM); required with FILE
    #[arg(long, value_name = "FILE", requires = "file")]
    pub key: Option<PathBuf>,
    /// A checkpoint saved by an earlier verification: the bundle must extend it
    #[arg(long, value_name = "CHECKPOINT", requires = "file")]
    pub since: Option<PathBuf>,
    /// After a successful verification of a history, save its checkpoint to FILE
    #[arg(long, value_name = "FILE", requires = "file")]
    pub save_checkpoint: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogInitArgs {
    #[command(flatten)]
    pub passphrase: CaPassphraseArgs,
}

#[derive(Debug, Args)]
pub struct PhoneHistoryArgs {
    /// Phone file
    pub phone: PathBuf,
    #[command(flatten)]
    pub portal: PortalArgs,
    /// Download the verifiable history bundle to FILE, verify it, and keep a checkpoint
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// The log's public key (PEM) to verify with (default: the portal's, fetched once and
    /// remembered next to the phone file as <phone>.log-key.pem)
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub key: Option<PathBuf>,
    /// Checkpoint file: read (the download must extend it) and replaced after a
    /// successful verification (default: <phone>.checkpoint.json)
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub checkpoint: Option<PathBuf>,
}

//! Command-line interface definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "jpki",
    version,
    about = "An open JPKI: registry, CA, virtual My Number card, and (coming) phone certificates",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// Data directory (default: ~/.local/share/jpki, or $XDG_DATA_HOME/jpki)
    #[arg(long, global = true, env = "JPKI_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); JPKI_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a data directory: configuration, database, the two CAs, the device key
    Init(InitArgs),
    /// The resident registry (basic 4 information and My Number)
    #[command(subcommand)]
    Resident(ResidentCommand),
    /// Virtual My Number cards
    #[command(subcommand)]
    Card(CardCommand),
    /// Run the whole flow that exists so far in a temporary directory, explaining each step
    Demo(DemoArgs),
    /// Benchmarks (build with --release for meaningful figures)
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Database: `sqlite:jpki.db` (default, inside the data directory) or `postgres://…`
    #[arg(long, env = "JPKI_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// Second OU of both CA names
    #[arg(long, default_value = jpki_pkix::DEFAULT_SECOND_OU, value_name = "TEXT")]
    pub ca_ou: String,
    /// CA certificate lifetime in years
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub ca_years: u32,
    #[command(flatten)]
    pub passphrase: CaPassphraseArgs,
    /// Record the passphrase file's path in jpki.toml, so later commands find it
    #[arg(long, requires = "ca_passphrase_file")]
    pub remember_passphrase_file: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CaPassphraseArgs {
    /// File holding the CA key passphrase (else $JPKI_CA_PASSPHRASE, else a prompt)
    #[arg(long, env = "JPKI_CA_PASSPHRASE_FILE", value_name = "FILE")]
    pub ca_passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ResidentCommand {
    /// Register a resident
    Add(ResidentAddArgs),
    /// Show a resident and their history
    Show(ResidentShowArgs),
    /// List residents
    List(ResidentListArgs),
}

#[derive(Debug, Args)]
pub struct ResidentAddArgs {
    /// Name in kanji, e.g. '公的 太郎'
    #[arg(long)]
    pub name: String,
    /// Name in substitute characters (代替文字), when it differs
    #[arg(long)]
    pub name_substitute: Option<String>,
    /// Address, e.g. '東京都千代田区霞が関2-1-2'
    #[arg(long)]
    pub address: String,
    /// Address in substitute characters, when it differs
    #[arg(long)]
    pub address_substitute: Option<String>,
    /// Date of birth, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub birth_date: String,
    /// Sex: 1 / male, 2 / female, 9 / not-applicable
    #[arg(long)]
    pub sex: String,
    /// My Number: 12 digits with a valid check digit
    #[arg(
        long,
        value_name = "DIGITS",
        required_unless_present = "generate_my_number"
    )]
    pub my_number: Option<String>,
    /// Generate a random valid My Number (sandbox only)
    #[arg(long, conflicts_with = "my_number")]
    pub generate_my_number: bool,
}

#[derive(Debug, Args)]
pub struct ResidentShowArgs {
    /// Resident id (as printed by `resident add`)
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct ResidentListArgs {
    /// Start after this resident id
    #[arg(long)]
    pub after: Option<i64>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Issue a My Number card to a resident at the counter
    Issue(CardIssueArgs),
    /// Show what a card file holds (public part) and its PIN counters
    Info(CardInfoArgs),
    /// Send raw APDUs (hex) to a card file and print the responses
    Apdu(CardApduArgs),
    /// Insert a card file into vsmartcard's vpcd reader, for pcscd, OpenSC and any PC/SC application
    Attach(CardAttachArgs),
    /// Read a card through PC/SC: token, certificates, and with the PINs the card-face data
    Read(CardReadArgs),
    /// Sign a file with a card's signature key through PC/SC (detached CMS)
    Sign(CardSignArgs),
}

#[derive(Debug, Args)]
pub struct CardIssueArgs {
    /// Resident id
    #[arg(long)]
    pub resident: i64,
    /// Card file to create
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Issue only the user-authentication certificate
    #[arg(long)]
    pub no_signature: bool,
    #[command(flatten)]
    pub pins: CardPinArgs,
    #[command(flatten)]
    pub passphrase: CaPassphraseArgs,
}

#[derive(Debug, Args, Clone)]
pub struct CardPinArgs {
    /// File holding the signature password (6-16 of A-Z 0-9); else $JPKI_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub sign_password_file: Option<PathBuf>,
    /// File holding the 4-digit user-authentication PIN; else $JPKI_AUTH_PIN or a prompt
    #[arg(long, env = "JPKI_AUTH_PIN_FILE", value_name = "FILE")]
    pub auth_pin_file: Option<PathBuf>,
    /// File holding the 4-digit card-face data PIN; else $JPKI_SUPPORT_PIN or a prompt
    #[arg(long, env = "JPKI_SUPPORT_PIN_FILE", value_name = "FILE")]
    pub support_pin_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CardInfoArgs {
    /// Card file
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct CardApduArgs {
    /// Card file (PIN counters are written back to it)
    pub file: PathBuf,
    /// Command APDUs in hex, one per argument (spaces and colons inside are ignored)
    #[arg(required = true, value_name = "HEX")]
    pub apdus: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CardAttachArgs {
    /// Card file (PIN counters are written back to it after every APDU that changes them)
    pub file: PathBuf,
    /// vpcd's TCP port: 35963 for the reader `Virtual PCD 00 00`, 35964 for `00 01`
    #[arg(long, default_value_t = jpki_reader::vpcd::DEFAULT_PORT, value_name = "PORT")]
    pub reader_port: u16,
    /// Host running pcscd with vpcd
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Do not set TCP_QUICKACK (only to measure its effect: every APDU then takes ~40 ms longer)
    #[arg(long)]
    pub no_quickack: bool,
}

#[derive(Debug, Args)]
pub struct CardReadArgs {
    /// Reader name, or a unique part of it (default: the first reader holding a card)
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
    /// File holding the signature password, to read the signature certificate
    #[arg(long, env = "JPKI_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub sign_password_file: Option<PathBuf>,
    /// File holding the auth PIN, to read the auth certificate of a phone (needs it)
    #[arg(long, env = "JPKI_AUTH_PIN_FILE", value_name = "FILE")]
    pub auth_pin_file: Option<PathBuf>,
    /// File holding the card-face data PIN, to read the 4 attributes
    #[arg(long, env = "JPKI_SUPPORT_PIN_FILE", value_name = "FILE")]
    pub support_pin_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CardSignArgs {
    /// Reader name, or a unique part of it (default: the first reader holding a card)
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
    /// File to sign
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the detached CMS SignedData (DER)
    #[arg(long, value_name = "FILE.p7s")]
    pub out: PathBuf,
    /// File holding the signature password; else $JPKI_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub sign_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's data directory here instead of a temporary one
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Certificates issued per second by the CA signer, next to the raw RSA-2048 signing rate
    Issuance(BenchIssuanceArgs),
    /// APDU round trips through PC/SC: median and p99 of SELECT of the JPKI AP
    Apdu(BenchApduArgs),
}

#[derive(Debug, Args)]
pub struct BenchIssuanceArgs {
    /// Seconds to run each measurement
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Rounds (raw, issuance alternating), to spread noise
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
}

#[derive(Debug, Args)]
pub struct BenchApduArgs {
    /// Reader name, or a unique part of it (default: the first reader holding a card)
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
    /// Round trips to time (after 50 untimed ones)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
}

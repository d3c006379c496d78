//! Command-line definitions of the lifecycle and status commands: `jpki hotline`,
//! `jpki operator`, `jpki verifier`, `jpki crl`, `jpki phone lift|revoke|revoke-other|
//! reset-pin`, `jpki resident move|rename|death` (the variants live in `cli.rs`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::{CaPassphraseArgs, PhonePinArgs, PortalArgs};

#[derive(Debug, Args, Clone)]
pub struct ApiKeyArgs {
    /// File holding the account's API key (else $JPKI_API_KEY, else a prompt)
    #[arg(long, env = "JPKI_API_KEY_FILE", value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Portal URL (default: jpki.toml's [phone] portal_url)
    #[arg(long, env = "JPKI_PORTAL_URL", value_name = "URL")]
    pub portal: Option<String>,
}

/// 本人確認: the My Number, or name and date of birth (and the address if needed).
#[derive(Debug, Args, Clone)]
pub struct PersonArgs {
    /// The person's My Number (12 digits)
    #[arg(long, value_name = "DIGITS", required_unless_present = "name")]
    pub my_number: Option<String>,
    /// The person's name (with --birth-date)
    #[arg(long, requires = "birth_date", conflicts_with = "my_number")]
    pub name: Option<String>,
    /// YYYY-MM-DD (with --name)
    #[arg(long, value_name = "YYYY-MM-DD", requires = "name")]
    pub birth_date: Option<String>,
    /// The address, when several people share name and date of birth
    #[arg(long, requires = "name")]
    pub address: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum HotlineCommand {
    /// 一時利用停止: put a person's phone (or card) certificates on hold
    Suspend(HotlineSuspendArgs),
    /// A person's certificates and their status
    Status(HotlineStatusArgs),
}

#[derive(Debug, Args)]
pub struct HotlineSuspendArgs {
    #[command(flatten)]
    pub person: PersonArgs,
    /// phone (一時利用停止), card (一時保留) or all
    #[arg(long, default_value = "phone")]
    pub scope: String,
    /// A note for the audit log (no personal data)
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub key: ApiKeyArgs,
}

#[derive(Debug, Args)]
pub struct HotlineStatusArgs {
    #[command(flatten)]
    pub person: PersonArgs,
    #[command(flatten)]
    pub key: ApiKeyArgs,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator account and print its API key (shown once; only its digest is kept)
    Add(OperatorAddArgs),
    /// List the accounts (operators and verifiers)
    List,
    /// Disable an account: its key is refused from now on
    Disable(AccountNameArgs),
    /// Set or replace an account's operator-console password (ends its console sessions)
    Password(OperatorPasswordArgs),
}

#[derive(Debug, Args)]
pub struct OperatorAddArgs {
    /// Account name (A-Z a-z 0-9 - _ . @)
    pub name: String,
    /// hotline (suspends, looks up), auditor (looks up), counter (console: looks up) or
    /// admin (console: everything the hotline may do)
    #[arg(long)]
    pub role: String,
    /// Also write the key to this file (mode 0600), for scripts
    #[arg(long, value_name = "FILE")]
    pub key_out: Option<PathBuf>,
    /// File holding the operator-console password (at least 12 characters); else
    /// $JPKI_OPERATOR_PASSWORD or a prompt when --password is given. Required for the
    /// counter and admin roles, which only use the console.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Ask for a console password (or read $JPKI_OPERATOR_PASSWORD)
    #[arg(long)]
    pub password: bool,
}

#[derive(Debug, Args)]
pub struct OperatorPasswordArgs {
    pub name: String,
    /// File holding the new password; else $JPKI_OPERATOR_PASSWORD or a prompt
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AccountNameArgs {
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum VerifierCommand {
    /// Register a verifier (署名検証者) and print its API key: for restricted OCSP/CRLs and the certificate links
    Add(VerifierAddArgs),
    /// 紐付け情報: what a certificate replaced, what replaced it, its counterpart
    Links(VerifierLinksArgs),
}

#[derive(Debug, Args)]
pub struct VerifierAddArgs {
    /// Account name (A-Z a-z 0-9 - _ . @)
    pub name: String,
    /// Also write the key to this file (mode 0600), for scripts
    #[arg(long, value_name = "FILE")]
    pub key_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifierLinksArgs {
    /// sign or auth
    #[arg(long)]
    pub issuer: String,
    /// The certificate's serial (hex)
    #[arg(long)]
    pub serial: String,
    #[command(flatten)]
    pub key: ApiKeyArgs,
}

#[derive(Debug, Subcommand)]
pub enum CrlCommand {
    /// Publish CRLs now (full, with an empty delta; or --delta), saved for `jpki serve` to serve
    Publish(CrlPublishArgs),
}

#[derive(Debug, Args)]
pub struct CrlPublishArgs {
    /// Only delta CRLs (over the last full CRL of each shard)
    #[arg(long)]
    pub delta: bool,
    #[command(flatten)]
    pub passphrase: CaPassphraseArgs,
}

#[derive(Debug, Args)]
pub struct PhoneLiftArgs {
    /// Phone file (the found phone)
    pub phone: PathBuf,
    /// The My Number card file whose signature key authorises the lift
    #[arg(long, value_name = "FILE")]
    pub card: PathBuf,
    /// File holding the CARD's signature password; else $JPKI_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub sign_password_file: Option<PathBuf>,
    /// Do not re-issue the phone signature certificate (it is revoked either way)
    #[arg(long)]
    pub no_reissue: bool,
    #[command(flatten)]
    pub phone_pins: PhonePinArgs,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneRevokeArgs {
    /// Phone file
    pub phone: PathBuf,
    /// The My Number card file
    #[arg(long, value_name = "FILE")]
    pub card: PathBuf,
    /// Which phone certificates: sign, auth, or both
    #[arg(long, value_delimiter = ',', default_value = "sign,auth")]
    pub kinds: Vec<String>,
    /// File holding the CARD's signature password; else $JPKI_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub sign_password_file: Option<PathBuf>,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneRevokeOtherArgs {
    /// The other phone's id (its SE serial, as `jpki phone status` or the usage history shows)
    #[arg(long, value_name = "SE_SERIAL")]
    pub device: String,
    /// The My Number card file
    #[arg(long, value_name = "FILE")]
    pub card: PathBuf,
    /// File holding the CARD's signature password; else $JPKI_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub sign_password_file: Option<PathBuf>,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneResetPinArgs {
    /// Phone file
    pub phone: PathBuf,
    /// The My Number card file
    #[arg(long, value_name = "FILE")]
    pub card: PathBuf,
    /// Which PIN: sign (the phone signature password) or auth (the phone auth PIN)
    #[arg(long)]
    pub pin: String,
    /// File holding the CARD's signature password; else $JPKI_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub sign_password_file: Option<PathBuf>,
    /// The new PIN: --phone-sign-password-file or --phone-auth-pin-file
    #[command(flatten)]
    pub phone_pins: PhonePinArgs,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct ResidentMoveArgs {
    /// Resident id
    pub id: i64,
    /// The new address
    #[arg(long)]
    pub address: String,
    /// The new address in substitute characters, when it differs
    #[arg(long)]
    pub address_substitute: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResidentRenameArgs {
    /// Resident id
    pub id: i64,
    /// The new name
    #[arg(long)]
    pub name: String,
    /// The new name in substitute characters, when it differs
    #[arg(long)]
    pub name_substitute: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResidentDeathArgs {
    /// Resident id
    pub id: i64,
}

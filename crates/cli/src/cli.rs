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
    /// Run the portal: the phone app's API, notifications, and the issuance queue
    Serve(ServeArgs),
    /// Virtual phones: apply for phone certificates with the card, register, use
    #[command(subcommand)]
    Phone(PhoneCommand),
    /// The secure-element vendor's CA (sandbox): certifies the device key of every virtual SE
    #[command(subcommand, name = "se-vendor")]
    SeVendor(SeVendorCommand),
    /// Verify a detached CMS signature as a relying party (exit 0 valid, 1 invalid, 2 indeterminate)
    Verify(VerifyArgs),
    /// Private relying parties on the platform-operator API
    #[command(subcommand)]
    Rp(RpCommand),
    /// Run the whole flow that exists so far in a temporary directory, explaining each step
    Demo(DemoArgs),
    /// Benchmarks (build with --release for meaningful figures)
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The hotline (一時利用停止 受付): suspend a person's certificates, look them up (operator API key)
    #[command(subcommand)]
    Hotline(crate::lifecycle_cli::HotlineCommand),
    /// Operator accounts (hotline, auditor, counter, admin): API keys and console passwords
    #[command(subcommand)]
    Operator(crate::lifecycle_cli::OperatorCommand),
    /// Registered verifiers (署名検証者): API keys for restricted OCSP/CRLs and certificate links
    #[command(subcommand)]
    Verifier(crate::lifecycle_cli::VerifierCommand),
    /// Certificate revocation lists (sharded, full and delta)
    #[command(subcommand)]
    Crl(crate::lifecycle_cli::CrlCommand),
    /// The verifiable usage history: tree heads, the log key, offline verification of a
    /// history bundle, and the operator's audit of the whole log
    #[command(subcommand)]
    Log(crate::log_cli::LogCommand),
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
    /// 転居: a new address; revokes the signature certificates (affiliationChanged)
    Move(crate::lifecycle_cli::ResidentMoveArgs),
    /// 氏名変更: a new name; revokes the signature certificates (affiliationChanged)
    Rename(crate::lifecycle_cli::ResidentRenameArgs),
    /// 死亡: revokes every certificate (cessationOfOperation); no further change
    Death(crate::lifecycle_cli::ResidentDeathArgs),
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

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default from jpki.toml, 127.0.0.1:8080)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Issuance window, JST: HH:MM-HH:MM or `always` (default from jpki.toml, 08:00-19:30)
    #[arg(long, value_name = "WINDOW")]
    pub service_hours: Option<String>,
    /// Seconds between registration and activation (default from jpki.toml, 0)
    #[arg(long, value_name = "SECONDS")]
    pub propagation_delay: Option<u64>,
    #[command(flatten)]
    pub passphrase: CaPassphraseArgs,
}

#[derive(Debug, Subcommand)]
pub enum SeVendorCommand {
    /// Create the SE vendor's CA in the data directory and trust it for attestations
    Init(SeVendorInitArgs),
}

#[derive(Debug, Args)]
pub struct SeVendorInitArgs {
    /// The vendor's name (the CA certificate's organization)
    #[arg(long, default_value = "jpki sandbox SE vendor")]
    pub name: String,
    #[command(flatten)]
    pub passphrase: VendorPassphraseArgs,
}

#[derive(Debug, Args, Clone)]
pub struct VendorPassphraseArgs {
    /// File holding the SE vendor key passphrase (else $JPKI_SE_VENDOR_PASSPHRASE, else a prompt)
    #[arg(long, env = "JPKI_SE_VENDOR_PASSPHRASE_FILE", value_name = "FILE")]
    pub vendor_passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PhoneCommand {
    /// Make a new virtual phone (a secure element certified by the SE vendor)
    New(PhoneNewArgs),
    /// Apply for phone certificates with the My Number card (スマホ用電子証明書の申請)
    Apply(PhoneApplyArgs),
    /// Wait for the notification that the certificates are ready (or a wipe order)
    Wait(PhoneWaitArgs),
    /// Register the issued certificates on the phone (スマホ用電子証明書の登録)
    Register(PhoneRegisterArgs),
    /// Show the phone's certificates and their status (スマホ電子証明書の確認)
    Status(PhoneFileArgs),
    /// Show the usage history (利用履歴); with --bundle, download it with its proofs and verify it
    History(crate::log_cli::PhoneHistoryArgs),
    /// Hold the phone to vpcd's reader (contactless interface), for pcscd, OpenSC and kiosks
    Attach(PhoneAttachArgs),
    /// Lift a suspension on the found phone with the card (一時利用停止の解除); re-issues the signature certificate
    Lift(crate::lifecycle_cli::PhoneLiftArgs),
    /// Revoke this phone's certificates with the card (スマホ用電子証明書の失効); the phone erases them
    Revoke(crate::lifecycle_cli::PhoneRevokeArgs),
    /// Revoke another phone's certificates with the card (別のスマホのスマホ用電子証明書の失効)
    RevokeOther(crate::lifecycle_cli::PhoneRevokeOtherArgs),
    /// Reset a locked phone PIN with the card
    ResetPin(crate::lifecycle_cli::PhoneResetPinArgs),
    /// Sign a file with the phone's signature certificate (detached CMS, .p7s)
    Sign(PhoneSignArgs),
    /// Log in to the portal with the phone's authentication certificate (--code: approve a browser's login)
    Login(PhoneLoginArgs),
    /// Sign an online application (オンライン申請) and submit it to the portal
    Submit(PhoneSubmitArgs),
    /// List the online applications submitted, with their receipts
    Applications(PhoneFileArgs),
    /// List pending sign requests from private apps, with their verification codes
    Requests(PhoneFileArgs),
    /// Approve (sign) or decline a pending sign request
    Approve(PhoneApproveArgs),
    /// As a private service's app on this phone: register with it (利用者登録, signature
    /// certificate) or log in (--login, authentication certificate); prints the user id
    Link(PhoneLinkArgs),
}

#[derive(Debug, Args)]
pub struct PhoneLinkArgs {
    /// Phone file
    pub phone: PathBuf,
    /// File holding the relying party's API key (its app relays the proof to its server)
    #[arg(long, env = "JPKI_RP_KEY_FILE", value_name = "FILE")]
    pub rp_key_file: Option<PathBuf>,
    /// Log in with the authentication certificate instead of registering
    #[arg(long)]
    pub login: bool,
    /// File holding the PHONE signature password (registration)
    #[arg(long, env = "JPKI_PHONE_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub phone_sign_password_file: Option<PathBuf>,
    /// File holding the PHONE auth PIN (--login)
    #[arg(long, env = "JPKI_PHONE_AUTH_PIN_FILE", value_name = "FILE")]
    pub phone_auth_pin_file: Option<PathBuf>,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneLoginArgs {
    /// Phone file
    pub phone: PathBuf,
    /// The code a browser shows (cross-device login); without it the CLI logs itself in
    #[arg(long)]
    pub code: Option<String>,
    /// File holding the PHONE auth PIN; else $JPKI_PHONE_AUTH_PIN or a prompt
    #[arg(long, env = "JPKI_PHONE_AUTH_PIN_FILE", value_name = "FILE")]
    pub phone_auth_pin_file: Option<PathBuf>,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneSubmitArgs {
    /// Phone file
    pub phone: PathBuf,
    /// The application form to sign and send
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Its title (what the portal lists)
    #[arg(long)]
    pub title: String,
    /// Media type of the form
    #[arg(long, default_value = "application/json")]
    pub content_type: String,
    /// File holding the PHONE signature password; else $JPKI_PHONE_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_PHONE_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub phone_sign_password_file: Option<PathBuf>,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneApproveArgs {
    /// Phone file
    pub phone: PathBuf,
    /// The request id (from `jpki phone requests`); base64url, so it may start with `-`
    #[arg(allow_hyphen_values = true)]
    pub request: String,
    /// Decline instead of signing
    #[arg(long)]
    pub decline: bool,
    /// File holding the PHONE signature password (requests for the signature key)
    #[arg(long, env = "JPKI_PHONE_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub phone_sign_password_file: Option<PathBuf>,
    /// File holding the PHONE auth PIN (requests for the authentication key)
    #[arg(long, env = "JPKI_PHONE_AUTH_PIN_FILE", value_name = "FILE")]
    pub phone_auth_pin_file: Option<PathBuf>,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneSignArgs {
    /// Phone file
    pub phone: PathBuf,
    /// The file to sign (an application form: JSON, PDF, …)
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the detached CMS SignedData (DER)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// File holding the PHONE signature password; else $JPKI_PHONE_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_PHONE_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub phone_sign_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PhoneAttachArgs {
    /// Phone file (PIN counters are written back to it)
    pub phone: PathBuf,
    /// vpcd's TCP port: 35964 is the reader `Virtual PCD 00 01` (35963, slot 0, is the card's)
    #[arg(long, default_value_t = jpki_reader::vpcd::DEFAULT_PORT + 1, value_name = "PORT")]
    pub reader_port: u16,
    /// Host running pcscd with vpcd
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct PhoneNewArgs {
    /// Phone file to create
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub passphrase: VendorPassphraseArgs,
}

#[derive(Debug, Args, Clone)]
pub struct PortalArgs {
    /// Portal URL (default: the one the phone applied to, else jpki.toml's [phone] portal_url)
    #[arg(long, env = "JPKI_PORTAL_URL", value_name = "URL")]
    pub portal: Option<String>,
}

#[derive(Debug, Args)]
pub struct PhoneApplyArgs {
    /// Phone file
    pub phone: PathBuf,
    /// The My Number card file whose signature key signs the application
    #[arg(long, value_name = "FILE")]
    pub card: PathBuf,
    /// Which phone certificates: sign, auth, or both
    #[arg(long, value_delimiter = ',', default_value = "sign,auth")]
    pub kinds: Vec<String>,
    /// File holding the CARD's signature password; else $JPKI_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub sign_password_file: Option<PathBuf>,
    #[command(flatten)]
    pub phone_pins: PhonePinArgs,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args, Clone)]
pub struct PhonePinArgs {
    /// File holding the new PHONE signature password (6-16 of A-Z 0-9); else $JPKI_PHONE_SIGN_PASSWORD or a prompt
    #[arg(long, env = "JPKI_PHONE_SIGN_PASSWORD_FILE", value_name = "FILE")]
    pub phone_sign_password_file: Option<PathBuf>,
    /// File holding the PHONE auth PIN (4 digits); else $JPKI_PHONE_AUTH_PIN or a prompt
    #[arg(long, env = "JPKI_PHONE_AUTH_PIN_FILE", value_name = "FILE")]
    pub phone_auth_pin_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PhoneWaitArgs {
    /// Phone file
    pub phone: PathBuf,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Long-poll instead of following the Server-Sent Events stream
    #[arg(long)]
    pub long_poll: bool,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneRegisterArgs {
    /// Phone file
    pub phone: PathBuf,
    /// File holding the PHONE auth PIN; else $JPKI_PHONE_AUTH_PIN or a prompt
    #[arg(long, env = "JPKI_PHONE_AUTH_PIN_FILE", value_name = "FILE")]
    pub phone_auth_pin_file: Option<PathBuf>,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct PhoneFileArgs {
    /// Phone file
    pub phone: PathBuf,
    #[command(flatten)]
    pub portal: PortalArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The detached CMS SignedData (DER), e.g. F.p7s
    #[arg(long, value_name = "FILE")]
    pub signature: PathBuf,
    /// The signed content
    #[arg(long, value_name = "FILE")]
    pub content: PathBuf,
    /// Trust the certificates in this directory or file too (repeatable); the data
    /// directory's CAs are trusted when it exists
    #[arg(long, value_name = "DIR")]
    pub trust: Vec<PathBuf>,
    /// Ask this OCSP responder instead of the certificate's
    #[arg(long, value_name = "URL", conflicts_with_all = ["crl", "offline"])]
    pub ocsp: Option<String>,
    /// Use these CRLs (base and delta; repeatable) instead of OCSP
    #[arg(long, value_name = "FILE", conflicts_with = "offline")]
    pub crl: Vec<PathBuf>,
    /// Use only evidence given here (--ocsp-response); no network
    #[arg(long)]
    pub offline: bool,
    /// An OCSP response (DER) kept as evidence (repeatable)
    #[arg(long, value_name = "FILE")]
    pub ocsp_response: Vec<PathBuf>,
    /// Check at this time (RFC 3339) instead of now
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// The signer certificate's purpose: sign (default) or auth
    #[arg(long, default_value = "sign")]
    pub purpose: String,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RpCommand {
    /// Register a relying party and print its API key (shown once)
    Add(RpAddArgs),
    /// Ask a user's phone to sign something; prints the request id and verification code
    Request(RpRequestArgs),
    /// Fetch a request's result; with --out, save the signature and certificate for `jpki verify`
    Result(RpResultArgs),
}

#[derive(Debug, Args)]
pub struct RpAddArgs {
    /// The name people see on their phone
    #[arg(long)]
    pub name: String,
}

#[derive(Debug, Args, Clone)]
pub struct RpKeyArgs {
    /// File holding the relying party's API key (else $JPKI_RP_KEY)
    #[arg(long, env = "JPKI_RP_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Portal URL (default from jpki.toml)
    #[arg(long, env = "JPKI_PORTAL_URL", value_name = "URL")]
    pub portal: Option<String>,
}

#[derive(Debug, Args)]
pub struct RpRequestArgs {
    /// The platform user id; base64url, so it may start with `-`
    #[arg(long, allow_hyphen_values = true)]
    pub user: String,
    /// sign (CMS with the signature certificate) or auth
    #[arg(long, default_value = "sign")]
    pub kind: String,
    /// What the person is asked to sign for
    #[arg(long)]
    pub purpose: String,
    /// The content to sign
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    #[command(flatten)]
    pub key: RpKeyArgs,
}

#[derive(Debug, Args)]
pub struct RpResultArgs {
    /// The request id; base64url, so it may start with `-`
    #[arg(allow_hyphen_values = true)]
    pub request: String,
    /// Save the signature here (and the certificate beside it, .cer); with --content,
    /// print the `jpki verify` command that checks it
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The content that was signed, to verify the signature against
    #[arg(long, value_name = "FILE")]
    pub content: Option<PathBuf>,
    #[command(flatten)]
    pub key: RpKeyArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command, PhoneCommand, RpCommand};

    /// Request and user ids are base64url: a quarter of them start with `-`, which must
    /// still parse as the id, not as an option.
    #[test]
    fn ids_that_start_with_a_hyphen_are_values() {
        let cli = Cli::try_parse_from([
            "jpki",
            "phone",
            "approve",
            "phone.json",
            "-FDRr6jZA74moGd0",
            "--phone-sign-password-file",
            "pw",
        ])
        .unwrap();
        let Command::Phone(PhoneCommand::Approve(args)) = cli.command else {
            panic!("not phone approve");
        };
        assert_eq!(args.request, "-FDRr6jZA74moGd0");

        let cli =
            Cli::try_parse_from(["jpki", "rp", "result", "-abc_DEF", "--out", "x.p7s"]).unwrap();
        let Command::Rp(RpCommand::Result(args)) = cli.command else {
            panic!("not rp result");
        };
        assert_eq!(args.request, "-abc_DEF");

        let cli = Cli::try_parse_from([
            "jpki",
            "rp",
            "request",
            "--user",
            "-u5er",
            "--purpose",
            "p",
            "--in",
            "f",
        ])
        .unwrap();
        let Command::Rp(RpCommand::Request(args)) = cli.command else {
            panic!("not rp request");
        };
        assert_eq!(args.user, "-u5er");
    }
}

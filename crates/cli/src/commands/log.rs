//! `jpki log …` and `jpki phone history --bundle`: the verifiable usage history
//! (`docs/verifiable-log.md`).
//!
//! - `jpki log sth`, `jpki log key`: what a portal publishes (the latest signed tree
//!   head; the public key heads verify with).
//! - `jpki log verify FILE --key KEY [--since CHECKPOINT]`: the citizen's offline check
//!   of a downloaded history bundle (or an entry proof, a consistency proof, a tree
//!   head). It prints the verified entries, or names the entry that broke.
//! - `jpki log verify` without FILE: the operator's audit of the whole database
//!   (`jpki_authority::usage_log::audit`), naming every broken entry by resident and
//!   `seq`.
//!
//! Exit codes (both modes): 0 verified; [`EXIT_ENTRY`] an entry was altered, removed,
//! reordered or is not in the signed tree; [`EXIT_TREE`] a tree head, a consistency
//! proof or the checkpoint does not hold; [`EXIT_INPUT`] the document or key is not
//! usable; 1 the check could not run (a file or the database could not be read).
//!
//! Keys: `jpki init` makes the log's signing key (PKCS#8, encrypted under the CA
//! passphrase), its public key, and the pseudonym key (a 0600 file, read by every
//! command that writes usage history; see `datadir::LogSection`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use jpki_app::PortalClient;
use jpki_authority::usage_log::{AuditProblem, UsageLog, UsageLogConfig};
use jpki_crypto::{DEFAULT_PBKDF2_ITERATIONS, SecretString};
use jpki_log::{
    Checkpoint, HistoryBundle, LogPublicKey, LogVerifyError, PseudonymKey, SignedTreeHead,
    VerifiedDocument, VerifiedEntry, VerifiedHistory,
};
use jpki_store::Store;

use crate::context::Context;
use crate::datadir::{Config, DataDir, LogSection, write_new_file};
use crate::log_cli::{
    LogCommand, LogInitArgs, LogKeyArgs, LogSthArgs, LogVerifyArgs, PhoneHistoryArgs,
};
use crate::output;

/// An entry was altered, removed, reordered, or is not where the signed tree says.
pub const EXIT_ENTRY: u8 = 3;
/// A tree head, consistency proof or checkpoint does not hold.
pub const EXIT_TREE: u8 = 4;
/// The document or the key is not usable (wrong format, malformed, unsupported key).
pub const EXIT_INPUT: u8 = 5;

pub async fn run(data_dir: Option<&Path>, command: LogCommand) -> anyhow::Result<ExitCode> {
    match command {
        LogCommand::Sth(args) => sth(data_dir, args).await.map(|()| ExitCode::SUCCESS),
        LogCommand::Key(args) => key(data_dir, args).await.map(|()| ExitCode::SUCCESS),
        LogCommand::Init(args) => init(data_dir, args).await.map(|()| ExitCode::SUCCESS),
        LogCommand::Verify(args) => match &args.file {
            Some(file) => verify_file(file, &args),
            None => audit(data_dir).await,
        },
    }
}

// ----------------------------------------------------------------------------- keys

/// The pseudonym key of the data directory, `None` when the file does not exist (a
/// data directory made before the log).
pub fn read_pseudonym_key(data: &DataDir, config: &Config) -> anyhow::Result<Option<PseudonymKey>> {
    let path = data.path(&config.log.pseudonym_key);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => jpki_crypto::SecretBytes::new(bytes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("reading the pseudonym key {}", path.display()));
        }
    };
    let key = PseudonymKey::from_bytes(bytes.expose())
        .with_context(|| format!("{} is not a pseudonym key", path.display()))?;
    Ok(Some(key))
}

/// Writes the log's keys that do not exist yet under `dir`: the signing key (encrypted
/// under `passphrase`) with its public key, and the pseudonym key. Returns the public
/// key and how many files were written.
pub fn create_log_keys(
    dir: &DataDir,
    section: &LogSection,
    passphrase: &SecretString,
    kdf_iterations: u32,
) -> anyhow::Result<(LogPublicKey, usize)> {
    let (key_path, public_path, pseudonym_path) = (
        dir.path(&section.key),
        dir.path(&section.public_key),
        dir.path(&section.pseudonym_key),
    );
    let mut written = 0;
    let public = match (key_path.exists(), public_path.exists()) {
        (false, false) => {
            let (key, encrypted, public_pem) =
                jpki_authority::usage_log::generate_log_key(passphrase, kdf_iterations)
                    .context("generating the log key")?;
            write_new_file(&key_path, encrypted.as_bytes(), 0o600)?;
            write_new_file(&public_path, public_pem.as_bytes(), 0o644)?;
            written += 2;
            key.public_key().clone()
        }
        (true, true) => read_public_key_file(&public_path)?,
        _ => bail!(
            "only one of {} and {} exists; restore the other (nothing was changed)",
            key_path.display(),
            public_path.display()
        ),
    };
    if !pseudonym_path.exists() {
        let key = PseudonymKey::generate().context("generating the pseudonym key")?;
        write_new_file(&pseudonym_path, key.expose(), 0o600)?;
        written += 1;
    }
    Ok((public, written))
}

fn read_public_key_file(path: &Path) -> anyhow::Result<LogPublicKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the log key {}", path.display()))?;
    LogPublicKey::from_pem(&text)
        .with_context(|| format!("{} is not a usable log public key", path.display()))
}

fn missing_keys(context: &Context) -> anyhow::Error {
    anyhow::anyhow!(
        "{} has no usage log keys (a data directory made before the log): run `jpki log init`",
        context.data.root().display()
    )
}

/// The data directory's log public key.
pub fn local_public_key(context: &Context) -> anyhow::Result<LogPublicKey> {
    let path = context.data.path(&context.config.log.public_key);
    if !path.exists() {
        return Err(missing_keys(context));
    }
    read_public_key_file(&path)
}

/// The usage log service `jpki serve` runs: the signing key opened with the CA
/// passphrase, the pseudonym key, the tree read from the database.
pub async fn open_usage_log(
    context: &Context,
    passphrase: &SecretString,
) -> anyhow::Result<Arc<UsageLog<Store>>> {
    let key_path = context.data.path(&context.config.log.key);
    let Some(pseudonym) = read_pseudonym_key(&context.data, &context.config)? else {
        return Err(missing_keys(context));
    };
    if !key_path.exists() {
        return Err(missing_keys(context));
    }
    let encrypted =
        std::fs::read(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let key = jpki_authority::usage_log::open_log_key(&encrypted, passphrase)
        .with_context(|| format!("opening the log key {}", key_path.display()))?;
    if key.public_key() != &local_public_key(context)? {
        bail!(
            "the log key {} does not match its public key {}",
            key_path.display(),
            context.config.log.public_key.display()
        );
    }
    let log = UsageLog::open(
        context.store.clone(),
        key,
        pseudonym,
        context.clock.clone(),
        UsageLogConfig::default(),
    )
    .await
    .context("opening the usage log")?;
    Ok(Arc::new(log))
}

/// Signs a tree head whenever the log grew, every `every`, until `shutdown` resolves
/// (`jpki serve`).
pub async fn sign_periodically(
    log: Arc<UsageLog<Store>>,
    every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut interval = tokio::time::interval(every.max(std::time::Duration::from_secs(1)));
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = interval.tick() => {
                if let Err(error) = log.sign_if_grown().await {
                    tracing::error!(code = "LOG0001", %error, "signing a tree head failed");
                }
            }
        }
    }
}

async fn init(data_dir: Option<&Path>, args: LogInitArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let passphrase = context.ca_passphrase(&args.passphrase)?;
    let (public, written) = create_log_keys(
        &context.data,
        &context.config.log,
        &passphrase,
        DEFAULT_PBKDF2_ITERATIONS,
    )?;
    if written == 0 {
        println!("The usage log's keys already exist; nothing was changed.");
    } else {
        println!("Created the usage log's keys ({written} files).");
    }
    output::field("log id", public.log_id());
    Ok(())
}

// ----------------------------------------------------------------------------- sth, key

fn portal_url(data_dir: Option<&Path>, explicit: Option<&str>) -> anyhow::Result<String> {
    if let Some(url) = explicit {
        return Ok(url.to_owned());
    }
    let data = DataDir::resolve(data_dir)?;
    Ok(data.load_config()?.phone.portal_url)
}

fn print_tree_head(head: &SignedTreeHead) {
    output::field("log id", head.log_id);
    output::field("tree size", head.tree_size);
    output::field("timestamp", timestamp(head.timestamp));
    output::field("root hash", head.root_hash);
}

fn timestamp(millis: u64) -> String {
    i128::from(millis)
        .checked_mul(1_000_000)
        .and_then(|nanos| time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .map_or_else(|| format!("{millis} ms"), output::instant)
}

async fn sth(data_dir: Option<&Path>, args: LogSthArgs) -> anyhow::Result<()> {
    let url = portal_url(data_dir, args.portal.portal.as_deref())?;
    let client = PortalClient::new(&url)?;
    let head = client.log_tree_head().await?;
    println!("Signed tree head of {url}");
    print_tree_head(&head);
    match &args.key {
        Some(path) => {
            let key = read_public_key_file(path)?;
            head.verify(&key).with_context(|| {
                format!("the tree head does not verify with {}", path.display())
            })?;
            output::field("signature", format!("verified with {}", path.display()));
        }
        None => output::field("signature", "not checked (pass --key)"),
    }
    if let Some(out) = &args.out {
        std::fs::write(out, head.to_json()?)
            .with_context(|| format!("writing {}", out.display()))?;
        output::field("saved to", out.display());
    }
    Ok(())
}

async fn key(data_dir: Option<&Path>, args: LogKeyArgs) -> anyhow::Result<()> {
    let pem = match &args.portal {
        Some(url) => {
            let view = PortalClient::new(url)?.log_key().await?;
            let key = LogPublicKey::from_pem(&view.public_key_pem)
                .context("the portal's log key is not usable")?;
            if key.log_id().to_hex() != view.log_id {
                bail!("the portal's log id does not match the key it serves");
            }
            view.public_key_pem
        }
        None => {
            let context = Context::open(data_dir).await?;
            local_public_key(&context)?.to_pem()?
        }
    };
    match &args.out {
        Some(out) => {
            std::fs::write(out, &pem).with_context(|| format!("writing {}", out.display()))?;
            let key = LogPublicKey::from_pem(&pem)?;
            println!("Log public key written to {}", out.display());
            output::field("log id", key.log_id());
        }
        None => print!("{pem}"),
    }
    Ok(())
}

// ----------------------------------------------------------------------------- verify

/// The exit code of a verification error.
pub fn exit_code(error: &LogVerifyError) -> u8 {
    match error.code() {
        "LOGV-FORMAT" | "LOGV-MALFORMED" | "LOGV-KEY" => EXIT_INPUT,
        code if code.starts_with("LOGV-ENTRY") => EXIT_ENTRY,
        _ => EXIT_TREE,
    }
}

fn read_document(path: &Path) -> anyhow::Result<String> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if metadata.len() > jpki_log::MAX_DOCUMENT_LEN as u64 {
        bail!(
            "{} is {} bytes; a log document is at most {}",
            path.display(),
            metadata.len(),
            jpki_log::MAX_DOCUMENT_LEN
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn print_entry(entry: &VerifiedEntry) {
    println!(
        "  {:>4}  {}  {:<20} {:<8} {}  {}{}",
        entry.seq,
        entry.event.at,
        entry.event.action,
        entry.event.outcome,
        entry.event.device_id.as_deref().unwrap_or("-"),
        entry.event.detail,
        if entry.in_previous_tree {
            "  (already in the earlier head)"
        } else {
            ""
        }
    );
}

fn print_history(history: &VerifiedHistory) {
    println!(
        "Verified: {} entries of {} (利用履歴 — every entry is in the signed tree, unaltered)",
        history.entries.len(),
        history.person_log_id
    );
    print_tree_head(&history.tree_head);
    if let Some(previous) = &history.previous_tree_head {
        output::field(
            "extends the head of",
            format!("{} leaves (consistency proven)", previous.tree_size),
        );
    }
    for entry in &history.entries {
        print_entry(entry);
    }
}

/// Names the entry a bundle's verification stopped at, with what the bundle says it was.
fn describe_failure(error: &LogVerifyError, bundle: Option<&HistoryBundle>) {
    eprintln!("error: {error}");
    let (Some(seq), Some(bundle)) = (error.seq(), bundle) else {
        return;
    };
    if let Some(entry) = bundle.entries.iter().find(|entry| entry.seq == seq) {
        match &entry.event {
            Some(event) => eprintln!(
                "  the entry as the portal sent it: seq {seq}, leaf {}, {} {} {} {}",
                entry.leaf_index, event.at, event.action, event.outcome, event.detail
            ),
            None => eprintln!(
                "  the entry as the portal sent it: seq {seq}, leaf {}, no content",
                entry.leaf_index
            ),
        }
    }
}

fn verify_file(file: &Path, args: &LogVerifyArgs) -> anyhow::Result<ExitCode> {
    let run = || -> anyhow::Result<ExitCode> {
        let Some(key_path) = &args.key else {
            bail!("--key FILE (the log's public key, `jpki log key`) is required to verify a file");
        };
        let text = read_document(file)?;
        let key_text = std::fs::read_to_string(key_path)
            .with_context(|| format!("reading the log key {}", key_path.display()))?;
        let key = match LogPublicKey::from_pem(&key_text) {
            Ok(key) => key,
            Err(error) => {
                eprintln!(
                    "error: {} is not a usable log key: {error}",
                    key_path.display()
                );
                return Ok(ExitCode::from(EXIT_INPUT));
            }
        };
        let bundle = HistoryBundle::from_json(&text).ok();
        let outcome = match &args.since {
            Some(path) => {
                let checkpoint = match Checkpoint::from_json(&read_document(path)?) {
                    Ok(checkpoint) => checkpoint,
                    Err(error) => {
                        eprintln!("error: {} is not a checkpoint: {error}", path.display());
                        return Ok(ExitCode::from(EXIT_INPUT));
                    }
                };
                match &bundle {
                    Some(bundle) => jpki_log::verify_bundle_since(bundle, &key, &checkpoint)
                        .map(VerifiedDocument::History),
                    None => HistoryBundle::from_json(&text)
                        .and_then(|bundle| {
                            jpki_log::verify_bundle_since(&bundle, &key, &checkpoint)
                        })
                        .map(VerifiedDocument::History),
                }
            }
            None => jpki_log::verify_document(&text, &key),
        };
        let verified = match outcome {
            Ok(verified) => verified,
            Err(error) => {
                describe_failure(&error, bundle.as_ref());
                return Ok(ExitCode::from(exit_code(&error)));
            }
        };
        match &verified {
            VerifiedDocument::History(history) => {
                print_history(history);
                if let Some(path) = &args.save_checkpoint {
                    std::fs::write(path, history.checkpoint().to_json()?)
                        .with_context(|| format!("writing {}", path.display()))?;
                    output::field("checkpoint saved to", path.display());
                }
            }
            VerifiedDocument::Entry {
                person_log_id,
                entry,
                tree_head,
            } => {
                println!("Verified: entry {} of {person_log_id}", entry.seq);
                print_tree_head(tree_head);
                print_entry(entry);
            }
            VerifiedDocument::Consistency { from, to } => {
                println!(
                    "Verified: the tree of {} leaves extends the tree of {} leaves",
                    to.tree_size, from.tree_size
                );
            }
            VerifiedDocument::TreeHead(head) => {
                println!("Verified: a tree head signed by the log");
                print_tree_head(head);
            }
        }
        if args.save_checkpoint.is_some() && !matches!(verified, VerifiedDocument::History(_)) {
            bail!("--save-checkpoint needs a history bundle");
        }
        Ok(ExitCode::SUCCESS)
    };
    match run() {
        Ok(code) => Ok(code),
        Err(error) => {
            output::print_error(&error);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The operator's audit of the data directory's whole log.
async fn audit(data_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let context = Context::open(data_dir).await?;
    let public = local_public_key(&context)?;
    let Some(pseudonym) = read_pseudonym_key(&context.data, &context.config)? else {
        return Err(missing_keys(&context));
    };
    let report = jpki_authority::usage_log::audit(&context.store, &public, &pseudonym)
        .await
        .context("auditing the usage log")?;
    println!(
        "Usage log of {} ({})",
        context.data.root().display(),
        context.store.location()
    );
    output::field("log id", public.log_id());
    output::field("leaves", report.tree_size);
    output::field("chain links", report.links);
    output::field("persons", report.persons);
    output::field("published heads", report.tree_heads);
    output::field("root", report.root);
    if let Some(head) = &report.latest_tree_head {
        output::field(
            "latest head",
            format!("{} leaves at {}", head.tree_size, timestamp(head.timestamp)),
        );
    }
    if report.is_clean() {
        println!(
            "Verified: every usage row is committed, unaltered, in its person's chain and in every published head"
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "error: the usage log found {} problem(s):",
        report.findings.len()
    );
    for finding in &report.findings {
        eprintln!("  {finding}");
    }
    let entry_problem = report.findings.iter().any(|finding| {
        !matches!(
            finding.problem,
            AuditProblem::HeadSignature { .. } | AuditProblem::HeadRoot { .. }
        )
    });
    Ok(ExitCode::from(if entry_problem {
        EXIT_ENTRY
    } else {
        EXIT_TREE
    }))
}

// ----------------------------------------------------------------------------- phone

/// `jpki phone history PHONE --bundle FILE`: downloads the phone owner's history bundle
/// with the phone's credentials, saves it, verifies it with the log's key (extending the
/// phone's checkpoint when there is one) and replaces the checkpoint.
pub async fn phone_bundle(
    client: &PortalClient,
    device: &str,
    token: &str,
    phone_file: &Path,
    args: &PhoneHistoryArgs,
    out: &Path,
) -> anyhow::Result<()> {
    let checkpoint_path = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| beside(phone_file, "checkpoint.json"));
    let checkpoint = match checkpoint_path.exists() {
        true => Some(
            Checkpoint::from_json(&read_document(&checkpoint_path)?)
                .with_context(|| format!("{} is not a checkpoint", checkpoint_path.display()))?,
        ),
        false => None,
    };
    let key = match &args.key {
        Some(path) => read_public_key_file(path)?,
        None => remembered_key(client, phone_file).await?,
    };
    let since = checkpoint
        .as_ref()
        .map(|checkpoint| checkpoint.tree_head.tree_size);
    let bundle = client.device_history_bundle(device, token, since).await?;
    std::fs::write(out, bundle.to_json()?).with_context(|| format!("writing {}", out.display()))?;
    let verified = match &checkpoint {
        Some(checkpoint) => jpki_log::verify_bundle_since(&bundle, &key, checkpoint),
        None => jpki_log::verify_bundle(&bundle, &key),
    };
    let history = match verified {
        Ok(history) => history,
        Err(error) => {
            describe_failure(&error, Some(&bundle));
            bail!(
                "the history from {} does not verify ({}); it was saved to {} and the checkpoint was left as it was",
                client.base_url(),
                error.code(),
                out.display()
            );
        }
    };
    print_history(&history);
    std::fs::write(&checkpoint_path, history.checkpoint().to_json()?)
        .with_context(|| format!("writing {}", checkpoint_path.display()))?;
    output::field("bundle saved to", out.display());
    output::field("checkpoint saved to", checkpoint_path.display());
    Ok(())
}

/// `<phone>.<suffix>` next to the phone file (`phone.json` → `phone.checkpoint.json`).
fn beside(phone_file: &Path, suffix: &str) -> PathBuf {
    let stem = phone_file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "phone".to_owned());
    phone_file.with_file_name(format!("{stem}.{suffix}"))
}

/// The portal's log key as the phone first saw it (trust on first use), kept next to the
/// phone file: a portal that later serves another key is refused.
async fn remembered_key(client: &PortalClient, phone_file: &Path) -> anyhow::Result<LogPublicKey> {
    let path = beside(phone_file, "log-key.pem");
    if path.exists() {
        return read_public_key_file(&path);
    }
    let view = client.log_key().await?;
    let key = LogPublicKey::from_pem(&view.public_key_pem)
        .context("the portal's log key is not usable")?;
    std::fs::write(&path, &view.public_key_pem)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "note: trusting the portal's log key {} from now on (saved to {}); compare it with a published one",
        key.log_id(),
        path.display()
    );
    Ok(key)
}

//! `jpki hotline suspend|status` (an operator's API key, over HTTP), `jpki operator
//! add|list|disable` and `jpki verifier add|links` (accounts and their keys), `jpki crl
//! publish`.

use std::path::Path;

use anyhow::{Context as _, bail};
use jpki_api::{
    CertificateView, LookupRequest, PersonIdentification, SuspensionRequest, SuspensionScope,
};
use jpki_app::PortalClient;
use jpki_authority::hotline::{create_account, create_operator, hash_password};
use jpki_store::{AccountRole, AccountStore, OperatorStore};

use crate::context::Context;
use crate::datadir::DataDir;
use crate::lifecycle_cli::{
    AccountNameArgs, ApiKeyArgs, CrlCommand, CrlPublishArgs, HotlineCommand, OperatorAddArgs,
    OperatorCommand, OperatorPasswordArgs, PersonArgs, VerifierAddArgs, VerifierCommand,
};
use crate::output;
use crate::secrets::{self, API_KEY, OPERATOR_PASSWORD, Purpose as SecretPurpose};

pub async fn hotline(data_dir: Option<&Path>, command: HotlineCommand) -> anyhow::Result<()> {
    match command {
        HotlineCommand::Suspend(args) => {
            let scope = match args.scope.trim().to_ascii_lowercase().as_str() {
                "phone" => SuspensionScope::Phone,
                "card" => SuspensionScope::Card,
                "all" => SuspensionScope::All,
                other => bail!("unknown scope {other:?}: use phone, card or all"),
            };
            let (client, key) = connect(data_dir, &args.key)?;
            let result = client
                .suspend(
                    key.expose(),
                    &SuspensionRequest {
                        person: person(&args.person),
                        scope,
                        note: args.note.clone(),
                    },
                )
                .await?;
            println!(
                "一時利用停止 — resident {} suspended at {}",
                result.resident_id, result.at
            );
            print_certificates("on hold (certificateHold)", &result.held);
            print_certificates("revoked (issued, not yet delivered)", &result.revoked);
            for application in &result.cancelled_applications {
                output::field("cancelled application", application);
            }
            Ok(())
        }
        HotlineCommand::Status(args) => {
            let (client, key) = connect(data_dir, &args.key)?;
            let status = client
                .lookup(
                    key.expose(),
                    &LookupRequest {
                        person: person(&args.person),
                    },
                )
                .await?;
            println!(
                "Resident {} — {}{}",
                status.resident_id,
                status.name,
                if status.deceased { " (deceased)" } else { "" }
            );
            print_certificates("certificates", &status.certificates);
            Ok(())
        }
    }
}

fn person(args: &PersonArgs) -> PersonIdentification {
    PersonIdentification {
        my_number: args.my_number.clone(),
        name: args.name.clone(),
        date_of_birth: args.birth_date.clone(),
        address: args.address.clone(),
    }
}

fn print_certificates(title: &str, certificates: &[CertificateView]) {
    if certificates.is_empty() {
        return;
    }
    println!("  {title}:");
    for certificate in certificates {
        println!(
            "    {:<10} {} {}  {:<8}{}  until {}{}",
            certificate.kind,
            certificate.issuer,
            certificate.serial,
            certificate.status,
            certificate
                .revocation_reason
                .as_deref()
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default(),
            certificate.not_after,
            certificate
                .device_id
                .as_deref()
                .map(|device| format!("  phone {device}"))
                .or_else(|| certificate
                    .card_id
                    .as_deref()
                    .map(|card| format!("  card {card}")))
                .unwrap_or_default()
        );
    }
}

/// The portal client and the account's key. The portal URL: the flag, else the data
/// directory's `[phone] portal_url` when there is one.
fn connect(
    data_dir: Option<&Path>,
    args: &ApiKeyArgs,
) -> anyhow::Result<(PortalClient, jpki_crypto::SecretString)> {
    let url = match &args.portal {
        Some(url) => url.clone(),
        None => {
            let data = DataDir::resolve(data_dir)?;
            data.load_config()
                .context("no --portal given, and no data directory to read the portal URL from")?
                .phone
                .portal_url
        }
    };
    let key = secrets::read_secret(
        API_KEY,
        args.api_key_file.as_deref(),
        SecretPurpose::Existing,
    )?;
    Ok((PortalClient::new(&url)?, key))
}

fn write_key(path: &Path, key: &jpki_crypto::SecretString) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    writeln!(file, "{}", key.expose())?;
    Ok(())
}

async fn add_account(
    data_dir: Option<&Path>,
    name: &str,
    role: AccountRole,
    key_out: Option<&Path>,
) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let (account, key) = create_account(&context.store, name, role, context.clock.now())
        .await
        .with_context(|| format!("creating the account {name:?}"))?;
    if let Some(path) = key_out {
        write_key(path, &key)?;
    }
    println!("Account {} ({}) created.", account.name, account.role);
    println!("API key (shown once; only its SHA-256 digest is stored):");
    println!("  {}", key.expose());
    Ok(())
}

pub async fn operator(data_dir: Option<&Path>, command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Add(OperatorAddArgs {
            name,
            role,
            key_out,
            password_file,
            password,
        }) => {
            let role = match role.trim().to_ascii_lowercase().as_str() {
                "hotline" => AccountRole::Hotline,
                "auditor" => AccountRole::Auditor,
                "counter" => AccountRole::Counter,
                "admin" => AccountRole::Admin,
                other => bail!(
                    "unknown operator role {other:?}: use hotline, auditor, counter or admin (verifiers: `jpki verifier add`)"
                ),
            };
            let console_only = matches!(role, AccountRole::Counter | AccountRole::Admin);
            if !(password || password_file.is_some() || console_only) {
                return add_account(data_dir, &name, role, key_out.as_deref()).await;
            }
            // The password is read, and checked, before anything is created.
            let secret = secrets::read_secret(
                OPERATOR_PASSWORD,
                password_file.as_deref(),
                SecretPurpose::New,
            )
            .with_context(|| {
                format!(
                    "the {role} role needs a console password (--password-file FILE or --password)"
                )
            })?;
            let context = Context::open(data_dir).await?;
            let (account, key) = create_operator(
                &context.store,
                &name,
                role,
                Some(&secret),
                context.clock.now(),
            )
            .await
            .with_context(|| format!("creating the account {name:?}"))?;
            if let Some(path) = key_out.as_deref() {
                write_key(path, &key)?;
            }
            println!(
                "Account {} ({}) created, with an operator-console password (stored as an argon2id hash).",
                account.name, account.role
            );
            println!("API key (shown once; only its SHA-256 digest is stored):");
            println!("  {}", key.expose());
            Ok(())
        }
        OperatorCommand::Password(OperatorPasswordArgs {
            name,
            password_file,
        }) => {
            let secret = secrets::read_secret(
                OPERATOR_PASSWORD,
                password_file.as_deref(),
                SecretPurpose::New,
            )?;
            let hash = hash_password(&secret)?;
            let context = Context::open(data_dir).await?;
            context
                .store
                .set_account_password(&name, &hash, context.clock.now())
                .await
                .with_context(|| format!("setting the password of {name:?}"))?;
            println!("Console password of {name} set; its console sessions were ended.");
            Ok(())
        }
        OperatorCommand::List => {
            let context = Context::open(data_dir).await?;
            let accounts = context.store.accounts().await?;
            if accounts.is_empty() {
                println!("No accounts.");
            }
            for account in accounts {
                println!(
                    "  {:<20} {:<9} created {}{}",
                    account.name,
                    account.role.as_str(),
                    output::instant(account.created_at),
                    account
                        .disabled_at
                        .map(|at| format!("  DISABLED {}", output::instant(at)))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        OperatorCommand::Disable(AccountNameArgs { name }) => {
            let context = Context::open(data_dir).await?;
            context
                .store
                .disable_account(&name, context.clock.now())
                .await
                .with_context(|| format!("disabling {name:?}"))?;
            println!("Account {name} disabled: its key is refused from now on.");
            Ok(())
        }
    }
}

pub async fn verifier(data_dir: Option<&Path>, command: VerifierCommand) -> anyhow::Result<()> {
    match command {
        VerifierCommand::Add(VerifierAddArgs { name, key_out }) => {
            add_account(data_dir, &name, AccountRole::Verifier, key_out.as_deref()).await
        }
        VerifierCommand::Links(args) => {
            let (client, key) = connect(data_dir, &args.key)?;
            let links = client
                .links(key.expose(), &args.issuer, &args.serial)
                .await?;
            println!(
                "{} {} {} ({})",
                links.certificate.kind,
                links.certificate.issuer,
                links.certificate.serial,
                links.certificate.status
            );
            if let Some(old) = &links.replaces {
                output::field(
                    "replaces (新旧紐付け)",
                    format!("{} {}", old.issuer, old.serial),
                );
            }
            print_certificates("replaced by (新旧紐付け)", &links.replaced_by);
            print_certificates("counterparts (紐付け)", &links.counterparts);
            Ok(())
        }
    }
}

pub async fn crl(data_dir: Option<&Path>, command: CrlCommand) -> anyhow::Result<()> {
    match command {
        CrlCommand::Publish(CrlPublishArgs { delta, passphrase }) => {
            let context = Context::open(data_dir).await?;
            let passphrase = context.ca_passphrase(&passphrase)?;
            let (sign, auth) = context.open_cas(&passphrase)?;
            let (status, _) = super::status::start(&context, [&sign, &auth], &passphrase).await?;
            let published = status.publish_now(!delta).await?;
            println!("Published {} CRL(s):", published.len());
            for crl in published {
                println!(
                    "  {}/crl/{}/{}{}.crl  #{}{}  {} entries, {} bytes, next update {}",
                    status.settings().base_url,
                    crl.issuer,
                    crl.shard,
                    if crl.base_number.is_some() {
                        "-delta"
                    } else {
                        ""
                    },
                    crl.number,
                    crl.base_number
                        .map(|base| format!(" (delta over #{base})"))
                        .unwrap_or_default(),
                    crl.entries,
                    crl.der.len(),
                    output::instant(crl.next_update)
                );
            }
            Ok(())
        }
    }
}

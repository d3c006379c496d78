//! `jpki card issue|info|apdu`.

use std::path::Path;

use anyhow::{Context as _, bail};
use jpki_apdu::{Command, Instruction, Response};
use jpki_authority::ca::CertificateAuthority;
use jpki_authority::counter::{CounterPins, issue_card};
use jpki_authority::ra::SIGNATURE_MINIMUM_AGE;
use jpki_authority::registry::Registry;
use jpki_card::{CardId, LifeCycle, VirtualCard};
use jpki_crypto::{Kek, PinPolicy};
use jpki_model::time::jst_date;
use jpki_pkix::JpkiCertificate;
use jpki_reader::{CertificateSlot, JpkiAp, PinSlot, SupportAp, Transport};
use jpki_store::ResidentId;

use crate::cli::{CardApduArgs, CardCommand, CardInfoArgs, CardIssueArgs};
use crate::context::Context;
use crate::output;
use crate::secrets::{self, AUTH_PIN, Purpose as SecretPurpose, SIGN_PASSWORD, SUPPORT_PIN};

pub async fn run(data_dir: Option<&Path>, command: CardCommand) -> anyhow::Result<()> {
    match command {
        CardCommand::Issue(args) => issue(data_dir, args).await,
        CardCommand::Info(args) => info(data_dir, args).await,
        CardCommand::Apdu(args) => apdu(data_dir, args).await,
        CardCommand::Attach(args) => super::pcsc::attach(data_dir, args).await,
        CardCommand::Read(args) => super::pcsc::read(args).await,
        CardCommand::Sign(args) => super::pcsc::sign(args).await,
    }
}

pub async fn issue(data_dir: Option<&Path>, args: CardIssueArgs) -> anyhow::Result<()> {
    if args.out.exists() {
        bail!(
            "{} already exists; a card file is never overwritten (nothing was changed)",
            args.out.display()
        );
    }
    let context = Context::open(data_dir).await?;
    let registry = Registry::new(context.store.clone(), context.clock.clone());
    let resident = registry.resident(ResidentId(args.resident)).await?;
    if resident.is_deceased() {
        bail!("resident {} is deceased; no card is issued", args.resident);
    }
    let age = resident
        .basic_info
        .date_of_birth()
        .age_on(jst_date(context.clock.now()));
    let with_signature = !args.no_signature && age >= SIGNATURE_MINIMUM_AGE;
    if !args.no_signature && !with_signature {
        println!(
            "Resident {} is {age}: a signature certificate is only issued from age {SIGNATURE_MINIMUM_AGE}; \
             issuing the user-authentication certificate only.",
            args.resident
        );
    }

    // Every PIN is read and checked before anything is generated or written.
    let pins = CounterPins {
        sign_password: if with_signature {
            Some(secrets::read_pin(
                SIGN_PASSWORD,
                PinPolicy::SignPassword,
                args.pins.sign_password_file.as_deref(),
                SecretPurpose::New,
            )?)
        } else {
            None
        },
        auth_pin: secrets::read_pin(
            AUTH_PIN,
            PinPolicy::FourDigits,
            args.pins.auth_pin_file.as_deref(),
            SecretPurpose::New,
        )?,
        support_pin: secrets::read_pin(
            SUPPORT_PIN,
            PinPolicy::FourDigits,
            args.pins.support_pin_file.as_deref(),
            SecretPurpose::New,
        )?,
    };
    let passphrase = context.ca_passphrase(&args.passphrase)?;
    let (sign_ca, auth_ca) = context.open_cas(&passphrase)?;
    let kek = context.device_kek()?;
    let ca = CertificateAuthority::new(
        context.store.clone(),
        sign_ca,
        auth_ca,
        context.clock.clone(),
    )?
    .with_endpoints(super::status::endpoints(&context));

    let mut card = VirtualCard::blank(CardId::random()?);
    let card_id = card.id().as_str().to_owned();
    // Claim the output path before issuing, so a path we cannot write fails first.
    claim_path(&args.out)?;
    let issued = match issue_card(&ca, &context.store, &resident, &mut card, &card_id, &pins).await
    {
        Ok(issued) => issued,
        Err(error) => {
            let _ = std::fs::remove_file(&args.out);
            return Err(error.into());
        }
    };
    jpki_card::file::save(&args.out, &mut card, &kek)
        .with_context(|| format!("writing {}", args.out.display()))?;

    println!(
        "Issued card {card_id} to resident {} → {}",
        resident.id.0,
        args.out.display()
    );
    for certificate in &issued.certificates {
        println!(
            "  {} ({})",
            certificate.kind.label_en(),
            certificate.kind.label_ja()
        );
        output::field("serial", &certificate.serial);
        output::field("valid until", output::instant(certificate.not_after));
    }
    Ok(())
}

/// Creates `path` empty (failing if it exists or cannot be created).
fn claim_path(path: &Path) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    Ok(())
}

fn load_card(path: &Path, kek: &Kek) -> anyhow::Result<VirtualCard> {
    jpki_card::file::load(path, kek)
        .with_context(|| format!("opening the card file {}", path.display()))
}

async fn info(data_dir: Option<&Path>, args: CardInfoArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let mut card = load_card(&args.file, &context.device_kek()?)?;
    println!("Card {}  ({})", card.id().as_str(), args.file.display());
    output::field(
        "life cycle",
        match card.life_cycle() {
            LifeCycle::Personalization => "personalization (not activated)",
            LifeCycle::Operational => "operational",
        },
    );
    describe_card(&mut card)?;
    Ok(())
}

/// What any client can learn from a card without a PIN, through its APDUs.
pub fn describe_card<T: Transport>(transport: T) -> anyhow::Result<()> {
    let mut ap = JpkiAp::select(transport)?;
    output::field("token", ap.token()?);
    for (slot, label) in [
        (PinSlot::Auth, "auth PIN tries left"),
        (PinSlot::Sign, "sign password tries"),
    ] {
        output::field(
            label,
            ap.tries_left(slot)
                .map(|n| n.to_string())
                .unwrap_or_else(|error| error.to_string()),
        );
    }
    for (slot, label) in [
        (CertificateSlot::Auth, "user-authentication certificate"),
        (CertificateSlot::AuthCa, "user-authentication CA"),
        (CertificateSlot::SignCa, "signature CA"),
    ] {
        match ap.read_certificate(slot) {
            Ok(der) => print_certificate(label, &der),
            Err(error) => println!("  {label}: {error}"),
        }
    }
    match ap.read_certificate(CertificateSlot::Sign) {
        Ok(der) => print_certificate("signature certificate", &der),
        Err(error) => println!(
            "  signature certificate: not readable without the signature password ({error})"
        ),
    }
    let mut support = SupportAp::select(ap.into_transport())?;
    output::field(
        "card-face PIN tries",
        support
            .tries_left()
            .map(|n| n.to_string())
            .unwrap_or_else(|e| e.to_string()),
    );
    Ok(())
}

pub fn print_certificate(label: &str, der: &[u8]) {
    match JpkiCertificate::from_der(der) {
        Ok(certificate) => {
            println!("  {label}:");
            output::field("  subject", certificate.subject().to_der_order_string());
            output::field("  issuer", certificate.issuer().to_der_order_string());
            output::field("  serial", certificate.serial());
            output::field("  not before", output::instant(certificate.not_before()));
            output::field("  not after", output::instant(certificate.not_after()));
            if let Some(info) = certificate.basic_info() {
                output::field("  name", info.name());
                output::field("  address", info.address());
                output::field("  date of birth", info.date_of_birth());
                output::field(
                    "  sex",
                    format!("{} ({})", info.sex().code(), info.sex().label_ja()),
                );
            }
        }
        Err(error) => println!(
            "  {label}: {} bytes, not a certificate we can read ({error})",
            der.len()
        ),
    }
}

async fn apdu(data_dir: Option<&Path>, args: CardApduArgs) -> anyhow::Result<()> {
    // Parse every command first: a typo must not leave half a script run.
    let commands = args
        .apdus
        .iter()
        .enumerate()
        .map(|(index, text)| {
            parse_hex_apdu(text).with_context(|| format!("APDU #{} {text:?}", index + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let context = Context::open(data_dir).await?;
    let kek = context.device_kek()?;
    let mut card = load_card(&args.file, &kek)?;
    for bytes in &commands {
        println!("> {}", describe_command(bytes));
        let response = card.transmit(bytes);
        println!("< {}", describe_response(&response));
    }
    if card.is_dirty() {
        jpki_card::file::save(&args.file, &mut card, &kek)
            .with_context(|| format!("writing the PIN counters back to {}", args.file.display()))?;
    }
    Ok(())
}

/// Hex text (spaces, colons allowed) to bytes.
pub fn parse_hex_apdu(text: &str) -> anyhow::Result<Vec<u8>> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if compact.is_empty() {
        bail!("empty command");
    }
    let bytes = hex::decode(&compact).context("not hexadecimal (two hex digits per byte)")?;
    if bytes.len() < 4 {
        bail!(
            "a command APDU has at least 4 bytes (CLA INS P1 P2), got {}",
            bytes.len()
        );
    }
    Ok(bytes)
}

/// A command as hex, with the data of VERIFY / CHANGE REFERENCE DATA masked.
pub fn describe_command(bytes: &[u8]) -> String {
    match Command::parse(bytes) {
        Ok(command) if Instruction::carries_secret(command.ins) && !command.data.is_empty() => {
            let name = instruction_name(command.ins);
            format!(
                "{}  ({name}, {} bytes of PIN data not shown)",
                output::spaced_hex(&bytes[..4]),
                command.data.len()
            )
        }
        Ok(command) => format!(
            "{}  ({})",
            output::spaced_hex(bytes),
            instruction_name(command.ins)
        ),
        Err(_) => output::spaced_hex(bytes),
    }
}

fn instruction_name(ins: u8) -> &'static str {
    match Instruction::from_code(ins) {
        Some(instruction) => instruction.name(),
        None => "unknown instruction",
    }
}

pub fn describe_response(bytes: &[u8]) -> String {
    match Response::parse(bytes) {
        Ok(response) if response.data.is_empty() => response.sw.to_string(),
        Ok(response) => {
            let shown = &response.data[..response.data.len().min(32)];
            let more = if response.data.len() > 32 {
                format!(" … ({} bytes)", response.data.len())
            } else {
                String::new()
            };
            format!("{}{more}  {}", output::spaced_hex(shown), response.sw)
        }
        Err(_) => output::spaced_hex(bytes),
    }
}

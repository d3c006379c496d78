//! `jpki phone new|apply|wait|register|status|history`: the phone app's flows from the
//! command line, talking HTTP to `jpki serve`, driving the card and the phone's SE.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use jpki_api::PhoneKind;
use jpki_app::flows::{self, AuthUnlock, Notification, PhonePins};
use jpki_app::{Phone, PortalClient, portal_app_identity};
use jpki_crypto::PinPolicy;
use jpki_se::{AccessRules, VirtualSecureElement};

use crate::cli::{
    PhoneApplyArgs, PhoneAttachArgs, PhoneCommand, PhoneFileArgs, PhoneNewArgs, PhoneRegisterArgs,
    PhoneWaitArgs, PortalArgs,
};
use crate::commands::se_vendor::open_vendor;
use crate::context::Context;
use crate::output;
use crate::secrets::{
    self, PHONE_AUTH_PIN, PHONE_SIGN_PASSWORD, Purpose as SecretPurpose, SIGN_PASSWORD,
};

pub async fn run(data_dir: Option<&Path>, command: PhoneCommand) -> anyhow::Result<()> {
    match command {
        PhoneCommand::New(args) => new(data_dir, args).await,
        PhoneCommand::Apply(args) => apply(data_dir, args).await,
        PhoneCommand::Wait(args) => wait(data_dir, args).await,
        PhoneCommand::Register(args) => register(data_dir, args).await,
        PhoneCommand::Status(args) => status(data_dir, args).await,
        PhoneCommand::History(args) => history(data_dir, args).await,
        PhoneCommand::Attach(args) => attach(data_dir, args).await,
    }
}

pub fn parse_kinds(kinds: &[String]) -> anyhow::Result<Vec<PhoneKind>> {
    let mut parsed = Vec::new();
    for kind in kinds {
        let kind = match kind.trim().to_ascii_lowercase().as_str() {
            "sign" | "signature" => PhoneKind::Signature,
            "auth" | "authentication" => PhoneKind::Authentication,
            other => bail!("unknown certificate kind {other:?}: use sign, auth or sign,auth"),
        };
        if !parsed.contains(&kind) {
            parsed.push(kind);
        }
    }
    if parsed.is_empty() {
        bail!("choose at least one certificate: --kinds sign,auth");
    }
    Ok(parsed)
}

fn load_phone(context: &Context, path: &Path) -> anyhow::Result<Phone> {
    Phone::load(path, &context.device_kek()?, context.clock.clone())
        .with_context(|| format!("opening the phone file {}", path.display()))
}

fn save_phone(context: &Context, path: &Path, phone: &mut Phone) -> anyhow::Result<()> {
    phone
        .save(path, &context.device_kek()?)
        .with_context(|| format!("writing the phone file {}", path.display()))
}

fn client(context: &Context, phone: &Phone, args: &PortalArgs) -> anyhow::Result<PortalClient> {
    let url = args
        .portal
        .clone()
        .or_else(|| phone.app.portal_url.clone())
        .unwrap_or_else(|| context.config.phone.portal_url.clone());
    Ok(PortalClient::new(&url)?)
}

pub async fn new(data_dir: Option<&Path>, args: PhoneNewArgs) -> anyhow::Result<()> {
    if args.out.exists() {
        bail!(
            "{} already exists; a phone file is never overwritten",
            args.out.display()
        );
    }
    let context = Context::open(data_dir).await?;
    let vendor = open_vendor(&context, &args.passphrase)?;
    let mut se = VirtualSecureElement::manufacture(&vendor, context.clock.clone())?;
    se.set_access_rules(AccessRules::jpki_portal_only(portal_app_identity()?));
    let mut phone = Phone::new(se);
    save_phone(&context, &args.out, &mut phone)?;
    println!(
        "New phone {} → {}",
        phone.se.serial().as_str(),
        args.out.display()
    );
    output::field(
        "secure element",
        format!("{} (vendor: {})", phone.se.token(), vendor.name()),
    );
    output::field("access rule", "JPKI AP: the portal app only (jpki.portal)");
    Ok(())
}

pub async fn apply(data_dir: Option<&Path>, args: PhoneApplyArgs) -> anyhow::Result<()> {
    let kinds = parse_kinds(&args.kinds)?;
    let context = Context::open(data_dir).await?;
    let kek = context.device_kek()?;
    let mut phone = load_phone(&context, &args.phone)?;
    let mut card = jpki_card::file::load(&args.card, &kek)
        .with_context(|| format!("opening the card file {}", args.card.display()))?;
    // The PINs, all read and checked before anything is generated.
    let card_password =
        secrets::read_existing_sign_password(SIGN_PASSWORD, args.sign_password_file.as_deref())?;
    let pins = PhonePins {
        sign_password: if kinds.contains(&PhoneKind::Signature) {
            Some(secrets::read_pin(
                PHONE_SIGN_PASSWORD,
                PinPolicy::SignPassword,
                args.phone_pins.phone_sign_password_file.as_deref(),
                SecretPurpose::New,
            )?)
        } else {
            None
        },
        auth_pin: if kinds.contains(&PhoneKind::Authentication) {
            Some(secrets::read_pin(
                PHONE_AUTH_PIN,
                PinPolicy::FourDigits,
                args.phone_pins.phone_auth_pin_file.as_deref(),
                SecretPurpose::New,
            )?)
        } else {
            None
        },
    };
    let client = client(&context, &phone, &args.portal)?;
    println!(
        "Applying for {} at {} …",
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
        client.base_url()
    );
    let outcome = flows::apply(
        &mut phone,
        &client,
        &mut card,
        &card_password,
        &kinds,
        &pins,
    )
    .await;
    // Whatever happened, the card's PIN counter and the SE's new keys are kept.
    if card.is_dirty() {
        jpki_card::file::save(&args.card, &mut card, &kek)?;
    }
    save_phone(&context, &args.phone, &mut phone)?;
    let accepted = outcome?;
    println!(
        "Application {} accepted: {:?}",
        accepted.application_id, accepted.state
    );
    if let Some(at) = accepted.expected_issuance {
        println!(
            "  outside the service hours: it will be issued at {at}; `jpki phone wait` follows the notification"
        );
    } else {
        println!(
            "  next: `jpki phone wait {}`, then `jpki phone register {}`",
            args.phone.display(),
            args.phone.display()
        );
    }
    Ok(())
}

pub async fn wait(data_dir: Option<&Path>, args: PhoneWaitArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let mut phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    println!(
        "Waiting for the notification ({}, up to {} s) …",
        if args.long_poll {
            "long poll"
        } else {
            "event stream"
        },
        args.timeout
    );
    let outcome = flows::wait(
        &mut phone,
        &client,
        Duration::from_secs(args.timeout),
        args.long_poll,
        |event| {
            println!("  event #{} {} {}", event.seq, event.kind, event.payload);
        },
    )
    .await;
    save_phone(&context, &args.phone, &mut phone)?;
    match outcome? {
        Notification::ReadyToRegister { application_id } => {
            println!(
                "プッシュ通知: the certificates of application {application_id} are ready to register."
            );
            println!("  next: `jpki phone register {}`", args.phone.display());
        }
        Notification::Wiped { reason } => {
            println!("The phone's certificates were erased ({reason}).")
        }
    }
    Ok(())
}

pub async fn register(data_dir: Option<&Path>, args: PhoneRegisterArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let mut phone = load_phone(&context, &args.phone)?;
    let pin = secrets::read_pin(
        PHONE_AUTH_PIN,
        PinPolicy::FourDigits,
        args.phone_auth_pin_file.as_deref(),
        SecretPurpose::Existing,
    )?;
    let client = client(&context, &phone, &args.portal)?;
    let outcome = flows::register(&mut phone, &client, AuthUnlock::Pin(&pin)).await;
    save_phone(&context, &args.phone, &mut phone)?;
    let result = outcome?;
    println!(
        "登録が完了しました — registered (application {}).",
        result.application_id
    );
    output::field("active from", &result.active_from);
    if result.superseded_certificates > 0 {
        output::field(
            "other phone",
            format!(
                "{} certificate(s) revoked (superseded)",
                result.superseded_certificates
            ),
        );
    }
    for certificate in &result.certificates {
        println!(
            "  {:<11} serial {}  {}  until {}",
            certificate.kind, certificate.serial, certificate.status, certificate.not_after
        );
    }
    Ok(())
}

pub async fn status(data_dir: Option<&Path>, args: PhoneFileArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let phone = load_phone(&context, &args.phone)?;
    println!(
        "Phone {} ({})",
        phone.se.serial().as_str(),
        args.phone.display()
    );
    output::field(
        "application",
        phone.app.application_id.as_deref().unwrap_or("none"),
    );
    output::field(
        "registered",
        if phone.app.registered { "yes" } else { "no" },
    );
    if phone.app.device_token.is_none() {
        return Ok(());
    }
    let client = client(&context, &phone, &args.portal)?;
    let status = flows::status(&phone, &client).await?;
    output::field("device state", &status.device_state);
    for certificate in &status.certificates {
        println!(
            "  {:<11} serial {}  {:<8}{}  until {}",
            certificate.kind,
            certificate.serial,
            certificate.status,
            certificate
                .revocation_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            certificate.not_after
        );
    }
    Ok(())
}

pub async fn history(data_dir: Option<&Path>, args: PhoneFileArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    let history = flows::history(&phone, &client).await?;
    println!(
        "利用履歴 — usage history ({} entries)",
        history.entries.len()
    );
    for entry in &history.entries {
        println!(
            "  {}  {:<11} {:<8} {}  {}",
            entry.at,
            entry.action,
            entry.outcome,
            entry.device_id.as_deref().unwrap_or("-"),
            entry.detail
        );
    }
    Ok(())
}

pub async fn attach(data_dir: Option<&Path>, args: PhoneAttachArgs) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use jpki_reader::vpcd::{self, BridgeConfig};

    let context = Context::open(data_dir).await?;
    let phone =
        jpki_app::bridge::PhoneIcc::open(&args.phone, context.device_kek()?, context.clock.clone())
            .with_context(|| format!("opening the phone file {}", args.phone.display()))?;
    let config = BridgeConfig {
        host: args.host.clone(),
        port: args.reader_port,
        ..BridgeConfig::default()
    };
    eprintln!(
        "phone {} ({}) → vpcd on {}:{} (contactless interface); stop with Ctrl-C",
        phone.serial(),
        args.phone.display(),
        config.host,
        config.port
    );
    let stop = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn(crate::commands::pcsc::raise_on_signal(stop.clone()));
    let bridge_stop = stop.clone();
    let bridge = tokio::task::spawn_blocking(move || {
        let mut phone = phone;
        let result = vpcd::run_bridge(
            &mut phone,
            &config,
            &bridge_stop,
            &mut crate::commands::pcsc::print_event,
        );
        (result, phone.saves())
    });
    let joined = bridge.await;
    signals.abort();
    let (result, saves) = joined.context("the vpcd bridge thread failed")?;
    result?;
    eprintln!(
        "stopped; {} is up to date ({saves} write(s) of changed PIN counters)",
        args.phone.display()
    );
    Ok(())
}

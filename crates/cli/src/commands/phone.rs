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
    PhoneApplyArgs, PhoneApproveArgs, PhoneAttachArgs, PhoneCommand, PhoneFileArgs, PhoneLinkArgs,
    PhoneLoginArgs, PhoneNewArgs, PhoneRegisterArgs, PhoneSignArgs, PhoneSubmitArgs, PhoneWaitArgs,
    PortalArgs,
};
use crate::commands::se_vendor::open_vendor;
use crate::context::Context;
use crate::output;
use crate::secrets::{
    self, PHONE_AUTH_PIN, PHONE_SIGN_PASSWORD, Purpose as SecretPurpose, RP_KEY, SIGN_PASSWORD,
};

mod lifecycle;

pub async fn run(data_dir: Option<&Path>, command: PhoneCommand) -> anyhow::Result<()> {
    match command {
        PhoneCommand::New(args) => new(data_dir, args).await,
        PhoneCommand::Apply(args) => apply(data_dir, args).await,
        PhoneCommand::Wait(args) => wait(data_dir, args).await,
        PhoneCommand::Register(args) => register(data_dir, args).await,
        PhoneCommand::Status(args) => status(data_dir, args).await,
        PhoneCommand::History(args) => history(data_dir, args).await,
        PhoneCommand::Attach(args) => attach(data_dir, args).await,
        PhoneCommand::Lift(args) => lifecycle::lift(data_dir, args).await,
        PhoneCommand::Revoke(args) => lifecycle::revoke(data_dir, args).await,
        PhoneCommand::RevokeOther(args) => lifecycle::revoke_other(data_dir, args).await,
        PhoneCommand::ResetPin(args) => lifecycle::reset_pin(data_dir, args).await,
        PhoneCommand::Sign(args) => sign(data_dir, args).await,
        PhoneCommand::Login(args) => login(data_dir, args).await,
        PhoneCommand::Submit(args) => submit(data_dir, args).await,
        PhoneCommand::Applications(args) => applications(data_dir, args).await,
        PhoneCommand::Requests(args) => requests(data_dir, args).await,
        PhoneCommand::Approve(args) => approve(data_dir, args).await,
        PhoneCommand::Link(args) => link(data_dir, args).await,
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

pub async fn history(
    data_dir: Option<&Path>,
    args: crate::log_cli::PhoneHistoryArgs,
) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    if let Some(out) = &args.bundle {
        let token = phone
            .app
            .device_token
            .as_deref()
            .context("this phone has not applied yet: it has no device token")?;
        return super::log::phone_bundle(
            &client,
            phone.se.serial().as_str(),
            token,
            &args.phone,
            &args,
            out,
        )
        .await;
    }
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

pub async fn sign(data_dir: Option<&Path>, args: PhoneSignArgs) -> anyhow::Result<()> {
    if args.out.exists() {
        bail!(
            "{} already exists; it is not overwritten",
            args.out.display()
        );
    }
    let context = Context::open(data_dir).await?;
    let content =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let password = secrets::read_existing_sign_password(
        PHONE_SIGN_PASSWORD,
        args.phone_sign_password_file.as_deref(),
    )?;
    let mut phone = load_phone(&context, &args.phone)?;
    let outcome = flows::sign_document(&mut phone, &password, &content, context.clock.now());
    save_phone(&context, &args.phone, &mut phone)?;
    let cms = outcome?;
    std::fs::write(&args.out, &cms).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "Signed {} ({} bytes) with the phone signature certificate → {}",
        args.input.display(),
        content.len(),
        args.out.display()
    );
    Ok(())
}

pub async fn login(data_dir: Option<&Path>, args: PhoneLoginArgs) -> anyhow::Result<()> {
    use jpki_app::relying::{LoginOutcome, login};
    let context = Context::open(data_dir).await?;
    let pin = secrets::read_pin(
        PHONE_AUTH_PIN,
        PinPolicy::FourDigits,
        args.phone_auth_pin_file.as_deref(),
        SecretPurpose::Existing,
    )?;
    let mut phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    let outcome = login(&mut phone, &client, args.code.as_deref(), &pin).await;
    save_phone(&context, &args.phone, &mut phone)?;
    match outcome? {
        LoginOutcome::Approved { challenge_id } => {
            println!(
                "ログインを承認しました — login approved ({challenge_id}); the browser is now logged in."
            )
        }
        LoginOutcome::Session(session) => {
            println!(
                "ログインしました — logged in as {} (session until {}).",
                session.name, session.expires_at
            );
            output::field("session token", &session.session_token);
        }
    }
    Ok(())
}

pub async fn submit(data_dir: Option<&Path>, args: PhoneSubmitArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let content =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let password = secrets::read_existing_sign_password(
        PHONE_SIGN_PASSWORD,
        args.phone_sign_password_file.as_deref(),
    )?;
    let mut phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    let outcome = jpki_app::relying::submit_application(
        &mut phone,
        &client,
        &args.title,
        &args.content_type,
        &content,
        &password,
        context.clock.now(),
    )
    .await;
    save_phone(&context, &args.phone, &mut phone)?;
    let receipt = outcome?;
    println!("受付票 — receipt {}", receipt.receipt_id);
    output::field("title", &receipt.title);
    output::field("received at", &receipt.received_at);
    output::field(
        "signed by",
        format!(
            "{} ({} {})",
            receipt.signer_name, receipt.certificate_kind, receipt.certificate_serial
        ),
    );
    output::field("content SHA-256", &receipt.content_sha256);
    output::field("evidence kept", &receipt.evidence);
    Ok(())
}

pub async fn applications(data_dir: Option<&Path>, args: PhoneFileArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    let submissions = jpki_app::relying::applications(&phone, &client).await?;
    println!("申請一覧 — online applications ({})", submissions.len());
    for submission in submissions {
        let receipt = &submission.receipt;
        println!(
            "  {}  {}  {}  evidence: {}  re-check: {}",
            receipt.receipt_id,
            receipt.received_at,
            receipt.title,
            receipt.evidence,
            if submission.recheck_valid {
                "valid"
            } else {
                "NOT valid"
            }
        );
    }
    Ok(())
}

pub async fn requests(data_dir: Option<&Path>, args: PhoneFileArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    let requests = jpki_app::relying::sign_requests(&phone, &client).await?;
    if requests.is_empty() {
        println!("No pending sign requests.");
    }
    for checked in requests {
        let request = &checked.request;
        println!(
            "署名要求 — request {} from {}",
            request.request_id, request.relying_party
        );
        output::field("purpose", &request.purpose);
        output::field("key", request.kind.as_str());
        output::field("verification code", &checked.local_code);
        if !checked.codes_match() {
            println!(
                "  WARNING: the portal's code differs from the code computed here: do not approve"
            );
        }
        output::field("expires", &request.expires_at);
    }
    Ok(())
}

pub async fn approve(data_dir: Option<&Path>, args: PhoneApproveArgs) -> anyhow::Result<()> {
    use jpki_app::relying::{RequestPin, answer_request, sign_requests};
    let context = Context::open(data_dir).await?;
    let mut phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    let requests = sign_requests(&phone, &client).await?;
    let request = requests
        .into_iter()
        .find(|checked| checked.request.request_id == args.request)
        .with_context(|| {
            format!(
                "no pending request {} for this phone (expired, answered, or for someone else)",
                args.request
            )
        })?;
    let outcome = if args.decline {
        answer_request(&mut phone, &client, &request, None, context.clock.now()).await
    } else {
        match request.request.kind {
            PhoneKind::Signature => {
                let password = secrets::read_existing_sign_password(
                    PHONE_SIGN_PASSWORD,
                    args.phone_sign_password_file.as_deref(),
                )?;
                answer_request(
                    &mut phone,
                    &client,
                    &request,
                    Some(RequestPin::SignPassword(&password)),
                    context.clock.now(),
                )
                .await
            }
            PhoneKind::Authentication => {
                let pin = secrets::read_pin(
                    PHONE_AUTH_PIN,
                    PinPolicy::FourDigits,
                    args.phone_auth_pin_file.as_deref(),
                    SecretPurpose::Existing,
                )?;
                answer_request(
                    &mut phone,
                    &client,
                    &request,
                    Some(RequestPin::AuthPin(&pin)),
                    context.clock.now(),
                )
                .await
            }
        }
    };
    save_phone(&context, &args.phone, &mut phone)?;
    outcome?;
    println!(
        "{} request {} from {} (verification code {})",
        if args.decline { "Declined" } else { "Signed" },
        request.request.request_id,
        request.request.relying_party,
        request.local_code
    );
    Ok(())
}

/// The private service's app on the phone: a nonce from the service, the phone's
/// signature (registration) or authentication (login) key over the platform text, and
/// the proof relayed to the platform API with the service's key.
pub async fn link(data_dir: Option<&Path>, args: PhoneLinkArgs) -> anyhow::Result<()> {
    use jpki_app::relying::{sign_with_auth_key, sign_with_sign_key};
    let context = Context::open(data_dir).await?;
    let key = secrets::read_secret(RP_KEY, args.rp_key_file.as_deref(), SecretPurpose::Existing)?;
    let mut phone = load_phone(&context, &args.phone)?;
    let client = client(&context, &phone, &args.portal)?;
    let action = if args.login { "login" } else { "register" };
    // Read the secret before asking for a nonce, so a typo costs no round trip.
    let signed = if args.login {
        let pin = secrets::read_pin(
            PHONE_AUTH_PIN,
            PinPolicy::FourDigits,
            args.phone_auth_pin_file.as_deref(),
            SecretPurpose::Existing,
        )?;
        let nonce = client.platform_nonce(key.expose()).await?;
        let text = jpki_api::platform_to_be_signed(action, &nonce.nonce);
        (nonce, sign_with_auth_key(&mut phone, &pin, &text))
    } else {
        let password = secrets::read_existing_sign_password(
            PHONE_SIGN_PASSWORD,
            args.phone_sign_password_file.as_deref(),
        )?;
        let nonce = client.platform_nonce(key.expose()).await?;
        let text = jpki_api::platform_to_be_signed(action, &nonce.nonce);
        (nonce, sign_with_sign_key(&mut phone, &password, &text))
    };
    save_phone(&context, &args.phone, &mut phone)?;
    let (nonce, signed) = signed;
    let (signature, certificate) = signed?;
    let proof = jpki_api::PlatformProof {
        certificate: jpki_api::encode_der(&certificate),
        nonce: nonce.nonce,
        signature: jpki_api::encode_der(&signature),
    };
    let user = if args.login {
        client.platform_login(key.expose(), &proof).await?
    } else {
        client.platform_register(key.expose(), &proof).await?
    };
    println!(
        "{} — user id {}",
        if args.login {
            "ログインしました (logged in)"
        } else {
            "利用者登録しました (registered)"
        },
        user.user_id
    );
    output::field("certificate", &user.certificate_serial);
    if let Some(info) = &user.basic_info {
        output::field("name", &info.name);
        output::field("address", &info.address);
        output::field("date of birth", &info.date_of_birth);
    }
    Ok(())
}

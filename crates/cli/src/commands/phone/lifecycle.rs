//! `jpki phone lift|revoke|revoke-other|reset-pin`: the lifecycle in the app, with the
//! My Number card (its signature password, then its signature key).

use std::path::Path;

use anyhow::{Context as _, bail};
use jpki_api::{CertificateView, PhoneKind};
use jpki_app::PortalClient;
use jpki_app::flows;
use jpki_crypto::PinPolicy;

use super::{client, load_phone, parse_kinds, save_phone};
use crate::context::Context;
use crate::lifecycle_cli::{
    PhoneLiftArgs, PhoneResetPinArgs, PhoneRevokeArgs, PhoneRevokeOtherArgs,
};
use crate::output;
use crate::secrets::{
    self, PHONE_AUTH_PIN, PHONE_SIGN_PASSWORD, Purpose as SecretPurpose, SIGN_PASSWORD,
};

fn print(title: &str, certificates: &[CertificateView]) {
    for certificate in certificates {
        println!(
            "  {title:<9} {:<10} serial {}  {}{}",
            certificate.kind,
            certificate.serial,
            certificate.status,
            certificate
                .revocation_reason
                .as_deref()
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default()
        );
    }
}

fn open_card(
    context: &Context,
    path: &Path,
) -> anyhow::Result<(jpki_card::VirtualCard, jpki_crypto::Kek)> {
    let kek = context.device_kek()?;
    let card = jpki_card::file::load(path, &kek)
        .with_context(|| format!("opening the card file {}", path.display()))?;
    Ok((card, kek))
}

fn save_card(
    path: &Path,
    card: &mut jpki_card::VirtualCard,
    kek: &jpki_crypto::Kek,
) -> anyhow::Result<()> {
    if card.is_dirty() {
        jpki_card::file::save(path, card, kek)
            .with_context(|| format!("writing the card file {}", path.display()))?;
    }
    Ok(())
}

pub async fn lift(data_dir: Option<&Path>, args: PhoneLiftArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let mut phone = load_phone(&context, &args.phone)?;
    let (mut card, kek) = open_card(&context, &args.card)?;
    let card_password =
        secrets::read_existing_sign_password(SIGN_PASSWORD, args.sign_password_file.as_deref())?;
    let new_password = if args.no_reissue {
        None
    } else {
        Some(secrets::read_pin(
            PHONE_SIGN_PASSWORD,
            PinPolicy::SignPassword,
            args.phone_pins.phone_sign_password_file.as_deref(),
            SecretPurpose::New,
        )?)
    };
    let client = client(&context, &phone, &args.portal)?;
    let outcome = flows::lift(
        &mut phone,
        &client,
        &mut card,
        &card_password,
        new_password.as_ref(),
    )
    .await;
    save_card(&args.card, &mut card, &kek)?;
    save_phone(&context, &args.phone, &mut phone)?;
    let result = outcome?;
    println!("一時利用停止を解除しました — the suspension is lifted.");
    print("released", &result.released);
    print("revoked", &result.revoked);
    match &result.application {
        Some(accepted) => {
            output::field(
                "re-issue",
                format!(
                    "application {} ({:?})",
                    accepted.application_id, accepted.state
                ),
            );
            println!(
                "  next: `jpki phone wait {}`, then `jpki phone register {}` (the signature certificate must be registered again)",
                args.phone.display(),
                args.phone.display()
            );
        }
        None => println!("  no signature certificate was re-issued (--no-reissue)"),
    }
    Ok(())
}

pub async fn revoke(data_dir: Option<&Path>, args: PhoneRevokeArgs) -> anyhow::Result<()> {
    let kinds = parse_kinds(&args.kinds)?;
    let context = Context::open(data_dir).await?;
    let mut phone = load_phone(&context, &args.phone)?;
    let (mut card, kek) = open_card(&context, &args.card)?;
    let card_password =
        secrets::read_existing_sign_password(SIGN_PASSWORD, args.sign_password_file.as_deref())?;
    let client = client(&context, &phone, &args.portal)?;
    let outcome = flows::revoke(&mut phone, &client, &mut card, &card_password, &kinds).await;
    save_card(&args.card, &mut card, &kek)?;
    save_phone(&context, &args.phone, &mut phone)?;
    let result = outcome?;
    println!("スマホ用電子証明書を失効しました — revoked.");
    print("revoked", &result.revoked);
    if result.wipe {
        println!("  the phone's JPKI keys and certificates were erased");
    } else {
        println!("  the revoked keys were erased from the phone");
    }
    Ok(())
}

pub async fn revoke_other(
    data_dir: Option<&Path>,
    args: PhoneRevokeOtherArgs,
) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let (mut card, kek) = open_card(&context, &args.card)?;
    let card_password =
        secrets::read_existing_sign_password(SIGN_PASSWORD, args.sign_password_file.as_deref())?;
    let url = args
        .portal
        .portal
        .clone()
        .unwrap_or_else(|| context.config.phone.portal_url.clone());
    let client = PortalClient::new(&url)?;
    let outcome = flows::revoke_other(&client, &mut card, &card_password, &args.device).await;
    save_card(&args.card, &mut card, &kek)?;
    let result = outcome?;
    println!(
        "別のスマホのスマホ用電子証明書を失効しました — phone {}'s certificates are revoked.",
        result.device_id
    );
    print("revoked", &result.revoked);
    println!("  that phone is told to erase them when it next connects");
    Ok(())
}

pub async fn reset_pin(data_dir: Option<&Path>, args: PhoneResetPinArgs) -> anyhow::Result<()> {
    let which = match args.pin.trim().to_ascii_lowercase().as_str() {
        "sign" | "signature" => PhoneKind::Signature,
        "auth" | "authentication" => PhoneKind::Authentication,
        other => bail!("unknown PIN {other:?}: use sign or auth"),
    };
    let context = Context::open(data_dir).await?;
    let mut phone = load_phone(&context, &args.phone)?;
    let (mut card, kek) = open_card(&context, &args.card)?;
    let card_password =
        secrets::read_existing_sign_password(SIGN_PASSWORD, args.sign_password_file.as_deref())?;
    let new_pin = match which {
        PhoneKind::Signature => secrets::read_pin(
            PHONE_SIGN_PASSWORD,
            PinPolicy::SignPassword,
            args.phone_pins.phone_sign_password_file.as_deref(),
            SecretPurpose::New,
        )?,
        PhoneKind::Authentication => secrets::read_pin(
            PHONE_AUTH_PIN,
            PinPolicy::FourDigits,
            args.phone_pins.phone_auth_pin_file.as_deref(),
            SecretPurpose::New,
        )?,
    };
    let client = client(&context, &phone, &args.portal)?;
    let outcome = flows::reset_pin(
        &mut phone,
        &client,
        &mut card,
        &card_password,
        which,
        &new_pin,
    )
    .await;
    save_card(&args.card, &mut card, &kek)?;
    save_phone(&context, &args.phone, &mut phone)?;
    let result = outcome?;
    println!(
        "The phone's {} is reset (authorised at {}).",
        match which {
            PhoneKind::Signature => "signature password",
            PhoneKind::Authentication => "authentication PIN",
        },
        result.authorized_at
    );
    Ok(())
}

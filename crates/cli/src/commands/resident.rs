//! `jpki resident add|show|list`.

use std::path::Path;

use anyhow::{Context as _, bail};
use jpki_authority::lifecycle::Lifecycle;
use jpki_authority::registry::Registry;
use jpki_model::{BasicInfo, BirthDate, MyNumber, Sex};
use jpki_store::{CardStore, CertificateStore, ChangeKind, Resident, ResidentChange, ResidentId};

use crate::cli::{ResidentAddArgs, ResidentCommand, ResidentListArgs, ResidentShowArgs};
use crate::context::Context;
use crate::output;

pub async fn run(data_dir: Option<&Path>, command: ResidentCommand) -> anyhow::Result<()> {
    match command {
        ResidentCommand::Add(args) => add(data_dir, args).await.map(drop),
        ResidentCommand::Show(args) => show(data_dir, args).await,
        ResidentCommand::List(args) => list(data_dir, args).await,
        ResidentCommand::Move(args) => {
            change(data_dir, args.id, ChangeKind::Move, |info| {
                Ok(info.with_address(&args.address, args.address_substitute.as_deref())?)
            })
            .await
        }
        ResidentCommand::Rename(args) => {
            change(data_dir, args.id, ChangeKind::Rename, |info| {
                Ok(info.with_name(&args.name, args.name_substitute.as_deref())?)
            })
            .await
        }
        ResidentCommand::Death(args) => {
            change(
                data_dir,
                args.id,
                ChangeKind::Death,
                |info| Ok(info.clone()),
            )
            .await
        }
    }
}

/// 異動 (move, rename) or death, with the revocations it causes (異動等失効), in one
/// transaction; a running `jpki serve` answers them in OCSP within its poll interval and
/// publishes the next delta CRL.
async fn change(
    data_dir: Option<&Path>,
    id: i64,
    kind: ChangeKind,
    new_info: impl FnOnce(&BasicInfo) -> anyhow::Result<BasicInfo>,
) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let registry = Registry::new(context.store.clone(), context.clock.clone());
    let resident = registry.resident(ResidentId(id)).await?;
    if resident.is_deceased() {
        bail!("resident {id} is deceased; no further change is accepted (nothing was changed)");
    }
    let new_info = new_info(&resident.basic_info)?;
    let lifecycle = Lifecycle::new(context.store.clone(), context.clock.clone(), None);
    let outcome = lifecycle
        .record_resident_change(
            resident.id,
            ResidentChange {
                kind,
                new_info,
                at: context.clock.now(),
            },
            "registry",
        )
        .await?;
    let label = match kind {
        ChangeKind::Move => "転居 — moved",
        ChangeKind::Rename => "氏名変更 — renamed",
        ChangeKind::Correction => "職権修正 — corrected",
        ChangeKind::Death => "死亡 — deceased",
    };
    println!("Resident {id}: {label}");
    if let Some(resident) = &outcome.resident {
        print_resident(resident);
    }
    if outcome.certificates.is_empty() {
        println!("No certificate was revoked.");
    }
    for certificate in &outcome.certificates {
        let reason = match &certificate.status {
            jpki_model::CertificateStatus::Revoked { reason, .. } => reason.as_str(),
            _ => "",
        };
        println!(
            "  revoked {:<10} {} serial {} ({reason})",
            certificate.kind.as_str(),
            certificate.issuer_name,
            certificate.serial
        );
    }
    if kind != ChangeKind::Death && !outcome.certificates.is_empty() {
        println!(
            "The authentication certificates stay valid; a new signature certificate is issued with a new card (`jpki card issue`) or a phone application."
        );
    }
    Ok(())
}

/// Parses the resident's data from the arguments; every rule broken is a clear error.
pub fn parse_resident(args: &ResidentAddArgs) -> anyhow::Result<(MyNumber, BasicInfo)> {
    let birth_date = BirthDate::parse(&args.birth_date).context("--birth-date")?;
    let sex: Sex = args.sex.parse().context("--sex")?;
    let info = BasicInfo::new(
        &args.name,
        args.name_substitute.as_deref(),
        &args.address,
        args.address_substitute.as_deref(),
        birth_date,
        sex,
    )?;
    let my_number = match &args.my_number {
        Some(text) => MyNumber::parse(text).context("--my-number")?,
        None => random_my_number()?,
    };
    Ok((my_number, info))
}

/// A random valid My Number (sandbox data only).
pub fn random_my_number() -> anyhow::Result<MyNumber> {
    let bytes = jpki_crypto::random_bytes(11)?;
    let mut digits = [0u8; 11];
    for (digit, byte) in digits.iter_mut().zip(bytes) {
        *digit = byte % 10;
    }
    Ok(MyNumber::from_first_eleven(&digits)?)
}

pub async fn add(data_dir: Option<&Path>, args: ResidentAddArgs) -> anyhow::Result<Resident> {
    let (my_number, info) = parse_resident(&args)?;
    let context = Context::open(data_dir).await?;
    let registry = Registry::new(context.store.clone(), context.clock.clone());
    let resident = registry.register(my_number, info).await?;
    println!("Registered resident {}", resident.id.0);
    print_resident(&resident);
    Ok(resident)
}

async fn show(data_dir: Option<&Path>, args: ResidentShowArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let registry = Registry::new(context.store.clone(), context.clock.clone());
    let id = ResidentId(args.id);
    let resident = registry.resident(id).await?;
    println!("Resident {}", resident.id.0);
    print_resident(&resident);
    println!("History:");
    for entry in registry.history(id).await? {
        println!(
            "  {:>3}. {:<11} {}  {} / {}",
            entry.seq,
            entry.kind.as_str(),
            output::instant(entry.at),
            entry.info.name(),
            entry.info.address()
        );
    }
    let cards = context.store.cards_of_resident(id).await?;
    if !cards.is_empty() {
        println!("Cards:");
        for card in cards {
            println!(
                "  {}  issued {}",
                card.card_id,
                output::instant(card.issued_at)
            );
        }
    }
    let certificates = context.store.certificates_of_resident(id).await?;
    if !certificates.is_empty() {
        println!("Certificates:");
        for certificate in certificates {
            println!(
                "  {:<11} {}  serial {}  until {}  {}",
                certificate.kind.as_str(),
                certificate.issuer_name,
                certificate.serial,
                output::instant(certificate.not_after),
                certificate.status.label()
            );
        }
    }
    Ok(())
}

async fn list(data_dir: Option<&Path>, args: ResidentListArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let registry = Registry::new(context.store.clone(), context.clock.clone());
    let residents = registry
        .list(args.after.map(ResidentId), args.limit)
        .await?;
    if residents.is_empty() {
        println!("No residents.");
    }
    for resident in residents {
        let info = &resident.basic_info;
        println!(
            "{:>6}  {}  {}  {}  {}{}",
            resident.id.0,
            resident.my_number.masked(),
            info.name(),
            info.date_of_birth(),
            info.sex().label_ja(),
            if resident.is_deceased() {
                "  (deceased)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

pub fn print_resident(resident: &Resident) {
    let info = &resident.basic_info;
    output::field("name", info.name());
    if info.name_substitute() != info.name() {
        output::field("name substitute", info.name_substitute());
    }
    output::field("address", info.address());
    if info.address_substitute() != info.address() {
        output::field("address substitute", info.address_substitute());
    }
    output::field("date of birth", info.date_of_birth());
    output::field(
        "sex",
        format!("{} ({})", info.sex().code(), info.sex().label_ja()),
    );
    output::field("My Number", resident.my_number.masked());
    if let Some(at) = resident.deceased_at {
        output::field("deceased", output::instant(at));
    }
}

//! `jpki bench`: throughput figures next to the raw cryptographic bound measured in the
//! same run, so results from different machines compare. Build with `--release`.

use std::time::{Duration, Instant};

use jpki_crypto::{RsaKeySize, Signer, SoftwareRsaKey, random_bytes};
use jpki_model::{BasicInfo, BirthDate, CertificateKind, Purpose, SerialNumber, Sex};
use jpki_pkix::{CaParams, EndEntityTemplate, Issuer, build_ca_certificate};
use time::{Duration as TimeDuration, OffsetDateTime};

use crate::cli::{BenchCommand, BenchIssuanceArgs};

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "note: this is a debug build; run `cargo run --release -p jpki -- bench …` for figures worth recording"
        );
    }
    match command {
        BenchCommand::Issuance(args) => issuance(args),
        BenchCommand::Apdu(args) => super::pcsc::bench_apdu(args),
    }
}

/// Runs `operation` repeatedly for `duration`; returns operations per second.
fn rate(
    duration: Duration,
    mut operation: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < duration {
        operation()?;
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

fn issuance(args: BenchIssuanceArgs) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?;
    let params = CaParams::new(
        Purpose::Signature,
        SerialNumber::from_hex("01")?,
        now,
        now + TimeDuration::days(3650),
    );
    let issuer = Issuer::new(&build_ca_certificate(&params, &ca_key)?)?;
    let subject_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?;
    let info = BasicInfo::new(
        "公的 太郎",
        None,
        "東京都千代田区霞が関2-1-2",
        None,
        BirthDate::parse("1990-01-02")?,
        Sex::Male,
    )?;
    let template = EndEntityTemplate {
        kind: CertificateKind::CARD_SIGNATURE,
        serial: SerialNumber::from_hex("01")?,
        subject_cn: "BENCH0000000000000001".into(),
        subject_public_key_der: subject_key.public_key_der().to_vec(),
        basic_info: Some(info),
        not_before: now,
        not_after: now + TimeDuration::days(365 * 5),
        crl_distribution_point: Some("http://127.0.0.1:8080/crl/sign/17.crl".into()),
        ocsp_url: Some("http://127.0.0.1:8080/ocsp".into()),
    };
    // The raw bound: RSA-2048 PKCS#1 v1.5 SHA-256 over a message the size of a TBS.
    let size = issuer.issue(&template, &ca_key)?.len();
    let message = random_bytes(size)?;
    let seconds = Duration::from_secs(args.seconds.max(1));

    println!(
        "RSA-2048 signatures vs. certificates issued (card signature profile, {size} bytes), {} s each",
        seconds.as_secs()
    );
    println!(
        "{:>6} {:>14} {:>14} {:>7}",
        "round", "raw sign/s", "issued/s", "ratio"
    );
    let mut ratios = Vec::new();
    let mut serial: u64 = 1;
    for round in 1..=args.rounds.max(1) {
        let raw = rate(seconds, || {
            ca_key.sign(&message)?;
            Ok(())
        })?;
        let issued = rate(seconds, || {
            serial += 1;
            let mut certificate = template.clone();
            certificate.serial = SerialNumber::from_bytes(&serial.to_be_bytes())?;
            issuer.issue(&certificate, &ca_key)?;
            Ok(())
        })?;
        let ratio = issued / raw;
        ratios.push(ratio);
        println!(
            "{round:>6} {raw:>14.1} {issued:>14.1} {:>6.1}%",
            ratio * 100.0
        );
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "median ratio: {:.1}% of the raw signing rate (target ≥ 90%)",
        median * 100.0
    );
    Ok(())
}

//! How fast a status change reaches relying parties (measured, not asserted):
//! the whole system in-process (`jpki-testkit`) on loopback HTTP, with the status worker
//! running as in `jpki serve`. Each round, the hotline suspends a registered phone
//! through `POST /api/v1/hotline/suspensions`; then, from the moment the API
//! acknowledged:
//!
//! - **OCSP**: one RFC 5019 GET for the phone's authentication certificate; the
//!   response must say revoked / certificateHold;
//! - **delta CRL**: the shard's delta CRL is fetched every millisecond until it lists
//!   the certificate on hold;
//!
//! then a full CRL is published (so the hold is in the base), the phone lifts the
//! suspension with the card, and the same two measurements are made for the release
//! (OCSP good; the delta lists it with removeFromCRL).
//!
//! ```text
//! cargo run --release -p jpki-app --example propagation -- 20
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use base64::Engine;
use jpki_api::{PersonIdentification, PhoneKind, SuspensionRequest, SuspensionScope};
use jpki_app::PortalClient;
use jpki_app::flows::{self, AuthUnlock};
use jpki_authority::hotline::create_account;
use jpki_crypto::Clock;
use jpki_model::{CertificateKind, RevocationReason};
use jpki_pkix::JpkiCertificate;
use jpki_pkix::crl::CrlView;
use jpki_pkix::ocsp::{CertId, OcspCertStatus, OcspRequest, OcspResponseView};
use jpki_store::{AccountRole, CertificateStore, Holder};
use jpki_testkit::Sandbox;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "  {label:<48} median {:>9.3?}  p95 {:>9.3?}  max {:>9.3?}",
        percentile(&samples, 50.0),
        percentile(&samples, 95.0),
        samples[samples.len() - 1]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let (sandbox, _guard) = Sandbox::sqlite_at(now).await.unwrap();
    let url = sandbox.serve().await.unwrap();
    let client = PortalClient::new(&url).unwrap();
    let http = reqwest::Client::new();
    tokio::spawn(sandbox.status.clone().run(std::future::pending()));

    let (_, key) = create_account(&sandbox.store, "hotline", AccountRole::Hotline, now)
        .await
        .unwrap();
    let resident = sandbox.resident("公的 計測", "1990-01-02").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.phone().unwrap();
    let pins = jpki_testkit::phone_pins().unwrap();
    let card_password = jpki_testkit::card_password().unwrap();
    flows::apply(
        &mut phone,
        &client,
        &mut card,
        &card_password,
        &[PhoneKind::Signature, PhoneKind::Authentication],
        &pins,
    )
    .await
    .unwrap();
    flows::wait(&mut phone, &client, Duration::from_secs(10), false, |_| {})
        .await
        .unwrap();
    let auth_pin = jpki_testkit::phone_auth_pin().unwrap();
    flows::register(&mut phone, &client, AuthUnlock::Pin(&auth_pin))
        .await
        .unwrap();
    let auth = sandbox
        .store
        .certificates_of_holder(&Holder::Device(phone.se.serial().as_str().to_owned()))
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == CertificateKind::PHONE_AUTHENTICATION)
        .unwrap();
    let ca = JpkiCertificate::from_der(&sandbox.auth_ca_der).unwrap();
    let certificate = JpkiCertificate::from_der(&auth.der).unwrap();
    let request = OcspRequest::new(
        vec![CertId::for_issuer(&ca, &auth.serial, jpki_crypto::DigestAlgorithm::Sha1).unwrap()],
        None,
    )
    .unwrap();
    let ocsp_url = format!(
        "{}/{}",
        certificate.ocsp_urls()[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(der::Encode::to_der(&request).unwrap())
    );
    let delta_url = certificate.crl_distribution_points()[0].replace(".crl", "-delta.crl");
    let ocsp_status = || async {
        let der = http
            .get(&ocsp_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let view = OcspResponseView::from_der(&der).unwrap();
        view.find(&ca, &auth.serial).unwrap().status
    };
    let delta_reason = || async {
        let der = http
            .get(&delta_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let view = CrlView::from_der(&der).unwrap();
        view.entries()
            .iter()
            .find(|entry| entry.serial().as_ref() == Some(&auth.serial))
            .and_then(|entry| entry.reason())
    };
    let person = PersonIdentification {
        my_number: Some(resident.my_number.expose().to_owned()),
        ..PersonIdentification::default()
    };

    let (mut api, mut ocsp, mut crl) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lift_api, mut lift_ocsp, mut lift_crl) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        sandbox.clock.advance(time::Duration::seconds(1));
        // Hold.
        let started = Instant::now();
        client
            .suspend(
                key.expose(),
                &SuspensionRequest {
                    person: person.clone(),
                    scope: SuspensionScope::Phone,
                    note: None,
                },
            )
            .await
            .unwrap();
        let acknowledged = Instant::now();
        api.push(acknowledged - started);
        let status = ocsp_status().await;
        assert!(
            matches!(
                status,
                OcspCertStatus::Revoked {
                    reason: Some(RevocationReason::CertificateHold),
                    ..
                }
            ),
            "the first OCSP answer after the acknowledgement: {status:?}"
        );
        ocsp.push(acknowledged.elapsed());
        while delta_reason().await != Some(RevocationReason::CertificateHold) {
            assert!(
                acknowledged.elapsed() < Duration::from_secs(10),
                "the delta CRL never listed the hold"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        crl.push(acknowledged.elapsed());

        // A full CRL is published while it is held (the daily one, in real life), so
        // that the release must be announced with removeFromCRL.
        sandbox.clock.advance(time::Duration::seconds(1));
        sandbox.status.publish_now(true).await.unwrap();

        // Release (the found phone, with the card).
        sandbox.clock.advance(time::Duration::seconds(1));
        let started = Instant::now();
        flows::lift(&mut phone, &client, &mut card, &card_password, None)
            .await
            .unwrap();
        let acknowledged = Instant::now();
        lift_api.push(acknowledged - started);
        let status = ocsp_status().await;
        assert_eq!(
            status,
            OcspCertStatus::Good,
            "the first OCSP answer after lifting"
        );
        lift_ocsp.push(acknowledged.elapsed());
        while delta_reason().await != Some(RevocationReason::RemoveFromCrl) {
            assert!(
                acknowledged.elapsed() < Duration::from_secs(10),
                "the delta CRL never listed the release"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lift_crl.push(acknowledged.elapsed());
    }
    println!(
        "{rounds} rounds (clock {}; status worker woken by every change, poll every {:?})",
        sandbox.clock.now(),
        sandbox.status.settings().poll_every
    );
    report("hotline suspension: API round trip", api);
    report("  ack → OCSP answers certificateHold", ocsp);
    report("  ack → delta CRL lists it (certificateHold)", crl);
    report("lift on the phone: API round trip (card)", lift_api);
    report("  ack → OCSP answers good", lift_ocsp);
    report("  ack → delta CRL lists it (removeFromCRL)", lift_crl);
}

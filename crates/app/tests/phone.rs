//! The phone flow end to end over real HTTP on loopback (guide sections 2-C to 2-E):
//! apply with the card, notification, registration, one phone per person; and every RA
//! refusal with its own code, leaving no certificate issued.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use jpki_api::{ErrorCode, NoncePurpose, PhoneKind, decode_der};
use jpki_app::flows::{self, AuthUnlock, FlowError, Notification};
use jpki_app::{Phone, PortalClient};
use jpki_authority::phone::{PhoneConfig, ServiceHours};
use jpki_crypto::PinPolicy;
use jpki_model::{CertificateKind, CertificateStatus, Purpose, RevocationReason};
use jpki_reader::{CertificateSlot, JpkiAp, Token};
use jpki_se::{AppIdentity, Interface};
use jpki_store::{CertificateStore, Holder, PhoneStore, RegistryStore};
use jpki_testkit::{
    PHONE_AUTH_PIN, Sandbox, card_password, default_now, phone_auth_pin, phone_pins,
    phone_sign_password, pin,
};
use time::Duration as TimeDuration;
use time::macros::datetime;

const BOTH: [PhoneKind; 2] = [PhoneKind::Signature, PhoneKind::Authentication];

fn problem_code(error: &FlowError) -> Option<ErrorCode> {
    match error {
        FlowError::Portal(error) => error.code(),
        _ => None,
    }
}

async fn phone_certificates(
    sandbox: &Sandbox,
    phone: &Phone,
) -> Vec<jpki_store::CertificateRecord> {
    sandbox
        .store
        .certificates_of_holder(&Holder::Device(phone.se.serial().as_str().to_owned()))
        .await
        .unwrap()
}

fn openssl_verify(ca: &std::path::Path, der: &[u8], dir: &std::path::Path, name: &str) {
    let path = dir.join(name);
    std::fs::write(&path, jpki_pkix::certificate_pem(der).unwrap()).unwrap();
    let output = Command::new("openssl")
        .args(["verify", "-x509_strict", "-CAfile"])
        .arg(ca)
        .arg(&path)
        .output()
        .expect("openssl must be installed");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_from_resident_to_registered_phone_over_http() {
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let url = sandbox.serve().await.unwrap();
    let client = PortalClient::new(&url).unwrap();
    let resident = sandbox.resident("公的 花子", "1990-01-02").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.phone().unwrap();

    let accepted = flows::apply(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        &BOTH,
        &phone_pins().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(accepted.state, jpki_api::ApplicationState::Issued);
    assert!(
        phone_certificates(&sandbox, &phone)
            .await
            .iter()
            .all(|c| c.status == CertificateStatus::Pending)
    );

    let mut seen = Vec::new();
    let notification = flows::wait(
        &mut phone,
        &client,
        Duration::from_secs(10),
        false,
        |event| seen.push(event.kind.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        notification,
        Notification::ReadyToRegister {
            application_id: accepted.application_id.clone()
        }
    );
    assert_eq!(seen, vec!["ready_to_register".to_owned()]);

    let auth_pin = pin(PinPolicy::FourDigits, PHONE_AUTH_PIN).unwrap();
    let result = flows::register(&mut phone, &client, AuthUnlock::Pin(&auth_pin))
        .await
        .unwrap();
    assert_eq!(result.state, jpki_api::ApplicationState::Registered);
    assert_eq!(result.superseded_certificates, 0);
    let status = flows::status(&phone, &client).await.unwrap();
    assert_eq!(status.certificates.len(), 2);
    assert!(
        status.certificates.iter().all(|c| c.status == "active"),
        "{status:?}"
    );

    // The phone certificates chain to the CAs under OpenSSL, and carry the right data.
    let records = phone_certificates(&sandbox, &phone).await;
    for record in &records {
        let purpose = record.kind.purpose;
        openssl_verify(
            &sandbox.ca_pem(purpose).unwrap(),
            &record.der,
            sandbox.dir.path(),
            record.kind.as_str(),
        );
        let parsed = jpki_pkix::JpkiCertificate::from_der(&record.der).unwrap();
        assert_eq!(parsed.kind(), Some(record.kind));
        match record.kind {
            CertificateKind::PHONE_SIGNATURE => {
                assert_eq!(parsed.basic_info(), Some(&resident.basic_info))
            }
            _ => assert_eq!(parsed.basic_info(), None),
        }
        // Never past the card certificate.
        assert!(parsed.not_after() <= datetime!(2031-01-02 23:59:59 +09:00));
    }

    // Card software reading the phone over the contactless interface sees a phone token
    // and needs the auth PIN for the auth certificate.
    let mut ap = JpkiAp::select(phone.se.open_session(Interface::Contactless)).unwrap();
    assert_eq!(ap.token().unwrap(), Token::Phone);
    assert!(ap.read_certificate(CertificateSlot::Auth).is_err());
    ap.verify(jpki_reader::PinSlot::Auth, &auth_pin).unwrap();
    let auth = ap.read_certificate(CertificateSlot::Auth).unwrap();
    assert!(records.iter().any(|record| record.der == auth));
    drop(ap);

    // Usage history: every step.
    let history = flows::history(&phone, &client).await.unwrap();
    let actions: Vec<&str> = history
        .entries
        .iter()
        .map(|entry| entry.action.as_str())
        .collect();
    assert_eq!(
        actions,
        vec!["card_issued", "applied", "issued", "notified", "registered"]
    );

    // The phone file round-trips through its sealed form.
    let path = sandbox.dir.path().join("phone.json");
    phone.save(&path, &sandbox.kek).unwrap();
    let reloaded = Phone::load(
        &path,
        &sandbox.kek,
        std::sync::Arc::new(sandbox.clock.clone()),
    )
    .unwrap();
    assert_eq!(reloaded.app, phone.app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_delivers_the_notification_too() {
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 一郎", "1985-05-05").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.phone().unwrap();
    flows::apply(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        &[PhoneKind::Authentication],
        &phone_pins().unwrap(),
    )
    .await
    .unwrap();
    let notification = flows::wait(&mut phone, &client, Duration::from_secs(10), true, |_| {})
        .await
        .unwrap();
    assert!(matches!(notification, Notification::ReadyToRegister { .. }));
}

/// Builds a signed application without sending it, so a test can tamper with it.
async fn prepared(
    sandbox: &Sandbox,
    client: &PortalClient,
    phone: &mut Phone,
    card: &mut jpki_card::VirtualCard,
    kinds: &[PhoneKind],
    tamper: impl FnOnce(&mut Vec<jpki_api::KeyRequest>),
) -> jpki_api::ApplicationRequest {
    let _ = sandbox;
    let nonce = client.nonce(NoncePurpose::Application).await.unwrap();
    let (device, mut keys) =
        flows::prepare_keys(phone, &nonce.nonce, kinds, &phone_pins().unwrap()).unwrap();
    tamper(&mut keys);
    flows::sign_application(
        card,
        &card_password().unwrap(),
        nonce.nonce,
        kinds,
        device,
        keys,
    )
    .unwrap()
}

async fn assert_refused(
    sandbox: &Sandbox,
    client: &PortalClient,
    request: &jpki_api::ApplicationRequest,
    expected: ErrorCode,
) {
    let before = sandbox.store.certificates_of_resident_count().await;
    let error = client.submit(request).await.unwrap_err();
    assert_eq!(error.code(), Some(expected), "{error}");
    assert_eq!(
        sandbox.store.certificates_of_resident_count().await,
        before,
        "{expected:?}: nothing issued"
    );
}

trait CountAll {
    async fn certificates_of_resident_count(&self) -> usize;
}

impl CountAll for jpki_store::Store {
    /// Every phone certificate in the store (the tests use one store per sandbox).
    async fn certificates_of_resident_count(&self) -> usize {
        let mut count = 0;
        let mut after = None;
        loop {
            let page = self.list_residents(after, 100).await.unwrap();
            if page.is_empty() {
                break;
            }
            for resident in &page {
                count += self
                    .certificates_of_resident(resident.id)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|c| c.kind.medium == jpki_model::Medium::Phone)
                    .count();
            }
            after = page.last().map(|r| r.id);
        }
        count
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ra_refusal_has_its_own_code_and_issues_nothing() {
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 三郎", "1970-07-07").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();

    // Replayed nonce: the same signed application twice.
    let mut phone = sandbox.phone().unwrap();
    let request = prepared(&sandbox, &client, &mut phone, &mut card, &BOTH, |_| {}).await;
    client.submit(&request).await.unwrap();
    assert_refused(&sandbox, &client, &request, ErrorCode::NonceReused).await;

    // CSR key that differs from the attested key (re-signed by the card, so only the
    // CSR check can catch it).
    let mut phone = sandbox.phone().unwrap();
    let other = jpki_crypto::SoftwareRsaKey::generate(jpki_crypto::RsaKeySize::Rsa2048).unwrap();
    let foreign_csr = jpki_api::encode_der(&jpki_pkix::build_csr("OTHER", &other).unwrap());
    let request = prepared(&sandbox, &client, &mut phone, &mut card, &BOTH, |keys| {
        keys[0].csr = foreign_csr
    })
    .await;
    assert_refused(&sandbox, &client, &request, ErrorCode::CsrKeyMismatch).await;

    // Forged attestation: one byte of the statement changed.
    let mut phone = sandbox.phone().unwrap();
    let request = prepared(&sandbox, &client, &mut phone, &mut card, &BOTH, |keys| {
        let mut statement = decode_der(&keys[1].attestation).unwrap();
        let middle = statement.len() / 2;
        statement[middle] ^= 0x01;
        keys[1].attestation = jpki_api::encode_der(&statement);
    })
    .await;
    assert_refused(&sandbox, &client, &request, ErrorCode::AttestationInvalid).await;

    // A phone from a vendor the RA does not trust.
    let (stranger, _stranger_guard) = Sandbox::sqlite().await.unwrap();
    let mut foreign_phone = stranger.phone().unwrap();
    let request = prepared(
        &sandbox,
        &client,
        &mut foreign_phone,
        &mut card,
        &BOTH,
        |_| {},
    )
    .await;
    assert_refused(&sandbox, &client, &request, ErrorCode::AttestationUntrusted).await;

    // Attestations bound to another nonce.
    let mut phone = sandbox.phone().unwrap();
    let old_nonce = client.nonce(NoncePurpose::Application).await.unwrap();
    let (_, old_keys) =
        flows::prepare_keys(&mut phone, &old_nonce.nonce, &BOTH, &phone_pins().unwrap()).unwrap();
    let nonce = client.nonce(NoncePurpose::Application).await.unwrap();
    let device = jpki_api::DeviceEvidence {
        se_serial: phone.se.serial().as_str().to_owned(),
        device_certificate: jpki_api::encode_der(phone.se.device_certificate()),
        vendor_chain: vec![],
    };
    let request = flows::sign_application(
        &mut card,
        &card_password().unwrap(),
        nonce.nonce,
        &BOTH,
        device,
        old_keys,
    )
    .unwrap();
    assert_refused(
        &sandbox,
        &client,
        &request,
        ErrorCode::AttestationNonceMismatch,
    )
    .await;

    // Kinds that do not match the keys.
    let mut phone = sandbox.phone().unwrap();
    let mut request = prepared(&sandbox, &client, &mut phone, &mut card, &BOTH, |_| {}).await;
    request.kinds = vec![PhoneKind::Signature, PhoneKind::Signature];
    let request = resign(&mut card, request);
    assert_refused(&sandbox, &client, &request, ErrorCode::KindsInvalid).await;

    // A card certificate from a foreign CA.
    let outsider = stranger.resident("他人 太郎", "1980-01-01").await.unwrap();
    let mut foreign_card = stranger.card(&outsider, true).await.unwrap();
    let mut phone = sandbox.phone().unwrap();
    let request = prepared(
        &sandbox,
        &client,
        &mut phone,
        &mut foreign_card,
        &BOTH,
        |_| {},
    )
    .await;
    assert_refused(
        &sandbox,
        &client,
        &request,
        ErrorCode::CardCertificateUntrusted,
    )
    .await;

    // A tampered application: the card's signature no longer matches.
    let mut phone = sandbox.phone().unwrap();
    let mut request = prepared(&sandbox, &client, &mut phone, &mut card, &BOTH, |_| {}).await;
    request.device.se_serial.push('X');
    assert_refused(&sandbox, &client, &request, ErrorCode::CardSignatureInvalid).await;

    // A revoked card.
    let card_sign = sandbox
        .store
        .certificates_of_resident(resident.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == CertificateKind::CARD_SIGNATURE)
        .unwrap();
    let mut phone = sandbox.phone().unwrap();
    let request = prepared(&sandbox, &client, &mut phone, &mut card, &BOTH, |_| {}).await;
    sandbox
        .store
        .set_status(
            &card_sign.issuer_name,
            &card_sign.serial,
            &CertificateStatus::Active,
            &CertificateStatus::Revoked {
                at: default_now(),
                reason: RevocationReason::KeyCompromise,
            },
            default_now(),
        )
        .await
        .unwrap();
    assert_refused(
        &sandbox,
        &client,
        &request,
        ErrorCode::CardCertificateRevoked,
    )
    .await;
}

/// Re-signs a tampered application with the card (as a client with the card would).
fn resign(
    card: &mut jpki_card::VirtualCard,
    request: jpki_api::ApplicationRequest,
) -> jpki_api::ApplicationRequest {
    flows::sign_application(
        card,
        &card_password().unwrap(),
        request.nonce,
        &request.kinds,
        request.device,
        request.keys,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_under_fifteen_gets_no_phone_signature_certificate() {
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 次郎", "1995-03-03").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    // The registry's date of birth is corrected: the person is 14 now.
    sandbox
        .store
        .record_change(
            resident.id,
            &jpki_store::ResidentChange {
                kind: jpki_store::ChangeKind::Correction,
                new_info: jpki_model::BasicInfo::new(
                    resident.basic_info.name(),
                    None,
                    resident.basic_info.address(),
                    None,
                    jpki_model::BirthDate::parse("2012-05-05").unwrap(),
                    resident.basic_info.sex(),
                )
                .unwrap(),
                at: default_now(),
            },
        )
        .await
        .unwrap();
    let mut phone = sandbox.phone().unwrap();
    let error = flows::apply(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        &BOTH,
        &phone_pins().unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        problem_code(&error),
        Some(ErrorCode::SignatureUnderAge),
        "{error}"
    );
    assert!(phone_certificates(&sandbox, &phone).await.is_empty());
    // The authentication certificate alone is fine.
    let mut phone = sandbox.phone().unwrap();
    flows::apply(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        &[PhoneKind::Authentication],
        &phone_pins().unwrap(),
    )
    .await
    .unwrap();
    // And the refusal is in the person's history.
    let history = sandbox.store.usage_of_resident(resident.id).await.unwrap();
    assert!(history.iter().any(
        |r| r.entry.action == "applied" && r.entry.outcome == jpki_store::UsageOutcome::Refused
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_without_the_portal_identity_is_refused_by_the_secure_element() {
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let mut phone = sandbox.phone().unwrap();
    let stranger = AppIdentity::new("com.example.stranger", [7; 32]).unwrap();
    let error = JpkiAp::select(phone.se.open_session(Interface::Omapi(stranger))).unwrap_err();
    assert_eq!(
        error.status_word().map(|sw| sw.to_u16()),
        Some(0x6982),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_service_hours_the_application_waits_for_the_window() {
    let (store, _guard) = jpki_store::testing::sqlite_test_store().await.unwrap();
    let night = datetime!(2026-11-26 22:00 +09:00);
    let config = PhoneConfig {
        service_hours: ServiceHours::DEFAULT,
        ..PhoneConfig::default()
    };
    let sandbox = Sandbox::new(store, night, config).await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 夜子", "1992-02-02").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.phone().unwrap();

    let accepted = flows::apply(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        &BOTH,
        &phone_pins().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(accepted.state, jpki_api::ApplicationState::Queued);
    assert_eq!(
        accepted.expected_issuance.as_deref(),
        Some("2026-11-26T23:00:00Z")
    );
    assert!(
        phone_certificates(&sandbox, &phone).await.is_empty(),
        "nothing issued at night"
    );
    assert_eq!(
        sandbox.phone.process_queue().await.unwrap(),
        0,
        "still closed"
    );
    let error = flows::wait(
        &mut phone,
        &client,
        Duration::from_millis(800),
        true,
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(error, FlowError::Timeout(_)), "{error}");

    sandbox.clock.set(datetime!(2026-11-27 07:59:59 +09:00));
    assert_eq!(sandbox.phone.process_queue().await.unwrap(), 0);
    sandbox.clock.set(datetime!(2026-11-27 08:00 +09:00));
    assert_eq!(sandbox.phone.process_queue().await.unwrap(), 1);
    let notification = flows::wait(&mut phone, &client, Duration::from_secs(10), false, |_| {})
        .await
        .unwrap();
    assert!(matches!(notification, Notification::ReadyToRegister { .. }));
    assert_eq!(phone_certificates(&sandbox, &phone).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_phone_supersedes_the_old_one_which_wipes() {
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 機種", "1988-08-08").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut old = sandbox.registered_phone(&client, &mut card).await.unwrap();
    sandbox.clock.advance(TimeDuration::minutes(5));
    let new = sandbox.registered_phone(&client, &mut card).await.unwrap();

    for record in phone_certificates(&sandbox, &old).await {
        assert!(
            matches!(
                record.status,
                CertificateStatus::Revoked {
                    reason: RevocationReason::Superseded,
                    ..
                }
            ),
            "{record:?}"
        );
    }
    assert!(
        phone_certificates(&sandbox, &new)
            .await
            .iter()
            .all(|c| c.status == CertificateStatus::Active)
    );

    // The old phone learns it must wipe, and does.
    let error = flows::wait(&mut old, &client, Duration::from_secs(10), false, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(error, FlowError::Wiped(ref reason) if reason == "superseded"),
        "{error}"
    );
    let mut ap = JpkiAp::select(old.se.open_session(Interface::Contactless)).unwrap();
    assert!(
        ap.read_certificate(CertificateSlot::AuthCa).is_err(),
        "certificates erased"
    );
    drop(ap);
    assert_eq!(
        sandbox
            .store
            .device(old.se.serial().as_str())
            .await
            .unwrap()
            .unwrap()
            .state,
        jpki_store::DeviceState::Wiped
    );
    let history: Vec<String> = sandbox
        .store
        .usage_of_resident(resident.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entry.action)
        .collect();
    assert!(
        history.contains(&"superseded".to_owned()) && history.contains(&"wiped".to_owned()),
        "{history:?}"
    );
    let _ = Purpose::Signature;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_racing_to_register_leave_exactly_one_active() {
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 競争", "1977-07-17").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phones = Vec::new();
    for _ in 0..2 {
        let mut phone = sandbox.phone().unwrap();
        flows::apply(
            &mut phone,
            &client,
            &mut card,
            &card_password().unwrap(),
            &BOTH,
            &phone_pins().unwrap(),
        )
        .await
        .unwrap();
        flows::wait(&mut phone, &client, Duration::from_secs(10), false, |_| {})
            .await
            .unwrap();
        phones.push(phone);
    }
    let mut b = phones.pop().unwrap();
    let mut a = phones.pop().unwrap();
    let (client_a, client_b) = (client.clone(), client.clone());
    let one = tokio::spawn(async move {
        let auth_pin = pin(PinPolicy::FourDigits, PHONE_AUTH_PIN).unwrap();
        let result = flows::register(&mut a, &client_a, AuthUnlock::Pin(&auth_pin)).await;
        (a, result)
    });
    let two = tokio::spawn(async move {
        let auth_pin = pin(PinPolicy::FourDigits, PHONE_AUTH_PIN).unwrap();
        let result = flows::register(&mut b, &client_b, AuthUnlock::Pin(&auth_pin)).await;
        (b, result)
    });
    let (a, result_a) = one.await.unwrap();
    let (b, result_b) = two.await.unwrap();
    let wins = [&result_a, &result_b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{result_a:?} / {result_b:?}");
    let loser = if result_a.is_ok() {
        &result_b
    } else {
        &result_a
    };
    assert_eq!(
        problem_code(loser.as_ref().unwrap_err()),
        Some(ErrorCode::ApplicationSuperseded)
    );
    let active: usize = [&a, &b]
        .iter()
        .map(|phone| {
            let records = futures_block(phone_certificates(&sandbox, phone));
            records
                .iter()
                .filter(|c| c.status == CertificateStatus::Active)
                .count()
        })
        .sum();
    assert_eq!(active, 2, "exactly one phone's two certificates are active");
}

fn futures_block<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

// ---------------------------------------------------------------------------------------
// Relying parties: login, signed online applications, platform API, sign requests
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_logs_in_alone_and_approves_a_browser_login() {
    use jpki_app::relying::{LoginOutcome, login};
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 認証", "1982-02-22").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.registered_phone(&client, &mut card).await.unwrap();

    // The CLI plays the browser too.
    let LoginOutcome::Session(session) =
        login(&mut phone, &client, None, &phone_auth_pin().unwrap())
            .await
            .unwrap()
    else {
        panic!("a session")
    };
    assert_eq!(session.name, "公的 認証");
    assert_eq!(
        client.session(&session.session_token).await.unwrap().name,
        "公的 認証"
    );

    // Cross-device: a browser shows a code, the phone approves, the browser collects.
    let browser = client.create_login().await.unwrap();
    assert!(
        !client
            .login_view(&browser.challenge_id)
            .await
            .unwrap()
            .approved
    );
    let outcome = login(
        &mut phone,
        &client,
        Some(&browser.code.to_ascii_lowercase()),
        &phone_auth_pin().unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(outcome, LoginOutcome::Approved { .. }));
    assert!(
        client
            .login_view(&browser.challenge_id)
            .await
            .unwrap()
            .approved
    );
    let collected = client
        .collect_session(&browser.challenge_id, &browser.browser_secret)
        .await
        .unwrap();
    assert_eq!(
        client.session(&collected.session_token).await.unwrap().name,
        "公的 認証"
    );
    let again = client
        .collect_session(&browser.challenge_id, &browser.browser_secret)
        .await
        .unwrap_err();
    assert_eq!(
        again.code(),
        Some(ErrorCode::SessionInvalid),
        "collected once"
    );
    let error = login(
        &mut phone,
        &client,
        Some(&browser.code),
        &phone_auth_pin().unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(problem_code(&error), Some(ErrorCode::LoginAlreadyApproved));

    // An expired code is refused.
    let late = client.create_login().await.unwrap();
    sandbox.clock.advance(TimeDuration::minutes(6));
    let error = login(
        &mut phone,
        &client,
        Some(&late.code),
        &phone_auth_pin().unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(problem_code(&error), Some(ErrorCode::LoginChallengeExpired));

    let history = sandbox.store.usage_of_resident(resident.id).await.unwrap();
    assert_eq!(history.iter().filter(|r| r.entry.action == "login" && r.entry.outcome == jpki_store::UsageOutcome::Ok).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_online_application_is_kept_with_its_evidence() {
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 申請", "1979-09-09").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let form = "{\"form\":\"転入届\",\"to\":\"千代田区\"}".as_bytes();

    let cms = flows::sign_document(
        &mut phone,
        &phone_sign_password().unwrap(),
        form,
        default_now(),
    )
    .unwrap();
    // OpenSSL, independently, accepts the phone's CMS.
    let dir = sandbox.dir.path();
    std::fs::write(dir.join("form.json"), form).unwrap();
    std::fs::write(dir.join("form.p7s"), &cms).unwrap();
    let output = Command::new("openssl")
        .args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-out",
            "/dev/null",
            "-in",
        ])
        .arg(dir.join("form.p7s"))
        .arg("-content")
        .arg(dir.join("form.json"))
        .arg("-CAfile")
        .arg(sandbox.ca_pem(Purpose::Signature).unwrap())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let receipt = jpki_app::relying::submit_application(
        &mut phone,
        &client,
        "転入届",
        "application/json",
        form,
        &phone_sign_password().unwrap(),
        default_now(),
    )
    .await
    .unwrap();
    assert_eq!(receipt.signer_name, "公的 申請");
    assert_eq!(receipt.certificate_kind, "phone_sign");
    assert_eq!(
        receipt.evidence, "ocsp",
        "the OCSP response at submission is kept"
    );
    let kept = jpki_app::relying::applications(&phone, &client)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(
        kept[0].recheck_valid,
        "re-checked offline from the kept evidence"
    );
    assert_eq!(kept[0].receipt, receipt);

    // A changed form does not match its signature.
    let tampered = jpki_api::SubmissionRequest {
        title: "転入届".into(),
        content_type: "application/json".into(),
        content: jpki_api::encode_der(b"{\"form\":\"forged\"}"),
        signature: jpki_api::encode_der(&cms),
    };
    assert_eq!(
        client.submit_signed(&tampered).await.unwrap_err().code(),
        Some(ErrorCode::SignatureInvalid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_apps_ask_the_phone_to_sign_with_matching_codes() {
    use jpki_app::relying::{RequestPin, answer_request, sign_requests, sign_with_sign_key};
    let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let relying = sandbox.state.relying.clone().unwrap();
    let (_, key) = relying.add_relying_party("Example 保険").await.unwrap();
    let resident = sandbox.resident("公的 連携", "1987-07-07").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.registered_phone(&client, &mut card).await.unwrap();

    // The person registers with the relying party through the platform API.
    let nonce = client.platform_nonce(&key).await.unwrap();
    let (signature, certificate) = sign_with_sign_key(
        &mut phone,
        &phone_sign_password().unwrap(),
        &jpki_api::platform_to_be_signed("register", &nonce.nonce),
    )
    .unwrap();
    let user = client
        .platform_register(
            &key,
            &jpki_api::PlatformProof {
                certificate: jpki_api::encode_der(&certificate),
                nonce: nonce.nonce,
                signature: jpki_api::encode_der(&signature),
            },
        )
        .await
        .unwrap();
    assert_eq!(user.basic_info.as_ref().unwrap().name, "公的 連携");

    // The relying party asks; the phone shows the same code; the person approves.
    let content = b"contract #42: I agree".to_vec();
    let created = client
        .create_sign_request(
            &key,
            &jpki_api::SignRequestCreate {
                user_id: user.user_id.clone(),
                purpose: "保険契約への同意".into(),
                kind: PhoneKind::Signature,
                content: jpki_api::encode_der(&content),
            },
        )
        .await
        .unwrap();
    let pending = sign_requests(&phone, &client).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].local_code, created.verification_code,
        "the codes match on both sides"
    );
    assert_eq!(pending[0].request.relying_party, "Example 保険");

    // Another person's phone cannot answer it.
    let stranger = sandbox.resident("他人 花子", "1990-10-10").await.unwrap();
    let mut stranger_card = sandbox.card(&stranger, true).await.unwrap();
    let stranger_phone = sandbox
        .registered_phone(&client, &mut stranger_card)
        .await
        .unwrap();
    let refused = client
        .answer_sign_request(
            stranger_phone.se.serial().as_str(),
            stranger_phone.app.device_token.as_deref().unwrap(),
            &created.request_id,
            &jpki_api::SignRequestAnswer {
                approve: false,
                signature: None,
                certificate: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::DeviceMismatch));

    answer_request(
        &mut phone,
        &client,
        &pending[0],
        Some(RequestPin::SignPassword(&phone_sign_password().unwrap())),
        default_now(),
    )
    .await
    .unwrap();
    let result = client
        .sign_request_result(&key, &created.request_id)
        .await
        .unwrap();
    assert_eq!(result.state, "approved");
    // The relying party verifies the signature with jpki-verify.
    let mut trust = jpki_verify::TrustStore::new();
    trust.add_der(&sandbox.sign_ca_der, "sign CA").unwrap();
    let verifier = jpki_verify::Verifier::new(trust);
    let cms = decode_der(result.signature.as_deref().unwrap()).unwrap();
    let report = tokio::task::spawn_blocking(move || {
        verifier.verify_cms_detached(&cms, &content, time::OffsetDateTime::now_utc())
    })
    .await
    .unwrap();
    assert!(report.verdict.is_valid(), "{}", report.render());

    // A request answered after it expired is refused.
    let late = client
        .create_sign_request(
            &key,
            &jpki_api::SignRequestCreate {
                user_id: user.user_id,
                purpose: "遅い要求".into(),
                kind: PhoneKind::Authentication,
                content: jpki_api::encode_der(b"late"),
            },
        )
        .await
        .unwrap();
    let pending = sign_requests(&phone, &client).await.unwrap();
    let late_request = pending
        .iter()
        .find(|r| r.request.request_id == late.request_id)
        .unwrap()
        .clone();
    sandbox.clock.advance(TimeDuration::minutes(6));
    let error = answer_request(
        &mut phone,
        &client,
        &late_request,
        Some(RequestPin::AuthPin(&phone_auth_pin().unwrap())),
        default_now(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        problem_code(&error),
        Some(ErrorCode::SignRequestExpired),
        "{error}"
    );
    assert_eq!(
        client
            .sign_request_result(&key, &late.request_id)
            .await
            .unwrap()
            .state,
        "expired"
    );
}

/// The verifiable usage history over HTTP: every use and lifecycle event of a person is
/// in their history bundle, which verifies offline with the log's published key, and
/// nobody but the person (their phone's token, or their portal session) can download it.
mod verifiable_history {
    use jpki_api::{ErrorCode, PersonIdentification, SuspensionRequest, SuspensionScope};
    use jpki_app::PortalClient;
    use jpki_app::relying::{
        LoginOutcome, RequestPin, answer_request, login, sign_requests, sign_with_sign_key,
    };
    use jpki_log::{LogPublicKey, verify_bundle, verify_consistency_document};
    use jpki_store::{AccountRole, ChangeKind, ResidentChange, UsageLogStore};
    use jpki_testkit::{Sandbox, default_now, phone_auth_pin, phone_sign_password};

    async fn get(url: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
        let client = reqwest::Client::new();
        let mut request = client.get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_use_is_in_the_owners_verifiable_history_and_only_theirs() {
        let (sandbox, _guard) = Sandbox::sqlite().await.unwrap();
        let url = sandbox.serve().await.unwrap();
        let client = PortalClient::new(&url).unwrap();
        let relying = sandbox.state.relying.clone().unwrap();
        let (_, rp_key) = relying.add_relying_party("Example 保険").await.unwrap();
        let (_, operator_key) = jpki_authority::hotline::create_account(
            &sandbox.store,
            "alice",
            AccountRole::Hotline,
            default_now(),
        )
        .await
        .unwrap();
        let taro = sandbox.resident("公的 履歴", "1985-05-05").await.unwrap();
        let mut card = sandbox.card(&taro, true).await.unwrap();
        let mut phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
        let device = phone.se.serial().as_str().to_owned();
        let token = phone.app.device_token.clone().unwrap();

        // Logins: the browser's cross-device login approved on the phone.
        let browser = client.create_login().await.unwrap();
        let outcome = login(
            &mut phone,
            &client,
            Some(&browser.code),
            &phone_auth_pin().unwrap(),
        )
        .await
        .unwrap();
        assert!(matches!(outcome, LoginOutcome::Approved { .. }));
        let session = client
            .collect_session(&browser.challenge_id, &browser.browser_secret)
            .await
            .unwrap()
            .session_token;
        // Signatures verified by the portal: one accepted, one refused.
        let form = "{\"form\":\"転入届\"}".as_bytes();
        jpki_app::relying::submit_application(
            &mut phone,
            &client,
            "転入届",
            "application/json",
            form,
            &phone_sign_password().unwrap(),
            default_now(),
        )
        .await
        .unwrap();
        let cms = jpki_app::flows::sign_document(
            &mut phone,
            &phone_sign_password().unwrap(),
            form,
            default_now(),
        )
        .unwrap();
        let forged = jpki_api::SubmissionRequest {
            title: "転入届".into(),
            content_type: "application/json".into(),
            content: jpki_api::encode_der(b"{\"form\":\"forged\"}"),
            signature: jpki_api::encode_der(&cms),
        };
        // Anyone can attach a person's (public) certificate to a forged signature: that
        // is not their attempt, and stays out of their history.
        assert!(client.submit_signed(&forged).await.is_err());
        // A relying party's check through the platform API, and its sign request.
        let nonce = client.platform_nonce(&rp_key).await.unwrap();
        let (signature, certificate) = sign_with_sign_key(
            &mut phone,
            &phone_sign_password().unwrap(),
            &jpki_api::platform_to_be_signed("register", &nonce.nonce),
        )
        .unwrap();
        let user = client
            .platform_register(
                &rp_key,
                &jpki_api::PlatformProof {
                    certificate: jpki_api::encode_der(&certificate),
                    nonce: nonce.nonce,
                    signature: jpki_api::encode_der(&signature),
                },
            )
            .await
            .unwrap();
        client
            .create_sign_request(
                &rp_key,
                &jpki_api::SignRequestCreate {
                    user_id: user.user_id,
                    purpose: "保険契約への同意".into(),
                    kind: jpki_api::PhoneKind::Signature,
                    content: jpki_api::encode_der(b"contract"),
                },
            )
            .await
            .unwrap();
        let pending = sign_requests(&phone, &client).await.unwrap();
        answer_request(
            &mut phone,
            &client,
            &pending[0],
            Some(RequestPin::SignPassword(&phone_sign_password().unwrap())),
            default_now(),
        )
        .await
        .unwrap();
        // The hotline suspends the phone; the person moves (異動: signatures revoked).
        client
            .suspend(
                operator_key.expose(),
                &SuspensionRequest {
                    person: PersonIdentification {
                        my_number: Some(taro.my_number.expose().to_owned()),
                        ..PersonIdentification::default()
                    },
                    scope: SuspensionScope::Phone,
                    note: None,
                },
            )
            .await
            .unwrap();
        // A document signed with the suspended phone's key is refused: theirs to see.
        let held = jpki_api::SubmissionRequest {
            title: "転入届".into(),
            content_type: "application/json".into(),
            content: jpki_api::encode_der(form),
            signature: jpki_api::encode_der(&cms),
        };
        assert_eq!(
            client.submit_signed(&held).await.unwrap_err().code(),
            Some(ErrorCode::CertificateHeld)
        );
        let moved = taro
            .basic_info
            .with_address("大阪府大阪市北区中之島1-3-20", None)
            .unwrap();
        sandbox
            .lifecycle()
            .record_resident_change(
                taro.id,
                ResidentChange {
                    kind: ChangeKind::Move,
                    new_info: moved,
                    at: jpki_crypto::Clock::now(&sandbox.clock),
                },
                "registry",
            )
            .await
            .unwrap();

        // The phone downloads the history and checks it offline with the published key.
        let key = client.log_key().await.unwrap();
        let public = LogPublicKey::from_pem(&key.public_key_pem).unwrap();
        assert_eq!(public.log_id().to_hex(), key.log_id);
        let bundle = client
            .device_history_bundle(&device, &token, None)
            .await
            .unwrap();
        let verified = verify_bundle(&bundle, &public).unwrap();
        let lines: Vec<(String, String)> = verified
            .entries
            .iter()
            .map(|entry| (entry.event.action.clone(), entry.event.outcome.clone()))
            .collect();
        let expected = [
            ("card_issued", "ok"),
            ("applied", "ok"),
            ("issued", "ok"),
            ("notified", "ok"),
            ("registered", "ok"),
            ("login", "ok"),
            ("submitted", "ok"),
            ("platform_register", "ok"),
            ("sign_request", "ok"),
            ("suspended", "ok"),
            ("submitted", "refused"),
            ("moved", "ok"),
        ];
        assert_eq!(
            lines,
            expected
                .iter()
                .map(|(a, o)| ((*a).to_owned(), (*o).to_owned()))
                .collect::<Vec<_>>()
        );
        let detail = |action: &str| {
            verified
                .entries
                .iter()
                .find(|entry| entry.event.action == action)
                .unwrap()
                .event
                .detail
                .clone()
        };
        assert_eq!(
            detail("card_issued")["certificates"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            detail("registered")["certificates"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(detail("login")["certificate"], "phone_auth");
        assert_eq!(detail("platform_register")["relying_party"], "Example 保険");
        assert_eq!(detail("sign_request")["relying_party"], "Example 保険");
        assert_eq!(detail("suspended")["operator"], "alice");
        assert!(detail("moved")["certificates"].as_array().unwrap().len() >= 2);
        let refused = verified
            .entries
            .iter()
            .find(|entry| entry.event.outcome == "refused")
            .unwrap();
        assert_eq!(refused.event.detail["code"], "CERTIFICATE_HELD");
        assert_eq!(refused.event.detail["certificate"], "phone_sign");
        assert_eq!(refused.event.device_id.as_deref(), Some(device.as_str()));

        // The same history through the portal session of the browser login.
        let through_session = client.session_history_bundle(&session, None).await.unwrap();
        assert_eq!(through_session.person_log_id, bundle.person_log_id);
        assert_eq!(
            verify_bundle(&through_session, &public)
                .unwrap()
                .entries
                .len(),
            12
        );

        // Nobody else's: another person's phone token, no token, a made-up session.
        let hanako = sandbox.resident("他人 花子", "1990-10-10").await.unwrap();
        let mut other_card = sandbox.card(&hanako, true).await.unwrap();
        let other = sandbox
            .registered_phone(&client, &mut other_card)
            .await
            .unwrap();
        let other_token = other.app.device_token.clone().unwrap();
        let error = client
            .device_history_bundle(&device, &other_token, None)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(ErrorCode::DeviceTokenInvalid));
        let hers = client
            .device_history_bundle(other.se.serial().as_str(), &other_token, None)
            .await
            .unwrap();
        assert_ne!(hers.person_log_id, bundle.person_log_id);
        let her_actions: Vec<String> = verify_bundle(&hers, &public)
            .unwrap()
            .entries
            .iter()
            .map(|entry| entry.event.action.clone())
            .collect();
        assert_eq!(
            her_actions,
            ["card_issued", "applied", "issued", "notified", "registered"]
        );
        let history = format!("{url}/api/v1/log/history");
        for (query, bearer, code) in [
            ("", None, "SESSION_INVALID"),
            ("", Some("bm90LWEtc2Vzc2lvbg"), "SESSION_INVALID"),
            (
                &format!("?device_id={device}") as &str,
                None,
                "DEVICE_TOKEN_INVALID",
            ),
            ("?since=x", Some(session.as_str()), "MALFORMED_REQUEST"),
        ] {
            let (status, body) = get(&format!("{history}{query}"), bearer).await;
            assert_eq!(body["code"], code, "{query} {status}");
            assert!(status >= 400);
        }

        // The public endpoints: heads, and consistency between any two published ones.
        let (status, sth) = get(&format!("{url}/api/v1/log/sth"), None).await;
        assert_eq!(status, 200);
        let latest = client.log_tree_head().await.unwrap();
        assert_eq!(sth["tree_size"], latest.tree_size);
        assert_eq!(
            latest.tree_size,
            sandbox.store.log_tree_size().await.unwrap()
        );
        let proof = client
            .log_consistency(bundle.tree_head.tree_size, latest.tree_size)
            .await
            .unwrap();
        verify_consistency_document(&proof, &public).unwrap();
        let since = client
            .device_history_bundle(&device, &token, Some(bundle.tree_head.tree_size))
            .await
            .unwrap();
        assert!(since.previous.is_some());
        let checkpoint = verified.checkpoint();
        jpki_log::verify_bundle_since(&since, &public, &checkpoint).unwrap();
        let error = client
            .log_consistency(1, latest.tree_size + 5)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(ErrorCode::TreeHeadUnknown));
        let error = client
            .log_consistency(latest.tree_size, 1)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(ErrorCode::MalformedRequest));

        // And the operator's audit of the whole database finds nothing.
        let report = sandbox.log.verify_all().await.unwrap();
        assert!(report.is_clean(), "{:?}", report.findings);
        assert_eq!(report.links, report.tree_size);
    }
}

/// Serials from a script first, then random: lets a test make the CA draw a serial that
/// is already taken.
#[derive(Debug, Default)]
struct ScriptedSerials {
    next: std::sync::Mutex<std::collections::VecDeque<jpki_model::SerialNumber>>,
    drawn: std::sync::atomic::AtomicUsize,
}

impl jpki_authority::ca::SerialSource for ScriptedSerials {
    fn next_serial(&self) -> Result<jpki_model::SerialNumber, jpki_authority::AuthorityError> {
        self.drawn.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match self.next.lock().unwrap().pop_front() {
            Some(serial) => Ok(serial),
            None => jpki_authority::ca::random_serial(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_already_taken_is_redrawn_and_the_other_certificate_is_untouched() {
    let (store, _guard) = jpki_store::testing::sqlite_test_store().await.unwrap();
    let serials = std::sync::Arc::new(ScriptedSerials::default());
    let config = PhoneConfig {
        service_hours: ServiceHours::ALWAYS,
        ..PhoneConfig::default()
    };
    let sandbox = Sandbox::with_serial_source(store, default_now(), config, serials.clone())
        .await
        .unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 衝突", "1985-05-05").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let before = sandbox
        .store
        .certificates_of_resident(resident.id)
        .await
        .unwrap();
    let card_sign = before
        .iter()
        .find(|c| c.kind.purpose == Purpose::Signature)
        .unwrap()
        .clone();

    // The phone's signature certificate (same CA as the card's) first draws the card's
    // serial: the write is refused, the CA signs again under a fresh one.
    serials
        .next
        .lock()
        .unwrap()
        .push_back(card_sign.serial.clone());
    let drawn_before = serials.drawn.load(std::sync::atomic::Ordering::SeqCst);
    let mut phone = sandbox.phone().unwrap();
    let request = prepared(&sandbox, &client, &mut phone, &mut card, &BOTH, |_| {}).await;
    let accepted = client.submit(&request).await.unwrap();
    assert_eq!(accepted.state, jpki_api::ApplicationState::Issued);
    assert!(serials.next.lock().unwrap().is_empty());
    assert_eq!(
        serials.drawn.load(std::sync::atomic::Ordering::SeqCst) - drawn_before,
        3,
        "two certificates and one redraw"
    );

    let after = sandbox
        .store
        .certificates_of_resident(resident.id)
        .await
        .unwrap();
    assert_eq!(after.len(), before.len() + 2);
    let phone_sign = after
        .iter()
        .find(|c| c.kind == CertificateKind::PHONE_SIGNATURE)
        .unwrap();
    assert_eq!(phone_sign.issuer_name, card_sign.issuer_name);
    assert_ne!(phone_sign.serial, card_sign.serial);
    // The certificate the serial belonged to is exactly as it was.
    let card_now = sandbox
        .store
        .certificate(&card_sign.issuer_name, &card_sign.serial)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card_now.der, card_sign.der);
    assert_eq!(card_now.status, card_sign.status);
    assert_eq!(card_now.holder, card_sign.holder);
    // The phone's certificate carries the serial it was recorded under.
    let parsed = jpki_pkix::JpkiCertificate::from_der(&phone_sign.der).unwrap();
    assert_eq!(parsed.serial(), &phone_sign.serial);
}

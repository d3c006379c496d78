//! The certificate lifecycle end to end over real HTTP on loopback, with every status
//! answer checked by OpenSSL (an independent implementation): `openssl ocsp` (POST, and
//! GET through curl + `-respin`) and `openssl verify -crl_check -use_deltas` with the
//! base and delta CRLs the portal publishes.
//!
//! - hotline suspension → held (certificateHold) at once in OCSP, in the next delta CRL;
//!   lifting on the found phone → the authentication certificate good again (the delta
//!   carries removeFromCRL), the signature certificate revoked and re-issued, linked;
//! - every refused transition is refused with its code and changes nothing;
//! - moving house revokes the signature certificates only; the new ones are linked;
//! - voluntary and remote revocation, PIN reset, restricted OCSP.
//!
//! Requires `openssl` and `curl`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use jpki_api::{
    ErrorCode, LiftRequest, LookupRequest, PersonIdentification, PhoneKind, RevokeOtherRequest,
    SuspensionRequest, SuspensionScope, encode_der,
};
use jpki_app::flows::{self, AuthUnlock, FlowError, Notification, PhonePins};
use jpki_app::{Phone, PortalClient};
use jpki_authority::hotline::create_account;
use jpki_crypto::PinPolicy;
use jpki_model::{
    BasicInfo, CertificateKind, CertificateStatus, Purpose, RevocationReason, SerialNumber,
};
use jpki_pkix::JpkiCertificate;
use jpki_reader::{JpkiAp, PinSlot, VerifyError};
use jpki_se::Interface;
use jpki_store::{
    AccountRole, CertificateRecord, CertificateStore, ChangeKind, Holder, PhoneStore,
    RegistryStore, ResidentChange,
};
use jpki_testkit::{PHONE_AUTH_PIN, PHONE_SIGN_PASSWORD, Sandbox, card_password, phone_pins, pin};
use time::OffsetDateTime;

const BOTH: [PhoneKind; 2] = [PhoneKind::Signature, PhoneKind::Authentication];

fn code(error: &FlowError) -> Option<ErrorCode> {
    match error {
        FlowError::Portal(error) => error.code(),
        _ => None,
    }
}

fn client_code(error: jpki_app::ClientError) -> ErrorCode {
    error
        .code()
        .unwrap_or_else(|| panic!("no problem code: {error}"))
}

/// The newest certificate of `kind` held by `holder`.
async fn newest(sandbox: &Sandbox, holder: &Holder, kind: CertificateKind) -> CertificateRecord {
    sandbox
        .store
        .certificates_of_holder(holder)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == kind)
        .max_by_key(|c| c.issued_at)
        .unwrap_or_else(|| panic!("no {kind} held by {holder:?}"))
}

fn device(phone: &Phone) -> Holder {
    Holder::Device(phone.se.serial().as_str().to_owned())
}

async fn status_of(sandbox: &Sandbox, certificate: &CertificateRecord) -> CertificateStatus {
    sandbox
        .store
        .certificate(&certificate.issuer_name, &certificate.serial)
        .await
        .unwrap()
        .unwrap()
        .status
}

// ------------------------------------------------------------------------- OpenSSL

async fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} is required for these tests: {e}"));
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Files for OpenSSL: the certificate and its CA as PEM.
struct Pem {
    cert: PathBuf,
    ca: PathBuf,
    der: Vec<u8>,
}

fn pem(sandbox: &Sandbox, certificate: &CertificateRecord, name: &str) -> Pem {
    let cert = sandbox.dir.path().join(format!("{name}.pem"));
    std::fs::write(&cert, jpki_pkix::certificate_pem(&certificate.der).unwrap()).unwrap();
    let purpose = if certificate.issuer_name == "sign" {
        Purpose::Signature
    } else {
        Purpose::Authentication
    };
    Pem {
        cert,
        ca: sandbox.ca_pem(purpose).unwrap(),
        der: certificate.der.clone(),
    }
}

/// `openssl ocsp` over POST, at the URL the certificate names (its AIA), checking the
/// signature with the CA: the status line and the reason.
async fn ocsp_post(pem: &Pem, extra: &[&str]) -> String {
    let certificate = JpkiCertificate::from_der(&pem.der).unwrap();
    let url = certificate.ocsp_urls()[0].clone();
    let mut args = vec!["ocsp"];
    args.extend(extra);
    args.extend([
        "-issuer",
        p(&pem.ca),
        "-cert",
        p(&pem.cert),
        "-url",
        &url,
        "-CAfile",
        p(&pem.ca),
    ]);
    run("openssl", &args).await.1
}

/// RFC 5019 GET: the request made by OpenSSL (no nonce), fetched with curl from
/// `/ocsp/<base64>`, the response checked by `openssl ocsp -respin`.
async fn ocsp_get(sandbox: &Sandbox, pem: &Pem, tag: &str) -> String {
    let request = sandbox.dir.path().join(format!("{tag}.req"));
    let response = sandbox.dir.path().join(format!("{tag}.resp"));
    let (ok, out) = run(
        "openssl",
        &[
            "ocsp",
            "-issuer",
            p(&pem.ca),
            "-cert",
            p(&pem.cert),
            "-no_nonce",
            "-reqout",
            p(&request),
        ],
    )
    .await;
    assert!(ok, "{out}");
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(&request).unwrap())
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let (ok, out) = run(
        "curl",
        &[
            "-sS",
            "--fail",
            "-o",
            p(&response),
            &format!("{}/ocsp/{encoded}", sandbox.base_url),
        ],
    )
    .await;
    assert!(ok, "{out}");
    run(
        "openssl",
        &[
            "ocsp",
            "-respin",
            p(&response),
            "-issuer",
            p(&pem.ca),
            "-cert",
            p(&pem.cert),
            "-CAfile",
            p(&pem.ca),
            "-no_nonce",
        ],
    )
    .await
    .1
}

#[track_caller]
fn assert_ocsp(output: &str, pem: &Pem, status: &str, reason: Option<&str>) {
    assert!(
        output.contains("Response verify OK"),
        "not verified:\n{output}"
    );
    let line = format!("{}: {status}", p(&pem.cert));
    assert!(output.contains(&line), "expected {line:?} in:\n{output}");
    if let Some(reason) = reason {
        assert!(
            output.contains(&format!("Reason: {reason}")),
            "expected reason {reason} in:\n{output}"
        );
    }
}

/// Checks POST and GET give the same answer.
async fn assert_status_both_ways(
    sandbox: &Sandbox,
    pem: &Pem,
    tag: &str,
    status: &str,
    reason: Option<&str>,
) {
    assert_ocsp(&ocsp_post(pem, &[]).await, pem, status, reason);
    assert_ocsp(&ocsp_get(sandbox, pem, tag).await, pem, status, reason);
}

/// Downloads the base and delta CRLs of the certificate's shard (its cRLDistributionPoints
/// URL; the delta at the base's freshestCRL path) as PEM.
async fn crls(sandbox: &Sandbox, pem: &Pem, tag: &str) -> (PathBuf, PathBuf) {
    let certificate = JpkiCertificate::from_der(&pem.der).unwrap();
    let base_url = certificate.crl_distribution_points()[0].clone();
    let delta_url = base_url.replace(".crl", "-delta.crl");
    let mut files = Vec::new();
    for (url, name) in [(base_url, "base"), (delta_url, "delta")] {
        let der = sandbox.dir.path().join(format!("{tag}-{name}.crl"));
        let (ok, out) = run("curl", &["-sS", "--fail", "-o", p(&der), &url]).await;
        assert!(ok, "{url}: {out}");
        let pem_path = sandbox.dir.path().join(format!("{tag}-{name}.pem"));
        std::fs::write(
            &pem_path,
            jpki_pkix::crl::crl_pem(&std::fs::read(&der).unwrap()).unwrap(),
        )
        .unwrap();
        files.push(pem_path);
    }
    let delta = files.pop().unwrap();
    (files.pop().unwrap(), delta)
}

async fn verify_with_crls(
    pem: &Pem,
    crls: &[&Path],
    deltas: bool,
    at: OffsetDateTime,
) -> (bool, String) {
    let at = at.unix_timestamp().to_string();
    let mut args = vec![
        "verify",
        "-crl_check",
        "-attime",
        &at,
        "-CAfile",
        p(&pem.ca),
    ];
    if deltas {
        args.push("-use_deltas");
    }
    for crl in crls {
        args.extend(["-CRLfile", p(crl)]);
    }
    args.push(p(&pem.cert));
    run("openssl", &args).await
}

#[track_caller]
fn assert_crl_revoked((ok, out): (bool, String)) {
    assert!(
        !ok && out.contains("certificate revoked"),
        "expected revoked:\n{out}"
    );
}

#[track_caller]
fn assert_crl_ok((ok, out): (bool, String)) {
    assert!(ok && out.contains(": OK"), "expected OK:\n{out}");
}

/// The wall clock in whole seconds (the store keeps microseconds; OpenSSL checks OCSP
/// times against the wall clock, within 5 minutes).
fn start() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

/// Moves the sandbox clock on, so that newer certificates are issued later.
fn tick_clock(sandbox: &Sandbox) {
    sandbox.clock.advance(time::Duration::seconds(5));
}

fn now(sandbox: &Sandbox) -> OffsetDateTime {
    jpki_crypto::Clock::now(&sandbox.clock)
}

fn identify(resident: &jpki_store::Resident) -> PersonIdentification {
    PersonIdentification {
        my_number: Some(resident.my_number.expose().to_owned()),
        ..PersonIdentification::default()
    }
}

// ------------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_and_lifting_reach_ocsp_at_once_and_the_next_delta_crl() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    let url = sandbox.serve().await.unwrap();
    assert_eq!(url, sandbox.base_url);
    let client = PortalClient::new(&url).unwrap();
    let (_, hotline_key) =
        create_account(&sandbox.store, "alice", AccountRole::Hotline, now(&sandbox))
            .await
            .unwrap();
    let (_, auditor_key) =
        create_account(&sandbox.store, "bob", AccountRole::Auditor, now(&sandbox))
            .await
            .unwrap();
    let (_, verifier_key) =
        create_account(&sandbox.store, "rp", AccountRole::Verifier, now(&sandbox))
            .await
            .unwrap();
    let resident = sandbox.resident("公的 花子", "1990-01-02").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let holder = device(&phone);
    let auth = newest(&sandbox, &holder, CertificateKind::PHONE_AUTHENTICATION).await;
    let sign = newest(&sandbox, &holder, CertificateKind::PHONE_SIGNATURE).await;
    assert_eq!(auth.status, CertificateStatus::Active);
    let auth_pem = pem(&sandbox, &auth, "auth");
    let sign_pem = pem(&sandbox, &sign, "sign");

    // 1. Registered: good, POST and GET.
    assert_status_both_ways(&sandbox, &auth_pem, "auth-1", "good", None).await;
    assert_status_both_ways(&sandbox, &sign_pem, "sign-1", "good", None).await;
    // The CRLs published so far do not list them (a delta after registration).
    sandbox.status.tick().await.unwrap();
    let (base, delta) = crls(&sandbox, &auth_pem, "auth-1").await;
    assert_crl_ok(verify_with_crls(&auth_pem, &[&base, &delta], true, now(&sandbox)).await);

    // 2. Refused: a wrong role, no key, an unknown key — nothing changes.
    let suspension = SuspensionRequest {
        person: identify(&resident),
        scope: SuspensionScope::Phone,
        note: Some("lost on the train".into()),
    };
    let error = client
        .suspend(auditor_key.expose(), &suspension)
        .await
        .unwrap_err();
    assert_eq!(client_code(error), ErrorCode::RoleForbidden);
    let error = client
        .suspend("jpki_not-a-key", &suspension)
        .await
        .unwrap_err();
    assert_eq!(client_code(error), ErrorCode::AccountUnauthorized);
    let error = client.suspend("", &suspension).await.unwrap_err();
    assert_eq!(client_code(error), ErrorCode::AccountUnauthorized);
    assert_eq!(status_of(&sandbox, &auth).await, CertificateStatus::Active);
    assert_eq!(status_of(&sandbox, &sign).await, CertificateStatus::Active);
    let unknown = SuspensionRequest {
        person: PersonIdentification {
            name: Some("存在 しない".into()),
            date_of_birth: Some("1990-01-02".into()),
            ..PersonIdentification::default()
        },
        ..suspension.clone()
    };
    let error = client
        .suspend(hotline_key.expose(), &unknown)
        .await
        .unwrap_err();
    assert_eq!(client_code(error), ErrorCode::PersonNotFound);

    // 3. The hotline suspends (identified by name and date of birth): held, and OCSP
    //    answers certificateHold as soon as the API has answered — no tick in between.
    let by_name = SuspensionRequest {
        person: PersonIdentification {
            name: Some("公的 花子".into()),
            date_of_birth: Some("1990-01-02".into()),
            ..PersonIdentification::default()
        },
        ..suspension.clone()
    };
    let result = client
        .suspend(hotline_key.expose(), &by_name)
        .await
        .unwrap();
    assert_eq!(result.resident_id, resident.id.0);
    assert_eq!(result.held.len(), 2, "{result:?}");
    assert!(result.revoked.is_empty());
    assert_status_both_ways(
        &sandbox,
        &auth_pem,
        "auth-2",
        "revoked",
        Some("certificateHold"),
    )
    .await;
    assert_status_both_ways(
        &sandbox,
        &sign_pem,
        "sign-2",
        "revoked",
        Some("certificateHold"),
    )
    .await;
    let error = client
        .suspend(hotline_key.expose(), &suspension)
        .await
        .unwrap_err();
    assert_eq!(client_code(error), ErrorCode::NothingToSuspend);
    // The operator and the auditor see it; the verifier may not look people up.
    let looked_up = client
        .lookup(
            auditor_key.expose(),
            &LookupRequest {
                person: identify(&resident),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        looked_up
            .certificates
            .iter()
            .filter(|c| c.status == "held")
            .count(),
        2
    );
    let error = client
        .lookup(
            verifier_key.expose(),
            &LookupRequest {
                person: identify(&resident),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(client_code(error), ErrorCode::RoleForbidden);

    // 4. The next delta CRL lists the holds; the old base does not.
    let (old_base, _) = crls(&sandbox, &auth_pem, "auth-old").await;
    sandbox.status.tick().await.unwrap();
    for (pem, tag) in [(&auth_pem, "auth-3"), (&sign_pem, "sign-3")] {
        let (base, delta) = crls(&sandbox, pem, tag).await;
        assert_crl_revoked(verify_with_crls(pem, &[&base, &delta], true, now(&sandbox)).await);
        assert_crl_ok(verify_with_crls(pem, &[&base], false, now(&sandbox)).await);
    }
    assert_crl_ok(verify_with_crls(&auth_pem, &[&old_base], false, now(&sandbox)).await);
    // A new full CRL lists them itself.
    sandbox.status.publish_now(true).await.unwrap();
    let (held_base, _) = crls(&sandbox, &auth_pem, "auth-4").await;
    assert_crl_revoked(verify_with_crls(&auth_pem, &[&held_base], false, now(&sandbox)).await);

    // 5. Refused lifts change nothing: without the card's signature, and with another
    //    person's card.
    let token = phone.app.device_token.clone().unwrap();
    let nonce = client.nonce(jpki_api::NoncePurpose::Lift).await.unwrap();
    let mut forged = LiftRequest {
        nonce: nonce.nonce,
        device_id: phone.se.serial().as_str().to_owned(),
        card_certificate: encode_der(
            &newest(
                &sandbox,
                &Holder::Card(card.id().as_str().to_owned()),
                CertificateKind::CARD_SIGNATURE,
            )
            .await
            .der,
        ),
        card_signature: encode_der(&[0x42; 256]),
        device: None,
        signature_key: None,
    };
    let error = client.lift(&token, &forged).await.unwrap_err();
    assert_eq!(client_code(error), ErrorCode::CardSignatureInvalid);
    forged.nonce = client
        .nonce(jpki_api::NoncePurpose::Lift)
        .await
        .unwrap()
        .nonce;
    let error = client
        .lift("not-the-device-token", &forged)
        .await
        .unwrap_err();
    assert_eq!(client_code(error), ErrorCode::DeviceTokenInvalid);
    let stranger = sandbox.resident("他人 次郎", "1985-05-05").await.unwrap();
    let mut stranger_card = sandbox.card(&stranger, true).await.unwrap();
    let error = flows::lift(
        &mut phone,
        &client,
        &mut stranger_card,
        &card_password().unwrap(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&error), Some(ErrorCode::DeviceNotOwned), "{error}");
    assert!(matches!(
        status_of(&sandbox, &auth).await,
        CertificateStatus::Held { .. }
    ));
    assert!(matches!(
        status_of(&sandbox, &sign).await,
        CertificateStatus::Held { .. }
    ));

    // 6. Lifting on the found phone with the card: the authentication certificate comes
    //    back at once; the signature certificate is revoked and re-issued.
    tick_clock(&sandbox);
    let new_password = pin(PinPolicy::SignPassword, "FOUND2026").unwrap();
    let lifted = flows::lift(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        Some(&new_password),
    )
    .await
    .unwrap();
    assert_eq!(lifted.released.len(), 1);
    assert_eq!(lifted.released[0].serial, auth.serial.to_hex());
    assert_eq!(lifted.revoked.len(), 1);
    assert_eq!(
        lifted.revoked[0].revocation_reason.as_deref(),
        Some("superseded")
    );
    assert_status_both_ways(&sandbox, &auth_pem, "auth-5", "good", None).await;
    assert_status_both_ways(&sandbox, &sign_pem, "sign-5", "revoked", Some("superseded")).await;
    // Lifting again: nothing is on hold.
    let error = flows::lift(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&error), Some(ErrorCode::CertificateNotHeld), "{error}");

    // 7. The delta over the base that held them: removeFromCRL for the authentication
    //    certificate (OK with -use_deltas, still revoked on the base alone), the
    //    signature certificate revoked.
    sandbox.status.tick().await.unwrap();
    let (base, delta) = crls(&sandbox, &auth_pem, "auth-6").await;
    let (_, delta_text) = run("openssl", &["crl", "-in", p(&delta), "-noout", "-text"]).await;
    assert!(delta_text.contains("Remove From CRL"), "{delta_text}");
    assert_crl_ok(verify_with_crls(&auth_pem, &[&base, &delta], true, now(&sandbox)).await);
    assert_crl_revoked(verify_with_crls(&auth_pem, &[&base], false, now(&sandbox)).await);
    let (base, delta) = crls(&sandbox, &sign_pem, "sign-6").await;
    assert_crl_revoked(verify_with_crls(&sign_pem, &[&base, &delta], true, now(&sandbox)).await);

    // 8. The new signature certificate: notified, registered with the live
    //    authentication key, good; the old one stays revoked; linked old → new.
    let notification = flows::wait(&mut phone, &client, Duration::from_secs(10), false, |_| {})
        .await
        .unwrap();
    assert!(matches!(notification, Notification::ReadyToRegister { .. }));
    let auth_pin = pin(PinPolicy::FourDigits, PHONE_AUTH_PIN).unwrap();
    let registered = flows::register(&mut phone, &client, AuthUnlock::Pin(&auth_pin))
        .await
        .unwrap();
    assert_eq!(registered.certificates.len(), 1);
    let renewed = newest(&sandbox, &holder, CertificateKind::PHONE_SIGNATURE).await;
    assert_ne!(renewed.serial, sign.serial);
    assert_eq!(
        renewed.renewal_of,
        Some(("sign".to_owned(), sign.serial.clone()))
    );
    let renewed_pem = pem(&sandbox, &renewed, "sign-new");
    assert_status_both_ways(&sandbox, &renewed_pem, "sign-7", "good", None).await;
    assert_status_both_ways(&sandbox, &sign_pem, "sign-8", "revoked", Some("superseded")).await;
    assert_status_both_ways(&sandbox, &auth_pem, "auth-8", "good", None).await;
    sandbox.status.tick().await.unwrap();
    let (base, delta) = crls(&sandbox, &renewed_pem, "sign-new").await;
    assert_crl_ok(verify_with_crls(&renewed_pem, &[&base, &delta], true, now(&sandbox)).await);
    let links = client
        .links(verifier_key.expose(), "sign", &sign.serial.to_hex())
        .await
        .unwrap();
    assert_eq!(links.replaced_by.len(), 1);
    assert_eq!(links.replaced_by[0].serial, renewed.serial.to_hex());
    let links = client
        .links(verifier_key.expose(), "sign", &renewed.serial.to_hex())
        .await
        .unwrap();
    assert_eq!(links.replaces.unwrap().serial, sign.serial.to_hex());
    assert_eq!(
        links.counterparts.len(),
        1,
        "the phone's authentication certificate"
    );
    assert_eq!(links.counterparts[0].serial, auth.serial.to_hex());
    let error = client
        .links(verifier_key.expose(), "sign", "01")
        .await
        .unwrap_err();
    assert_eq!(client_code(error), ErrorCode::CertificateNotFound);

    // 9. The usage history tells the story; the audit log names the operator.
    let actions: Vec<String> = sandbox
        .store
        .usage_of_resident(resident.id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| format!("{}:{}", u.entry.action, u.entry.outcome.as_str()))
        .collect();
    for expected in ["suspended:ok", "lift:refused", "lifted:ok", "registered:ok"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    let audit = jpki_store::AuditStore::audit_entries(
        &sandbox.store,
        &format!("resident:{}", resident.id.0),
    )
    .await
    .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.entry.action == "hotline.suspend" && a.entry.actor == "operator:alice")
    );
    assert!(audit.iter().any(|a| a.entry.action == "phone.lift"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_house_revokes_signature_certificates_only_and_links_their_replacements() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let (_, verifier_key) =
        create_account(&sandbox.store, "rp", AccountRole::Verifier, now(&sandbox))
            .await
            .unwrap();
    let resident = sandbox.resident("公的 転居", "1980-04-04").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let card_holder = Holder::Card(card.id().as_str().to_owned());
    let card_sign = newest(&sandbox, &card_holder, CertificateKind::CARD_SIGNATURE).await;
    let card_auth = newest(&sandbox, &card_holder, CertificateKind::CARD_AUTHENTICATION).await;
    let phone_sign = newest(&sandbox, &device(&phone), CertificateKind::PHONE_SIGNATURE).await;
    let phone_auth = newest(
        &sandbox,
        &device(&phone),
        CertificateKind::PHONE_AUTHENTICATION,
    )
    .await;

    // 異動: the move and its revocations, in one transaction.
    let moved: BasicInfo = resident
        .basic_info
        .with_address("大阪府大阪市北区中之島1-3-20", None)
        .unwrap();
    let outcome = sandbox
        .lifecycle()
        .record_resident_change(
            resident.id,
            ResidentChange {
                kind: ChangeKind::Move,
                new_info: moved.clone(),
                at: now(&sandbox),
            },
            "registry",
        )
        .await
        .unwrap();
    assert_eq!(outcome.resident.unwrap().basic_info, moved);
    let revoked_serials: Vec<SerialNumber> = outcome
        .certificates
        .iter()
        .map(|c| c.serial.clone())
        .collect();
    assert_eq!(revoked_serials.len(), 2);
    assert!(
        revoked_serials.contains(&card_sign.serial) && revoked_serials.contains(&phone_sign.serial)
    );
    for signature in [&card_sign, &phone_sign] {
        assert_eq!(
            status_of(&sandbox, signature).await,
            CertificateStatus::Revoked {
                at: now(&sandbox),
                reason: RevocationReason::AffiliationChanged
            }
        );
    }
    for authentication in [&card_auth, &phone_auth] {
        assert_eq!(
            status_of(&sandbox, authentication).await,
            CertificateStatus::Active
        );
    }
    // OCSP says so, at once.
    let pems = [
        (
            pem(&sandbox, &card_sign, "card-sign"),
            "revoked",
            Some("affiliationChanged"),
        ),
        (
            pem(&sandbox, &phone_sign, "phone-sign"),
            "revoked",
            Some("affiliationChanged"),
        ),
        (pem(&sandbox, &card_auth, "card-auth"), "good", None),
        (pem(&sandbox, &phone_auth, "phone-auth"), "good", None),
    ];
    for (pem, status, reason) in &pems {
        assert_ocsp(&ocsp_post(pem, &[]).await, pem, status, *reason);
    }
    // The phone was told its signature certificate is revoked.
    let events = sandbox
        .store
        .events_after(phone.se.serial().as_str(), 0, 100)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "revoked" && e.payload["reason"] == "affiliationChanged")
    );

    // A new card at the counter: its signature certificate carries the new address and
    // names the old one (新旧紐付け); the old card's authentication certificate is
    // superseded.
    tick_clock(&sandbox);
    let mut new_card = sandbox.card(&resident, true).await.unwrap();
    let new_holder = Holder::Card(new_card.id().as_str().to_owned());
    let new_card_sign = newest(&sandbox, &new_holder, CertificateKind::CARD_SIGNATURE).await;
    assert_eq!(
        new_card_sign.renewal_of,
        Some(("sign".to_owned(), card_sign.serial.clone()))
    );
    assert!(matches!(
        status_of(&sandbox, &card_auth).await,
        CertificateStatus::Revoked {
            reason: RevocationReason::Superseded,
            ..
        }
    ));
    let links = client
        .links(verifier_key.expose(), "sign", &card_sign.serial.to_hex())
        .await
        .unwrap();
    assert_eq!(links.replaced_by[0].serial, new_card_sign.serial.to_hex());
    let links = client
        .links(
            verifier_key.expose(),
            "sign",
            &new_card_sign.serial.to_hex(),
        )
        .await
        .unwrap();
    assert_eq!(links.replaces.unwrap().serial, card_sign.serial.to_hex());
    assert_eq!(
        links.counterparts.len(),
        1,
        "the new card's authentication certificate"
    );

    // A new phone signature certificate, applied for with the new card, names the old
    // phone one; the phone keeps its authentication certificate.
    tick_clock(&sandbox);
    let mut phone = phone;
    flows::apply(
        &mut phone,
        &client,
        &mut new_card,
        &card_password().unwrap(),
        &[PhoneKind::Signature],
        &PhonePins {
            sign_password: Some(pin(PinPolicy::SignPassword, PHONE_SIGN_PASSWORD).unwrap()),
            auth_pin: None,
        },
    )
    .await
    .unwrap();
    flows::wait(&mut phone, &client, Duration::from_secs(10), false, |_| {})
        .await
        .unwrap();
    let auth_pin = pin(PinPolicy::FourDigits, PHONE_AUTH_PIN).unwrap();
    flows::register(&mut phone, &client, AuthUnlock::Pin(&auth_pin))
        .await
        .unwrap();
    let new_phone_sign = newest(&sandbox, &device(&phone), CertificateKind::PHONE_SIGNATURE).await;
    assert_eq!(
        new_phone_sign.renewal_of,
        Some(("sign".to_owned(), phone_sign.serial.clone()))
    );
    assert_eq!(new_phone_sign.status, CertificateStatus::Active);
    assert_eq!(
        status_of(&sandbox, &phone_auth).await,
        CertificateStatus::Active
    );
    let subject = JpkiCertificate::from_der(&new_phone_sign.der).unwrap();
    assert_eq!(subject.basic_info().unwrap().address(), moved.address());

    // Death: every live certificate, cessationOfOperation; no further change.
    let died = sandbox
        .lifecycle()
        .record_resident_change(
            resident.id,
            ResidentChange {
                kind: ChangeKind::Death,
                new_info: moved.clone(),
                at: now(&sandbox),
            },
            "registry",
        )
        .await
        .unwrap();
    assert!(died.certificates.len() >= 4, "{:?}", died.certificates);
    for certificate in sandbox
        .store
        .certificates_of_resident(resident.id)
        .await
        .unwrap()
    {
        assert!(
            matches!(certificate.status, CertificateStatus::Revoked { .. }),
            "{certificate:?}"
        );
    }
    assert!(died.certificates.iter().all(|c| matches!(
        c.status,
        CertificateStatus::Revoked {
            reason: RevocationReason::CessationOfOperation,
            ..
        }
    )));
    let error = sandbox
        .lifecycle()
        .record_resident_change(
            resident.id,
            ResidentChange {
                kind: ChangeKind::Move,
                new_info: resident.basic_info.clone(),
                at: now(&sandbox),
            },
            "registry",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            jpki_authority::lifecycle::LifecycleError::Deceased(_)
        ),
        "{error}"
    );
    assert!(
        sandbox
            .store
            .resident(resident.id)
            .await
            .unwrap()
            .unwrap()
            .is_deceased()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_pin_reset_and_refused_transitions() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let (_, hotline_key) =
        create_account(&sandbox.store, "alice", AccountRole::Hotline, now(&sandbox))
            .await
            .unwrap();
    let resident = sandbox.resident("公的 失効", "1975-07-07").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let other = sandbox.resident("別人 三郎", "1970-03-03").await.unwrap();
    let mut other_card = sandbox.card(&other, true).await.unwrap();
    let auth = newest(
        &sandbox,
        &device(&phone),
        CertificateKind::PHONE_AUTHENTICATION,
    )
    .await;
    let sign = newest(&sandbox, &device(&phone), CertificateKind::PHONE_SIGNATURE).await;
    let phone_id = phone.se.serial().as_str().to_owned();

    // Revoking another person's phone with one's own card: refused, nothing changes.
    let error = flows::revoke_other(
        &client,
        &mut other_card,
        &card_password().unwrap(),
        &phone_id,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&error), Some(ErrorCode::DeviceNotOwned), "{error}");
    let error = flows::revoke_other(
        &client,
        &mut card,
        &card_password().unwrap(),
        "FFFFFFFFFFFFFFFFFFFF",
    )
    .await
    .unwrap_err();
    assert_eq!(code(&error), Some(ErrorCode::DeviceUnknown), "{error}");
    // A request whose card signature is not over the text: refused.
    let nonce = client
        .nonce(jpki_api::NoncePurpose::Revocation)
        .await
        .unwrap();
    let error = client
        .revoke_other(&RevokeOtherRequest {
            nonce: nonce.nonce,
            device_id: phone_id.clone(),
            card_certificate: encode_der(
                &newest(
                    &sandbox,
                    &Holder::Card(card.id().as_str().to_owned()),
                    CertificateKind::CARD_SIGNATURE,
                )
                .await
                .der,
            ),
            card_signature: encode_der(&[7; 256]),
        })
        .await
        .unwrap_err();
    assert_eq!(client_code(error), ErrorCode::CardSignatureInvalid);
    assert_eq!(status_of(&sandbox, &auth).await, CertificateStatus::Active);
    assert_eq!(status_of(&sandbox, &sign).await, CertificateStatus::Active);

    // PIN reset: lock the phone's authentication PIN, then reset it with the card.
    {
        let identity = jpki_app::portal_app_identity().unwrap();
        let session = phone.se.open_session(Interface::Omapi(identity));
        let mut ap = JpkiAp::select(session).unwrap();
        let wrong = pin(PinPolicy::FourDigits, "0000").unwrap();
        for _ in 0..3 {
            let _ = ap.verify(PinSlot::Auth, &wrong);
        }
        let right = pin(PinPolicy::FourDigits, PHONE_AUTH_PIN).unwrap();
        assert!(matches!(
            ap.verify(PinSlot::Auth, &right),
            Err(VerifyError::Blocked)
        ));
    }
    let new_pin = pin(PinPolicy::FourDigits, "2468").unwrap();
    let error = flows::reset_pin(
        &mut phone,
        &client,
        &mut other_card,
        &card_password().unwrap(),
        PhoneKind::Authentication,
        &new_pin,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&error), Some(ErrorCode::DeviceNotOwned), "{error}");
    let reset = flows::reset_pin(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        PhoneKind::Authentication,
        &new_pin,
    )
    .await
    .unwrap();
    assert_eq!(reset.pin, PhoneKind::Authentication);
    {
        let identity = jpki_app::portal_app_identity().unwrap();
        let session = phone.se.open_session(Interface::Omapi(identity));
        let mut ap = JpkiAp::select(session).unwrap();
        ap.verify(PinSlot::Auth, &new_pin).unwrap();
    }

    // Suspend, then revoke the authentication certificate from the phone: lifting a
    // revoked certificate is refused and changes nothing.
    client
        .suspend(
            hotline_key.expose(),
            &SuspensionRequest {
                person: identify(&resident),
                scope: SuspensionScope::Phone,
                note: None,
            },
        )
        .await
        .unwrap();
    let revoked = flows::revoke(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        &[PhoneKind::Authentication],
    )
    .await
    .unwrap();
    assert_eq!(revoked.revoked.len(), 1);
    assert_eq!(
        revoked.revoked[0].revocation_reason.as_deref(),
        Some("cessationOfOperation")
    );
    assert!(
        !revoked.wipe,
        "the held signature certificate is still live"
    );
    // The revoked key is gone from the SE (replaced in its slot).
    let revoked_key = JpkiCertificate::from_der(&auth.der)
        .unwrap()
        .public_key_der()
        .to_vec();
    assert_ne!(
        phone
            .se
            .public_key(jpki_se::SlotUsage::Authentication)
            .map(<[u8]>::to_vec),
        Some(revoked_key)
    );
    let held_sign = status_of(&sandbox, &sign).await;
    assert!(matches!(held_sign, CertificateStatus::Held { .. }));
    let error = flows::lift(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        code(&error),
        Some(ErrorCode::CertificateAlreadyRevoked),
        "{error}"
    );
    assert_eq!(status_of(&sandbox, &sign).await, held_sign, "no change");
    // Revoking what is already revoked: nothing to revoke.
    let error = flows::revoke(
        &mut phone,
        &client,
        &mut card,
        &card_password().unwrap(),
        &[PhoneKind::Authentication],
    )
    .await
    .unwrap_err();
    assert_eq!(code(&error), Some(ErrorCode::NothingToRevoke), "{error}");

    // From a new phone (or none), with the card: the lost phone's remaining certificate
    // is revoked (keyCompromise) and the phone is told to wipe.
    let result = flows::revoke_other(&client, &mut card, &card_password().unwrap(), &phone_id)
        .await
        .unwrap();
    assert_eq!(result.revoked.len(), 1);
    assert_eq!(
        result.revoked[0].revocation_reason.as_deref(),
        Some("keyCompromise")
    );
    let notification =
        flows::wait(&mut phone, &client, Duration::from_secs(10), false, |_| {}).await;
    assert!(matches!(notification, Err(FlowError::Wiped(reason)) if reason == "revoked_by_owner"));
    let sign_pem = pem(&sandbox, &sign, "lost-sign");
    assert_ocsp(
        &ocsp_post(&sign_pem, &[]).await,
        &sign_pem,
        "revoked",
        Some("keyCompromise"),
    );

    // Voluntary revocation of everything on a second phone: it wipes itself.
    tick_clock(&sandbox);
    let mut second = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let result = flows::revoke(
        &mut second,
        &client,
        &mut card,
        &card_password().unwrap(),
        &BOTH,
    )
    .await
    .unwrap();
    assert!(result.wipe);
    assert_eq!(result.revoked.len(), 2);
    assert!(
        second
            .se
            .public_key(jpki_se::SlotUsage::Signature)
            .is_none()
    );
    assert_eq!(
        sandbox
            .store
            .device(second.se.serial().as_str())
            .await
            .unwrap()
            .unwrap()
            .state,
        jpki_store::DeviceState::Wiped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_status_services_answer_only_registered_verifiers() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 検証", "1995-09-09").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let auth = newest(
        &sandbox,
        &device(&phone),
        CertificateKind::PHONE_AUTHENTICATION,
    )
    .await;
    let auth_pem = pem(&sandbox, &auth, "restricted-auth");

    // A second status service over the same database, restricted.
    let restricted = jpki_status::StatusService::start(
        sandbox.store.clone(),
        std::sync::Arc::new(sandbox.clock.clone()),
        jpki_status::StatusSettings {
            open: false,
            publish_crls: false,
            crl_shards: jpki_testkit::CRL_SHARDS,
            ..jpki_status::StatusSettings::new(sandbox.base_url.clone())
        },
        sandbox.status_authorities.clone(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = restricted.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let endpoint = format!("{url}/ocsp");
    let query = |extra: Vec<String>| {
        let endpoint = endpoint.clone();
        let ca = auth_pem.ca.clone();
        let cert = auth_pem.cert.clone();
        async move {
            let mut args: Vec<String> = vec!["ocsp".into()];
            args.extend(extra);
            for arg in [
                "-issuer",
                p(&ca),
                "-cert",
                p(&cert),
                "-url",
                &endpoint,
                "-CAfile",
                p(&ca),
            ] {
                args.push(arg.to_owned());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run("openssl", &args).await.1
        }
    };
    // Without a key: OCSP unauthorized, CRLs 401 — it published nothing and serves
    // what the open service published.
    let output = query(vec![]).await;
    assert!(output.contains("unauthorized"), "{output}");
    let crl_url = JpkiCertificate::from_der(&auth.der)
        .unwrap()
        .crl_distribution_points()[0]
        .replace(&sandbox.base_url, &url);
    let (ok, out) = run(
        "curl",
        &["-sS", "-o", "/dev/null", "-w", "%{http_code}", &crl_url],
    )
    .await;
    assert!(ok && out.trim() == "401", "{out}");
    // A verifier added after the start is accepted after the next tick (key reload).
    let (_, key) = create_account(&sandbox.store, "rp", AccountRole::Verifier, now(&sandbox))
        .await
        .unwrap();
    let (_, operator) = create_account(&sandbox.store, "ops", AccountRole::Hotline, now(&sandbox))
        .await
        .unwrap();
    restricted.tick().await.unwrap();
    let header = |key: &str| vec!["-header".to_owned(), format!("Authorization=Bearer {key}")];
    let output = query(header(key.expose())).await;
    assert_ocsp(&output, &auth_pem, "good", None);
    let output = query(header(operator.expose())).await;
    assert!(
        output.contains("unauthorized"),
        "an operator is not a verifier:\n{output}"
    );
    let (ok, out) = run(
        "curl",
        &[
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &format!("Authorization: Bearer {}", key.expose()),
            &crl_url,
        ],
    )
    .await;
    assert!(ok && out.trim() == "200", "{out}");
    // A disabled verifier is refused after the next tick.
    jpki_store::AccountStore::disable_account(&sandbox.store, "rp", now(&sandbox))
        .await
        .unwrap();
    restricted.tick().await.unwrap();
    let output = query(header(key.expose())).await;
    assert!(output.contains("unauthorized"), "{output}");
}

/// Two status processes over one database (as several `jpki serve` sharing a
/// PostgreSQL database): the one that did not make a change answers it after its next
/// poll; CRLs published by one are loaded by the other; two publishing the same number
/// collide on the database's key and converge on one CRL.
async fn two_status_processes_share_one_database(sandbox: Sandbox) {
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let (_, hotline_key) =
        create_account(&sandbox.store, "alice", AccountRole::Hotline, now(&sandbox))
            .await
            .unwrap();
    let resident = sandbox.resident("公的 共有", "1992-02-02").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let auth = newest(
        &sandbox,
        &device(&phone),
        CertificateKind::PHONE_AUTHENTICATION,
    )
    .await;
    let auth_pem = pem(&sandbox, &auth, "shared-auth");

    // The other process: started now, it loads the CRLs the first one published.
    let other = jpki_status::StatusService::start(
        sandbox.store.clone(),
        std::sync::Arc::new(sandbox.clock.clone()),
        jpki_status::StatusSettings {
            crl_shards: jpki_testkit::CRL_SHARDS,
            ..jpki_status::StatusSettings::new(sandbox.base_url.clone())
        },
        sandbox.status_authorities.clone(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_url = format!("http://{}", listener.local_addr().unwrap());
    let router = other.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let ocsp_other = || {
        let pem = &auth_pem;
        let url = other_url.clone();
        async move {
            let mut args = vec![
                "ocsp".to_owned(),
                "-issuer".into(),
                p(&pem.ca).into(),
                "-cert".into(),
                p(&pem.cert).into(),
                "-url".into(),
                format!("{url}/ocsp"),
                "-CAfile".into(),
                p(&pem.ca).into(),
            ];
            args.push("-no_nonce".into());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run("openssl", &args).await.1
        }
    };
    assert_ocsp(&ocsp_other().await, &auth_pem, "good", None);

    // The first process suspends; the other answers the hold after its poll.
    client
        .suspend(
            hotline_key.expose(),
            &SuspensionRequest {
                person: identify(&resident),
                scope: SuspensionScope::Phone,
                note: None,
            },
        )
        .await
        .unwrap();
    let polled = other.tick().await.unwrap();
    assert!(polled.polled_changes >= 2, "{polled:?}");
    assert_ocsp(
        &ocsp_other().await,
        &auth_pem,
        "revoked",
        Some("certificateHold"),
    );
    // A second poll finds nothing new (changes are read once).
    assert_eq!(other.tick().await.unwrap().polled_changes, 0);

    // The first publishes a delta; the other loads and serves the same bytes.
    let published = sandbox.status.tick().await.unwrap();
    assert!(!published.published.is_empty(), "{published:?}");
    let loaded = other.tick().await.unwrap();
    assert!(loaded.loaded >= 1, "{loaded:?}");
    let shard = auth.crl_shard;
    let issuer = jpki_status::IssuerId::new("auth").unwrap();
    let shard_id = jpki_status::ShardId::new(shard);
    let first_delta = sandbox.status.crls().delta(&issuer, shard_id).unwrap();
    let other_delta = other.crls().delta(&issuer, shard_id).unwrap();
    assert_eq!(first_delta.der, other_delta.der);

    // Both publish at the same instant: the same CRL numbers; the database keeps the
    // first, the second process takes it.
    sandbox.status.publish_now(true).await.unwrap();
    other.publish_now(true).await.unwrap();
    let first_full = sandbox.status.crls().full(&issuer, shard_id).unwrap();
    let other_full = other.crls().full(&issuer, shard_id).unwrap();
    assert_eq!(first_full.number, other_full.number);
    assert_eq!(first_full.der, other_full.der, "converged on the saved CRL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_status_processes_share_one_sqlite_database() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    two_status_processes_share_one_database(sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_status_processes_share_one_postgresql_database() {
    let Some((store, _guard)) = jpki_store::testing::postgres_test_store().await.unwrap() else {
        return;
    };
    let config = jpki_authority::phone::PhoneConfig {
        service_hours: jpki_authority::phone::ServiceHours::ALWAYS,
        ..jpki_authority::phone::PhoneConfig::default()
    };
    let sandbox = Sandbox::new(store, start(), config).await.unwrap();
    two_status_processes_share_one_database(sandbox).await;
}

/// A renewed OCSP responder certificate (as `jpki serve` issues before expiry) signs every
/// response made from then on, without a restart; the cached ones stay valid meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_responder_signs_from_then_on() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let resident = sandbox.resident("公的 更新", "1991-01-01").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let auth = newest(
        &sandbox,
        &device(&phone),
        CertificateKind::PHONE_AUTHENTICATION,
    )
    .await;
    let auth_pem = pem(&sandbox, &auth, "renewal-auth");
    let before = ocsp_post(&auth_pem, &["-resp_text"]).await;
    assert_ocsp(&before, &auth_pem, "good", None);
    assert!(before.contains("OCSP responder 1"), "{before}");

    // Responder number 2 of each CA, as the renewal issues it.
    let mut renewed = sandbox.status_authorities.clone();
    for authority in &mut renewed {
        let ca = if authority.issuer.as_str() == "sign" {
            sandbox.ca.ca(Purpose::Signature)
        } else {
            sandbox.ca.ca(Purpose::Authentication)
        };
        let passphrase = jpki_crypto::SecretString::from("testkit");
        let material = jpki_authority::hierarchy::issue_ocsp_responder(
            ca,
            &sandbox.store,
            &passphrase,
            1_000,
            2,
            time::Duration::days(30),
            now(&sandbox),
        )
        .await
        .unwrap();
        let (certificate, key) = jpki_authority::hierarchy::open_ocsp_responder(
            ca,
            &material.certificate_der,
            material.encrypted_key_pem.as_bytes(),
            &passphrase,
        )
        .unwrap();
        authority.responder = jpki_status::ResponderKeys {
            certificate_der: certificate.der().to_vec(),
            signer: key,
        };
    }
    sandbox.status.replace_responders(&renewed).unwrap();
    // A responder for a CA the service does not serve is refused.
    let mut foreign = renewed.clone();
    foreign[0].issuer = jpki_status::IssuerId::new("other").unwrap();
    assert!(sandbox.status.replace_responders(&foreign).is_err());

    // The next change is signed by responder 2, and answered at once.
    tick_clock(&sandbox);
    let (_, key) = create_account(&sandbox.store, "alice", AccountRole::Hotline, now(&sandbox))
        .await
        .unwrap();
    client
        .suspend(
            key.expose(),
            &SuspensionRequest {
                person: identify(&resident),
                scope: SuspensionScope::Phone,
                note: None,
            },
        )
        .await
        .unwrap();
    let after = ocsp_post(&auth_pem, &["-resp_text"]).await;
    assert_ocsp(&after, &auth_pem, "revoked", Some("certificateHold"));
    assert!(after.contains("OCSP responder 2"), "{after}");
}

// ------------------------------------------------------------------ platform operators

/// A platform proof for `action`, signed by the phone's signature or authentication key.
async fn platform_proof(
    client: &PortalClient,
    api_key: &str,
    phone: &mut Phone,
    action: &str,
    purpose: Purpose,
) -> jpki_api::PlatformProof {
    let nonce = client.platform_nonce(api_key).await.unwrap();
    let text = jpki_api::platform_to_be_signed(action, &nonce.nonce);
    let (signature, certificate) = match purpose {
        Purpose::Signature => jpki_app::relying::sign_with_sign_key(
            phone,
            &pin(PinPolicy::SignPassword, PHONE_SIGN_PASSWORD).unwrap(),
            &text,
        ),
        Purpose::Authentication => jpki_app::relying::sign_with_auth_key(
            phone,
            &pin(PinPolicy::FourDigits, PHONE_AUTH_PIN).unwrap(),
            &text,
        ),
    }
    .unwrap();
    jpki_api::PlatformProof {
        certificate: encode_der(&certificate),
        nonce: nonce.nonce,
        signature: encode_der(&signature),
    }
}

/// The platform operator's whole story: 利用者登録 with the signature certificate, login with
/// the authentication certificate as the same user id, a move that revokes the signature
/// certificate (a proof made with it is refused as revoked), re-issuance, the new
/// certificate linked to the same user id (新旧紐付け), and a held certificate refused
/// with its own code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_keeps_one_user_id_across_a_move_and_refuses_revoked_and_held_certificates() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    let client = PortalClient::new(&sandbox.serve().await.unwrap()).unwrap();
    let relying = sandbox.state.relying.clone().unwrap();
    let (_, rp_key) = relying.add_relying_party("Example 銀行").await.unwrap();
    let resident = sandbox.resident("公的 銀行", "1984-08-08").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let mut phone = sandbox.registered_phone(&client, &mut card).await.unwrap();
    let phone_sign = newest(&sandbox, &device(&phone), CertificateKind::PHONE_SIGNATURE).await;

    // 利用者登録: the basic 4 information from the signature certificate, a stable user id.
    let proof = platform_proof(&client, &rp_key, &mut phone, "register", Purpose::Signature).await;
    let user = client.platform_register(&rp_key, &proof).await.unwrap();
    assert_eq!(user.basic_info.as_ref().unwrap().name, "公的 銀行");
    assert_eq!(user.certificate_serial, phone_sign.serial.to_hex());
    // The same proof again: the nonce is single-use.
    assert_eq!(
        client_code(client.platform_register(&rp_key, &proof).await.unwrap_err()),
        ErrorCode::NonceReused
    );

    // ログイン with the authentication certificate: the same user id, no personal data.
    let proof = platform_proof(
        &client,
        &rp_key,
        &mut phone,
        "login",
        Purpose::Authentication,
    )
    .await;
    let login = client.platform_login(&rp_key, &proof).await.unwrap();
    assert_eq!(login.user_id, user.user_id);
    assert!(login.basic_info.is_none());

    // A proof made with the signature certificate just before the move...
    let stale = platform_proof(&client, &rp_key, &mut phone, "register", Purpose::Signature).await;
    tick_clock(&sandbox);
    let moved: BasicInfo = resident
        .basic_info
        .with_address("福岡県福岡市中央区天神1-8-1", None)
        .unwrap();
    sandbox
        .lifecycle()
        .record_resident_change(
            resident.id,
            ResidentChange {
                kind: ChangeKind::Move,
                new_info: moved.clone(),
                at: now(&sandbox),
            },
            "registry",
        )
        .await
        .unwrap();
    // ...is refused after it: the certificate is revoked (affiliationChanged).
    assert_eq!(
        client_code(client.platform_register(&rp_key, &stale).await.unwrap_err()),
        ErrorCode::CertificateRevoked
    );
    // The authentication certificate survives a move: still the same user.
    let proof = platform_proof(
        &client,
        &rp_key,
        &mut phone,
        "login",
        Purpose::Authentication,
    )
    .await;
    assert_eq!(
        client
            .platform_login(&rp_key, &proof)
            .await
            .unwrap()
            .user_id,
        user.user_id
    );

    // Re-issuance: a new card at the counter, then a new phone signature certificate.
    tick_clock(&sandbox);
    let mut new_card = sandbox.card(&resident, true).await.unwrap();
    tick_clock(&sandbox);
    flows::apply(
        &mut phone,
        &client,
        &mut new_card,
        &card_password().unwrap(),
        &[PhoneKind::Signature],
        &PhonePins {
            sign_password: Some(pin(PinPolicy::SignPassword, PHONE_SIGN_PASSWORD).unwrap()),
            auth_pin: None,
        },
    )
    .await
    .unwrap();
    flows::wait(&mut phone, &client, Duration::from_secs(10), false, |_| {})
        .await
        .unwrap();
    let auth_pin = pin(PinPolicy::FourDigits, PHONE_AUTH_PIN).unwrap();
    flows::register(&mut phone, &client, AuthUnlock::Pin(&auth_pin))
        .await
        .unwrap();
    let new_sign = newest(&sandbox, &device(&phone), CertificateKind::PHONE_SIGNATURE).await;
    assert_ne!(new_sign.serial, phone_sign.serial);

    // 新旧紐付け: the new certificate maps to the same user id, with the new address.
    let replacement = client
        .platform_replacement(
            &rp_key,
            &jpki_api::PlatformReplacement {
                certificate: encode_der(&new_sign.der),
            },
        )
        .await
        .unwrap();
    assert_eq!(replacement.user_id, user.user_id);
    assert_eq!(
        replacement.replaces_serial.as_deref(),
        Some(phone_sign.serial.to_hex().as_str())
    );
    assert_eq!(
        replacement.basic_info.as_ref().unwrap().address,
        moved.address()
    );
    // The old, revoked certificate names no predecessor link to follow: refused as revoked.
    assert_eq!(
        client_code(
            client
                .platform_replacement(
                    &rp_key,
                    &jpki_api::PlatformReplacement {
                        certificate: encode_der(&phone_sign.der),
                    },
                )
                .await
                .unwrap_err()
        ),
        ErrorCode::CertificateRevoked
    );

    // Lost phone: the hotline suspends; a login with the held certificate is refused as held.
    let (_, hotline_key) = create_account(
        &sandbox.store,
        "hotline-1",
        AccountRole::Hotline,
        now(&sandbox),
    )
    .await
    .unwrap();
    let held_proof = platform_proof(
        &client,
        &rp_key,
        &mut phone,
        "login",
        Purpose::Authentication,
    )
    .await;
    client
        .suspend(
            hotline_key.expose(),
            &SuspensionRequest {
                person: identify(&resident),
                scope: SuspensionScope::Phone,
                note: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        client_code(
            client
                .platform_login(&rp_key, &held_proof)
                .await
                .unwrap_err()
        ),
        ErrorCode::CertificateHeld
    );
    // A relying party without a valid key gets nothing.
    assert_eq!(
        client_code(client.platform_nonce("jpki_not-a-key").await.unwrap_err()),
        ErrorCode::RelyingPartyUnauthorized
    );
}

/// Issuance signs certificates, not OCSP responses: nothing is cached about a new serial,
/// so the first query without a nonce signs one and keeps it, and the next is a lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuance_leaves_the_first_ocsp_response_to_the_first_query() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    sandbox.serve().await.unwrap();
    let resident = sandbox.resident("公的 初回", "1985-05-05").await.unwrap();
    let before = sandbox.status.ocsp().stats();
    let card = sandbox.card(&resident, true).await.unwrap();
    let holder = Holder::Card(card.id().as_str().to_owned());
    let auth = newest(&sandbox, &holder, CertificateKind::CARD_AUTHENTICATION).await;
    assert_eq!(
        sandbox.status.ocsp().stats().presigned,
        before.presigned,
        "no response signed at issuance"
    );
    let pem = pem(&sandbox, &auth, "first-query");
    assert_ocsp(&ocsp_post(&pem, &["-no_nonce"]).await, &pem, "good", None);
    let first = sandbox.status.ocsp().stats();
    assert_eq!(first.signed_on_demand, before.signed_on_demand + 1);
    assert_ocsp(&ocsp_post(&pem, &["-no_nonce"]).await, &pem, "good", None);
    let second = sandbox.status.ocsp().stats();
    assert_eq!(second.signed_on_demand, first.signed_on_demand, "kept");
    assert_eq!(second.presigned_hits, first.presigned_hits + 1);
}

/// Issuance tells the status services the new certificates' CRL shards and times (no
/// read back): the next tick publishes a delta that lists the pending phone certificate
/// as on hold, and the poll of the database does not handle the issuance a second time.
#[tokio::test]
async fn issued_phone_certificates_are_held_in_the_next_delta_without_a_second_handling() {
    let (sandbox, _guard) = Sandbox::sqlite_at(start()).await.unwrap();
    let url = sandbox.serve().await.unwrap();
    let client = PortalClient::new(&url).unwrap();
    let resident = sandbox.resident("公的 次郎", "1985-05-05").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    // Everything so far (the card's certificates) is published and polled.
    sandbox.status.tick().await.unwrap();

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
    let auth = newest(
        &sandbox,
        &device(&phone),
        CertificateKind::PHONE_AUTHENTICATION,
    )
    .await;
    assert_eq!(auth.status, CertificateStatus::Pending);

    let report = sandbox.status.tick().await.unwrap();
    assert_eq!(
        report.polled_changes, 0,
        "the issuance notice already handled both certificates: {report:?}"
    );
    assert!(
        report
            .published
            .iter()
            .any(|(issuer, shard, _, delta)| *issuer == auth.issuer_name
                && *shard == auth.crl_shard
                && *delta),
        "a delta for the new certificate's shard: {report:?}"
    );
    let auth_pem = pem(&sandbox, &auth, "pending-auth");
    let (base, delta) = crls(&sandbox, &auth_pem, "pending-auth").await;
    assert_crl_revoked(verify_with_crls(&auth_pem, &[&base, &delta], true, now(&sandbox)).await);
    // Without the delta, the base CRL (published before the issuance) does not list it.
    assert_crl_ok(verify_with_crls(&auth_pem, &[&base], false, now(&sandbox)).await);
}

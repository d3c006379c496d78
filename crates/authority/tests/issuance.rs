//! Card issuance at the counter, end to end, on both store backends: registry → card
//! keys → card-signed CSRs → RA → CA → certificates on the card, checked by OpenSSL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use jpki_authority::AuthorityError;
use jpki_authority::ca::CertificateAuthority;
use jpki_authority::counter::{CounterPins, issue_card};
use jpki_authority::hierarchy::{HierarchySetup, LoadedCa, create_hierarchy};
use jpki_authority::registry::Registry;
use jpki_card::{CardId, VirtualCard};
use jpki_crypto::{
    DigestAlgorithm, DigestInfo, ManualClock, Pin, PinPolicy, RsaKeySize, SecretString,
    SignatureAlgorithm, verify_signature,
};
use jpki_model::{
    BasicInfo, BirthDate, CertificateKind, CertificateStatus, MyNumber, Purpose, RevocationReason,
    Sex,
};
use jpki_pkix::{JpkiCertificate, certificate_pem};
use jpki_reader::{
    CertificateSlot, JpkiAp, KeySlot, PinSlot, SupportAp, Token, Transport, TransportError,
};
use jpki_store::{CardStore, CertificateStore, Store, testing};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 +09:00);

struct World {
    store: Store,
    clock: ManualClock,
    ca: CertificateAuthority<Store>,
    registry: Registry<Store>,
    sign_ca_der: Vec<u8>,
    auth_ca_der: Vec<u8>,
    dir: tempfile::TempDir,
}

fn pins(with_signature: bool) -> CounterPins {
    CounterPins {
        sign_password: with_signature.then(|| Pin::new(PinPolicy::SignPassword, "ABC123").unwrap()),
        auth_pin: Pin::new(PinPolicy::FourDigits, "1234").unwrap(),
        support_pin: Pin::new(PinPolicy::FourDigits, "5678").unwrap(),
    }
}

async fn world(store: Store) -> World {
    let clock = ManualClock::new(NOW);
    let passphrase = SecretString::from("counter test");
    let setup = HierarchySetup {
        organizational_unit: "jpki test".into(),
        key_size: RsaKeySize::Rsa2048,
        lifetime: Duration::days(3650),
        kdf_iterations: 1_000,
        now: NOW - Duration::days(1),
    };
    let [sign, auth] = create_hierarchy(&setup, &passphrase).unwrap();
    let sign_ca = LoadedCa::open(
        Purpose::Signature,
        &sign.certificate_der,
        sign.encrypted_key_pem.as_bytes(),
        &passphrase,
    )
    .unwrap();
    let auth_ca = LoadedCa::open(
        Purpose::Authentication,
        &auth.certificate_der,
        auth.encrypted_key_pem.as_bytes(),
        &passphrase,
    )
    .unwrap();
    let ca = CertificateAuthority::new(store.clone(), sign_ca, auth_ca, Arc::new(clock.clone()))
        .unwrap();
    let registry = Registry::new(store.clone(), Arc::new(clock.clone()));
    World {
        store,
        clock,
        ca,
        registry,
        sign_ca_der: sign.certificate_der,
        auth_ca_der: auth.certificate_der,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn taro(birth_date: &str) -> BasicInfo {
    BasicInfo::new(
        "公的 太郎",
        None,
        "東京都千代田区霞が関2-1-2",
        None,
        BirthDate::parse(birth_date).unwrap(),
        Sex::Male,
    )
    .unwrap()
}

fn my_number(seed: u8) -> MyNumber {
    MyNumber::from_first_eleven(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, seed % 10]).unwrap()
}

fn write_pem(dir: &Path, name: &str, der: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, certificate_pem(der).unwrap()).unwrap();
    path
}

fn openssl(args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed");
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The (OID, UTF8String) pairs of the subjectAltName, as `openssl asn1parse` decodes them.
fn san_other_names(pem: &Path) -> Vec<(String, String)> {
    let path = pem.to_str().unwrap();
    let dump = openssl(&["asn1parse", "-in", path]);
    let lines: Vec<&str> = dump.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.contains("X509v3 Subject Alternative Name"))
        .expect("SAN present");
    let octets = lines[at + 1..]
        .iter()
        .find(|line| line.contains("OCTET STRING"))
        .unwrap();
    let offset = octets.split(':').next().unwrap().trim();
    let inner = openssl(&["asn1parse", "-in", path, "-strparse", offset]);
    let mut pairs = Vec::new();
    let mut oid = None;
    for line in inner.lines() {
        if let Some((_, value)) = line.split_once("OBJECT            :") {
            oid = Some(value.trim().to_owned());
        } else if let Some((_, value)) = line.split_once("UTF8STRING        :") {
            pairs.push((
                oid.take().expect("an OID before each value"),
                value.trim().to_owned(),
            ));
        }
    }
    pairs
}

async fn card_issuance_end_to_end(store: Store) {
    let world = world(store).await;
    let resident = world
        .registry
        .register(my_number(1), taro("1990-01-02"))
        .await
        .unwrap();
    let mut card = VirtualCard::blank(CardId::random().unwrap());
    let card_id = card.id().as_str().to_owned();

    let issued = issue_card(
        &world.ca,
        &world.store,
        &resident,
        &mut card,
        &card_id,
        &pins(true),
    )
    .await
    .unwrap();
    assert_eq!(issued.certificates.len(), 2);

    // The card now answers like an issued My Number card.
    let mut ap = JpkiAp::select(&mut card).unwrap();
    assert_eq!(ap.token().unwrap(), Token::Card);
    let auth_der = ap.read_certificate(CertificateSlot::Auth).unwrap();
    assert!(
        ap.read_certificate(CertificateSlot::Sign).is_err(),
        "signature certificate needs the password"
    );
    ap.verify(
        PinSlot::Sign,
        &Pin::new(PinPolicy::SignPassword, "ABC123").unwrap(),
    )
    .unwrap();
    let sign_der = ap.read_certificate(CertificateSlot::Sign).unwrap();
    assert_eq!(
        ap.read_certificate(CertificateSlot::SignCa).unwrap(),
        world.sign_ca_der
    );
    assert_eq!(
        ap.read_certificate(CertificateSlot::AuthCa).unwrap(),
        world.auth_ca_der
    );

    // The certificates hold the card's keys: a card signature verifies under them.
    let digest_info = DigestInfo::of(DigestAlgorithm::Sha256, b"login challenge").to_der();
    ap.verify(
        PinSlot::Auth,
        &Pin::new(PinPolicy::FourDigits, "1234").unwrap(),
    )
    .unwrap();
    let signature = ap.sign_digest_info(KeySlot::Auth, &digest_info).unwrap();
    let auth = JpkiCertificate::from_der(&auth_der).unwrap();
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        auth.public_key_der(),
        b"login challenge",
        &signature,
    )
    .unwrap();
    assert_eq!(auth.kind(), Some(CertificateKind::CARD_AUTHENTICATION));
    assert_eq!(auth.basic_info(), None);
    let sign = JpkiCertificate::from_der(&sign_der).unwrap();
    assert_eq!(sign.kind(), Some(CertificateKind::CARD_SIGNATURE));
    assert_eq!(sign.basic_info(), Some(&resident.basic_info));
    // Valid until the 5th birthday after issuance, 23:59:59 JST.
    assert_eq!(sign.not_after(), datetime!(2031-01-02 23:59:59 +09:00));

    // 券面事項入力補助AP: the My Number and the 4 attributes.
    let mut support = SupportAp::select(ap.into_transport()).unwrap();
    let (number, info) = support
        .read_support_data(&Pin::new(PinPolicy::FourDigits, "5678").unwrap())
        .unwrap();
    assert_eq!(number, resident.my_number);
    assert_eq!(info, resident.basic_info);

    // OpenSSL, an independent implementation, accepts both chains and decodes the SAN.
    let dir = world.dir.path();
    let sign_ca = write_pem(dir, "sign-ca.pem", &world.sign_ca_der);
    let auth_ca = write_pem(dir, "auth-ca.pem", &world.auth_ca_der);
    let sign_pem = write_pem(dir, "sign.pem", &sign_der);
    let auth_pem = write_pem(dir, "auth.pem", &auth_der);
    for (ca, leaf) in [(&sign_ca, &sign_pem), (&auth_ca, &auth_pem)] {
        let out = openssl(&[
            "verify",
            "-x509_strict",
            "-CAfile",
            ca.to_str().unwrap(),
            leaf.to_str().unwrap(),
        ]);
        assert!(out.trim_end().ends_with(": OK"), "{out}");
    }
    let expected = [
        ("1.2.392.200149.8.5.5.1", "公的 太郎"),
        ("1.2.392.200149.8.5.5.2", "公的 太郎"),
        ("1.2.392.200149.8.5.5.3", "1"),
        ("1.2.392.200149.8.5.5.4", "419900102"),
        ("1.2.392.200149.8.5.5.5", "東京都千代田区霞が関2-1-2"),
        ("1.2.392.200149.8.5.5.6", "東京都千代田区霞が関2-1-2"),
    ];
    let found = san_other_names(&sign_pem);
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(o, v)| (o.to_string(), v.to_string()))
        .collect();
    assert_eq!(found, expected);

    // The store knows the card and its two active certificates.
    let card_record = world.store.card(&card_id).await.unwrap().unwrap();
    assert_eq!(card_record.resident_id, resident.id);
    let records = world
        .store
        .certificates_of_resident(resident.id)
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|record| record.status == CertificateStatus::Active)
    );
}

async fn under_fifteen_gets_only_the_authentication_certificate(store: Store) {
    let world = world(store).await;
    // 15th birthday is tomorrow (JST).
    let child = world
        .registry
        .register(my_number(2), taro("2011-11-27"))
        .await
        .unwrap();

    let mut card = VirtualCard::blank(CardId::random().unwrap());
    let card_id = card.id().as_str().to_owned();
    let refused = issue_card(
        &world.ca,
        &world.store,
        &child,
        &mut card,
        &card_id,
        &pins(true),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refused, AuthorityError::SignatureUnderAge { age: 14, .. }),
        "{refused:?}"
    );
    assert!(
        world
            .store
            .certificates_of_resident(child.id)
            .await
            .unwrap()
            .is_empty(),
        "nothing issued"
    );
    assert!(
        world
            .store
            .cards_of_resident(child.id)
            .await
            .unwrap()
            .is_empty(),
        "no card recorded"
    );

    let mut card = VirtualCard::blank(CardId::random().unwrap());
    let card_id = card.id().as_str().to_owned();
    let issued = issue_card(
        &world.ca,
        &world.store,
        &child,
        &mut card,
        &card_id,
        &pins(false),
    )
    .await
    .unwrap();
    assert_eq!(issued.certificates.len(), 1);
    assert_eq!(
        issued.certificates[0].kind,
        CertificateKind::CARD_AUTHENTICATION
    );
    let mut ap = JpkiAp::select(&mut card).unwrap();
    assert!(ap.read_certificate(CertificateSlot::Auth).is_ok());
    assert!(ap.read_certificate(CertificateSlot::Sign).is_err());

    // A day later the same person may have a signature certificate.
    world.clock.advance(Duration::days(1));
    let mut card = VirtualCard::blank(CardId::random().unwrap());
    let card_id = card.id().as_str().to_owned();
    let issued = issue_card(
        &world.ca,
        &world.store,
        &child,
        &mut card,
        &card_id,
        &pins(true),
    )
    .await
    .unwrap();
    assert_eq!(issued.certificates.len(), 2);
}

async fn an_activated_card_cannot_be_issued_again(store: Store) {
    let world = world(store).await;
    let resident = world
        .registry
        .register(my_number(3), taro("1980-05-05"))
        .await
        .unwrap();
    let mut card = VirtualCard::blank(CardId::random().unwrap());
    let card_id = card.id().as_str().to_owned();
    issue_card(
        &world.ca,
        &world.store,
        &resident,
        &mut card,
        &card_id,
        &pins(true),
    )
    .await
    .unwrap();
    let again = issue_card(
        &world.ca,
        &world.store,
        &resident,
        &mut card,
        &card_id,
        &pins(true),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(again, AuthorityError::CardNotBlank(_)),
        "{again:?}"
    );
    assert_eq!(
        world
            .store
            .certificates_of_resident(resident.id)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A transport whose card goes away when the terminal starts writing certificates.
struct FailsOnWrite<'a>(&'a mut VirtualCard);

impl Transport for FailsOnWrite<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if command.get(1) == Some(&0xD6) {
            return Err(TransportError::CardRemoved);
        }
        Ok(self.0.transmit(command))
    }
}

async fn certificates_of_a_card_that_fails_after_issuance_are_revoked(store: Store) {
    let world = world(store).await;
    let resident = world
        .registry
        .register(my_number(4), taro("1975-12-31"))
        .await
        .unwrap();
    let mut card = VirtualCard::blank(CardId::random().unwrap());
    let card_id = card.id().as_str().to_owned();
    let error = issue_card(
        &world.ca,
        &world.store,
        &resident,
        FailsOnWrite(&mut card),
        &card_id,
        &pins(true),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, AuthorityError::Card(_)), "{error:?}");
    let records = world
        .store
        .certificates_of_resident(resident.id)
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    for record in records {
        assert!(
            matches!(
                record.status,
                CertificateStatus::Revoked {
                    reason: RevocationReason::Unspecified,
                    ..
                }
            ),
            "{:?}",
            record.status
        );
    }
}

async fn deceased_and_duplicate_residents_are_refused(store: Store) {
    let world = world(store).await;
    world
        .registry
        .register(my_number(5), taro("1960-01-01"))
        .await
        .unwrap();
    let duplicate = world
        .registry
        .register(my_number(5), taro("1960-01-01"))
        .await
        .unwrap_err();
    assert!(matches!(duplicate, AuthorityError::DuplicateMyNumber));

    let resident = world
        .registry
        .register(my_number(6), taro("1950-01-01"))
        .await
        .unwrap();
    let dead = jpki_store::RegistryStore::record_change(
        &world.store,
        resident.id,
        &jpki_store::ResidentChange {
            kind: jpki_store::ChangeKind::Death,
            new_info: resident.basic_info.clone(),
            at: NOW,
        },
    )
    .await
    .unwrap();
    let mut card = VirtualCard::blank(CardId::random().unwrap());
    let card_id = card.id().as_str().to_owned();
    let error = issue_card(
        &world.ca,
        &world.store,
        &dead,
        &mut card,
        &card_id,
        &pins(true),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, AuthorityError::ResidentDeceased(_)));
    assert!(
        world
            .store
            .certificates_of_resident(dead.id)
            .await
            .unwrap()
            .is_empty()
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _guard) = jpki_store::testing::sqlite_test_store().await.unwrap();
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some((store, _guard)) = super::testing::postgres_test_store().await.unwrap() {
                        super::$name(store).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    card_issuance_end_to_end,
    under_fifteen_gets_only_the_authentication_certificate,
    an_activated_card_cannot_be_issued_again,
    certificates_of_a_card_that_fails_after_issuance_are_revoked,
    deceased_and_duplicate_residents_are_refused,
);

#[test]
fn a_ca_opens_only_with_its_own_key_and_the_right_passphrase() {
    let passphrase = SecretString::from("right");
    let setup = HierarchySetup {
        organizational_unit: "jpki test".into(),
        key_size: RsaKeySize::Rsa2048,
        lifetime: Duration::days(365),
        kdf_iterations: 1_000,
        now: NOW,
    };
    let [sign, auth] = create_hierarchy(&setup, &passphrase).unwrap();
    let wrong = LoadedCa::open(
        Purpose::Signature,
        &sign.certificate_der,
        sign.encrypted_key_pem.as_bytes(),
        &SecretString::from("wrong"),
    )
    .unwrap_err();
    assert!(
        matches!(
            wrong,
            AuthorityError::CaKey(jpki_crypto::CryptoError::WrongPassphrase)
        ),
        "{wrong:?}"
    );
    let swapped = LoadedCa::open(
        Purpose::Signature,
        &sign.certificate_der,
        auth.encrypted_key_pem.as_bytes(),
        &passphrase,
    )
    .unwrap_err();
    assert!(
        matches!(swapped, AuthorityError::CaKeyMismatch("sign")),
        "{swapped:?}"
    );
    let wrong_purpose = LoadedCa::open(
        Purpose::Authentication,
        &sign.certificate_der,
        sign.encrypted_key_pem.as_bytes(),
        &passphrase,
    )
    .unwrap_err();
    assert!(
        matches!(wrong_purpose, AuthorityError::WrongCaCertificate("auth")),
        "{wrong_purpose:?}"
    );
}

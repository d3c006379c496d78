//! The whole system booted in-process for tests: a store (SQLite in a temp dir, or a
//! PostgreSQL schema), the two CAs, the registry, an SE vendor, the phone RA and the
//! portal served on a loopback port — with a [`ManualClock`] that every component shares,
//! so tests move time instead of sleeping.
//!
//! Not for production: keys are generated with few KDF iterations and PINs are fixed.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::path::PathBuf;
use std::sync::Arc;

use jpki_app::{Phone, portal_app_identity};
use jpki_authority::ca::{CertificateAuthority, RandomSerials, SerialSource, StatusEndpoints};
use jpki_authority::counter::{CounterPins, issue_card};
use jpki_authority::hierarchy::{
    HierarchySetup, LoadedCa, create_hierarchy, issue_ocsp_responder, open_ocsp_responder,
};
use jpki_authority::hotline::HotlineService;
use jpki_authority::phone::{PhoneConfig, PhoneService};
use jpki_authority::registry::Registry;
use jpki_card::{CardId, VirtualCard};
use jpki_crypto::{Clock, Kek, ManualClock, Pin, PinPolicy, RsaKeySize, SecretString};
use jpki_model::{BasicInfo, BirthDate, MyNumber, Purpose, Sex};
use jpki_portal::{AppState, SeAttestationVerifier};
use jpki_se::{AccessRules, VendorCa, VirtualSecureElement};
use jpki_status::{AuthorityKeys, IssuerId, ResponderKeys, StatusService, StatusSettings};
use jpki_store::{Resident, Store};
use time::{Duration, OffsetDateTime};

/// PINs the testkit's cards and phones use.
pub const CARD_SIGN_PASSWORD: &str = "CARD2026";
pub const CARD_AUTH_PIN: &str = "1234";
pub const CARD_SUPPORT_PIN: &str = "5678";
pub const PHONE_SIGN_PASSWORD: &str = "PHONE2026";
pub const PHONE_AUTH_PIN: &str = "4321";

/// An error setting up the sandbox, as text (tests print it).
pub type Result<T> = std::result::Result<T, String>;

fn fail<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |error| format!("{what}: {error}")
}

pub fn pin(policy: PinPolicy, text: &str) -> Result<Pin> {
    Pin::new(policy, text).map_err(fail("pin"))
}

/// The testkit card's signature password ([`CARD_SIGN_PASSWORD`]).
pub fn card_password() -> Result<Pin> {
    pin(PinPolicy::SignPassword, CARD_SIGN_PASSWORD)
}

/// The phone's signature password ([`PHONE_SIGN_PASSWORD`]).
pub fn phone_sign_password() -> Result<Pin> {
    pin(PinPolicy::SignPassword, PHONE_SIGN_PASSWORD)
}

/// The phone's authentication PIN ([`PHONE_AUTH_PIN`]).
pub fn phone_auth_pin() -> Result<Pin> {
    pin(PinPolicy::FourDigits, PHONE_AUTH_PIN)
}

/// Both phone PINs, as a new phone is given them when it applies.
pub fn phone_pins() -> Result<jpki_app::flows::PhonePins> {
    Ok(jpki_app::flows::PhonePins {
        sign_password: Some(phone_sign_password()?),
        auth_pin: Some(phone_auth_pin()?),
    })
}

/// Everything a test needs.
#[derive(Debug)]
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub clock: ManualClock,
    pub ca: Arc<CertificateAuthority<Store>>,
    pub registry: Registry<Store>,
    pub kek: Kek,
    pub vendor: VendorCa,
    pub phone: Arc<PhoneService<Store>>,
    pub state: AppState,
    pub sign_ca_der: Vec<u8>,
    pub auth_ca_der: Vec<u8>,
    /// OCSP and CRLs over the store, told about every change (no background worker:
    /// tests step it with [`StatusService::tick`]).
    pub status: Arc<StatusService>,
    /// The CAs' keys and OCSP responders the status services run with (to start another
    /// status service over the same store, e.g. a restricted one).
    pub status_authorities: Vec<AuthorityKeys>,
    /// Where [`Sandbox::serve`] listens, which the certificates name (CRL distribution
    /// points, OCSP): `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The verifiable usage log (a fresh P-256 key; the store's test pseudonym key;
    /// a tree head whenever the log grew, since the clock is manual).
    pub log: Arc<jpki_authority::usage_log::UsageLog<Store>>,
    listener: std::sync::Mutex<Option<std::net::TcpListener>>,
    next_my_number: std::sync::atomic::AtomicU64,
}

/// CRL shards per CA in the sandbox.
pub const CRL_SHARDS: u32 = 2;

impl Sandbox {
    /// A sandbox on `store`, with its clock at `now` and the phone flow configured by
    /// `config`.
    pub async fn new(store: Store, now: OffsetDateTime, config: PhoneConfig) -> Result<Self> {
        Self::with_serial_source(store, now, config, Arc::new(RandomSerials)).await
    }

    /// [`Sandbox::new`] with a CA that draws its serials from `serials`.
    pub async fn with_serial_source(
        store: Store,
        now: OffsetDateTime,
        config: PhoneConfig,
        serials: Arc<dyn SerialSource>,
    ) -> Result<Self> {
        let dir = tempfile::tempdir().map_err(fail("temp dir"))?;
        let clock = ManualClock::new(now);
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let passphrase = SecretString::from("testkit");
        let setup = HierarchySetup {
            organizational_unit: "jpki testkit".into(),
            key_size: RsaKeySize::Rsa2048,
            lifetime: Duration::days(3650),
            kdf_iterations: 1_000,
            now: now - Duration::days(1),
        };
        let [sign, auth] = create_hierarchy(&setup, &passphrase).map_err(fail("CA hierarchy"))?;
        let sign_ca = LoadedCa::open(
            Purpose::Signature,
            &sign.certificate_der,
            sign.encrypted_key_pem.as_bytes(),
            &passphrase,
        )
        .map_err(fail("sign CA"))?;
        let auth_ca = LoadedCa::open(
            Purpose::Authentication,
            &auth.certificate_der,
            auth.encrypted_key_pem.as_bytes(),
            &passphrase,
        )
        .map_err(fail("auth CA"))?;
        // The port is taken now, so that the certificates can name it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail("bind"))?;
        listener.set_nonblocking(true).map_err(fail("bind"))?;
        let base_url = format!(
            "http://{}",
            listener.local_addr().map_err(fail("local address"))?
        );
        // Each CA's delegated OCSP responder, then the status services.
        let mut authorities = Vec::new();
        for ca in [&sign_ca, &auth_ca] {
            let material = issue_ocsp_responder(
                ca,
                &store,
                &passphrase,
                1_000,
                1,
                Duration::days(30),
                now - Duration::hours(1),
            )
            .await
            .map_err(fail("OCSP responder"))?;
            let (_, key) = open_ocsp_responder(
                ca,
                &material.certificate_der,
                material.encrypted_key_pem.as_bytes(),
                &passphrase,
            )
            .map_err(fail("OCSP responder key"))?;
            authorities.push(AuthorityKeys {
                issuer: IssuerId::new(jpki_authority::hierarchy::issuer_name(ca.purpose()))
                    .map_err(fail("issuer"))?,
                ca_certificate_der: ca.certificate_der().to_vec(),
                ca_signer: ca.shared_signer(),
                responder: ResponderKeys {
                    certificate_der: material.certificate_der,
                    signer: key,
                },
            });
        }
        let settings = StatusSettings {
            crl_shards: CRL_SHARDS,
            ..StatusSettings::new(base_url.clone())
        };
        let status =
            StatusService::start(store.clone(), shared.clone(), settings, authorities.clone())
                .await
                .map_err(fail("status services"))?;
        status.catch_up().await.map_err(fail("first CRLs"))?;
        let ca = Arc::new(
            CertificateAuthority::new(store.clone(), sign_ca, auth_ca, shared.clone())
                .map_err(fail("CA"))?
                .with_endpoints(StatusEndpoints::new(base_url.clone(), CRL_SHARDS))
                .with_notifier(status.clone())
                .with_serial_source(serials),
        );
        let vendor = VendorCa::create("jpki testkit SE vendor", shared.clone())
            .map_err(fail("vendor CA"))?;
        let verifier = SeAttestationVerifier::new(vec![vendor.certificate_der().to_vec()]);
        let phone = Arc::new(PhoneService::new(
            store.clone(),
            ca.clone(),
            shared.clone(),
            Arc::new(verifier),
            config,
        ));
        let hotline = Arc::new(HotlineService::new(
            store.clone(),
            shared.clone(),
            Some(status.clone()),
        ));
        let pseudonym = jpki_store::testing::test_pseudonym_key().map_err(fail("pseudonym key"))?;
        store
            .set_log_pseudonym_key(pseudonym.clone())
            .map_err(fail("pseudonym key"))?;
        let log = Arc::new(
            jpki_authority::usage_log::UsageLog::open(
                store.clone(),
                jpki_log::LogKey::generate_p256().map_err(fail("log key"))?,
                pseudonym,
                shared.clone(),
                jpki_authority::usage_log::UsageLogConfig {
                    min_sign_interval: std::time::Duration::ZERO,
                },
            )
            .await
            .map_err(fail("usage log"))?,
        );
        Ok(Self {
            registry: Registry::new(store.clone(), shared.clone()),
            state: AppState::new(phone.clone())
                .with_hotline(hotline)
                .with_log(log.clone())
                .with_relying(relying_service(
                    &store,
                    &sign.certificate_der,
                    &auth.certificate_der,
                    shared.clone(),
                    &status,
                )?),
            dir,
            store,
            clock,
            ca,
            kek: Kek::generate().map_err(fail("KEK"))?,
            vendor,
            phone,
            sign_ca_der: sign.certificate_der,
            auth_ca_der: auth.certificate_der,
            status,
            status_authorities: authorities,
            base_url,
            log,
            listener: std::sync::Mutex::new(Some(listener)),
            next_my_number: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// A sandbox on a fresh SQLite store, clock at 2026-11-26 10:00 JST, service hours
    /// always open. The second value keeps the store's files alive.
    pub async fn sqlite() -> Result<(Self, jpki_store::testing::TestDatabase)> {
        let (store, guard) = jpki_store::testing::sqlite_test_store()
            .await
            .map_err(fail("SQLite store"))?;
        let config = PhoneConfig {
            service_hours: jpki_authority::phone::ServiceHours::ALWAYS,
            ..PhoneConfig::default()
        };
        Ok((Self::new(store, default_now(), config).await?, guard))
    }

    /// A sandbox on a fresh SQLite store with its clock at `now` (for checks by tools
    /// that read the wall clock, e.g. `openssl ocsp`), service hours always open.
    pub async fn sqlite_at(
        now: OffsetDateTime,
    ) -> Result<(Self, jpki_store::testing::TestDatabase)> {
        let (store, guard) = jpki_store::testing::sqlite_test_store()
            .await
            .map_err(fail("SQLite store"))?;
        let config = PhoneConfig {
            service_hours: jpki_authority::phone::ServiceHours::ALWAYS,
            ..PhoneConfig::default()
        };
        Ok((Self::new(store, now, config).await?, guard))
    }

    /// The lifecycle over the sandbox's store, clock and status services (what `jpki
    /// resident move|rename|death` uses).
    pub fn lifecycle(&self) -> jpki_authority::lifecycle::Lifecycle<Store> {
        jpki_authority::lifecycle::Lifecycle::new(
            self.store.clone(),
            Arc::new(self.clock.clone()),
            Some(self.status.clone() as Arc<dyn jpki_status::StatusNotifier>),
        )
    }

    /// Registers a resident born on `birth_date` with a fresh valid My Number.
    pub async fn resident(&self, name: &str, birth_date: &str) -> Result<Resident> {
        let n = self
            .next_my_number
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let text = format!("{n:011}");
        let mut digits = [0u8; 11];
        for (digit, byte) in digits.iter_mut().zip(text.bytes()) {
            *digit = byte - b'0';
        }
        let info = BasicInfo::new(
            name,
            None,
            "東京都千代田区霞が関2-1-2",
            None,
            BirthDate::parse(birth_date).map_err(fail("birth date"))?,
            Sex::Female,
        )
        .map_err(fail("basic info"))?;
        self.registry
            .register(
                MyNumber::from_first_eleven(&digits).map_err(fail("my number"))?,
                info,
            )
            .await
            .map_err(fail("register resident"))
    }

    /// Issues a My Number card (with a signature certificate when 15 or older).
    pub async fn card(&self, resident: &Resident, with_signature: bool) -> Result<VirtualCard> {
        let mut card = VirtualCard::blank(CardId::random().map_err(fail("card id"))?);
        let card_id = card.id().as_str().to_owned();
        let pins = CounterPins {
            sign_password: if with_signature {
                Some(pin(PinPolicy::SignPassword, CARD_SIGN_PASSWORD)?)
            } else {
                None
            },
            auth_pin: pin(PinPolicy::FourDigits, CARD_AUTH_PIN)?,
            support_pin: pin(PinPolicy::FourDigits, CARD_SUPPORT_PIN)?,
        };
        issue_card(&self.ca, &self.store, resident, &mut card, &card_id, &pins)
            .await
            .map_err(fail("issue card"))?;
        Ok(card)
    }

    /// A new phone: an SE made by the sandbox's vendor, with the portal app's access rule.
    pub fn phone(&self) -> Result<Phone> {
        let shared: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let mut se = VirtualSecureElement::manufacture(&self.vendor, shared)
            .map_err(fail("manufacture SE"))?;
        se.set_access_rules(AccessRules::jpki_portal_only(
            portal_app_identity().map_err(fail("identity"))?,
        ));
        Ok(Phone::new(se))
    }

    /// A new phone taken through the whole citizen flow with `card` over `client`:
    /// applied for both certificates, notified, registered with the auth PIN.
    pub async fn registered_phone(
        &self,
        client: &jpki_app::PortalClient,
        card: &mut VirtualCard,
    ) -> Result<Phone> {
        use jpki_app::flows::{self, AuthUnlock};
        let mut phone = self.phone()?;
        flows::apply(
            &mut phone,
            client,
            card,
            &card_password()?,
            &[
                jpki_api::PhoneKind::Signature,
                jpki_api::PhoneKind::Authentication,
            ],
            &phone_pins()?,
        )
        .await
        .map_err(fail("apply"))?;
        flows::wait(
            &mut phone,
            client,
            std::time::Duration::from_secs(10),
            false,
            |_| {},
        )
        .await
        .map_err(fail("wait for the notification"))?;
        flows::register(&mut phone, client, AuthUnlock::Pin(&phone_auth_pin()?))
            .await
            .map_err(fail("register"))?;
        Ok(phone)
    }

    /// Serves the portal and the status services (OCSP, CRLs); returns the base URL.
    /// The first call serves on [`Sandbox::base_url`], which the certificates name;
    /// later calls on a new port. The server runs until the test's runtime ends.
    pub async fn serve(&self) -> Result<String> {
        let reserved = self
            .listener
            .lock()
            .map_err(|_| "listener lock poisoned".to_owned())?
            .take();
        let listener = match reserved {
            Some(listener) => {
                tokio::net::TcpListener::from_std(listener).map_err(fail("listen"))?
            }
            None => tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(fail("bind"))?,
        };
        let address = listener.local_addr().map_err(fail("local address"))?;
        let app = jpki_portal::app(self.state.clone())
            .merge(self.status.router())
            .merge(jpki_web::router(
                self.web_state(jpki_web::WebConfig::default())?,
            ));
        tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let _ = axum::serve(listener, service).await;
        });
        Ok(format!("http://{address}"))
    }

    /// The web pages (`jpki-web`) over the sandbox's services, as [`Sandbox::serve`]
    /// mounts them at `/`.
    pub fn web_state(&self, config: jpki_web::WebConfig) -> Result<jpki_web::WebState> {
        jpki_web::WebState::from_portal(
            &self.state,
            self.store.clone(),
            Arc::new(self.clock.clone()),
            Some(self.status.clone() as Arc<dyn jpki_status::StatusNotifier>),
            config,
        )
        .map_err(fail("web pages"))
    }

    /// Writes a CA certificate as PEM into the sandbox directory; returns its path.
    pub fn ca_pem(&self, purpose: Purpose) -> Result<PathBuf> {
        let (name, der) = match purpose {
            Purpose::Signature => ("sign-ca.pem", &self.sign_ca_der),
            Purpose::Authentication => ("auth-ca.pem", &self.auth_ca_der),
        };
        let path = self.dir.path().join(name);
        std::fs::write(&path, jpki_pkix::certificate_pem(der).map_err(fail("PEM"))?)
            .map_err(fail("write PEM"))?;
        Ok(path)
    }
}

/// The portal's relying-party services over `store`, trusting the sandbox's two CAs and
/// asking the sandbox's status services in-process (as `jpki serve` does).
fn relying_service(
    store: &Store,
    sign_ca: &[u8],
    auth_ca: &[u8],
    clock: Arc<dyn Clock>,
    status: &Arc<StatusService>,
) -> Result<Arc<jpki_authority::relying::RelyingService<Store>>> {
    let mut trust = jpki_verify::TrustStore::new();
    trust
        .add_der(sign_ca, "sandbox sign CA")
        .map_err(fail("trust"))?;
    trust
        .add_der(auth_ca, "sandbox auth CA")
        .map_err(fail("trust"))?;
    Ok(Arc::new(jpki_authority::relying::RelyingService::new(
        store.clone(),
        Arc::new(jpki_authority::relying::portal_verifier(
            trust,
            Arc::new(jpki_status::LocalTransport::new(
                Arc::clone(status),
                tokio::runtime::Handle::current(),
                Arc::new(jpki_verify::status::http::StdHttpTransport::default()),
            )),
        )),
        clock,
        jpki_authority::relying::RelyingConfig::default(),
    )))
}

/// 2026-11-26 10:00 JST: inside the default service hours.
pub fn default_now() -> OffsetDateTime {
    time::macros::datetime!(2026-11-26 10:00 +09:00)
}

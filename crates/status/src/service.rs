//! [`StatusService`]: the status services of a running jpki, over its database — the
//! OCSP responder with its pre-signed cache, the CRL publisher, their HTTP routes, and
//! the worker that keeps them current.
//!
//! How a status change reaches relying parties:
//!
//! ```text
//! lifecycle (this process) ──certificates_changed──▶ re-sign the OCSP responses now (before the
//!                                                    API acknowledges), mark the shard dirty,
//!                                                    wake the worker
//! any process (CLI, another portal) ──commit──▶ certificates.status_changed_at
//!                                   ◀──poll (every poll_every)── worker: re-sign, mark dirty
//! worker tick: 1. changes polled   2. verifier keys reloaded   3. CRLs another process published
//!              loaded   4. a delta CRL per dirty shard, full/delta CRLs on schedule, each saved
//!              to crl_publications   5. pre-signed responses near nextUpdate re-signed
//! ```
//!
//! The decisions a reviewer will question:
//! - **The pre-signed cache is per process and in memory.** A database round trip per
//!   OCSP request would cost more than the lookup it replaces (a signature is what the
//!   cache avoids, and SQLite through sqlx is ~30 µs a row); every process keeps its own
//!   cache and re-signs on the changes it polls, so several portal processes sharing
//!   one PostgreSQL database all answer the new status within one poll interval, and
//!   the process whose API made the change answers it at once.
//! - **Polling reads a window**: changes at or after (last poll − `change_lag`) are read
//!   again and de-duplicated, so a transaction that committed late (its timestamp is
//!   its start) is not missed. Clocks of processes sharing a database must agree to
//!   within `change_lag` (default 60 s).
//! - **CRLs are published by any process with `publish_crls`**, saved in the database,
//!   and loaded by the others; two publishers colliding on a number find out through
//!   the primary key and take the other's CRL. Run one publisher where it matters.
//! - **The OCSP responder can be replaced while serving** ([`StatusService::replace_responders`],
//!   for a renewed responder certificate): the routes read the current responder for
//!   each request (an `Arc` clone under a read lock); the pre-signed cache is kept and
//!   re-signed with the new key as its entries approach nextUpdate.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawPathParams, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::routing::{get, post};
use jpki_crypto::{Clock, Signer, sha256};
use jpki_model::SerialNumber;
use jpki_store::{AccountRole, AccountStore, CrlRecord, CrlStore, StatusStore, Store, StoreError};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use tokio::sync::Notify;

use crate::crl::{CrlAuthority, CrlConfig, CrlPublisher, CrlRepository, PublishedCrl};
use crate::database::StoreStatus;
use crate::http::{Authorizer, HttpState, OpenAccess, serve_crl, serve_ocsp_get, serve_ocsp_post};
use crate::ocsp::{OcspConfig, OcspService, Responder};
use crate::presign::{InMemoryResponseCache, PresigningResponder};
use crate::{IssuerId, ShardId, StatusError};

/// Told about certificates whose status changed (issuance included), after the change
/// was committed. The lifecycle and the phone RA call it; [`StatusService`] implements
/// it.
pub trait StatusNotifier: Send + Sync + fmt::Debug {
    /// `certificates`: (issuer name, serial). Never fails: a failure is logged and the
    /// worker's poll catches the change later.
    fn certificates_changed<'a>(
        &'a self,
        certificates: &'a [(String, SerialNumber)],
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

    /// Newly issued certificates, after the issuance was committed. By default the same
    /// as a change; [`StatusService`] signs no OCSP response for them (nothing about a new
    /// serial can be cached, so nothing is stale: the first query signs and keeps one)
    /// and only marks their CRL shards for the next delta (a pending phone certificate is
    /// listed as on hold). The issuer tells what the services need (shard, time), so
    /// nothing is read back from the database on the issuance path.
    fn certificates_issued<'a>(
        &'a self,
        certificates: &'a [RecordedCertificate],
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let changed: Vec<(String, SerialNumber)> = certificates
                .iter()
                .map(|c| (c.issuer_name.clone(), c.serial.clone()))
                .collect();
            self.certificates_changed(&changed).await;
        })
    }
}

/// A certificate its issuer has just recorded, as the status services need to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCertificate {
    pub issuer_name: String,
    pub serial: SerialNumber,
    /// The CRL shard written into the certificate (and its row).
    pub crl_shard: u32,
    /// When it was recorded: its `issued_at`, which is also its row's
    /// `status_changed_at`.
    pub recorded_at: OffsetDateTime,
}

/// How the status services run. [`StatusSettings::new`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSettings {
    /// Where the status HTTP service is reachable: CRL URLs are `<base>/crl/…` and the
    /// OCSP URL `<base>/ocsp`.
    pub base_url: String,
    pub ocsp: OcspConfig,
    /// Full CRLs (default 24 h), deltas (1 h) and the overlap added to nextUpdate (1 h).
    pub full_every: Duration,
    pub delta_every: Duration,
    pub overlap: Duration,
    /// CRL shards per CA for new certificates (default 4). A shard already used by a
    /// certificate is always published.
    pub crl_shards: u32,
    /// `false`: OCSP and CRLs only for registered verifiers (`Authorization: Bearer`
    /// with a verifier account's key).
    pub open: bool,
    /// Whether this process publishes CRLs (else it serves what others published).
    pub publish_crls: bool,
    /// How late a committed change may carry its timestamp and still be polled.
    pub change_lag: Duration,
    /// How often the worker polls when nothing wakes it.
    pub poll_every: std::time::Duration,
}

impl StatusSettings {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ocsp: OcspConfig::default(),
            full_every: Duration::hours(24),
            delta_every: Duration::hours(1),
            overlap: Duration::hours(1),
            crl_shards: 4,
            open: true,
            publish_crls: true,
            change_lag: Duration::seconds(60),
            poll_every: std::time::Duration::from_secs(1),
        }
    }

    /// The OCSP URL written into certificates.
    pub fn ocsp_url(&self) -> String {
        format!("{}/ocsp", self.base_url.trim_end_matches('/'))
    }
}

/// One CA as the status services need it: its certificate, its key (CRLs), and its
/// delegated OCSP responder.
#[derive(Clone)]
pub struct AuthorityKeys {
    pub issuer: IssuerId,
    pub ca_certificate_der: Vec<u8>,
    pub ca_signer: Arc<dyn Signer>,
    pub responder: ResponderKeys,
}

/// A delegated OCSP responder: its certificate and key.
#[derive(Clone)]
pub struct ResponderKeys {
    pub certificate_der: Vec<u8>,
    pub signer: Arc<dyn Signer>,
}

impl fmt::Debug for AuthorityKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorityKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ResponderKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponderKeys([redacted])")
    }
}

/// The verifier keys of the database, reloaded by the worker: `Authorization: Bearer
/// <key>` is accepted when SHA-256 of the key is one of them (compared in constant time).
#[derive(Default)]
pub struct VerifierKeys {
    digests: RwLock<Vec<[u8; 32]>>,
}

impl fmt::Debug for VerifierKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.digests.read().map(|d| d.len()).unwrap_or(0);
        write!(f, "VerifierKeys([{count} redacted])")
    }
}

impl VerifierKeys {
    fn set(&self, digests: Vec<[u8; 32]>) {
        let mut current = self
            .digests
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = digests;
    }
}

impl Authorizer for VerifierKeys {
    fn authorize(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
        else {
            return false;
        };
        let digest = sha256(token.as_bytes());
        let digests = self
            .digests
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        digests
            .iter()
            .fold(subtle::Choice::from(0), |found, known| {
                found | known.ct_eq(&digest)
            })
            .into()
    }
}

/// Which changes the poller has handled, within the lag window.
#[derive(Debug, Default)]
struct ChangeTracker {
    watermark: Option<OffsetDateTime>,
    seen: HashMap<(String, SerialNumber), OffsetDateTime>,
}

impl ChangeTracker {
    /// Records a change; false when it was already handled.
    fn first_time(&mut self, issuer: &str, serial: &SerialNumber, at: OffsetDateTime) -> bool {
        let key = (issuer.to_owned(), serial.clone());
        if self.seen.get(&key) == Some(&at) {
            return false;
        }
        self.seen.insert(key, at);
        true
    }

    fn prune(&mut self, before: OffsetDateTime) {
        self.seen.retain(|_, at| *at >= before);
    }
}

/// What one [`StatusService::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Certificates whose changes were polled from the database and re-signed.
    pub polled_changes: usize,
    /// CRLs published, as (issuer, shard, number, delta?).
    pub published: Vec<(String, u32, u64, bool)>,
    /// CRL shards loaded from another process's publication.
    pub loaded: usize,
    /// Pre-signed responses re-signed before their nextUpdate.
    pub refreshed: usize,
}

type Lookup = Arc<StoreStatus<Store>>;
type Cache = Arc<InMemoryResponseCache>;
/// The OCSP responder the service runs.
pub type ServiceResponder = PresigningResponder<Lookup, Cache>;

/// Most changes read per poll query.
const POLL_PAGE: u32 = 1000;
/// Most refresh batches per tick.
const REFRESH_ROUNDS: usize = 10;

/// The status services over one database (see the module docs).
pub struct StatusService {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: StatusSettings,
    lookup: Lookup,
    cache: Cache,
    ocsp: RwLock<Arc<ServiceResponder>>,
    crls: Arc<CrlRepository>,
    publisher: CrlPublisher<Lookup>,
    shards: Vec<(IssuerId, u32)>,
    authorizer: Arc<dyn Authorizer>,
    verifier_keys: Option<Arc<VerifierKeys>>,
    dirty: Mutex<BTreeSet<(IssuerId, ShardId)>>,
    tracker: Mutex<ChangeTracker>,
    wake: Notify,
    tick_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for StatusService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusService")
            .field("settings", &self.settings)
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

fn store_error(error: StoreError) -> StatusError {
    StatusError::Backend(error.to_string())
}

fn responders(authorities: &[AuthorityKeys]) -> Result<Vec<Responder>, StatusError> {
    authorities
        .iter()
        .map(|authority| {
            Responder::new(
                authority.issuer.clone(),
                &authority.ca_certificate_der,
                &authority.responder.certificate_der,
                Arc::clone(&authority.responder.signer),
            )
        })
        .collect()
}

impl StatusService {
    /// Builds the services and loads the CRLs published earlier (nothing is published
    /// yet: see [`StatusService::catch_up`]).
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: StatusSettings,
        authorities: Vec<AuthorityKeys>,
    ) -> Result<Arc<Self>, StatusError> {
        // Step 1: the shards of each CA: those configured, and any a certificate uses.
        let mut shards = Vec::with_capacity(authorities.len());
        let mut crl_authorities = Vec::with_capacity(authorities.len());
        for authority in &authorities {
            let in_use = store
                .crl_shards_in_use(authority.issuer.as_str())
                .await
                .map_err(store_error)?;
            let count = settings.crl_shards.max(in_use).max(1);
            shards.push((authority.issuer.clone(), count));
            crl_authorities.push(CrlAuthority::new(
                authority.issuer.clone(),
                &authority.ca_certificate_der,
                Arc::clone(&authority.ca_signer),
                count,
            )?);
        }
        // Step 2: OCSP, CRLs, access.
        let lookup: Lookup = Arc::new(StoreStatus::new(store.clone(), Arc::clone(&clock)));
        let cache: Cache = Arc::new(InMemoryResponseCache::new());
        let service = OcspService::new(responders(&authorities)?, settings.ocsp.clone())?;
        let ocsp = Arc::new(PresigningResponder::new(
            service,
            Arc::clone(&lookup),
            Arc::clone(&cache),
            Arc::clone(&clock),
        ));
        let crls = Arc::new(CrlRepository::new());
        let crl_config = CrlConfig {
            base_url: settings.base_url.clone(),
            full_every: settings.full_every,
            delta_every: settings.delta_every,
            overlap: settings.overlap,
        };
        let publisher = CrlPublisher::new(
            Arc::clone(&lookup),
            crl_authorities,
            crl_config,
            Arc::clone(&crls),
        )?;
        let (authorizer, verifier_keys): (Arc<dyn Authorizer>, _) = if settings.open {
            (Arc::new(OpenAccess), None)
        } else {
            let keys = Arc::new(VerifierKeys::default());
            (Arc::clone(&keys) as Arc<dyn Authorizer>, Some(keys))
        };
        let status = Arc::new(Self {
            store,
            clock,
            settings,
            lookup,
            cache,
            ocsp: RwLock::new(ocsp),
            crls,
            publisher,
            shards,
            authorizer,
            verifier_keys,
            dirty: Mutex::new(BTreeSet::new()),
            tracker: Mutex::new(ChangeTracker::default()),
            wake: Notify::new(),
            tick_lock: tokio::sync::Mutex::new(()),
        });
        // Step 3: what was published before, and who may ask.
        status.load_published(true).await?;
        status.reload_verifier_keys().await?;
        Ok(status)
    }

    pub fn settings(&self) -> &StatusSettings {
        &self.settings
    }

    /// The current OCSP responder (for statistics and tests).
    pub fn ocsp(&self) -> Arc<ServiceResponder> {
        Arc::clone(&self.ocsp.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn crls(&self) -> &Arc<CrlRepository> {
        &self.crls
    }

    /// The CAs and their number of CRL shards.
    pub fn shards(&self) -> &[(IssuerId, u32)] {
        &self.shards
    }

    fn serves(&self, issuer: &str) -> Option<IssuerId> {
        self.shards
            .iter()
            .find(|(id, _)| id.as_str() == issuer)
            .map(|(id, _)| id.clone())
    }

    /// What the HTTP adapter serves now (the current responder).
    fn http_state(&self) -> HttpState<Lookup, Cache> {
        HttpState {
            ocsp: self.ocsp(),
            crls: Arc::clone(&self.crls),
            authorizer: Arc::clone(&self.authorizer),
        }
    }

    /// The routes of [`crate::http::router`] — `POST /ocsp`, `GET /ocsp/{request}`, `GET
    /// /crl/{issuer}/{file}` — each served by the responder current at the time of the
    /// request.
    pub fn router(self: &Arc<Self>) -> Router {
        let limit = self.settings.ocsp.max_request_bytes;
        Router::new()
            .route(
                "/ocsp",
                post(
                    |State(status): State<Arc<Self>>, headers: HeaderMap, body: Bytes| async move {
                        serve_ocsp_post(&status.http_state(), &headers, &body).await
                    },
                )
                .layer(DefaultBodyLimit::max(limit)),
            )
            .route(
                "/ocsp/",
                get(|State(status): State<Arc<Self>>, headers: HeaderMap| async move {
                    serve_ocsp_get(&status.http_state(), "", &headers).await
                }),
            )
            .route(
                "/ocsp/{*request}",
                get(
                    |State(status): State<Arc<Self>>, headers: HeaderMap, params: RawPathParams| async move {
                        let encoded = params
                            .iter()
                            .find(|(name, _)| *name == "request")
                            .map(|(_, value)| value)
                            .unwrap_or_default();
                        serve_ocsp_get(&status.http_state(), encoded, &headers).await
                    },
                ),
            )
            .route(
                "/crl/{issuer}/{file}",
                get(
                    |State(status): State<Arc<Self>>,
                     headers: HeaderMap,
                     Path((issuer, file)): Path<(String, String)>| async move {
                        serve_crl(&status.http_state(), &headers, &issuer, &file)
                    },
                ),
            )
            .with_state(Arc::clone(self))
    }

    /// Swaps in new responder certificates and keys (a renewal). The CAs must be the
    /// ones the service was started with.
    pub fn replace_responders(&self, authorities: &[AuthorityKeys]) -> Result<(), StatusError> {
        for authority in authorities {
            if self.serves(authority.issuer.as_str()).is_none() {
                return Err(StatusError::UnknownAuthority(authority.issuer.to_string()));
            }
        }
        let service = OcspService::new(responders(authorities)?, self.settings.ocsp.clone())?;
        let ocsp = Arc::new(PresigningResponder::new(
            service,
            Arc::clone(&self.lookup),
            Arc::clone(&self.cache),
            Arc::clone(&self.clock),
        ));
        *self.ocsp.write().unwrap_or_else(|p| p.into_inner()) = ocsp;
        tracing::info!(code = "STATUS0001", "OCSP responders replaced");
        Ok(())
    }

    /// Re-signs the OCSP responses of the given certificates now and marks their CRL
    /// shards for a delta; the worker publishes it. See [`StatusNotifier`].
    pub async fn changed(&self, certificates: &[(String, SerialNumber)]) {
        let ocsp = self.ocsp();
        for (issuer, serial) in certificates {
            let Some(issuer_id) = self.serves(issuer) else {
                continue;
            };
            if let Err(error) = ocsp.on_status_change(&issuer_id, serial).await {
                tracing::error!(code = "STATUS0002", %issuer, %serial, %error, "re-signing after a status change failed; the poll will retry");
                continue;
            }
            match self.store.certificate_status(issuer, serial).await {
                Ok(Some(record)) => {
                    self.mark_dirty(issuer_id, ShardId::new(record.crl_shard));
                    self.tracker
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .first_time(issuer, serial, record.status_changed_at);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(code = "STATUS0003", %error, "reading a changed certificate failed");
                }
            }
        }
        self.wake.notify_one();
    }

    /// Newly issued certificates: see [`StatusNotifier::certificates_issued`]. Issuance
    /// signs two certificates per phone application; pre-signing their OCSP responses
    /// here as well would double the signatures on the issuance path, for responses
    /// that registration replaces anyway. Nothing is read: the shard and the time come
    /// with the notice (the time as the store keeps it, so that the poll, which reads
    /// `status_changed_at`, sees the change as handled).
    pub async fn issued(&self, certificates: &[RecordedCertificate]) {
        for certificate in certificates {
            let Some(issuer_id) = self.serves(&certificate.issuer_name) else {
                continue;
            };
            self.mark_dirty(issuer_id, ShardId::new(certificate.crl_shard));
            self.tracker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .first_time(
                    &certificate.issuer_name,
                    &certificate.serial,
                    jpki_store::stored_instant(certificate.recorded_at),
                );
        }
        self.wake.notify_one();
    }

    fn mark_dirty(&self, issuer: IssuerId, shard: ShardId) {
        self.dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((issuer, shard));
    }

    /// Publishes what a start needs: a full CRL (with its empty delta) for every shard
    /// without one, a delta for every other shard (changes made while no process
    /// published). Does nothing when this process does not publish.
    pub async fn catch_up(&self) -> Result<Vec<Arc<PublishedCrl>>, StatusError> {
        if !self.settings.publish_crls {
            return Ok(Vec::new());
        }
        let _guard = self.tick_lock.lock().await;
        let now = self.clock.now();
        let mut published = Vec::new();
        for (issuer, count) in &self.shards {
            for shard in (0..*count).map(ShardId::new) {
                let crls = if self.crls.full(issuer, shard).is_some() {
                    vec![self.publisher.publish_delta(issuer, shard, now).await?]
                } else {
                    let pair = self.publisher.publish_full(issuer, shard, now).await?;
                    vec![pair.full, pair.delta]
                };
                for crl in crls {
                    self.save(&crl).await?;
                    published.push(crl);
                }
            }
        }
        Ok(published)
    }

    /// Publishes, for every shard, a full CRL (with its empty delta) or a delta CRL
    /// now, and saves them (`jpki crl publish`).
    pub async fn publish_now(&self, full: bool) -> Result<Vec<Arc<PublishedCrl>>, StatusError> {
        let _guard = self.tick_lock.lock().await;
        let now = self.clock.now();
        let mut published = Vec::new();
        for (issuer, count) in &self.shards {
            for shard in (0..*count).map(ShardId::new) {
                let has_base = self.crls.full(issuer, shard).is_some();
                let crls = if full || !has_base {
                    let pair = self.publisher.publish_full(issuer, shard, now).await?;
                    vec![pair.full, pair.delta]
                } else {
                    vec![self.publisher.publish_delta(issuer, shard, now).await?]
                };
                for crl in crls {
                    self.save(&crl).await?;
                    published.push(crl);
                }
            }
        }
        Ok(published)
    }

    async fn save(&self, crl: &PublishedCrl) -> Result<(), StatusError> {
        let record = CrlRecord {
            issuer_name: crl.issuer.to_string(),
            shard: crl.shard.get(),
            number: crl.number,
            base_number: crl.base_number,
            this_update: crl.this_update,
            next_update: crl.next_update,
            der: crl.der.to_vec(),
        };
        match self.store.save_crl(&record).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict { .. }) => {
                // Another process published this number first: serve its CRL.
                tracing::warn!(code = "STATUS0004", issuer = %crl.issuer, shard = %crl.shard, number = crl.number, "another process published this CRL number; loading its CRLs");
                self.load_shard(&crl.issuer, crl.shard).await.map(|_| ())
            }
            Err(error) => Err(store_error(error)),
        }
    }

    /// Loads CRLs another process (or an earlier run) published, when they are newer
    /// than the ones served. Returns how many shards were loaded.
    async fn load_published(&self, at_start: bool) -> Result<usize, StatusError> {
        let heads = self.store.crl_heads().await.map_err(store_error)?;
        let mut loaded = 0;
        for (issuer, shard, number) in heads {
            let Some(issuer_id) = self.serves(&issuer) else {
                continue;
            };
            let shard = ShardId::new(shard);
            if !self
                .shards
                .iter()
                .any(|(id, count)| *id == issuer_id && shard.get() < *count)
            {
                continue;
            }
            let served = [
                self.crls.full(&issuer_id, shard),
                self.crls.delta(&issuer_id, shard),
            ]
            .into_iter()
            .flatten()
            .map(|crl| crl.number)
            .max()
            .unwrap_or(0);
            if number > served {
                match self.load_shard(&issuer_id, shard).await {
                    Ok(true) => loaded += 1,
                    Ok(false) => {}
                    Err(error) if at_start => {
                        tracing::warn!(code = "STATUS0005", %issuer, %shard, %error, "a published CRL could not be loaded; a new one will be published");
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(loaded)
    }

    async fn load_shard(&self, issuer: &IssuerId, shard: ShardId) -> Result<bool, StatusError> {
        let (full, delta) = self
            .store
            .latest_crls(issuer.as_str(), shard.get())
            .await
            .map_err(store_error)?;
        let Some(full) = full else {
            return Ok(false);
        };
        self.publisher
            .restore(
                issuer,
                shard,
                &full.der,
                delta.as_ref().map(|delta| delta.der.as_slice()),
            )
            .await?;
        Ok(true)
    }

    async fn reload_verifier_keys(&self) -> Result<(), StatusError> {
        let Some(keys) = &self.verifier_keys else {
            return Ok(());
        };
        let digests = self
            .store
            .key_hashes(AccountRole::Verifier)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter_map(|hash| <[u8; 32]>::try_from(hash.as_slice()).ok())
            .collect();
        keys.set(digests);
        Ok(())
    }

    /// Reads status changes committed since the last poll (by any process) and
    /// re-signs their OCSP responses; returns how many.
    async fn poll_changes(&self) -> Result<usize, StatusError> {
        let now = self.clock.now();
        let mut since = {
            let tracker = self.tracker.lock().unwrap_or_else(|p| p.into_inner());
            tracker.watermark.unwrap_or(now) - self.settings.change_lag
        };
        let ocsp = self.ocsp();
        let mut handled = 0;
        let mut after: Option<(String, SerialNumber)> = None;
        loop {
            let changes = self
                .store
                .status_changes_since(
                    since,
                    after
                        .as_ref()
                        .map(|(issuer, serial)| (issuer.as_str(), serial)),
                    POLL_PAGE,
                )
                .await
                .map_err(store_error)?;
            let full_page = changes.len() >= POLL_PAGE as usize;
            for change in &changes {
                let new = self
                    .tracker
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .first_time(
                        &change.issuer_name,
                        &change.serial,
                        change.status_changed_at,
                    );
                if !new {
                    continue;
                }
                let Some(issuer) = self.serves(&change.issuer_name) else {
                    continue;
                };
                if let Err(error) = ocsp.on_status_change(&issuer, &change.serial).await {
                    tracing::error!(code = "STATUS0006", issuer = %change.issuer_name, serial = %change.serial, %error, "re-signing a polled change failed");
                }
                self.mark_dirty(issuer, ShardId::new(change.crl_shard));
                handled += 1;
            }
            // The next page starts right after the last change read (keyset paging, so
            // that many changes sharing one timestamp are all read).
            match changes.last() {
                Some(last) if full_page => {
                    since = last.status_changed_at;
                    after = Some((last.issuer_name.clone(), last.serial.clone()));
                }
                _ => break,
            }
        }
        let mut tracker = self.tracker.lock().unwrap_or_else(|p| p.into_inner());
        tracker.watermark = Some(now);
        tracker.prune(now - self.settings.change_lag);
        Ok(handled)
    }

    /// One round of the worker (see the module docs); the worker calls it on every
    /// wake-up and poll, tests call it to step the services deterministically.
    pub async fn tick(&self) -> Result<TickReport, StatusError> {
        let _guard = self.tick_lock.lock().await;
        let mut report = TickReport {
            polled_changes: self.poll_changes().await?,
            ..TickReport::default()
        };
        self.reload_verifier_keys().await?;
        report.loaded = self.load_published(false).await?;
        if self.settings.publish_crls {
            let now = self.clock.now();
            let dirty: Vec<(IssuerId, ShardId)> =
                std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|p| p.into_inner()))
                    .into_iter()
                    .collect();
            let mut published = Vec::new();
            for (issuer, shard) in dirty {
                if self.crls.full(&issuer, shard).is_none() {
                    continue; // the schedule below publishes its first full CRL
                }
                published.push(self.publisher.publish_delta(&issuer, shard, now).await?);
            }
            published.extend(self.publisher.publish_due(now).await?);
            for crl in &published {
                self.save(crl).await?;
                report.published.push((
                    crl.issuer.to_string(),
                    crl.shard.get(),
                    crl.number,
                    crl.base_number.is_some(),
                ));
            }
        } else {
            self.dirty.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
        let ocsp = self.ocsp();
        for _ in 0..REFRESH_ROUNDS {
            let refresh = ocsp.refresh().await?;
            report.refreshed += refresh.signatures;
            if !refresh.more_due {
                break;
            }
        }
        Ok(report)
    }

    /// Runs the worker until `shutdown` resolves: a tick whenever a change is notified
    /// and at least every `poll_every`.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_every) => {}
            }
            match self.tick().await {
                Ok(report) if !report.published.is_empty() || report.polled_changes > 0 => {
                    tracing::debug!(?report, "status worker tick");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(code = "STATUS0007", %error, "status worker tick failed; retrying at the next poll");
                }
            }
        }
    }
}

impl StatusNotifier for StatusService {
    fn certificates_changed<'a>(
        &'a self,
        certificates: &'a [(String, SerialNumber)],
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(self.changed(certificates))
    }

    fn certificates_issued<'a>(
        &'a self,
        certificates: &'a [RecordedCertificate],
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(self.issued(certificates))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use time::macros::datetime;

    #[test]
    fn the_tracker_handles_each_change_once_within_the_window() {
        let mut tracker = ChangeTracker::default();
        let serial = SerialNumber::from_hex("0A").unwrap();
        let t1 = datetime!(2026-11-26 10:00 UTC);
        let t2 = datetime!(2026-11-26 10:05 UTC);
        assert!(tracker.first_time("auth", &serial, t1));
        assert!(
            !tracker.first_time("auth", &serial, t1),
            "read again: skipped"
        );
        assert!(tracker.first_time("sign", &serial, t1), "another issuer");
        assert!(tracker.first_time("auth", &serial, t2), "a later change");
        tracker.prune(t2);
        assert!(
            tracker.first_time("sign", &serial, t1),
            "forgotten outside the window"
        );
    }

    #[test]
    fn verifier_keys_accept_only_current_bearer_keys() {
        let keys = VerifierKeys::default();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(!keys.authorize(&with("Bearer jpki_abc")), "no keys yet");
        keys.set(vec![sha256(b"jpki_abc")]);
        assert!(keys.authorize(&with("Bearer jpki_abc")));
        assert!(keys.authorize(&with("bearer   jpki_abc ")));
        assert!(!keys.authorize(&with("Bearer jpki_abd")));
        assert!(!keys.authorize(&with("Basic jpki_abc")));
        assert!(!keys.authorize(&with("Bearer ")));
        assert!(!keys.authorize(&HeaderMap::new()));
        keys.set(Vec::new());
        assert!(!keys.authorize(&with("Bearer jpki_abc")), "a disabled key");
        assert!(!format!("{keys:?}").contains("abc"));
    }

    #[test]
    fn settings_name_the_ocsp_url_under_the_base() {
        assert_eq!(
            StatusSettings::new("http://127.0.0.1:8080/").ocsp_url(),
            "http://127.0.0.1:8080/ocsp"
        );
        let settings = StatusSettings::new("https://status.example.jp");
        assert!(settings.open && settings.publish_crls);
        assert_eq!(settings.crl_shards, 4);
    }
}

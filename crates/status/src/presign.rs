//! Pre-signed OCSP responses (RFC 5019 §2.1.1 "pre-produced responses"): a request
//! without a nonce about one certificate costs a cache lookup, not a signature.
//!
//! [`PresigningResponder`] puts the pieces together: the [`OcspService`], a
//! [`StatusLookup`], a [`ResponseCache`] and a [`Clock`].
//!
//! 1. [`PresigningResponder::handle`] answers cacheable requests (one CertID, no
//!    nonce, a pre-signed hash) from the cache while the cached response is within its
//!    validity; on a miss it looks the status up, signs, serves and keeps the response.
//!    Everything else (nonces, several CertIDs, other hashes) is signed on demand.
//!    A cacheable request seen before is recognised by its bytes as received (the DER
//!    of a POST, the path of a GET: [`PresigningResponder::handle_get`]) without being
//!    decoded or parsed again — the hot path of a responder that answers the same few
//!    million certificates all day.
//! 2. [`PresigningResponder::on_status_change`] re-signs the cached responses of one
//!    certificate (every responder of its CA × every pre-signed hash) with the status
//!    it reads now. The lifecycle calls it after every issuance, hold, release and
//!    revocation.
//! 3. [`PresigningResponder::refresh`] re-signs, in batches, the responses whose
//!    nextUpdate is closer than `refresh_margin`; call it periodically.
//!
//! The decisions a reviewer will question:
//! - **Races cannot leave a stale status in the cache.** Status changes and refreshes
//!   of one certificate are serialised (a lock stripe per certificate) and always write;
//!   the request path writes only when no fresh entry exists
//!   ([`ResponseCache::put_if_stale`]), so a request that read the old status just
//!   before a change can never overwrite the response `on_status_change` signed after
//!   it. (Across processes sharing one database, run `on_status_change` and `refresh`
//!   in one process; request paths anywhere.)
//! - **The cache is a trait**: the in-memory map here is for tests, benchmarks and a
//!   single process; several stateless responder processes share a table in the
//!   database instead (ARCHITECTURE "OCSP responses are pre-signed and cached").
//! - **Unknown serials are never cached**: an `unknown` answer is signed on demand
//!   each time, so a certificate is `good` from the moment it exists.

use std::collections::{BTreeSet, HashMap};
use std::future::{Future, ready};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use jpki_crypto::Clock;
use jpki_model::SerialNumber;
use time::OffsetDateTime;

use crate::ocsp::{OcspReply, OcspService, PresignedKey, PresignedResponse};
use crate::{IssuerId, StatusError, StatusLookup};

/// Where pre-signed responses are kept.
pub trait ResponseCache: Send + Sync {
    fn get(
        &self,
        key: &PresignedKey,
    ) -> impl Future<Output = Result<Option<PresignedResponse>, StatusError>> + Send;

    /// Stores `response`, replacing any entry.
    fn put(
        &self,
        key: PresignedKey,
        response: PresignedResponse,
    ) -> impl Future<Output = Result<(), StatusError>> + Send;

    /// Stores `response` only when there is no entry, or the entry's nextUpdate is not
    /// after `now`. Returns whether it stored.
    fn put_if_stale(
        &self,
        key: PresignedKey,
        response: PresignedResponse,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StatusError>> + Send;

    fn remove(&self, key: &PresignedKey) -> impl Future<Output = Result<(), StatusError>> + Send;

    /// Up to `limit` certificates with an entry whose nextUpdate is at or before
    /// `before`, soonest first.
    fn due(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(IssuerId, SerialNumber)>, StatusError>> + Send;
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<PresignedKey, PresignedResponse>,
    by_next_update: BTreeSet<(OffsetDateTime, PresignedKey)>,
}

impl CacheInner {
    fn insert(&mut self, key: PresignedKey, response: PresignedResponse) {
        if let Some(old) = self.entries.get(&key) {
            self.by_next_update.remove(&(old.next_update, key.clone()));
        }
        self.by_next_update
            .insert((response.next_update, key.clone()));
        self.entries.insert(key, response);
    }

    fn remove(&mut self, key: &PresignedKey) {
        if let Some(old) = self.entries.remove(key) {
            self.by_next_update.remove(&(old.next_update, key.clone()));
        }
    }
}

/// Pre-signed responses in a map, with an index by nextUpdate for [`ResponseCache::due`].
#[derive(Debug, Default)]
pub struct InMemoryResponseCache {
    inner: RwLock<CacheInner>,
}

impl InMemoryResponseCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheInner> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheInner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ResponseCache for InMemoryResponseCache {
    fn get(
        &self,
        key: &PresignedKey,
    ) -> impl Future<Output = Result<Option<PresignedResponse>, StatusError>> + Send {
        ready(Ok(self.read().entries.get(key).cloned()))
    }

    fn put(
        &self,
        key: PresignedKey,
        response: PresignedResponse,
    ) -> impl Future<Output = Result<(), StatusError>> + Send {
        self.write().insert(key, response);
        ready(Ok(()))
    }

    fn put_if_stale(
        &self,
        key: PresignedKey,
        response: PresignedResponse,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StatusError>> + Send {
        let mut inner = self.write();
        let fresh = inner
            .entries
            .get(&key)
            .is_some_and(|existing| existing.next_update > now);
        if !fresh {
            inner.insert(key, response);
        }
        ready(Ok(!fresh))
    }

    fn remove(&self, key: &PresignedKey) -> impl Future<Output = Result<(), StatusError>> + Send {
        self.write().remove(key);
        ready(Ok(()))
    }

    fn due(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(IssuerId, SerialNumber)>, StatusError>> + Send {
        let inner = self.read();
        let due = inner
            .by_next_update
            .iter()
            .take_while(|(next_update, _)| *next_update <= before)
            .take(limit)
            .filter_map(|(_, key)| inner.entries.get(key))
            .map(|entry| (entry.issuer.clone(), entry.serial.clone()))
            .collect();
        ready(Ok(due))
    }
}

impl<T: ResponseCache> ResponseCache for Arc<T> {
    fn get(
        &self,
        key: &PresignedKey,
    ) -> impl Future<Output = Result<Option<PresignedResponse>, StatusError>> + Send {
        (**self).get(key)
    }

    fn put(
        &self,
        key: PresignedKey,
        response: PresignedResponse,
    ) -> impl Future<Output = Result<(), StatusError>> + Send {
        (**self).put(key, response)
    }

    fn put_if_stale(
        &self,
        key: PresignedKey,
        response: PresignedResponse,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StatusError>> + Send {
        (**self).put_if_stale(key, response, now)
    }

    fn remove(&self, key: &PresignedKey) -> impl Future<Output = Result<(), StatusError>> + Send {
        (**self).remove(key)
    }

    fn due(
        &self,
        before: OffsetDateTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(IssuerId, SerialNumber)>, StatusError>> + Send {
        (**self).due(before, limit)
    }
}

/// Counters since start, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OcspStats {
    /// Requests served from the pre-signed cache.
    pub presigned_hits: u64,
    /// Requests answered with a fresh signature (cache misses included).
    pub signed_on_demand: u64,
    /// Requests refused (malformed, unauthorized, backend or signing failures).
    pub refused: u64,
    /// Responses signed ahead of time (status changes and refreshes).
    pub presigned: u64,
}

#[derive(Debug, Default)]
struct Counters {
    presigned_hits: AtomicU64,
    signed_on_demand: AtomicU64,
    refused: AtomicU64,
    presigned: AtomicU64,
}

/// What one [`PresigningResponder::refresh`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Certificates whose responses were re-signed.
    pub certificates: usize,
    /// Signatures made.
    pub signatures: usize,
    /// Certificates that failed (logged); they stay due.
    pub failed: usize,
    /// True when the batch was full: call again.
    pub more_due: bool,
}

const LOCK_STRIPES: usize = 64;

/// Most request identities [`PresigningResponder`] remembers (cleared when full).
const REMEMBERED_REQUESTS: usize = 100_000;

/// What identifies a request as received: its DER (POST), or its GET path tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    Der = 0,
    Path = 1,
}

fn identity(received: Received, bytes: &[u8]) -> Box<[u8]> {
    let mut identity = Vec::with_capacity(bytes.len() + 1);
    identity.push(received as u8);
    identity.extend_from_slice(bytes);
    identity.into_boxed_slice()
}

/// The OCSP responder with its pre-signed cache (see the module docs).
pub struct PresigningResponder<L, C> {
    service: OcspService,
    lookup: L,
    cache: C,
    clock: Arc<dyn Clock>,
    locks: Vec<tokio::sync::Mutex<()>>,
    counters: Counters,
    /// Requests seen before, by their bytes as received, mapped to their pre-signed
    /// cache key: a repeated request costs a hash lookup instead of decoding and
    /// parsing. Only cacheable queries are remembered; the mapping is a pure function of
    /// the bytes and this responder's configuration.
    remembered: RwLock<HashMap<Box<[u8]>, PresignedKey>>,
}

impl<L, C> std::fmt::Debug for PresigningResponder<L, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresigningResponder")
            .field("service", &self.service)
            .field("clock", &self.clock)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<L: StatusLookup, C: ResponseCache> PresigningResponder<L, C> {
    pub fn new(service: OcspService, lookup: L, cache: C, clock: Arc<dyn Clock>) -> Self {
        Self {
            service,
            lookup,
            cache,
            clock,
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            counters: Counters::default(),
            remembered: RwLock::new(HashMap::new()),
        }
    }

    pub fn service(&self) -> &OcspService {
        &self.service
    }

    pub fn lookup(&self) -> &L {
        &self.lookup
    }

    pub fn cache(&self) -> &C {
        &self.cache
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn stats(&self) -> OcspStats {
        OcspStats {
            presigned_hits: self.counters.presigned_hits.load(Ordering::Relaxed),
            signed_on_demand: self.counters.signed_on_demand.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
            presigned: self.counters.presigned.load(Ordering::Relaxed),
        }
    }

    fn count(&self, reply: OcspReply) -> OcspReply {
        let counter = match reply.source {
            crate::ocsp::ReplySource::Presigned => &self.counters.presigned_hits,
            crate::ocsp::ReplySource::SignedNow => &self.counters.signed_on_demand,
            crate::ocsp::ReplySource::Refused => &self.counters.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        reply
    }

    /// The fresh pre-signed reply of a request seen before, if any.
    async fn remembered_reply(&self, identity: &[u8]) -> Option<OcspReply> {
        let key = self
            .remembered
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(identity)
            .cloned()?;
        match self.cache.get(&key).await {
            Ok(Some(entry)) if entry.next_update > self.clock.now() => {
                Some(self.count(entry.reply()))
            }
            _ => None,
        }
    }

    fn remember(&self, identity: Box<[u8]>, key: &PresignedKey) {
        let mut remembered = self
            .remembered
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if remembered.len() >= REMEMBERED_REQUESTS {
            remembered.clear();
        }
        remembered.insert(identity, key.clone());
    }

    /// Answers one request (see the module docs for the cache rules).
    pub async fn handle(&self, request_der: &[u8]) -> OcspReply {
        let identity = identity(Received::Der, request_der);
        if let Some(reply) = self.remembered_reply(&identity).await {
            return reply;
        }
        self.handle_parsed(request_der, identity).await
    }

    /// Answers an RFC 5019 GET whose path tail (as received) is `path`; `decode` turns
    /// it into the request DER. `None` when it does not decode.
    pub async fn handle_get(
        &self,
        path: &str,
        decode: impl FnOnce(&str) -> Option<Vec<u8>>,
    ) -> Option<OcspReply> {
        let identity = identity(Received::Path, path.as_bytes());
        if let Some(reply) = self.remembered_reply(&identity).await {
            return Some(reply);
        }
        let der = decode(path)?;
        Some(self.handle_parsed(&der, identity).await)
    }

    async fn handle_parsed(&self, request_der: &[u8], identity: Box<[u8]>) -> OcspReply {
        let now = self.clock.now();
        let query = match self.service.parse(request_der) {
            Ok(query) => query,
            Err(error) => return self.count(OcspReply::for_error(&error)),
        };
        let Some(key) = self.service.cache_key(&query) else {
            return self.count(self.service.respond_query(&query, now, &self.lookup).await);
        };
        self.remember(identity, &key);
        match self.cache.get(&key).await {
            Ok(Some(entry)) if entry.next_update > now => return self.count(entry.reply()),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(code = "OCSP0003", %error, "pre-signed cache read failed; signing on demand");
            }
        }
        // A miss: sign now, serve, and keep it for the next request.
        let Some(serial) = query.serials().next().flatten().cloned() else {
            return self.count(self.service.respond_query(&query, now, &self.lookup).await);
        };
        let status = match self.lookup.status(query.issuer(), &serial).await {
            Ok(status) => status,
            Err(error) => return self.count(OcspReply::for_error(&error)),
        };
        let reply = self
            .service
            .answer(&query, std::slice::from_ref(&status), now);
        if let Some(hints) = &reply.cache {
            let entry = PresignedResponse {
                issuer: query.issuer().clone(),
                serial,
                der: reply.der.clone(),
                produced_at: hints.produced_at,
                this_update: hints.this_update,
                next_update: hints.next_update,
                etag: hints.etag.clone(),
            };
            if let Err(error) = self.cache.put_if_stale(key, entry, now).await {
                tracing::warn!(code = "OCSP0004", %error, "pre-signed cache write failed");
            }
        }
        self.count(reply)
    }

    fn lock_for(&self, issuer: &IssuerId, serial: &SerialNumber) -> &tokio::sync::Mutex<()> {
        let mut hasher = DefaultHasher::new();
        issuer.hash(&mut hasher);
        serial.hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % LOCK_STRIPES as u64).unwrap_or(0);
        &self.locks[index % self.locks.len()]
    }

    /// Re-signs the cached responses of `serial` of `issuer` with its status now (or
    /// drops them when the lookup no longer knows it). Returns the number of responses
    /// signed. Call it after every status change, issuance included.
    pub async fn on_status_change(
        &self,
        issuer: &IssuerId,
        serial: &SerialNumber,
    ) -> Result<usize, StatusError> {
        let _guard = self.lock_for(issuer, serial).lock().await;
        let now = self.clock.now();
        let status = self.lookup.status(issuer, serial).await?;
        let mut signed = 0;
        for responder in self.service.responders_for(issuer) {
            for &hash in &self.service.config().presign_hashes {
                match &status {
                    Some(status) => {
                        let (key, response) =
                            self.service.presign(responder, serial, hash, status, now)?;
                        self.cache.put(key, response).await?;
                        signed += 1;
                    }
                    None => {
                        let key =
                            PresignedKey(der::Encode::to_der(&responder.cert_id(serial, hash)?)?);
                        self.cache.remove(&key).await?;
                    }
                }
            }
        }
        self.counters
            .presigned
            .fetch_add(signed as u64, Ordering::Relaxed);
        Ok(signed)
    }

    /// Re-signs up to `refresh_batch` certificates whose pre-signed responses expire
    /// within `refresh_margin` of now.
    pub async fn refresh(&self) -> Result<RefreshReport, StatusError> {
        let config = self.service.config();
        let horizon = self.clock.now() + config.refresh_margin;
        let due = self.cache.due(horizon, config.refresh_batch).await?;
        let more_due = due.len() >= config.refresh_batch;
        let certificates: BTreeSet<(IssuerId, SerialNumber)> = due.into_iter().collect();
        let mut report = RefreshReport {
            more_due,
            ..RefreshReport::default()
        };
        for (issuer, serial) in certificates {
            match self.on_status_change(&issuer, &serial).await {
                Ok(signed) => {
                    report.certificates += 1;
                    report.signatures += signed;
                }
                Err(error) => {
                    report.failed += 1;
                    tracing::error!(code = "OCSP0005", %issuer, %serial, %error, "refresh failed");
                }
            }
        }
        Ok(report)
    }
}

//! The CRL publisher: per CA and shard, full CRLs and delta CRLs over the last full
//! one, kept in a [`CrlRepository`] that the HTTP adapter serves.
//!
//! ```text
//! shard s of CA c              URL (cRLDistributionPoints of its certificates = IDP of its CRLs)
//!   full CRL  #N               <base>/crl/<c>/<s>.crl         all held and revoked certificates
//!                                                             + freshestCRL → <base>/crl/<c>/<s>-delta.crl
//!   delta CRL #M > N           <base>/crl/<c>/<s>-delta.crl   deltaCRLIndicator N (critical):
//!                                                             every change since #N was made —
//!                                                             new holds and revocations with their
//!                                                             reason, removeFromCRL for released holds
//! ```
//!
//! [`CrlPublisher::publish_full`] makes a full CRL and, right after it, an empty delta
//! over it (so the delta URL always serves a delta that fits the current base);
//! [`CrlPublisher::publish_delta`] makes the next delta; [`CrlPublisher::publish_due`]
//! does whichever the schedule in [`CrlConfig`] calls for. Time is a parameter.
//!
//! Not here: choosing a certificate's shard (the CA does, once, with
//! [`crate::ShardId::for_serial`] or its own rule, and writes [`crate::crl_url`] into the
//! certificate), storing the CRLs durably (the caller persists
//! [`PublishedCrl::der`] and reloads it with [`CrlPublisher::restore`]).
//!
//! The decisions a reviewer will question:
//! - **A released hold is taken off the CRL.** J-LIS never releases a hold on its CRL
//!   (JPKI-FACTS §3.2: "一時保留の解除は行わない"; the certificate is revoked
//!   later); the jpki lifecycle does release holds (a found phone's authentication
//!   certificate), so the delta CRL carries `removeFromCRL` for it and the next full CRL
//!   simply omits it (RFC 5280 §5.3.1, §5.2.4; OpenSSL honours both, STACK-NOTES §2).
//! - **CRL numbers are `max(previous + 1, Unix time of thisUpdate)`**, full and delta
//!   alike (one sequence per scope, RFC 5280 §5.2.3). They increase across restarts
//!   without any stored counter (as Boulder's CRL numbers, which are timestamps), and
//!   [`CrlPublisher::restore`] takes the previous numbers into account when CRLs were
//!   published faster than one per second.
//! - **nextUpdate = thisUpdate + period + overlap** (defaults: full 24 h + 1 h, delta
//!   1 h + 1 h): the next CRL is due one period later, and a relying party that fetched
//!   just before it keeps a valid CRL while it fetches again.
//! - **The delta is computed from changes, not by diffing two lists**: the source
//!   reports what changed since the base (an index on the change time in SQL), and the
//!   publisher remembers only the base's holds (few) to know which releases need
//!   `removeFromCRL`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use jpki_crypto::Signer;
use jpki_model::{RevocationReason, SerialNumber};
use jpki_pkix::JpkiCertificate;
use jpki_pkix::crl::{CrlEntry, CrlIssuer, CrlKind, CrlTemplate, CrlView, encode_crl};
use time::{Duration, OffsetDateTime};

use crate::ocsp::etag_of;
use crate::{
    IssuerId, KnownStatus, RevocationSource, ShardId, StatusError, crl_url, delta_crl_url,
};

/// The publication schedule and where the CRLs are reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlConfig {
    /// Where the status HTTP service is reachable; [`crate::crl_url`] appends
    /// `/crl/<issuer>/<shard>.crl`.
    pub base_url: String,
    /// A full CRL is published this often (default 24 h: the daily CRL of JPKI-FACTS §3.2).
    pub full_every: Duration,
    /// A delta CRL is published this often (default 1 h).
    pub delta_every: Duration,
    /// Added to each period for nextUpdate (default 1 h).
    pub overlap: Duration,
}

impl CrlConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            full_every: Duration::hours(24),
            delta_every: Duration::hours(1),
            overlap: Duration::hours(1),
        }
    }

    fn check(&self) -> Result<(), StatusError> {
        let url = self.base_url.to_ascii_lowercase();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(StatusError::Config(
                "the CRL base URL must be an http or https URL".to_owned(),
            ));
        }
        if self.full_every <= Duration::ZERO
            || self.delta_every <= Duration::ZERO
            || self.overlap < Duration::ZERO
        {
            return Err(StatusError::Config(
                "CRL periods must be positive and the overlap not negative".to_owned(),
            ));
        }
        Ok(())
    }
}

/// A CA that signs CRLs: its certificate, its key and its number of shards.
pub struct CrlAuthority {
    issuer: IssuerId,
    crl_issuer: CrlIssuer,
    certificate: JpkiCertificate,
    signer: Arc<dyn Signer>,
    shards: u32,
}

impl fmt::Debug for CrlAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrlAuthority")
            .field("issuer", &self.issuer)
            .field("subject", &self.certificate.subject().to_rfc4514())
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

impl CrlAuthority {
    /// Refuses a certificate that cannot sign CRLs, a signer that does not hold its
    /// key, and zero shards.
    pub fn new(
        issuer: IssuerId,
        ca_certificate_der: &[u8],
        signer: Arc<dyn Signer>,
        shards: u32,
    ) -> Result<Self, StatusError> {
        let crl_issuer = CrlIssuer::new(ca_certificate_der)?;
        let certificate = JpkiCertificate::from_der(ca_certificate_der)?;
        if signer.public_key_der() != certificate.public_key_der() {
            return Err(StatusError::Config(format!(
                "the CRL signing key of {issuer} is not its CA certificate's key"
            )));
        }
        if shards == 0 {
            return Err(StatusError::Config(format!(
                "{issuer} needs at least one CRL shard"
            )));
        }
        Ok(Self {
            issuer,
            crl_issuer,
            certificate,
            signer,
            shards,
        })
    }

    pub fn issuer(&self) -> &IssuerId {
        &self.issuer
    }

    pub fn shards(&self) -> u32 {
        self.shards
    }
}

/// A signed CRL as published.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishedCrl {
    pub issuer: IssuerId,
    pub shard: ShardId,
    /// The DER `CertificateList`.
    pub der: Bytes,
    pub number: u64,
    /// `Some(base)` for a delta CRL.
    pub base_number: Option<u64>,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub entries: usize,
    pub etag: String,
}

impl fmt::Debug for PublishedCrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedCrl")
            .field("issuer", &self.issuer)
            .field("shard", &self.shard)
            .field("number", &self.number)
            .field("base_number", &self.base_number)
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("entries", &self.entries)
            .field("bytes", &self.der.len())
            .finish()
    }
}

#[derive(Debug, Default, Clone)]
struct ShardCrls {
    full: Option<Arc<PublishedCrl>>,
    delta: Option<Arc<PublishedCrl>>,
}

/// The latest published CRLs, read by the HTTP adapter.
#[derive(Debug, Default)]
pub struct CrlRepository {
    crls: RwLock<HashMap<(IssuerId, ShardId), ShardCrls>>,
}

impl CrlRepository {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn full(&self, issuer: &IssuerId, shard: ShardId) -> Option<Arc<PublishedCrl>> {
        self.read()
            .get(&(issuer.clone(), shard))
            .and_then(|crls| crls.full.clone())
    }

    pub fn delta(&self, issuer: &IssuerId, shard: ShardId) -> Option<Arc<PublishedCrl>> {
        self.read()
            .get(&(issuer.clone(), shard))
            .and_then(|crls| crls.delta.clone())
    }

    /// Makes `crl` the latest of its kind for its shard. A full CRL retires the delta
    /// of the previous base.
    pub fn store(&self, crl: PublishedCrl) -> Arc<PublishedCrl> {
        let crl = Arc::new(crl);
        let mut crls = self
            .crls
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let slot = crls.entry((crl.issuer.clone(), crl.shard)).or_default();
        if crl.base_number.is_some() {
            slot.delta = Some(Arc::clone(&crl));
        } else {
            slot.full = Some(Arc::clone(&crl));
            if slot
                .delta
                .as_ref()
                .is_some_and(|delta| delta.base_number != Some(crl.number))
            {
                slot.delta = None;
            }
        }
        crl
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(IssuerId, ShardId), ShardCrls>> {
        self.crls
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug)]
struct BaseState {
    number: u64,
    this_update: OffsetDateTime,
    /// Certificates on hold in the base, with the start of the hold.
    holds: HashMap<SerialNumber, OffsetDateTime>,
}

#[derive(Debug, Default)]
struct ShardState {
    last_number: u64,
    base: Option<BaseState>,
    last_delta_at: Option<OffsetDateTime>,
}

impl ShardState {
    fn next_number(&mut self, now: OffsetDateTime) -> u64 {
        let clock = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let number = self.last_number.saturating_add(1).max(clock);
        self.last_number = number;
        number
    }
}

/// What [`CrlPublisher::publish_full`] produced.
#[derive(Debug, Clone)]
pub struct PublishedPair {
    pub full: Arc<PublishedCrl>,
    /// The (empty) delta published with it.
    pub delta: Arc<PublishedCrl>,
}

/// Publishes the CRLs of every shard of every configured CA (see the module docs).
pub struct CrlPublisher<S> {
    source: S,
    authorities: Vec<CrlAuthority>,
    config: CrlConfig,
    repository: Arc<CrlRepository>,
    shards: HashMap<(IssuerId, ShardId), tokio::sync::Mutex<ShardState>>,
}

impl<S> fmt::Debug for CrlPublisher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrlPublisher")
            .field("authorities", &self.authorities)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The CRL entry of a held or revoked certificate; `None` for a good one. The second
/// value is the start of a hold.
fn entry_of(
    serial: &SerialNumber,
    status: &KnownStatus,
) -> Result<Option<(CrlEntry, Option<OffsetDateTime>)>, StatusError> {
    Ok(match status {
        KnownStatus::Good => None,
        KnownStatus::Held { since }
        | KnownStatus::Revoked {
            at: since,
            reason: RevocationReason::CertificateHold,
        } => Some((
            CrlEntry::new(serial, *since, Some(RevocationReason::CertificateHold))?,
            Some(*since),
        )),
        KnownStatus::Revoked { at, reason } => {
            // removeFromCRL is not a reason a revoked certificate can have: keep it
            // listed, without a reason.
            let reason = (*reason != RevocationReason::RemoveFromCrl).then_some(*reason);
            Some((CrlEntry::new(serial, *at, reason)?, None))
        }
    })
}

fn sorted_unique(
    mut statuses: Vec<(SerialNumber, KnownStatus)>,
) -> Vec<(SerialNumber, KnownStatus)> {
    statuses.sort_by(|a, b| a.0.cmp(&b.0));
    statuses.dedup_by(|later, earlier| later.0 == earlier.0);
    statuses
}

impl<S: RevocationSource> CrlPublisher<S> {
    pub fn new(
        source: S,
        authorities: Vec<CrlAuthority>,
        config: CrlConfig,
        repository: Arc<CrlRepository>,
    ) -> Result<Self, StatusError> {
        config.check()?;
        let mut shards = HashMap::new();
        for authority in &authorities {
            for shard in 0..authority.shards {
                let key = (authority.issuer.clone(), ShardId::new(shard));
                if shards
                    .insert(key, tokio::sync::Mutex::new(ShardState::default()))
                    .is_some()
                {
                    return Err(StatusError::Config(format!(
                        "CA {} is configured twice",
                        authority.issuer
                    )));
                }
            }
        }
        Ok(Self {
            source,
            authorities,
            config,
            repository,
            shards,
        })
    }

    pub fn repository(&self) -> &Arc<CrlRepository> {
        &self.repository
    }

    pub fn config(&self) -> &CrlConfig {
        &self.config
    }

    fn authority(&self, issuer: &IssuerId) -> Result<&CrlAuthority, StatusError> {
        self.authorities
            .iter()
            .find(|authority| authority.issuer == *issuer)
            .ok_or_else(|| StatusError::UnknownAuthority(issuer.to_string()))
    }

    fn shard_state(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
    ) -> Result<&tokio::sync::Mutex<ShardState>, StatusError> {
        self.shards
            .get(&(issuer.clone(), shard))
            .ok_or_else(|| StatusError::Config(format!("{issuer} has no CRL shard {shard}")))
    }

    /// Publishes a full CRL of (`issuer`, `shard`) at `now`, then an empty delta over it.
    pub async fn publish_full(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
        now: OffsetDateTime,
    ) -> Result<PublishedPair, StatusError> {
        let authority = self.authority(issuer)?;
        let mut state = self.shard_state(issuer, shard)?.lock().await;
        let full = self.full_locked(authority, shard, &mut state, now).await?;
        let delta = self.delta_locked(authority, shard, &mut state, now).await?;
        Ok(PublishedPair { full, delta })
    }

    /// Publishes the next delta CRL of (`issuer`, `shard`) at `now`, over the last full
    /// CRL published or restored.
    pub async fn publish_delta(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
        now: OffsetDateTime,
    ) -> Result<Arc<PublishedCrl>, StatusError> {
        let authority = self.authority(issuer)?;
        let mut state = self.shard_state(issuer, shard)?.lock().await;
        self.delta_locked(authority, shard, &mut state, now).await
    }

    /// Publishes what the schedule calls for at `now`, shard by shard: a full CRL (with
    /// its delta) when there is none or the last is `full_every` old, else a delta when
    /// the last is `delta_every` old. Returns what was published.
    pub async fn publish_due(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<Arc<PublishedCrl>>, StatusError> {
        let mut published = Vec::new();
        for authority in &self.authorities {
            for shard in (0..authority.shards).map(ShardId::new) {
                let mut state = self.shard_state(&authority.issuer, shard)?.lock().await;
                let full_due = state
                    .base
                    .as_ref()
                    .is_none_or(|base| now >= base.this_update + self.config.full_every);
                if full_due {
                    published.push(self.full_locked(authority, shard, &mut state, now).await?);
                    published.push(self.delta_locked(authority, shard, &mut state, now).await?);
                } else if state
                    .last_delta_at
                    .is_none_or(|last| now >= last + self.config.delta_every)
                {
                    published.push(self.delta_locked(authority, shard, &mut state, now).await?);
                }
            }
        }
        Ok(published)
    }

    /// Reloads a shard's last published full CRL (and its delta, if any) after a
    /// restart: both are checked (signed by the CA, the shard's scope, a full and a
    /// delta over it), served again, and their numbers continue the sequence.
    pub async fn restore(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
        full_der: &[u8],
        delta_der: Option<&[u8]>,
    ) -> Result<(), StatusError> {
        let authority = self.authority(issuer)?;
        let scope = crl_url(&self.config.base_url, issuer, shard);
        let check = |der: &[u8], delta: bool| -> Result<CrlView, StatusError> {
            let view = CrlView::from_der(der)?;
            view.verify_signature(&authority.certificate)?;
            if view.distribution_point_urls() != [scope.clone()] {
                return Err(StatusError::Config(format!(
                    "the CRL to restore is not the one of {scope}"
                )));
            }
            if view.is_delta() != delta || view.number().is_none() {
                return Err(StatusError::Config(format!(
                    "expected a {} CRL with a number",
                    if delta { "delta" } else { "full" }
                )));
            }
            Ok(view)
        };
        let full = check(full_der, false)?;
        let delta = delta_der.map(|der| check(der, true)).transpose()?;
        let number = full.number().unwrap_or_default();
        if let Some(delta) = &delta
            && delta.base_number() != Some(number)
        {
            return Err(StatusError::Config(
                "the delta CRL to restore is not over the full CRL to restore".to_owned(),
            ));
        }
        let mut holds = HashMap::new();
        for entry in full.entries() {
            if entry.reason() == Some(RevocationReason::CertificateHold)
                && let Some(serial) = entry.serial()
            {
                holds.insert(serial, entry.revoked_at());
            }
        }
        let mut state = self.shard_state(issuer, shard)?.lock().await;
        let published = |view: &CrlView| PublishedCrl {
            issuer: issuer.clone(),
            shard,
            der: Bytes::copy_from_slice(view.der()),
            number: view.number().unwrap_or_default(),
            base_number: view.base_number(),
            this_update: view.this_update(),
            next_update: view.next_update().unwrap_or_else(|| view.this_update()),
            entries: view.len(),
            etag: etag_of(view.der()),
        };
        self.repository.store(published(&full));
        state.last_number = state.last_number.max(number);
        state.base = Some(BaseState {
            number,
            this_update: full.this_update(),
            holds,
        });
        state.last_delta_at = None;
        if let Some(delta) = &delta {
            self.repository.store(published(delta));
            state.last_number = state.last_number.max(delta.number().unwrap_or_default());
            state.last_delta_at = Some(delta.this_update());
        }
        Ok(())
    }

    async fn full_locked(
        &self,
        authority: &CrlAuthority,
        shard: ShardId,
        state: &mut ShardState,
        now: OffsetDateTime,
    ) -> Result<Arc<PublishedCrl>, StatusError> {
        // 1. Read the shard's held and revoked certificates.
        let statuses = sorted_unique(self.source.revoked(&authority.issuer, shard).await?);
        let mut entries = Vec::with_capacity(statuses.len());
        let mut holds = HashMap::new();
        for (serial, status) in &statuses {
            if let Some((entry, hold)) = entry_of(serial, status)? {
                entries.push(entry);
                if let Some(since) = hold {
                    holds.insert(serial.clone(), since);
                }
            }
        }
        drop(statuses);
        // 2. Number and template.
        let number = state.next_number(now);
        let template = CrlTemplate {
            number,
            this_update: now,
            next_update: now + self.config.full_every + self.config.overlap,
            distribution_point: Some(crl_url(&self.config.base_url, &authority.issuer, shard)),
            only_user_certificates: true,
            kind: CrlKind::Full {
                freshest_crl: Some(delta_crl_url(
                    &self.config.base_url,
                    &authority.issuer,
                    shard,
                )),
            },
        };
        // 3. Encode and sign off the async workers, then publish.
        let published = self.sign(authority, shard, template, entries).await?;
        state.base = Some(BaseState {
            number,
            this_update: now.replace_nanosecond(0).unwrap_or(now),
            holds,
        });
        tracing::info!(issuer = %authority.issuer, %shard, number, entries = published.entries, "published full CRL");
        Ok(self.repository.store(published))
    }

    async fn delta_locked(
        &self,
        authority: &CrlAuthority,
        shard: ShardId,
        state: &mut ShardState,
        now: OffsetDateTime,
    ) -> Result<Arc<PublishedCrl>, StatusError> {
        let (base_number, since) = match &state.base {
            Some(base) => (base.number, base.this_update),
            None => {
                return Err(StatusError::NoBaseCrl {
                    issuer: authority.issuer.to_string(),
                    shard: shard.get(),
                });
            }
        };
        // 1. What changed since the base was made.
        let changes = sorted_unique(
            self.source
                .changed_since(&authority.issuer, shard, since)
                .await?,
        );
        let mut entries = Vec::with_capacity(changes.len());
        for (serial, status) in &changes {
            match status {
                KnownStatus::Good => {
                    // A hold of the base was released: take it off.
                    if let Some(since) = state.base.as_ref().and_then(|base| base.holds.get(serial))
                    {
                        entries.push(CrlEntry::new(
                            serial,
                            *since,
                            Some(RevocationReason::RemoveFromCrl),
                        )?);
                    }
                }
                other => {
                    if let Some((entry, _)) = entry_of(serial, other)? {
                        entries.push(entry);
                    }
                }
            }
        }
        // 2. Number, template, sign, publish.
        let number = state.next_number(now);
        let template = CrlTemplate {
            number,
            this_update: now,
            next_update: now + self.config.delta_every + self.config.overlap,
            distribution_point: Some(crl_url(&self.config.base_url, &authority.issuer, shard)),
            only_user_certificates: true,
            kind: CrlKind::Delta { base_number },
        };
        let published = self.sign(authority, shard, template, entries).await?;
        state.last_delta_at = Some(now);
        tracing::info!(issuer = %authority.issuer, %shard, number, base_number, entries = published.entries, "published delta CRL");
        Ok(self.repository.store(published))
    }

    async fn sign(
        &self,
        authority: &CrlAuthority,
        shard: ShardId,
        template: CrlTemplate,
        entries: Vec<CrlEntry>,
    ) -> Result<PublishedCrl, StatusError> {
        let crl_issuer = authority.crl_issuer.clone();
        let signer = Arc::clone(&authority.signer);
        let count = entries.len();
        let (der, template) = tokio::task::spawn_blocking(move || {
            encode_crl(&crl_issuer, &template, &entries, signer.as_ref()).map(|der| (der, template))
        })
        .await
        .map_err(|e| StatusError::Task(e.to_string()))??;
        let etag = etag_of(&der);
        Ok(PublishedCrl {
            issuer: authority.issuer.clone(),
            shard,
            der: Bytes::from(der),
            number: template.number,
            base_number: match template.kind {
                CrlKind::Delta { base_number } => Some(base_number),
                CrlKind::Full { .. } => None,
            },
            this_update: template
                .this_update
                .replace_nanosecond(0)
                .unwrap_or(template.this_update),
            next_update: template
                .next_update
                .replace_nanosecond(0)
                .unwrap_or(template.next_update),
            entries: count,
            etag,
        })
    }
}

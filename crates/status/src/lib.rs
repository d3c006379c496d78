//! Revocation status services: the OCSP responder (with pre-signed responses) and the
//! sharded full + delta CRL publisher, with their HTTP adapter.
//!
//! Scope:
//! - [`ocsp`]: the sans-I/O OCSP core — request DER and a time in, response DER out
//!   ([`OcspService`], one [`Responder`] per CA with its delegated responder
//!   certificate).
//! - [`presign`]: [`PresigningResponder`], which serves requests without a nonce from a
//!   [`ResponseCache`] of pre-signed responses, re-signs on status changes
//!   ([`PresigningResponder::on_status_change`]) and before nextUpdate
//!   ([`PresigningResponder::refresh`]).
//! - [`crl`]: [`CrlPublisher`], full and delta CRLs per CA and shard into a
//!   [`CrlRepository`]; [`crl_url`] is the one mapping (base URL, CA, shard) → URL.
//! - [`http`]: [`http::router`] — `POST /ocsp`, `GET /ocsp/{base64}`,
//!   `GET /crl/{ca}/{shard}.crl`, `GET /crl/{ca}/{shard}-delta.crl` — with RFC 5019
//!   cache headers and an [`http::Authorizer`] hook.
//! - [`lookup`]: the data seams [`StatusLookup`] and [`RevocationSource`], which speak
//!   [`KnownStatus`] (good / held since / revoked at, with reason;
//!   [`KnownStatus::from_certificate_status`] maps the lifecycle's statuses, `Pending`
//!   as a hold), and [`InMemoryStatus`], which implements both.
//! - [`bench`](mod@bench): [`bench::bench_crl`] and [`bench::bench_ocsp_presigned`] for `jpki bench`.
//! - [`database`]: [`StoreStatus`], the data seams over `jpki-store`'s read-only
//!   `StatusStore` view.
//! - [`service`]: [`StatusService`], everything above assembled over one database —
//!   routes, the worker that polls status changes and publishes CRLs (saved in the
//!   database, shared by every process), and [`StatusNotifier`], which the lifecycle
//!   calls so that a change is answered by OCSP before the API acknowledges it.
//!
//! Not here: changing a status (the lifecycle in `jpki-authority` does, then calls
//! [`StatusNotifier::certificates_changed`]), issuing responder certificates (the
//! authority does; the composition root hands the keys over), TLS.
//!
//! The decisions a reviewer will question (details in each module):
//! - **The data seams are async traits** returning `Send` futures (as `jpki-store`'s),
//!   because the real backend is sqlx; the protocol cores stay synchronous and take
//!   the looked-up statuses as values ([`OcspService::parse`] → look up →
//!   [`OcspService::answer`]).
//! - **A message naming no CA of ours is `unauthorized`; a foreign CertID inside a
//!   message we answer is `unknown`** ([`ocsp`]).
//! - **nextUpdate = thisUpdate + 1 h** for OCSP by default; full CRLs daily, deltas
//!   hourly, each valid one hour past the next publication ([`OcspConfig`],
//!   [`CrlConfig`]).
//! - **Unauthorized OCSP queries get the OCSP status `unauthorized` in a `200`**,
//!   CRL downloads a `401` ([`http`]).
//! - **Released holds leave the CRL** (`removeFromCRL` in the delta), unlike J-LIS,
//!   which never releases a hold on its CRL ([`crl`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod bench;
pub mod crl;
pub mod database;
mod error;
pub mod http;
mod ids;
pub mod local;
pub mod lookup;
pub mod ocsp;
pub mod presign;
pub mod service;

pub use crl::{CrlAuthority, CrlConfig, CrlPublisher, CrlRepository, PublishedCrl, PublishedPair};
pub use database::StoreStatus;
pub use error::StatusError;
pub use http::{HttpState, router};
pub use ids::{IssuerId, ShardId, crl_path, crl_url, delta_crl_path, delta_crl_url};
pub use local::LocalTransport;
pub use lookup::{InMemoryStatus, KnownStatus, RevocationSource, StatusLookup};
pub use ocsp::{
    CacheHints, OcspConfig, OcspQuery, OcspReply, OcspService, PresignedKey, PresignedResponse,
    ReplySource, Responder,
};
pub use presign::{
    InMemoryResponseCache, OcspStats, PresigningResponder, RefreshReport, ResponseCache,
};
pub use service::{
    AuthorityKeys, RecordedCertificate, ResponderKeys, StatusNotifier, StatusService,
    StatusSettings, TickReport,
};

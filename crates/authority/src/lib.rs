//! The issuing side of jpki: resident registry, registration authority (RA) and
//! certificate authority (CA), and the municipal counter that issues My Number cards.
//!
//! Scope:
//! - [`registry::Registry`]: residents with the basic 4 information and their history.
//! - [`hierarchy`]: creating and loading the two CAs (signature, user authentication)
//!   with their keys encrypted at rest.
//! - [`ra`]: the policy checks that turn a request into an [`ra::AuthorizedIssuance`],
//!   the only input the CA accepts.
//! - [`ca::CertificateAuthority`]: serial allocation (persisted before signing),
//!   certificate signing through `jpki-pkix`, recording in the store.
//! - [`counter`]: card issuance at the counter, driving a card through `jpki-reader`.
//! - [`lifecycle`]: the certificate lifecycle state machine — the one place a status
//!   changes (hold, release, revocation with its RFC 5280 reason), written with the
//!   usage history and the audit log in one transaction — and its policies (hotline
//!   suspension, 異動等失効).
//! - [`hotline`]: operators and verifiers with API keys: suspension, look-up, links.
//! - [`phone`]: also the app's lift, revocations and PIN reset, signed with the card.
//! - [`usage_log`]: the verifiable usage log's tree heads, history bundles, consistency
//!   proofs and the operator's audit.
//!
//! Not here: the status services themselves (`jpki-status`, told about every change
//! through its `StatusNotifier`), the portal, relying-party checks.
//!
//! A decision a reviewer may question: the CA computes the validity period itself
//! (from the authorization's date of birth, renewal and cap, and its own notAfter), so a
//! caller cannot ask for a certificate that outlives what the rule allows; the RA only
//! decides *whether* and *what kind*.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod ca;
pub mod counter;
mod error;
pub mod hierarchy;
pub mod hotline;
pub mod lifecycle;
pub mod phone;
pub mod ra;
pub mod registry;
pub mod relying;
pub mod usage_log;

pub use error::AuthorityError;

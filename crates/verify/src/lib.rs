//! Relying-party SDK for JPKI signatures and logins: what a government service, a private
//! company or a platform operator runs to accept a signed application or a login.
//!
//! Scope:
//! - [`TrustStore`]: the trusted roots — this deployment's own CA certificates (PEM/DER
//!   files or a directory) and, when configured, the real public J-LIS CA certificates
//!   ([`TrustStore::add_jlis_dir`], checked against their published fingerprints).
//! - [`path`]: RFC 5280 §6.1 path building and validation (signatures, validity, name
//!   chaining, basicConstraints and pathLen, keyUsage, JPKI policies per kind, unknown
//!   critical extensions).
//! - [`Verifier::verify_cms_detached`]: a detached CMS SignedData over a document
//!   (digest, signed attributes, signature, signer certificate, path, status).
//! - [`Verifier::verify_login`]: a user-authentication certificate's signature over a
//!   server challenge (PKCS#1 v1.5 over the SHA-256 DigestInfo of the challenge, which is
//!   what a card's `80 2A` produces).
//! - [`status`]: revocation status by OCSP (POST or RFC 5019 GET, through an injectable
//!   [`status::http::HttpTransport`]) and CRLs (with delta CRLs), cached until their
//!   nextUpdate, under a [`StatusPolicy`]: OCSP first, CRL only, or offline.
//! - [`Report`]: the [`Verdict`] (`Valid` / `Invalid { reason }` / `Indeterminate { reason
//!   }`), the certificate kind, the basic 4 information, the path and the [`Evidence`]
//!   used, serializable to JSON for a portal to store, and [`Report::render`] for a person
//!   (Japanese first, English after). Exit codes for a CLI: [`EXIT_VALID`] = 0,
//!   [`EXIT_INVALID`] = 1, [`EXIT_INDETERMINATE`] = 2.
//!
//! Not here: any server (this crate depends on no server crate), the certificate formats
//! themselves (jpki-pkix), linking old and new certificates of a person, and status of
//! intermediate CA certificates (JPKI paths are root → end entity; see [`path`]).
//!
//! The decisions a reviewer will question:
//! - **Outcomes are values, not errors.** Every verify method returns a [`Report`]; a bad
//!   signature, an expired certificate and an unreachable responder are verdicts with a
//!   typed reason, so no caller can mistake "could not check" for "checked". Errors
//!   ([`VerifyError`]) are for loading anchors and similar set-up.
//! - **Time is a parameter.** Every check takes the instant to check at; the SDK never
//!   reads the clock itself, so a portal can re-check a stored signature as of the day it
//!   was received, and tests move time instead of sleeping.
//! - **The signer's claimed signingTime is reported, never used**: it is whatever the
//!   signer's software wrote. Validity and status are checked at the caller's instant.
//! - **Synchronous, with a pluggable transport** (see [`status::http`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod cms;
mod error;
mod login;
pub mod path;
pub mod status;
pub mod trust;
mod verdict;
mod verifier;

pub use error::VerifyError;
pub use login::verify_challenge_signature;
pub use path::{ParsedCertificate, PathFailure, ValidatedPath};
pub use status::{StatusOptions, StatusPolicy};
pub use trust::{JLIS_CA_FINGERPRINTS, TrustAnchor, TrustStore};
pub use verdict::{
    Base64Bytes, CertificateState, CertificateSummary, CheckKind, CrlReference, EXIT_INDETERMINATE,
    EXIT_INVALID, EXIT_VALID, Evidence, IndeterminateReason, InvalidReason, Report,
    SignatureTarget, StatusEvidence, Verdict, indeterminate_text, invalid_text,
};
pub use verifier::Verifier;

//! JPKI certificate formats: OIDs, the CA and end-entity profiles, CSRs, parsing.
//!
//! Scope:
//! - [`oid`]: the JPKI identifiers (SAN otherName types, policies) and our own arc
//!   `2.25.228021176431277688793511615349129701746` for what JPKI does not publish.
//! - [`build_ca_certificate`]: self-signed signature / user-authentication roots shaped
//!   like the real J-LIS CAs (two OUs, Japanese directory name in subjectAltName).
//! - [`Issuer`] / [`issue_end_entity`]: the four end-entity kinds (card and phone,
//!   signature and authentication) from one [`EndEntityTemplate`]. The issuer re-checks
//!   its invariants itself (key matches the CA certificate, validity inside the CA's,
//!   personal data only in signature kinds, key strength, serial length).
//! - [`validity`]: the "until the 5th birthday after issuance" rule, time as a parameter.
//! - [`build_csr`] / [`VerifiedCsr`]: PKCS#10 with any [`jpki_crypto::Signer`], and a
//!   parser that yields a value only after the proof of possession verified.
//! - [`JpkiCertificate`]: reads ours and the real J-LIS CA certificates back.
//! - [`SignerAdapter`] / [`sign_with`]: any `&dyn Signer` as a signer for the RustCrypto
//!   builders (certificates here; CRLs and CMS elsewhere).
//!
//! Not here: deciding *whether* to issue (the registration authority), serial allocation
//! and storage, CRL/OCSP production, path validation and revocation checking (a
//! relying party's job; [`JpkiCertificate::verify_issued_by`] checks one signature).
//!
//! The decisions a reviewer will question:
//! - **Our own `BuilderProfile`s on x509-cert, not rcgen or the cabf profiles.** rcgen
//!   keeps a DN in a map and silently drops the second OU every JPKI CA name has;
//!   x509-cert's CA/B Forum profiles reject that name outright (STACK-NOTES §1).
//! - **The subject of every end-entity certificate is `C=JP, CN=<opaque id>`**, the
//!   signature kinds included. The real signature-certificate subject DN is not public;
//!   the confirmed real authentication subject is exactly this shape. Personal data then
//!   lives in one place only (the six SAN otherNames), not in a DN that every log, TLS
//!   stack and `openssl x509 -subject` prints, and the CN cannot carry personal data
//!   because it is restricted to the PrintableString repertoire.
//! - **Issuance wraps the TBS bytes the builder produced** (finalize → sign → wrap)
//!   instead of `assemble()` + re-encoding, so the TBS is encoded once; an `Issuer`
//!   precomputes every extension that does not depend on the subject. Everything but the
//!   RSA signature costs ~8 µs when optimised (97% of the raw signing rate measured on the
//!   project machine; ~100 µs in an unoptimised dev build of `der`/`x509-cert`).
//! - **The issuer does not verify each signature it makes**: aws-lc already checks its
//!   RSA-CRT result, a verification would cost ~3% of the throughput, and a signer that
//!   signs with another key than it claims yields a certificate every verifier refuses.
//! - **Unknown CSR attributes are ignored, not refused**: a certificate takes nothing from
//!   a CSR but the public key (see [`csr`]).
//!
//! ```
//! use jpki_crypto::{RsaKeySize, SoftwareRsaKey};
//! use jpki_model::{BasicInfo, BirthDate, CertificateKind, Purpose, SerialNumber, Sex};
//! use jpki_pkix::validity::{ValidityInput, end_entity_validity};
//! use jpki_pkix::{
//!     CaParams, EndEntityTemplate, Issuer, JpkiCertificate, VerifiedCsr, build_ca_certificate,
//!     build_csr, issue_end_entity,
//! };
//! use time::macros::datetime;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = datetime!(2026-04-01 10:00 +09:00);
//! // A signature CA, valid ten years.
//! let ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?;
//! let params = CaParams::new(
//!     Purpose::Signature,
//!     SerialNumber::from_hex("01")?,
//!     now,
//!     datetime!(2036-04-01 10:00 +09:00),
//! );
//! let ca_der = build_ca_certificate(&params, &ca_key)?;
//! let issuer = Issuer::new(&ca_der)?;
//!
//! // The resident's key signs a CSR (a card would sign it through its APDUs).
//! let resident_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?;
//! let csr = VerifiedCsr::from_der(&build_csr("2026JP0000000001", &resident_key)?)?;
//!
//! let info = BasicInfo::new(
//!     "公的 太郎", None, "東京都千代田区霞が関2-1-2", None,
//!     BirthDate::parse("1990-01-02")?, Sex::Male,
//! )?;
//! let validity = end_entity_validity(&ValidityInput {
//!     issued_at: now,
//!     date_of_birth: info.date_of_birth(),
//!     renews_not_after: None,
//!     issuer_not_after: issuer.not_after(),
//!     cap: None,
//! })?;
//! let template = EndEntityTemplate {
//!     kind: CertificateKind::CARD_SIGNATURE,
//!     serial: SerialNumber::from_hex("1001")?,
//!     subject_cn: "2026JP0000000001".into(),
//!     subject_public_key_der: csr.public_key_der().to_vec(),
//!     basic_info: Some(info.clone()),
//!     not_before: validity.not_before,
//!     not_after: validity.not_after,
//!     crl_distribution_point: Some("http://127.0.0.1:8080/crl/sign.crl".into()),
//!     ocsp_url: Some("http://127.0.0.1:8080/ocsp".into()),
//! };
//! let leaf_der = issue_end_entity(&issuer, &template, &ca_key)?;
//!
//! let leaf = JpkiCertificate::from_der(&leaf_der)?;
//! assert_eq!(leaf.kind(), Some(CertificateKind::CARD_SIGNATURE));
//! assert_eq!(leaf.basic_info(), Some(&info));
//! assert_eq!(leaf.not_after(), datetime!(2031-01-02 23:59:59 +09:00));
//! leaf.verify_issued_by(&JpkiCertificate::from_der(&ca_der)?)?;
//! # Ok(())
//! # }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod ca;
pub mod certificate;
pub mod cms;
pub mod crl;
pub mod csr;
mod error;
pub mod extensions;
mod issue;
pub mod key;
pub mod name;
pub mod ocsp;
pub mod ocsp_responder_profile;
pub mod oid;
pub mod signer;
mod timeconv;
pub mod validity;

pub use ca::{CaParams, build_ca_certificate, certificate_pem};
pub use certificate::{CertificateRole, JpkiCertificate};
pub use csr::{VerifiedCsr, build_csr, csr_pem};
pub use error::PkixError;
pub use issue::{EndEntityTemplate, Issuer, issue_end_entity};
pub use key::{PublicKeyKind, inspect_public_key};
pub use name::{DEFAULT_SECOND_OU, DistinguishedName};
pub use signer::{SignerAdapter, sign_with};

//! The vocabulary every jpki crate shares, and nothing else.
//!
//! Scope: the resident's basic four information (基本4情報) with its validation
//! rules, the individual number (マイナンバー) with its check digit, and the names of
//! certificate kinds, statuses and RFC 5280 revocation reasons. No I/O, no crypto.
//!
//! A design decision a reviewer may question: these types live in their own crate
//! rather than in `jpki-pkix` or `jpki-store` because both (and the card, the portal
//! and the relying-party SDK) need them, and none of those should depend on another
//! just to name a resident's sex code.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod certificate;
pub mod person;
pub mod time;

pub use certificate::{
    CertificateKind, CertificateStatus, Medium, Purpose, RevocationReason, SerialNumber,
};
pub use person::{BasicInfo, BirthDate, MyNumber, PersonError, Sex};

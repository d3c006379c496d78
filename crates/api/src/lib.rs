//! The portal's JSON API, version 1 (`/api/v1/…`): the types both sides serialize, the
//! canonical byte strings that cards and phones sign, and the stable error codes.
//!
//! Scope: wire formats only. The server (`jpki-portal`) and the phone app (`jpki-app`)
//! both depend on this crate, so a field cannot mean one thing on one side and another
//! on the other. Nothing here does I/O or checks a signature.
//!
//! A decision a reviewer may question: what the card and the phone sign is not the JSON
//! (whose bytes vary with whitespace and key order) but a short, line-based canonical
//! text built from the request's fields ([`ApplicationRequest::to_be_signed`],
//! [`registration_to_be_signed`]). It is documented byte for byte in `docs/phone-api.md`,
//! so any client can produce it.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod codes;
mod lifecycle;
mod log;
mod v1;

pub use codes::ErrorCode;
pub use lifecycle::*;
pub use log::*;
pub use v1::*;

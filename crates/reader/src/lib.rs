//! The host side of a JPKI card: a [`Transport`] for command and response bytes, and
//! typed operations on top that speak to the card exactly as OpenSC and jpki/myna do.
//!
//! Scope:
//! - [`Transport`]: one method, bytes in, bytes out. Implemented here for the
//!   in-process virtual card ([`jpki_card::VirtualCard`], owned or `&mut`); PC/SC and
//!   vpcd transports come later behind the same trait.
//! - [`CardChannel`]: the ISO 7816-4 commands JPKI clients use (SELECT, READ BINARY in
//!   header-then-256-byte chunks, VERIFY and the empty-VERIFY tries-left query, CHANGE
//!   REFERENCE DATA, COMPUTE DIGITAL SIGNATURE) and jpki's personalization commands.
//! - [`JpkiAp`] and [`SupportAp`]: typed operations used by the CLI, the counter
//!   terminal, and later the phone app: token, certificates, PINs, signatures, the My
//!   Number and 4 attributes ([`support_data`] holds their byte layout), and
//!   personalization (key generation, initial PINs, EF writes, activation).
//!
//! Not here: PC/SC and NFC (later), hashing and DigestInfo building (callers use
//! `jpki_crypto::DigestInfo`), certificate parsing (jpki-pkix), PIN prompts.
//!
//! Decisions a reviewer will question:
//! - **Typed operations never assume the card behaves.** Every answer is parsed and
//!   checked (status word, lengths, TLV header, no more bytes than asked); anything
//!   unexpected is a [`ReaderError`] carrying the status word, never a panic, and never
//!   the PIN or the personal data read.
//! - **The crate depends on `jpki-card`, for the in-process transport only** (module
//!   `in_process`); nothing else here knows the card's internals, so the same
//!   operations run unchanged against a real card over PC/SC.
//! - **Signature passwords are not upper-cased here.** Real clients upper-case before
//!   VERIFY; in jpki that happens where the text is typed (CLI, app), before it becomes
//!   a [`jpki_crypto::Pin`], whose policy refuses lower case.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod channel;
mod error;
mod in_process;
mod jpki;
mod signer;
mod support;
pub mod support_data;
mod tlv;
mod transport;

pub use channel::{CardChannel, MAX_EF_LEN, WRITE_CHUNK};
pub use error::{ReaderError, TransportError, VerifyError};
pub use jpki::{CertificateSlot, JPKI_AID, JpkiAp, KeySlot, PinSlot, Token};
pub use signer::CardSigner;
pub use support::{SUPPORT_AID, SupportAp};
pub use transport::Transport;

#[cfg(test)]
mod tests;

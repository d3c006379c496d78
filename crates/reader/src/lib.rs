//! The host side of a JPKI card: a [`Transport`] for command and response bytes, and
//! typed operations on top that speak to the card exactly as OpenSC and jpki/myna do.
//!
//! Scope:
//! - [`Transport`]: one method, bytes in, bytes out. Implemented here for the
//!   in-process virtual card ([`jpki_card::VirtualCard`], owned or `&mut`) and, with the
//!   Cargo feature `pcsc`, for any card in a PC/SC reader (`PcscTransport`: a real My
//!   Number card, or the virtual one through vpcd). The feature only adds that type; the
//!   crate builds without libpcsclite when it is off.
//! - [`vpcd`]: the other direction, a virtual card inserted into vsmartcard's vpcd
//!   reader driver, so pcscd, OpenSC and any PC/SC application reach it. Plain TCP, no
//!   libpcsclite; its framing core is sans-I/O.
//! - [`CardChannel`]: the ISO 7816-4 commands JPKI clients use (SELECT, READ BINARY in
//!   header-then-256-byte chunks, VERIFY and the empty-VERIFY tries-left query, CHANGE
//!   REFERENCE DATA, COMPUTE DIGITAL SIGNATURE) and jpki's personalization commands.
//! - [`JpkiAp`] and [`SupportAp`]: typed operations used by the CLI, the counter
//!   terminal, and later the phone app: token, certificates, PINs, signatures, the My
//!   Number and 4 attributes ([`support_data`] holds their byte layout), and
//!   personalization (key generation, initial PINs, EF writes, activation).
//!
//! Not here: NFC (later), hashing and DigestInfo building (callers use
//! `jpki_crypto::DigestInfo`), certificate parsing (jpki-pkix), PIN prompts.
//!
//! Decisions a reviewer will question:
//! - **Typed operations never assume the card behaves.** Every answer is parsed and
//!   checked (status word, lengths, TLV header, no more bytes than asked); anything
//!   unexpected is a [`ReaderError`] carrying the status word, never a panic, and never
//!   the PIN or the personal data read.
//! - **The crate depends on `jpki-card` for the two adapters around the virtual card
//!   only** (the in-process transport and the [`vpcd`] bridge, which serves a card file);
//!   the typed operations know nothing of the card's internals, so they run unchanged
//!   against a real card over PC/SC.
//! - **Signature passwords are not upper-cased here.** Real clients upper-case before
//!   VERIFY; in jpki that happens where the text is typed (CLI, app), before it becomes
//!   a [`jpki_crypto::Pin`], whose policy refuses lower case.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod channel;
mod error;
mod in_process;
mod jpki;
#[cfg(feature = "pcsc")]
mod pcsc_transport;
mod signer;
mod support;
pub mod support_data;
mod tlv;
mod transport;
pub mod vpcd;

pub use channel::{CardChannel, MAX_EF_LEN, WRITE_CHUNK};
pub use error::{ReaderError, TransportError, VerifyError};
pub use jpki::{CertificateSlot, JPKI_AID, JpkiAp, KeySlot, PinSlot, Token};
#[cfg(feature = "pcsc")]
pub use pcsc_transport::{PcscProtocol, PcscReader, PcscTransport, list_readers};
pub use signer::CardSigner;
pub use support::{SUPPORT_AID, SupportAp};
pub use transport::Transport;

#[cfg(test)]
mod tests;

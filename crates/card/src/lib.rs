//! A virtual My Number card that speaks the real card's APDUs, byte for byte.
//!
//! Scope:
//! - [`VirtualCard`]: command APDU bytes in, response APDU bytes out
//!   ([`VirtualCard::transmit`]), with the ATR OpenSC's `jpki` driver matches,
//!   [`VirtualCard::power_off`] and [`VirtualCard::reset`].
//! - The JPKI AP ([`JpkiAp`]) as a reusable core, configured by a [`JpkiApProfile`]
//!   (token name, whether the auth certificate needs the auth PIN), so the phone secure
//!   element runs the same code with `JPKIAPGPSETOKEN`.
//! - The 券面事項入力補助AP (My Number and the 4 attributes behind a 4-digit PIN) and the
//!   PIN-status EFs of the 券面AP.
//! - Personalization of a blank card with commands of our own design (GENERATE
//!   ASYMMETRIC KEY PAIR, UPDATE BINARY, CHANGE REFERENCE DATA without VERIFY, ACTIVATE
//!   FILE), accepted only before activation. docs/apdu.md lists every command and answer.
//! - Card files: [`VirtualCard::to_file_bytes`] / [`VirtualCard::from_file_bytes`], a
//!   JSON document whose secrets are sealed with the device [`jpki_crypto::Kek`] and
//!   whose clear part is bound to them as associated data; [`mod@file`] writes them
//!   atomically.
//!
//! Not here: transports (PC/SC, vpcd, the in-process reader live in `jpki-reader`), the
//! layout of the 券面事項 data (the card stores what the issuer writes; the codec is
//! `jpki_reader::support_data`), certificate contents (any DER the issuer writes), the
//! 券面AP's images, secure messaging, and the real cards' proprietary commands.
//!
//! Decisions a reviewer will question:
//! - **One engine, many tables.** Every application is an EF table run by the same
//!   engine (`applet` module): the JPKI AP of the card and of the phone differ only in
//!   their profile, the 券面事項入力補助AP only in its table. Access rules are data
//!   (`Access::AfterPin(fid)`), so "000A needs the PIN on a phone" is one line, and the
//!   split of the card file into clear and sealed parts follows mechanically from the
//!   same table.
//! - **Personalization privilege comes from the life cycle**, passed to the applications
//!   as a [`Privilege`]. A future issuer mode (renewal at the counter after issuer
//!   authentication) grants `Privilege::Issuer` to an authenticated session instead; the
//!   applications do not change.
//! - **Where real cards are undocumented we choose and say so**: refusals after
//!   activation are `69 85`, a blocked PIN answers the tries-left query with `63 C0` (the
//!   only answer clients accept) and VERIFY with data with `69 83`, a VERIFY whose length
//!   breaks the PIN rule is `67 00` without using a try. docs/apdu.md marks each.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod applet;
mod binary_ef;
mod card;
mod error;
pub mod file;
mod jpki_ap;
mod persist;
mod pin;
mod state;
mod support_ap;

pub use applet::Privilege;
pub use card::{ATR, CardId, LifeCycle, VirtualCard};
pub use error::CardFileError;
pub use jpki_ap::{
    CERTIFICATE_EF_CAPACITY, JPKI_AID, JpkiAp, JpkiApProfile, JpkiApPublicState, TOKEN_INFO_LEN,
};
pub use persist::{FORMAT, VERSION};
pub use state::{AppletPublicState, AppletSealedState, KeyPublicState, PinCounterState};
pub use support_ap::{
    ATTRIBUTES_EF_CAPACITY, MY_NUMBER_EF_CAPACITY, STATUS_ONLY_PIN_TRIES, SUPPORT_AID, SURFACE_AID,
};

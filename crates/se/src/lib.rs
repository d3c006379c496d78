//! A virtual phone secure element (GP-SE) holding the JPKI AP: what the smartphone
//! electronic-certificate service (スマホ用電子証明書搭載サービス) writes the phone's
//! signature and user-authentication keys and certificates into.
//!
//! Scope:
//! - [`VirtualSecureElement`]: the card's JPKI AP core (`jpki_card::JpkiAp`) with the
//!   profile `phone_secure_element()` (token `JPKIAPGPSETOKEN`, EF `000A` readable only
//!   after the auth PIN), so card software reads it exactly as a card; a device key and
//!   certificate from an SE vendor ([`VendorCa`]); access rules ([`AccessRules`]);
//!   biometric bindings; files sealed with the device KEK ([`mod@file`]).
//! - Two interfaces ([`Interface`]), reached through a [`Session`] (which is also a
//!   `jpki_reader::Transport`): contactless (any reader, card-holder privilege) and OMAPI
//!   (an on-device app presenting an [`AppIdentity`]; only an app an access rule allows
//!   may select the JPKI AP, and the portal app's grant adds in-field personalization).
//! - On-SE key generation (RSA-2048, private keys never leave), key attestation
//!   ([`attestation`], with the verifier a registration authority runs:
//!   [`verify_attestation`]), biometric unlock of the auth key ([`biometric`],
//!   [`SimulatedSensor`]), wipe.
//! - [`host`]: typed host operations for the SE's own commands over any transport.
//!
//! docs/secure-element.md lists every command and answer.
//!
//! Not here: the phone app's flows, the RA's decisions, GlobalPlatform card content
//! management (install, SCP03 secure channels), logical channels, a real TEE.
//!
//! Decisions a reviewer will question:
//! - **The portal app's OMAPI session carries the issuer privilege.** A real service
//!   provider personalizes its applet through a GlobalPlatform secure channel keyed by
//!   the TSM; here the access rule (package name + signing-certificate hash, checked by
//!   the phone OS) stands in for that channel, so the SE model stays sans-I/O and the
//!   portal app drives key generation, PIN setting and certificate writes with the
//!   card's own personalization APDUs. The contactless interface never gets it.
//! - **A refused OMAPI caller gets `69 82` to SELECT of the JPKI AID** (security status
//!   not satisfied), not `6A 82`: the refusal is explicit, and the app learns nothing
//!   else (no other command reaches the AP). Android's OMAPI would throw
//!   `SecurityException` at `openLogicalChannel`; `69 82` is that refusal on the wire.
//! - **Everything a card client sends is answered by the card's own code**: the SE adds
//!   commands only for allowed app sessions, and re-implements no card behaviour, so a
//!   contactless session answers byte for byte like an activated card (tests compare
//!   them), except where the phone differs by design (token, `000A`, the SE holds no
//!   券面事項入力補助AP).
//! - **Re-keying a slot erases that slot's certificate EF**: lifting a suspension
//!   re-issues the signature certificate for a new key; the old certificate must not sit
//!   beside a key it does not certify.
//! - **Wiped EFs read empty** (`90 00` without data), as on a blank AP; the protected
//!   ones (`0001`, `000A`) answer `69 82` because their PIN can no longer be verified.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod access;
pub mod attestation;
pub mod biometric;
mod element;
mod error;
pub mod file;
pub mod host;
mod persist;
mod session;
mod vendor;

pub use access::{AccessGrant, AccessRule, AccessRules, AppIdentity};
pub use attestation::{
    AttestationBundle, AttestationError, AttestationPolicy, AttestedKey, KEY_ATTESTATION_FORMAT,
    SlotUsage, verify_attestation, verify_attestation_with, verify_attestations_with,
};
pub use biometric::{
    BindingId, BiometricTemplate, PendingEnrolment, SimulatedSensor, UnlockAssertion,
};
pub use element::{CONTACTLESS_ATR, SeSerial, VirtualSecureElement};
pub use error::SeError;
pub use persist::{FORMAT, VERSION};
pub use session::{Interface, Session};
pub use vendor::{
    DEFAULT_DEVICE_CERTIFICATE_VALIDITY, DEFAULT_ROOT_VALIDITY, DEVICE_COMMON_NAME, VendorCa,
};

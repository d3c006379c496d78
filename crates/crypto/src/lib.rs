//! Cryptographic building blocks for jpki, on aws-lc-rs.
//!
//! Scope:
//! - [`Signer`]: the one trait every signing key implements (CA keys, card and phone
//!   keys, OCSP responder keys), with [`SoftwareRsaKey`] as the software implementation.
//!   An HSM or a card behind PC/SC implements the same trait.
//! - Secret types ([`SecretString`], [`SecretBytes`], [`Pin`]) that zeroize on drop,
//!   print `[redacted]` and are read only through a named `expose` method.
//! - Private keys at rest: PKCS#8 `EncryptedPrivateKeyInfo` (PBES2, PBKDF2-HMAC-SHA256,
//!   AES-256-CBC) that OpenSSL reads, with the passphrase from a file or an environment
//!   variable ([`PassphraseSource`]), never from a command-line argument.
//! - [`Kek`] sealing (AES-256-GCM) for the files that hold virtual card and secure
//!   element state.
//! - [`Clock`]: time as an injected dependency, with a [`ManualClock`] for tests.
//!
//! Not here: certificate formats (jpki-pkix) and protocol logic.
//!
//! A decision a reviewer may question: RSA signatures over a caller-supplied DigestInfo
//! (what a JPKI card's COMPUTE DIGITAL SIGNATURE does) go through aws-lc-rs when the
//! DigestInfo names a SHA-1/SHA-2 digest, and through the pure-Rust `rsa` crate for any
//! other input, because aws-lc-rs offers no raw PKCS#1 v1.5 "pad these bytes" operation
//! and a real card pads whatever it is given.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod clock;
mod digest_info;
mod error;
mod kek;
mod keyfile;
mod random;
mod rsa_key;
mod secret;
mod signer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use digest_info::{DigestAlgorithm, DigestInfo, sha256};
pub use error::CryptoError;
pub use kek::{KEK_LEN, Kek};
pub use keyfile::{
    DEFAULT_PBKDF2_ITERATIONS, PassphraseSource, decrypt_private_key, encrypt_private_key,
    read_passphrase,
};
pub use random::random_bytes;
pub use rsa_key::{RsaKeySize, SoftwareRsaKey};
pub use secret::{Pin, PinError, PinPolicy, SecretBytes, SecretString};
pub use signer::{SignatureAlgorithm, Signer, verify_signature};

//! Signed tree heads: what the log publishes at `/api/v1/log/sth`.
//!
//! ```text
//! signed bytes (101 bytes) =
//!   "jpki-log tree head v1"   21 bytes ASCII
//!   log_id                    32 bytes, SHA-256 of the log key's DER SPKI
//!   tree_size                 u64 big-endian
//!   timestamp                 u64 big-endian, milliseconds since 1970-01-01T00:00:00Z
//!   root_hash                 32 bytes, MTH(D[0:tree_size])
//! signature = Signer::sign(signed bytes)
//!   RSA:   RSASSA-PKCS1-v1_5 with SHA-256 over the 101 bytes
//!   P-256: ECDSA with SHA-256 over the 101 bytes, DER Ecdsa-Sig-Value
//!
//! JSON: {"log_id":"<64 hex>","tree_size":N,"timestamp":<ms>,
//!        "root_hash":"<64 hex>","signature":"<base64, standard alphabet, padded>"}
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jpki_crypto::Clock;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::error::{LogError, LogVerifyError, TreeHeadRole};
use crate::hash::HashValue;
use crate::key::LogPublicKey;

/// Domain-separation tag of the v1 signed tree head.
pub const TREE_HEAD_TAG_V1: &[u8; 21] = b"jpki-log tree head v1";

/// Length of [`TreeHead::signed_bytes`].
pub const TREE_HEAD_SIGNED_LEN: usize = 21 + 32 + 8 + 8 + 32;

/// A tree head before signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    pub tree_size: u64,
    pub root_hash: HashValue,
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub timestamp: u64,
}

impl TreeHead {
    /// A head for `tree_size` leaves with root `root_hash`, stamped with `clock`'s time.
    pub fn now(tree_size: u64, root_hash: HashValue, clock: &dyn Clock) -> Result<Self, LogError> {
        Ok(Self {
            tree_size,
            root_hash,
            timestamp: timestamp_millis(clock.now())?,
        })
    }

    /// The bytes the log key signs (layout in the module docs).
    pub fn signed_bytes(&self, log_id: &HashValue) -> Vec<u8> {
        let mut out = Vec::with_capacity(TREE_HEAD_SIGNED_LEN);
        out.extend_from_slice(TREE_HEAD_TAG_V1);
        out.extend_from_slice(log_id.as_bytes());
        out.extend_from_slice(&self.tree_size.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(self.root_hash.as_bytes());
        out
    }
}

/// Milliseconds since the epoch, truncated toward the past.
pub fn timestamp_millis(at: OffsetDateTime) -> Result<u64, LogError> {
    u64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000))
        .map_err(|_| LogError::Clock(at.to_string()))
}

/// A tree head signed by the log key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeHead {
    pub log_id: HashValue,
    pub tree_size: u64,
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub timestamp: u64,
    pub root_hash: HashValue,
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub signature: Vec<u8>,
}

fn to_base64<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&BASE64.encode(bytes))
}

fn from_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    BASE64
        .decode(text.as_bytes())
        .map_err(|e| serde::de::Error::custom(format!("signature is not base64: {e}")))
}

impl SignedTreeHead {
    pub fn head(&self) -> TreeHead {
        TreeHead {
            tree_size: self.tree_size,
            root_hash: self.root_hash,
            timestamp: self.timestamp,
        }
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        self.head().signed_bytes(&self.log_id)
    }

    /// Checks that this head is from the log of `key` and that its signature verifies.
    pub fn verify(&self, key: &LogPublicKey) -> Result<(), LogVerifyError> {
        self.verify_as(key, TreeHeadRole::Current)
    }

    pub(crate) fn verify_as(
        &self,
        key: &LogPublicKey,
        role: TreeHeadRole,
    ) -> Result<(), LogVerifyError> {
        if self.log_id != key.log_id() {
            return Err(LogVerifyError::WrongLog {
                role,
                found: self.log_id.to_hex(),
            });
        }
        if !key.verifies(&self.signed_bytes(), &self.signature) {
            return Err(LogVerifyError::TreeHeadSignature { role });
        }
        Ok(())
    }

    /// Same size and root (the signature and time may differ: two heads of one tree).
    pub fn same_tree_as(&self, other: &SignedTreeHead) -> bool {
        self.tree_size == other.tree_size && self.root_hash == other.root_hash
    }

    pub fn to_json(&self) -> Result<String, LogError> {
        serde_json::to_string(self).map_err(|e| LogError::Json(e.to_string()))
    }

    pub fn from_json(text: &str) -> Result<Self, LogVerifyError> {
        serde_json::from_str(text)
            .map_err(|e| LogVerifyError::Malformed(format!("signed tree head: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::LogKey;
    use jpki_crypto::ManualClock;
    use time::macros::datetime;

    #[test]
    fn signed_bytes_are_the_documented_101_bytes() {
        let head = TreeHead {
            tree_size: 0x0102,
            root_hash: HashValue::from_bytes([0xCC; 32]),
            timestamp: 0x0A0B,
        };
        let bytes = head.signed_bytes(&HashValue::from_bytes([0xDD; 32]));
        assert_eq!(bytes.len(), TREE_HEAD_SIGNED_LEN);
        assert_eq!(TREE_HEAD_SIGNED_LEN, 101);
        assert_eq!(&bytes[..21], b"jpki-log tree head v1");
        assert_eq!(&bytes[21..53], &[0xDD; 32]);
        assert_eq!(&bytes[53..61], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&bytes[61..69], &[0, 0, 0, 0, 0, 0, 0x0A, 0x0B]);
        assert_eq!(&bytes[69..], &[0xCC; 32]);
    }

    #[test]
    fn signing_verifying_and_json_round_trip() {
        let key = LogKey::generate_p256().unwrap();
        let clock = ManualClock::new(datetime!(2026-04-01 00:00:00.123456 UTC));
        let head = TreeHead::now(5, HashValue::from_bytes([1; 32]), &clock).unwrap();
        assert_eq!(head.timestamp, 1_775_001_600_123);
        let sth = key.sign(head).unwrap();
        sth.verify(key.public_key()).unwrap();
        let json = sth.to_json().unwrap();
        assert!(json.starts_with("{\"log_id\":\""), "{json}");
        let parsed = SignedTreeHead::from_json(&json).unwrap();
        assert_eq!(parsed, sth);

        let mut forged = sth.clone();
        forged.tree_size += 1;
        assert_eq!(
            forged.verify(key.public_key()),
            Err(LogVerifyError::TreeHeadSignature {
                role: TreeHeadRole::Current
            })
        );
        let other = LogKey::generate_p256().unwrap();
        assert!(matches!(
            sth.verify(other.public_key()),
            Err(LogVerifyError::WrongLog { .. })
        ));
        // Re-labelled with the other log's id: the id matches, the signature does not.
        let mut relabelled = sth.clone();
        relabelled.log_id = other.log_id();
        assert!(matches!(
            relabelled.verify(other.public_key()),
            Err(LogVerifyError::TreeHeadSignature { .. })
        ));
        assert!(SignedTreeHead::from_json("{\"log_id\":1}").is_err());
        let with_extra = json.replacen('{', "{\"extra\":1,", 1);
        assert!(SignedTreeHead::from_json(&with_extra).is_err());
    }
}

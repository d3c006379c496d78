//! SHA-256 values and the two RFC 9162 §2.1.1 tree hashes.
//!
//! ```text
//! MTH({})        = SHA-256()                              -- the empty tree
//! leaf hash      = SHA-256(0x00 || leaf data)             -- MTH({d(0)})
//! node hash      = SHA-256(0x01 || left || right)         -- an interior node
//! ```

use std::fmt;

use aws_lc_rs::digest::{self, SHA256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Length of every hash in the log (SHA-256).
pub const HASH_LEN: usize = 32;

/// A SHA-256 value: an entry hash, a chain value, a leaf or node hash, a root.
///
/// In JSON it is 64 hexadecimal digits (written in lower case, read in either case).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HashValue([u8; HASH_LEN]);

/// A string that is not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 hexadecimal digits (found {found_chars} characters{detail})")]
pub struct HashParseError {
    found_chars: usize,
    detail: &'static str,
}

impl HashValue {
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        let error = |detail| HashParseError {
            found_chars: text.chars().count(),
            detail,
        };
        if text.len() != 2 * HASH_LEN {
            return Err(error(""));
        }
        let mut bytes = [0u8; HASH_LEN];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| error(", not all hexadecimal"))?;
        Ok(Self(bytes))
    }

    /// A copy with bit 0 of byte `index % 32` flipped (for tests and tamper drills).
    pub fn with_flipped_bit(&self, index: usize) -> Self {
        let mut bytes = self.0;
        if let Some(byte) = bytes.get_mut(index % HASH_LEN) {
            *byte ^= 0x01;
        }
        Self(bytes)
    }
}

impl fmt::Debug for HashValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashValue({})", self.to_hex())
    }
}

impl fmt::Display for HashValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for HashValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for HashValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

fn to_hash_value(digest: &digest::Digest) -> HashValue {
    // SHA-256 always yields 32 bytes; zip keeps this free of a length assertion.
    let mut out = [0u8; HASH_LEN];
    for (slot, byte) in out.iter_mut().zip(digest.as_ref()) {
        *slot = *byte;
    }
    HashValue(out)
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256_concat(parts: &[&[u8]]) -> HashValue {
    let mut context = digest::Context::new(&SHA256);
    for part in parts {
        context.update(part);
    }
    to_hash_value(&context.finish())
}

/// RFC 9162 §2.1.1: the hash of the empty tree, `SHA-256()`.
pub fn empty_tree_hash() -> HashValue {
    to_hash_value(&digest::digest(&SHA256, b""))
}

/// RFC 9162 §2.1.1: `MTH({d(0)}) = SHA-256(0x00 || d(0))`.
pub fn leaf_hash(leaf_data: &[u8]) -> HashValue {
    let mut context = digest::Context::new(&SHA256);
    context.update(&[0x00]);
    context.update(leaf_data);
    to_hash_value(&context.finish())
}

/// RFC 9162 §2.1.1: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &HashValue, right: &HashValue) -> HashValue {
    let mut input = [0u8; 1 + 2 * HASH_LEN];
    input[0] = 0x01;
    input[1..=HASH_LEN].copy_from_slice(&left.0);
    input[1 + HASH_LEN..].copy_from_slice(&right.0);
    to_hash_value(&digest::digest(&SHA256, &input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_strict_parsing() {
        let value = HashValue::from_bytes([0xAB; 32]);
        assert_eq!(HashValue::from_hex(&value.to_hex()).unwrap(), value);
        assert_eq!(
            HashValue::from_hex(&value.to_hex().to_uppercase()).unwrap(),
            value
        );
        assert!(HashValue::from_hex("ab").is_err());
        assert!(HashValue::from_hex(&"g".repeat(64)).is_err());
        // 32 two-byte characters: right byte length is not enough if it is not hex.
        assert!(HashValue::from_hex(&"é".repeat(32)).is_err());
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<HashValue>(&json).unwrap(), value);
    }

    #[test]
    fn empty_tree_hash_is_sha256_of_nothing() {
        // FIPS 180-2 / RFC 9162 §2.1.1: MTH({}) = SHA-256() = e3b0c442…b855.
        assert_eq!(
            empty_tree_hash().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn node_hash_matches_the_concatenation() {
        let left = HashValue::from_bytes([1; 32]);
        let right = HashValue::from_bytes([2; 32]);
        assert_eq!(
            node_hash(&left, &right),
            sha256_concat(&[&[1], left.as_bytes(), right.as_bytes()])
        );
        assert_eq!(leaf_hash(b"abc"), sha256_concat(&[&[0], b"abc"]));
    }
}

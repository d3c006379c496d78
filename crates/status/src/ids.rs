//! Names of CAs and CRL shards, and the one function that turns them into URLs, so the
//! CA (writing cRLDistributionPoints at issuance) and the publisher (writing
//! issuingDistributionPoint) cannot disagree.
//!
//! ```text
//! full CRL   <base>/crl/<issuer>/<shard>.crl
//! delta CRL  <base>/crl/<issuer>/<shard>-delta.crl
//! ```

use std::fmt;
use std::str::FromStr;

use jpki_crypto::sha256;
use jpki_model::SerialNumber;

use crate::StatusError;

/// The name of a CA inside jpki, as the store keeps it (`"sign"`, `"auth"`): 1 to 64
/// characters of `A-Z a-z 0-9 _ -`, so it can stand in a URL path unescaped.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IssuerId(String);

impl IssuerId {
    pub fn new(name: impl Into<String>) -> Result<Self, StatusError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(name))
        } else {
            Err(StatusError::InvalidIssuerId(
                name.chars().take(80).collect(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IssuerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IssuerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerId({})", self.0)
    }
}

impl FromStr for IssuerId {
    type Err = StatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A CRL shard (partition) of one CA. A certificate's shard is chosen once, at
/// issuance, and written into its cRLDistributionPoints URL ([`crl_url`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(u32);

impl ShardId {
    pub const fn new(number: u32) -> Self {
        Self(number)
    }

    pub const fn get(self) -> u32 {
        self.0
    }

    /// A stable, even spread of serials over `shard_count` shards (0 is read as 1): the
    /// first 8 bytes of SHA-256 of the serial's magnitude, modulo the count. Any rule
    /// works as long as the CA applies it once and writes the result into the
    /// certificate; this one is offered so that random serials fill shards evenly.
    pub fn for_serial(serial: &SerialNumber, shard_count: u32) -> Self {
        let digest = sha256(serial.as_bytes());
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&digest[..8]);
        let count = u64::from(shard_count.max(1));
        Self(u32::try_from(u64::from_be_bytes(prefix) % count).unwrap_or(0))
    }

    /// Parses a canonical decimal number (no sign, no leading zeros).
    pub fn parse(text: &str) -> Option<Self> {
        let canonical = !text.is_empty()
            && text.len() <= 10
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        if canonical {
            text.parse().ok().map(Self)
        } else {
            None
        }
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The path of a shard's full CRL below the server root: `/crl/<issuer>/<shard>.crl`.
pub fn crl_path(issuer: &IssuerId, shard: ShardId) -> String {
    format!("/crl/{issuer}/{shard}.crl")
}

/// The path of a shard's delta CRL: `/crl/<issuer>/<shard>-delta.crl`.
pub fn delta_crl_path(issuer: &IssuerId, shard: ShardId) -> String {
    format!("/crl/{issuer}/{shard}-delta.crl")
}

/// The cRLDistributionPoints URL of a certificate in `shard` of `issuer`, and the
/// issuingDistributionPoint URL of that shard's CRLs. `base_url` is where the status
/// HTTP service is reachable (`http://crl.example.jp`, with or without a trailing `/`).
pub fn crl_url(base_url: &str, issuer: &IssuerId, shard: ShardId) -> String {
    format!(
        "{}{}",
        base_url.trim_end_matches('/'),
        crl_path(issuer, shard)
    )
}

/// The freshestCRL URL of a shard's full CRL: where its delta CRLs are.
pub fn delta_crl_url(base_url: &str, issuer: &IssuerId, shard: ShardId) -> String {
    format!(
        "{}{}",
        base_url.trim_end_matches('/'),
        delta_crl_path(issuer, shard)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_ids_are_url_safe_names() {
        assert_eq!(IssuerId::new("sign").unwrap().as_str(), "sign");
        assert!(IssuerId::new("phone_auth-2").is_ok());
        for bad in ["", "a/b", "a b", "署名", "..", &"x".repeat(65)] {
            assert!(IssuerId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_are_built_one_way() {
        let sign = IssuerId::new("sign").unwrap();
        assert_eq!(
            crl_url("http://127.0.0.1:8080/", &sign, ShardId::new(3)),
            "http://127.0.0.1:8080/crl/sign/3.crl"
        );
        assert_eq!(
            delta_crl_url("http://127.0.0.1:8080", &sign, ShardId::new(3)),
            "http://127.0.0.1:8080/crl/sign/3-delta.crl"
        );
    }

    #[test]
    fn shard_numbers_parse_canonically_and_spread_serials() {
        assert_eq!(ShardId::parse("0"), Some(ShardId::new(0)));
        assert_eq!(ShardId::parse("17"), Some(ShardId::new(17)));
        for bad in ["", "-1", "01", "+1", "1.0", "99999999999", "4294967296"] {
            assert_eq!(ShardId::parse(bad), None, "{bad:?}");
        }
        let mut counts = [0u32; 4];
        for index in 1u32..=4000 {
            let serial = SerialNumber::from_bytes(&index.to_be_bytes()).unwrap();
            let shard = ShardId::for_serial(&serial, 4);
            assert_eq!(shard, ShardId::for_serial(&serial, 4), "stable");
            counts[shard.get() as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        let one = SerialNumber::from_hex("01").unwrap();
        assert_eq!(ShardId::for_serial(&one, 0), ShardId::new(0));
    }
}

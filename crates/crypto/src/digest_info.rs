//! PKCS#1 `DigestInfo` (RFC 8017 §9.2): what a host hands a JPKI card to sign.
//!
//! ```text
//! DigestInfo ::= SEQUENCE {
//!     digestAlgorithm AlgorithmIdentifier,   -- with NULL parameters
//!     digest OCTET STRING }
//! ```
//! The encodings are fixed per algorithm (RFC 8017 §9.2, note 1), so they are written
//! out here as prefixes rather than built with a DER encoder.

use aws_lc_rs::digest;

/// Hash functions a DigestInfo may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub const ALL: [Self; 5] = [
        Self::Sha1,
        Self::Sha224,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
    ];

    /// The DER bytes of the DigestInfo up to (and including) the OCTET STRING header.
    pub fn prefix(self) -> &'static [u8] {
        match self {
            Self::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            Self::Sha224 => &[
                0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x04, 0x05, 0x00, 0x04, 0x1c,
            ],
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    pub(crate) fn aws_lc(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha224 => &digest::SHA224,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }

    /// Hashes `data` with this algorithm.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.aws_lc(), data).as_ref().to_vec()
    }
}

/// A parsed DigestInfo whose algorithm we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestInfo {
    pub algorithm: DigestAlgorithm,
    pub digest: Vec<u8>,
}

impl DigestInfo {
    /// DigestInfo of `data` hashed with `algorithm`.
    pub fn of(algorithm: DigestAlgorithm, data: &[u8]) -> Self {
        Self {
            algorithm,
            digest: algorithm.hash(data),
        }
    }

    /// Recognises a DER DigestInfo with NULL parameters; `None` for anything else.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        DigestAlgorithm::ALL.into_iter().find_map(|algorithm| {
            let prefix = algorithm.prefix();
            (bytes.len() == prefix.len() + algorithm.output_len() && bytes.starts_with(prefix))
                .then(|| Self {
                    algorithm,
                    digest: bytes[prefix.len()..].to_vec(),
                })
        })
    }

    pub fn to_der(&self) -> Vec<u8> {
        let mut out = self.algorithm.prefix().to_vec();
        out.extend_from_slice(&self.digest);
        out
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_digest_info_matches_the_prefix_real_clients_send() {
        // JPKI-FACTS §1.4: the SHA-256 prefix hosts put in front of the hash.
        let expected_prefix = hex_bytes("3031300d060960864801650304020105000420");
        let info = DigestInfo::of(DigestAlgorithm::Sha256, b"abc");
        let der = info.to_der();
        assert_eq!(&der[..19], expected_prefix.as_slice());
        assert_eq!(DigestInfo::parse(&der), Some(info));
    }

    #[test]
    fn parse_rejects_wrong_lengths_and_unknown_prefixes() {
        let mut der = DigestInfo::of(DigestAlgorithm::Sha1, b"abc").to_der();
        der.push(0);
        assert_eq!(DigestInfo::parse(&der), None);
        assert_eq!(DigestInfo::parse(b"not a digest info"), None);
        assert_eq!(DigestInfo::parse(&[]), None);
    }

    #[test]
    fn prefixes_declare_their_own_lengths() {
        for algorithm in DigestAlgorithm::ALL {
            let prefix = algorithm.prefix();
            assert_eq!(
                usize::from(prefix[1]) + 2,
                prefix.len() + algorithm.output_len()
            );
            assert_eq!(
                usize::from(prefix[prefix.len() - 1]),
                algorithm.output_len()
            );
        }
    }

    fn hex_bytes(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}

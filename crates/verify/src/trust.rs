//! Trust anchors: the root certificates a relying party trusts.
//!
//! A [`TrustStore`] holds root CA certificates: this deployment's own (loaded from PEM or
//! DER files, or every certificate file of a directory) and, when configured, the real
//! public J-LIS CA certificates ([`TrustStore::add_jlis_dir`], which refuses any file that
//! is not one of the published J-LIS certificates, by SHA-256 fingerprint).
//!
//! Every anchor is checked on the way in: it must parse, be a CA (basicConstraints cA
//! TRUE, keyUsage with keyCertSign when present), and, when self-issued, carry a
//! self-signature that verifies. Its validity period is *not* checked on load (the 2015
//! J-LIS roots have expired and still load); path validation checks it at the time of
//! use. Anchors are deduplicated by SHA-256 of their DER.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use jpki_pkix::JpkiCertificate;

use crate::VerifyError;
use crate::path::ParsedCertificate;

/// The published J-LIS CA certificates: (name, SHA-256 of the DER), from JPKI-FACTS §2.1
/// (the Sign CA 2023 value matches J-LIS's own published fingerprint).
pub const JLIS_CA_FINGERPRINTS: [(&str, &str); 4] = [
    (
        "J-LIS Sign CA 2015",
        "19645405a1fe14377434bd55957628ac4038557c542403a2243f21c706fc9355",
    ),
    (
        "J-LIS Sign CA 2023",
        "d227f6cde11d35c5252178f106f843d24651944975413b539fa2fb68dbfa365f",
    ),
    (
        "J-LIS Auth CA 2015",
        "4dcfc4ca0aaf9fb2a3081b3f0c991c320b3acc008667a341eeaec5af1d58ca7d",
    ),
    (
        "J-LIS Auth CA 2023",
        "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5",
    ),
];

/// Largest certificate file read.
const MAX_FILE_LEN: u64 = 4 << 20;

/// One trusted root, with where it came from.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    pub source: String,
    pub(crate) parsed: Arc<ParsedCertificate>,
}

impl TrustAnchor {
    pub fn certificate(&self) -> &JpkiCertificate {
        &self.parsed.jpki
    }

    /// The name of the published J-LIS CA this anchor is, if it is one.
    pub fn jlis_name(&self) -> Option<&'static str> {
        jlis_name_of(&hex::encode(self.parsed.jpki.fingerprint_sha256()))
    }
}

fn jlis_name_of(fingerprint: &str) -> Option<&'static str> {
    JLIS_CA_FINGERPRINTS
        .iter()
        .find(|(_, known)| *known == fingerprint)
        .map(|(name, _)| *name)
}

/// A set of trust anchors.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor>,
    parsed: Vec<Arc<ParsedCertificate>>,
}

impl TrustStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every certificate file (`.pem`, `.crt`, `.cer`, `.der`) of `dir`.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, VerifyError> {
        let mut store = Self::new();
        store.add_dir(dir)?;
        Ok(store)
    }

    /// Adds one DER certificate. Returns false when it was already present.
    pub fn add_der(&mut self, der: &[u8], source: &str) -> Result<bool, VerifyError> {
        let bad = |reason: String| VerifyError::BadAnchor {
            source_name: source.to_owned(),
            reason,
        };
        let parsed = ParsedCertificate::from_der(der).map_err(bad)?;
        if !parsed.is_ca() {
            return Err(bad(
                "not a CA certificate (basicConstraints cA is not TRUE)".into(),
            ));
        }
        if let Some(usage) = parsed.key_usage()
            && !usage.key_cert_sign()
        {
            return Err(bad("keyUsage lacks keyCertSign".into()));
        }
        if parsed.self_issued() {
            parsed
                .check_signature(&parsed, 0)
                .map_err(|reason| bad(format!("self-signature: {reason:?}")))?;
        }
        let fingerprint = parsed.jpki.fingerprint_sha256();
        if self
            .parsed
            .iter()
            .any(|known| known.jpki.fingerprint_sha256() == fingerprint)
        {
            return Ok(false);
        }
        let parsed = Arc::new(parsed);
        self.parsed.push(Arc::clone(&parsed));
        self.anchors.push(TrustAnchor {
            source: source.to_owned(),
            parsed,
        });
        Ok(true)
    }

    /// Adds every `CERTIFICATE` block of a PEM text; returns how many were new.
    pub fn add_pem(&mut self, pem: &str, source: &str) -> Result<usize, VerifyError> {
        let ders = pem_certificates(pem, source)?;
        let mut added = 0;
        for der in ders {
            if self.add_der(&der, source)? {
                added += 1;
            }
        }
        Ok(added)
    }

    /// Adds a PEM (one or more certificates) or DER file; returns how many were new.
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<usize, VerifyError> {
        let path = path.as_ref();
        let bytes = read_limited(path)?;
        let source = path.display().to_string();
        if looks_like_pem(&bytes) {
            let text = String::from_utf8(bytes).map_err(|_| VerifyError::BadAnchor {
                source_name: source.clone(),
                reason: "PEM file is not UTF-8".into(),
            })?;
            self.add_pem(&text, &source)
        } else {
            Ok(usize::from(self.add_der(&bytes, &source)?))
        }
    }

    /// Adds every certificate file of a directory (not recursive), in file-name order;
    /// returns how many were new. A file that does not hold a CA certificate is an error,
    /// not skipped: a trust directory should hold nothing else.
    pub fn add_dir(&mut self, dir: impl AsRef<Path>) -> Result<usize, VerifyError> {
        let dir = dir.as_ref();
        let mut files = certificate_files(dir)?;
        files.sort();
        let mut added = 0;
        for file in &files {
            added += self.add_file(file)?;
        }
        if files.is_empty() {
            return Err(VerifyError::NoCertificate(dir.display().to_string()));
        }
        Ok(added)
    }

    /// Adds the real J-LIS CA certificates found in `dir`: every certificate file there must
    /// be one of [`JLIS_CA_FINGERPRINTS`], or nothing is added. Returns how many were new.
    pub fn add_jlis_dir(&mut self, dir: impl AsRef<Path>) -> Result<usize, VerifyError> {
        let mut candidate = Self::new();
        candidate.add_dir(dir)?;
        for anchor in &candidate.anchors {
            if anchor.jlis_name().is_none() {
                return Err(VerifyError::NotJlisAnchor {
                    source_name: anchor.source.clone(),
                    fingerprint: hex::encode(anchor.parsed.jpki.fingerprint_sha256()),
                });
            }
        }
        let mut added = 0;
        for anchor in candidate.anchors {
            if self.add_der(anchor.parsed.jpki.der(), &anchor.source)? {
                added += 1;
            }
        }
        Ok(added)
    }

    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.anchors
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub(crate) fn parsed_anchors(&self) -> &[Arc<ParsedCertificate>] {
        &self.parsed
    }
}

fn read_limited(path: &Path) -> Result<Vec<u8>, VerifyError> {
    let io = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let length = fs::metadata(path).map_err(io)?.len();
    if length > MAX_FILE_LEN {
        return Err(VerifyError::BadAnchor {
            source_name: path.display().to_string(),
            reason: format!("file of {length} bytes is too large for a certificate"),
        });
    }
    fs::read(path).map_err(io)
}

fn certificate_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, VerifyError> {
    let io = |source| VerifyError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_certificate = path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| {
                ["pem", "crt", "cer", "der"].contains(&extension.to_ascii_lowercase().as_str())
            });
        if is_certificate && path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"-----BEGIN")
}

/// The DER of every `CERTIFICATE` block of a PEM text (other blocks are skipped).
pub fn pem_certificates(pem: &str, source: &str) -> Result<Vec<Vec<u8>>, VerifyError> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start..];
        let label_end =
            after[BEGIN.len()..]
                .find("-----")
                .ok_or_else(|| VerifyError::BadAnchor {
                    source_name: source.to_owned(),
                    reason: "unterminated PEM header".into(),
                })?;
        let label = &after[BEGIN.len()..BEGIN.len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = after
            .find(&end_marker)
            .ok_or_else(|| VerifyError::BadAnchor {
                source_name: source.to_owned(),
                reason: format!("PEM block {label} has no END line"),
            })?;
        let block = &after[..end + end_marker.len()];
        if label == "CERTIFICATE" {
            let (_, der) =
                der::pem::decode_vec(block.as_bytes()).map_err(|e| VerifyError::BadAnchor {
                    source_name: source.to_owned(),
                    reason: format!("PEM: {e}"),
                })?;
            out.push(der);
        }
        rest = &after[end + end_marker.len()..];
    }
    if out.is_empty() {
        return Err(VerifyError::NoCertificate(source.to_owned()));
    }
    Ok(out)
}

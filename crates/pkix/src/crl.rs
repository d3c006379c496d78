//! Certificate revocation lists (RFC 5280 §5): a streaming DER encoder for full and
//! delta CRLs, and a checked read-only view for relying parties.
//!
//! ```text
//! CertificateList ::= SEQUENCE {
//!     tbsCertList          TBSCertList,
//!     signatureAlgorithm   AlgorithmIdentifier,
//!     signatureValue       BIT STRING }
//! TBSCertList ::= SEQUENCE {
//!     version                 Version OPTIONAL,     -- v2 (INTEGER 1): we always write it
//!     signature               AlgorithmIdentifier,
//!     issuer                  Name,
//!     thisUpdate              Time,
//!     nextUpdate              Time OPTIONAL,        -- we always write it
//!     revokedCertificates     SEQUENCE OF SEQUENCE {
//!         userCertificate         CertificateSerialNumber,
//!         revocationDate          Time,
//!         crlEntryExtensions      Extensions OPTIONAL } OPTIONAL,   -- absent when empty
//!     crlExtensions           [0] EXPLICIT Extensions OPTIONAL }
//!
//! CRL extensions we write, in this order:
//!   authorityKeyIdentifier    2.5.29.35            keyIdentifier = the CA's SKI
//!   cRLNumber                 2.5.29.20            INTEGER (0..MAX)
//!   issuingDistributionPoint  2.5.29.28 critical   SEQUENCE { distributionPoint [0] { fullName [0] { URI } },
//!                                                             onlyContainsUserCerts [1] TRUE }
//!   freshestCRL               2.5.29.46            full CRLs only: { { [0] { [0] { URI of the delta } } } }
//!   deltaCRLIndicator         2.5.29.27 critical   delta CRLs only: BaseCRLNumber INTEGER
//! Entry extension:
//!   reasonCode                2.5.29.21            ENUMERATED CRLReason, absent for unspecified
//! ```
//!
//! Scope: [`encode_crl`] writes a signed CRL from a [`CrlTemplate`] and a slice of
//! [`CrlEntry`]; [`CrlView`] parses one back (issuer, numbers, times, scope, entries by
//! serial) and checks its signature against a CA certificate.
//!
//! Not here: which certificates go on which CRL, when to publish, the CRL number
//! counter, serving (all in `jpki-status`); indirect CRLs, `onlySomeReasons` partitions
//! and attribute-certificate CRLs, which jpki never produces and [`CrlView`] refuses.
//!
//! The decisions a reviewer will question:
//! - **Bytes are written directly, not through `x509-cert`'s `CrlBuilder`.** The
//!   builder keeps one owned `RevokedCert` (with its own extension vector) per entry and
//!   encodes them again for the signature: 1.29 s and hundreds of MB for 1,000,000
//!   entries (STACK-NOTES §2). Every entry here is a fixed-size [`CrlEntry`] (no heap),
//!   its DER length is computed arithmetically, and one pass writes the whole
//!   `CertificateList` into a buffer allocated once at its final size; the TBS is
//!   signed in place. It also sidesteps x509-cert 0.3's `IssuingDistributionPoint`,
//!   whose `AssociatedOid` is id-pe-subjectInfoAccess (1.3.6.1.5.5.7.1.11); ours is
//!   2.5.29.28 by construction.
//! - **reasonCode `unspecified` is never written** (RFC 5280 §5.3.1: "SHOULD be absent
//!   instead"), and `removeFromCRL` is refused outside delta CRLs (§5.3.1 again).
//! - **The caller guarantees serials are unique**: the encoder does not sort or
//!   deduplicate (that would need memory per entry); `jpki-status` builds entries from
//!   maps keyed by serial.

use std::cmp::Ordering;
use std::fmt;

use der::Decode;
use jpki_crypto::{SignatureAlgorithm, Signer, verify_signature};
use jpki_model::{RevocationReason, SerialNumber};
use spki::{AlgorithmIdentifierRef, ObjectIdentifier};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::PkixError;
use crate::certificate::JpkiCertificate;
use crate::csr::signature_algorithm_of;
use crate::extensions::checked_url;
use crate::key::{self, PublicKeyKind};
use crate::name::DistinguishedName;
use crate::signer::signature_algorithm_identifier;

/// authorityKeyIdentifier, `2.5.29.35`.
pub const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.35");
/// cRLNumber (RFC 5280 §5.2.3), `2.5.29.20`.
pub const ID_CE_CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
/// deltaCRLIndicator (RFC 5280 §5.2.4), `2.5.29.27`.
pub const ID_CE_DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
/// issuingDistributionPoint (RFC 5280 §5.2.5), `2.5.29.28`.
pub const ID_CE_ISSUING_DISTRIBUTION_POINT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.28");
/// freshestCRL (RFC 5280 §5.2.6), `2.5.29.46`.
pub const ID_CE_FRESHEST_CRL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.46");
/// reasonCode (RFC 5280 §5.3.1), `2.5.29.21`.
pub const ID_CE_CRL_REASONS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");
/// invalidityDate (RFC 5280 §5.3.2), `2.5.29.24`.
pub const ID_CE_INVALIDITY_DATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.24");
/// certificateIssuer (RFC 5280 §5.3.3), `2.5.29.29`.
pub const ID_CE_CERTIFICATE_ISSUER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.29");

/// Longest DER INTEGER content of a serial (RFC 5280 §4.1.2.2).
const MAX_SERIAL_OCTETS: usize = 20;

// DER tags used below.
const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_ENUMERATED: u8 = 0x0a;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0_CONSTRUCTED: u8 = 0xa0;
const TAG_CONTEXT_1_CONSTRUCTED: u8 = 0xa1;
const TAG_CONTEXT_0: u8 = 0x80;
const TAG_CONTEXT_1: u8 = 0x81;
const TAG_CONTEXT_2: u8 = 0x82;
const TAG_CONTEXT_3: u8 = 0x83;
const TAG_CONTEXT_4: u8 = 0x84;
const TAG_CONTEXT_5: u8 = 0x85;
const TAG_URI: u8 = 0x86;

fn invalid(reason: impl Into<String>) -> PkixError {
    PkixError::field("CRL", reason)
}

// ---------------------------------------------------------------------------------------
// Entries.

/// One revoked certificate, in a fixed-size, heap-free form: the serial as its DER
/// INTEGER content (sign byte included), the revocation date in Unix seconds, and the
/// reason. 40 bytes, `Copy`; a million of them fit in 40 MB.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CrlEntry {
    serial: [u8; MAX_SERIAL_OCTETS],
    serial_len: u8,
    revoked_at: i64,
    reason: Option<RevocationReason>,
}

impl fmt::Debug for CrlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrlEntry")
            .field("serial", &hex_upper(self.magnitude()))
            .field("revoked_at", &self.revoked_at())
            .field("reason", &self.reason)
            .finish()
    }
}

impl CrlEntry {
    /// Refuses a serial that needs more than 20 octets once DER-encoded and a date
    /// outside 1970–9999.
    pub fn new(
        serial: &SerialNumber,
        revoked_at: OffsetDateTime,
        reason: Option<RevocationReason>,
    ) -> Result<Self, PkixError> {
        let magnitude = serial.as_bytes();
        let needs_sign_byte = magnitude.first().is_some_and(|b| b & 0x80 != 0);
        let len = magnitude.len() + usize::from(needs_sign_byte);
        if len > MAX_SERIAL_OCTETS || magnitude.is_empty() {
            return Err(PkixError::SerialTooLong { len });
        }
        let mut content = [0u8; MAX_SERIAL_OCTETS];
        let start = usize::from(needs_sign_byte);
        content[start..len].copy_from_slice(magnitude);
        check_time_range(revoked_at)?;
        Ok(Self {
            serial: content,
            serial_len: u8::try_from(len).unwrap_or(u8::MAX),
            revoked_at: revoked_at.unix_timestamp(),
            reason,
        })
    }

    /// The serial's DER INTEGER content octets.
    pub fn serial_der_content(&self) -> &[u8] {
        &self.serial[..usize::from(self.serial_len).min(MAX_SERIAL_OCTETS)]
    }

    /// The serial's magnitude (what [`SerialNumber::as_bytes`] holds).
    pub fn magnitude(&self) -> &[u8] {
        let content = self.serial_der_content();
        match content {
            [0, rest @ ..] if !rest.is_empty() => rest,
            _ => content,
        }
    }

    /// The serial number. Always `Some` for entries made by [`CrlEntry::new`] or parsed
    /// by [`CrlView`] (both hold a positive serial of 1 to 20 octets).
    pub fn serial(&self) -> Option<SerialNumber> {
        SerialNumber::from_bytes(self.magnitude()).ok()
    }

    pub fn revoked_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.revoked_at).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The reason as recorded; `None` when the CRL carries no reasonCode.
    pub fn reason(&self) -> Option<RevocationReason> {
        self.reason
    }

    /// The reasonCode that goes on the wire (none for `unspecified`).
    fn wire_reason(&self) -> Option<u8> {
        match self.reason {
            None | Some(RevocationReason::Unspecified) => None,
            Some(reason) => Some(reason.code()),
        }
    }

    fn compare_serial(&self, magnitude: &[u8]) -> Ordering {
        compare_magnitudes(self.magnitude(), magnitude)
    }
}

fn compare_magnitudes(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn check_time_range(instant: OffsetDateTime) -> Result<(), PkixError> {
    let year = instant.to_offset(time::UtcOffset::UTC).year();
    if (1970..=9999).contains(&year) {
        Ok(())
    } else {
        Err(PkixError::TimeOutOfRange(instant))
    }
}

// ---------------------------------------------------------------------------------------
// Encoding.

/// The CA that signs a CRL: its Name and key identifier, read once from its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlIssuer {
    name_der: Vec<u8>,
    key_identifier: Vec<u8>,
    public_key_der: Vec<u8>,
    key_kind: PublicKeyKind,
}

impl CrlIssuer {
    /// From the CA certificate. Refuses a certificate that is not a CA, or whose
    /// keyUsage lacks cRLSign.
    pub fn new(ca_certificate_der: &[u8]) -> Result<Self, PkixError> {
        let certificate = JpkiCertificate::from_der(ca_certificate_der)?;
        if !certificate.is_ca() {
            return Err(PkixError::NotACa(
                "a CRL issuer must be a CA certificate".to_owned(),
            ));
        }
        if let Some(usage) = certificate.key_usage()
            && !usage.crl_sign()
        {
            return Err(PkixError::NotACa("keyUsage lacks cRLSign".to_owned()));
        }
        let key_identifier = match certificate.subject_key_identifier() {
            Some(ski) => ski.to_vec(),
            None => key::key_identifier(certificate.public_key_der())?,
        };
        Ok(Self {
            name_der: certificate.subject().der().to_vec(),
            key_identifier,
            public_key_der: certificate.public_key_der().to_vec(),
            key_kind: key::inspect_public_key(certificate.public_key_der())?,
        })
    }

    /// The issuer Name DER written into every CRL.
    pub fn name_der(&self) -> &[u8] {
        &self.name_der
    }

    /// The key identifier written as authorityKeyIdentifier.
    pub fn key_identifier(&self) -> &[u8] {
        &self.key_identifier
    }
}

/// Full CRL or delta CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrlKind {
    /// A complete CRL for its scope; `freshest_crl` points to its delta CRLs (OpenSSL
    /// looks for deltas only when the certificate or the base CRL has freshestCRL).
    Full { freshest_crl: Option<String> },
    /// A delta CRL over the complete CRL numbered `base_number`.
    Delta { base_number: u64 },
}

/// What a CRL says apart from its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlTemplate {
    /// cRLNumber; full and delta CRLs of one scope share one increasing sequence.
    pub number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    /// The URL in issuingDistributionPoint: the scope (shard) of this CRL, equal to the
    /// cRLDistributionPoints URL of the certificates it covers. `None` writes no
    /// distributionPoint.
    pub distribution_point: Option<String>,
    /// onlyContainsUserCerts in issuingDistributionPoint (end-entity certificates only).
    pub only_user_certificates: bool,
    pub kind: CrlKind,
}

/// Writes and signs a CRL; returns its DER.
///
/// Steps:
/// 1. the signer holds the issuer's key; thisUpdate < nextUpdate; a delta's number is
///    above its base number; URLs are absolute http/https/ldap URLs;
/// 2. every entry's reason is allowed for the kind (removeFromCRL only in deltas);
/// 3. lengths of the entries, the TBS and the whole list are computed;
/// 4. the TBS is written into a buffer of the final size and signed in place;
/// 5. the algorithm and signature are appended (and the outer header fixed if an
///    ECDSA signature came out shorter than the maximum).
pub fn encode_crl(
    issuer: &CrlIssuer,
    template: &CrlTemplate,
    entries: &[CrlEntry],
    signer: &dyn Signer,
) -> Result<Vec<u8>, PkixError> {
    // Step 1.
    if signer.public_key_der() != issuer.public_key_der.as_slice() {
        return Err(PkixError::IssuerKeyMismatch);
    }
    if signer.algorithm() != issuer.key_kind.signature_algorithm() {
        return Err(PkixError::AlgorithmKeyMismatch {
            algorithm: format!("{:?}", signer.algorithm()),
            key: issuer.key_kind.label(),
        });
    }
    if template.this_update >= template.next_update {
        return Err(invalid(format!(
            "thisUpdate {} is not before nextUpdate {}",
            template.this_update, template.next_update
        )));
    }
    let is_delta = match template.kind {
        CrlKind::Delta { base_number } => {
            if base_number >= template.number {
                return Err(invalid(format!(
                    "delta CRL number {} must be above its base number {base_number}",
                    template.number
                )));
            }
            true
        }
        CrlKind::Full { .. } => false,
    };

    // Step 2 and 3: entries.
    let mut entries_len = 0usize;
    for (index, entry) in entries.iter().enumerate() {
        if !is_delta && entry.reason == Some(RevocationReason::RemoveFromCrl) {
            return Err(invalid(format!(
                "entry {index} (serial {}) is removeFromCRL, which only a delta CRL may carry",
                hex_upper(entry.magnitude())
            )));
        }
        entries_len += tlv_len(entry_content_len(entry));
    }

    let algorithm_der = der::Encode::to_der(&signature_algorithm_identifier(signer.algorithm()))?;
    let this_update = encode_time(template.this_update)?;
    let next_update = encode_time(template.next_update)?;
    let extensions = crl_extensions(issuer, template)?;

    let version: &[u8] = &[TAG_INTEGER, 0x01, 0x01];
    let revoked_len = if entries.is_empty() {
        0
    } else {
        tlv_len(entries_len)
    };
    let tbs_content_len = version.len()
        + algorithm_der.len()
        + issuer.name_der.len()
        + this_update.as_bytes().len()
        + next_update.as_bytes().len()
        + revoked_len
        + extensions.len();
    let tbs_len = tlv_len(tbs_content_len);
    let expected_signature_len = match issuer.key_kind {
        PublicKeyKind::Rsa { bits } => bits.div_ceil(8),
        // DER Ecdsa-Sig-Value of P-256: at most 72 octets.
        PublicKeyKind::EcP256 => 72,
    };
    let signature_bit_string_len = tlv_len(expected_signature_len + 1);
    let outer_content_len = tbs_len + algorithm_der.len() + signature_bit_string_len;
    let total_len = tlv_len(outer_content_len);

    // Step 4.
    let mut out = Vec::with_capacity(total_len);
    push_header(&mut out, TAG_SEQUENCE, outer_content_len);
    let tbs_start = out.len();
    push_header(&mut out, TAG_SEQUENCE, tbs_content_len);
    out.extend_from_slice(version);
    out.extend_from_slice(&algorithm_der);
    out.extend_from_slice(&issuer.name_der);
    out.extend_from_slice(this_update.as_bytes());
    out.extend_from_slice(next_update.as_bytes());
    if !entries.is_empty() {
        push_header(&mut out, TAG_SEQUENCE, entries_len);
        let mut time_cache = TimeCache::default();
        for entry in entries {
            write_entry(&mut out, entry, &mut time_cache)?;
        }
    }
    out.extend_from_slice(&extensions);
    if out.len() - tbs_start != tbs_len {
        return Err(invalid(format!(
            "internal length mismatch: wrote {} TBS octets, computed {tbs_len}",
            out.len() - tbs_start
        )));
    }
    let signature = signer.sign(&out[tbs_start..])?;

    // Step 5.
    out.extend_from_slice(&algorithm_der);
    push_header(&mut out, TAG_BIT_STRING, signature.len() + 1);
    out.push(0);
    out.extend_from_slice(&signature);
    if signature.len() == expected_signature_len {
        return Ok(out);
    }
    let actual_content_len = out.len() - tbs_start;
    let mut header = Vec::with_capacity(6);
    push_header(&mut header, TAG_SEQUENCE, actual_content_len);
    if header.len() == tbs_start {
        out[..tbs_start].copy_from_slice(&header);
        Ok(out)
    } else {
        let mut fixed = Vec::with_capacity(header.len() + actual_content_len);
        fixed.extend_from_slice(&header);
        fixed.extend_from_slice(&out[tbs_start..]);
        Ok(fixed)
    }
}

/// PEM (`X509 CRL`) of a DER CRL, as `openssl crl` reads it.
pub fn crl_pem(der: &[u8]) -> Result<String, PkixError> {
    der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, der)
        .map_err(|e| PkixError::Pem(e.to_string()))
}

/// The DER reasonCode extension of each wire reason, precomputed:
/// `SEQUENCE { SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED code } } }`.
fn reason_extensions(code: u8) -> [u8; 14] {
    [
        TAG_SEQUENCE,
        0x0c,
        TAG_SEQUENCE,
        0x0a,
        0x06,
        0x03,
        0x55,
        0x1d,
        0x15,
        TAG_OCTET_STRING,
        0x03,
        TAG_ENUMERATED,
        0x01,
        code,
    ]
}

fn entry_content_len(entry: &CrlEntry) -> usize {
    let serial = 2 + usize::from(entry.serial_len);
    let time = 2 + time_digits_len(entry.revoked_at);
    let extensions = if entry.wire_reason().is_some() { 14 } else { 0 };
    serial + time + extensions
}

fn write_entry(
    out: &mut Vec<u8>,
    entry: &CrlEntry,
    time_cache: &mut TimeCache,
) -> Result<(), PkixError> {
    // Content is at most 2 + 20 + 2 + 15 + 14 = 53 octets: a one-octet length.
    let content_len = entry_content_len(entry);
    out.push(TAG_SEQUENCE);
    out.push(u8::try_from(content_len).map_err(|_| invalid("entry too long"))?);
    out.push(TAG_INTEGER);
    out.push(entry.serial_len);
    out.extend_from_slice(entry.serial_der_content());
    time_cache.write(out, entry.revoked_at)?;
    if let Some(code) = entry.wire_reason() {
        out.extend_from_slice(&reason_extensions(code));
    }
    Ok(())
}

/// Remembers the last formatted date: consecutive entries often share one.
#[derive(Default)]
struct TimeCache {
    seconds: Option<i64>,
    tlv: EncodedTime,
}

impl TimeCache {
    fn write(&mut self, out: &mut Vec<u8>, seconds: i64) -> Result<(), PkixError> {
        if self.seconds != Some(seconds) {
            let instant = OffsetDateTime::from_unix_timestamp(seconds)
                .map_err(|_| invalid("revocation date out of range"))?;
            self.tlv = encode_time(instant)?;
            self.seconds = Some(seconds);
        }
        out.extend_from_slice(self.tlv.as_bytes());
        Ok(())
    }
}

/// UTCTime (13 digits and Z) through 2049, GeneralizedTime (15) from 2050.
fn time_digits_len(seconds: i64) -> usize {
    // 2050-01-01T00:00:00Z
    if seconds < 2_524_608_000 { 13 } else { 15 }
}

/// A Time TLV on the stack: at most 2 + 15 octets.
#[derive(Clone, Copy, Default)]
struct EncodedTime {
    bytes: [u8; 17],
    len: usize,
}

impl EncodedTime {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len.min(self.bytes.len())]
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn push_digits(&mut self, value: u32, width: u32) {
        for position in (0..width).rev() {
            let digit = (value / 10u32.pow(position)) % 10;
            self.push(b'0' + u8::try_from(digit).unwrap_or(0));
        }
    }
}

/// RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050, `Z`, seconds.
fn encode_time(instant: OffsetDateTime) -> Result<EncodedTime, PkixError> {
    check_time_range(instant)?;
    let utc = instant.to_offset(time::UtcOffset::UTC);
    let year = u32::try_from(utc.year()).map_err(|_| PkixError::TimeOutOfRange(instant))?;
    let mut out = EncodedTime::default();
    if year < 2050 {
        out.push(TAG_UTC_TIME);
        out.push(13);
        out.push_digits(year % 100, 2);
    } else {
        out.push(TAG_GENERALIZED_TIME);
        out.push(15);
        out.push_digits(year, 4);
    }
    for value in [
        u32::from(u8::from(utc.month())),
        u32::from(utc.day()),
        u32::from(utc.hour()),
        u32::from(utc.minute()),
        u32::from(utc.second()),
    ] {
        out.push_digits(value, 2);
    }
    out.push(b'Z');
    Ok(out)
}

fn length_octets(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    }
}

fn tlv_len(content_len: usize) -> usize {
    1 + length_octets(content_len) + content_len
}

fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    out.push(0x80 | (bytes.len() - first) as u8);
    out.extend_from_slice(&bytes[first..]);
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tlv_len(content.len()));
    push_header(&mut out, tag, content.len());
    out.extend_from_slice(content);
    out
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Minimal DER INTEGER content of a non-negative number.
fn integer_content(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut out = Vec::with_capacity(9);
    if bytes[first] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[first..]);
    out
}

fn extension(oid: &ObjectIdentifier, critical: bool, value: &[u8]) -> Vec<u8> {
    let oid_tlv = tlv(0x06, oid.as_bytes());
    let critical_tlv: &[u8] = if critical {
        &[TAG_BOOLEAN, 0x01, 0xff]
    } else {
        &[]
    };
    tlv(
        TAG_SEQUENCE,
        &concat(&[&oid_tlv, critical_tlv, &tlv(TAG_OCTET_STRING, value)]),
    )
}

/// `DistributionPointName ::= fullName [0] GeneralNames` with one URI, wrapped in the
/// explicit `[0]` of its enclosing field.
fn distribution_point_name(url: &str) -> Result<Vec<u8>, PkixError> {
    let url = checked_url("CRL distribution point", url)?;
    let full_name = tlv(TAG_CONTEXT_0_CONSTRUCTED, &tlv(TAG_URI, url.as_bytes()));
    Ok(tlv(TAG_CONTEXT_0_CONSTRUCTED, &full_name))
}

fn crl_extensions(issuer: &CrlIssuer, template: &CrlTemplate) -> Result<Vec<u8>, PkixError> {
    let mut list = Vec::new();
    let key_identifier = tlv(TAG_SEQUENCE, &tlv(TAG_CONTEXT_0, &issuer.key_identifier));
    list.extend(extension(
        &ID_CE_AUTHORITY_KEY_IDENTIFIER,
        false,
        &key_identifier,
    ));
    list.extend(extension(
        &ID_CE_CRL_NUMBER,
        false,
        &tlv(TAG_INTEGER, &integer_content(template.number)),
    ));
    if template.distribution_point.is_some() || template.only_user_certificates {
        let mut idp = Vec::new();
        if let Some(url) = &template.distribution_point {
            idp.extend(distribution_point_name(url)?);
        }
        if template.only_user_certificates {
            idp.extend_from_slice(&[TAG_CONTEXT_1, 0x01, 0xff]);
        }
        list.extend(extension(
            &ID_CE_ISSUING_DISTRIBUTION_POINT,
            true,
            &tlv(TAG_SEQUENCE, &idp),
        ));
    }
    match &template.kind {
        CrlKind::Full {
            freshest_crl: Some(url),
        } => {
            let point = tlv(TAG_SEQUENCE, &distribution_point_name(url)?);
            list.extend(extension(
                &ID_CE_FRESHEST_CRL,
                false,
                &tlv(TAG_SEQUENCE, &point),
            ));
        }
        CrlKind::Full { freshest_crl: None } => {}
        CrlKind::Delta { base_number } => {
            list.extend(extension(
                &ID_CE_DELTA_CRL_INDICATOR,
                true,
                &tlv(TAG_INTEGER, &integer_content(*base_number)),
            ));
        }
    }
    Ok(tlv(TAG_CONTEXT_0_CONSTRUCTED, &tlv(TAG_SEQUENCE, &list)))
}

// ---------------------------------------------------------------------------------------
// Parsing.

/// One DER TLV.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    /// Offset of the tag within the buffer the outermost cursor started on.
    start: usize,
    /// Offset of the content within that buffer.
    content_offset: usize,
    whole: &'a [u8],
}

/// A strict DER reader over nested TLVs: single-octet tags, definite minimal lengths.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], offset: usize) -> Self {
        Self {
            rest: bytes,
            offset,
        }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn next(&mut self, what: &str) -> Result<Tlv<'a>, PkixError> {
        let truncated = || invalid(format!("{what}: truncated"));
        let tag = *self.rest.first().ok_or_else(truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(invalid(format!(
                "{what}: multi-octet tags are not DER here"
            )));
        }
        let first = *self.rest.get(1).ok_or_else(truncated)?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 {
                return Err(invalid(format!("{what}: indefinite length is not DER")));
            }
            if count > 4 {
                return Err(invalid(format!("{what}: length too large")));
            }
            let octets = self.rest.get(2..2 + count).ok_or_else(truncated)?;
            if octets.first() == Some(&0) {
                return Err(invalid(format!("{what}: non-minimal length")));
            }
            let len = octets
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(invalid(format!("{what}: non-minimal length")));
            }
            (len, 2 + count)
        };
        let end = header.checked_add(len).ok_or_else(truncated)?;
        let whole = self.rest.get(..end).ok_or_else(truncated)?;
        let content = whole.get(header..).ok_or_else(truncated)?;
        let tlv = Tlv {
            tag,
            content,
            start: self.offset,
            content_offset: self.offset + header,
            whole,
        };
        self.rest = self.rest.get(end..).unwrap_or_default();
        self.offset += end;
        Ok(tlv)
    }

    fn next_tagged(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, PkixError> {
        let tlv = self.next(what)?;
        if tlv.tag != tag {
            return Err(invalid(format!(
                "{what}: expected tag {tag:#04x}, found {:#04x}",
                tlv.tag
            )));
        }
        Ok(tlv)
    }

    fn finish(&self, what: &str) -> Result<(), PkixError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(invalid(format!("{what}: unexpected trailing data")))
        }
    }
}

fn inner<'a>(tlv: &Tlv<'a>) -> Cursor<'a> {
    Cursor::new(tlv.content, tlv.content_offset)
}

fn parse_time(tlv: &Tlv<'_>, what: &str) -> Result<OffsetDateTime, PkixError> {
    let bad = || invalid(format!("{what}: malformed time"));
    let digits = tlv.content;
    let (year, rest) = match (tlv.tag, digits.len()) {
        (TAG_UTC_TIME, 13) => {
            let yy = two_digits(digits, 0).ok_or_else(bad)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (TAG_GENERALIZED_TIME, 15) => {
            let high = two_digits(digits, 0).ok_or_else(bad)?;
            let low = two_digits(digits, 2).ok_or_else(bad)?;
            (high * 100 + low, &digits[4..])
        }
        _ => return Err(bad()),
    };
    if rest.last() != Some(&b'Z') {
        return Err(bad());
    }
    let field = |index| two_digits(rest, index).ok_or_else(bad);
    let month = Month::try_from(u8::try_from(field(0)?).map_err(|_| bad())?).map_err(|_| bad())?;
    let date = Date::from_calendar_date(
        i32::try_from(year).map_err(|_| bad())?,
        month,
        u8::try_from(field(2)?).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let time_of_day = Time::from_hms(
        u8::try_from(field(4)?).map_err(|_| bad())?,
        u8::try_from(field(6)?).map_err(|_| bad())?,
        u8::try_from(field(8)?).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    Ok(PrimitiveDateTime::new(date, time_of_day).assume_utc())
}

fn two_digits(bytes: &[u8], index: usize) -> Option<u32> {
    let pair = bytes.get(index..index + 2)?;
    if pair.iter().all(u8::is_ascii_digit) {
        Some(u32::from(pair[0] - b'0') * 10 + u32::from(pair[1] - b'0'))
    } else {
        None
    }
}

/// A non-negative INTEGER that fits in 64 bits (CRL numbers).
fn parse_u64(tlv: &Tlv<'_>, what: &str) -> Result<u64, PkixError> {
    if tlv.tag != TAG_INTEGER {
        return Err(invalid(format!("{what}: not an INTEGER")));
    }
    let content = tlv.content;
    match content {
        [] => Err(invalid(format!("{what}: empty INTEGER"))),
        [first, ..] if first & 0x80 != 0 => Err(invalid(format!("{what}: negative"))),
        [0, second, ..] if second & 0x80 == 0 => {
            Err(invalid(format!("{what}: non-minimal INTEGER")))
        }
        _ => {
            let magnitude = match content {
                [0, rest @ ..] if !rest.is_empty() => rest,
                _ => content,
            };
            if magnitude.len() > 8 {
                return Err(invalid(format!(
                    "{what}: larger than 2^64-1 (jpki reads 64-bit CRL numbers)"
                )));
            }
            Ok(magnitude
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
        }
    }
}

fn parse_boolean(tlv: &Tlv<'_>, what: &str) -> Result<bool, PkixError> {
    match tlv.content {
        [0x00] => Ok(false),
        [0xff] => Ok(true),
        _ => Err(invalid(format!("{what}: malformed BOOLEAN"))),
    }
}

/// URIs of a `GeneralNames` content (other name forms are skipped).
fn uris_of_general_names(content: &[u8], what: &str) -> Result<Vec<String>, PkixError> {
    let mut cursor = Cursor::new(content, 0);
    let mut uris = Vec::new();
    while !cursor.is_empty() {
        let name = cursor.next(what)?;
        if name.tag == TAG_URI {
            let text = std::str::from_utf8(name.content)
                .ok()
                .filter(|text| text.is_ascii())
                .ok_or_else(|| invalid(format!("{what}: URI is not IA5String")))?;
            uris.push(text.to_owned());
        }
    }
    Ok(uris)
}

/// URIs of a `DistributionPointName` wrapped in its explicit field tag.
fn uris_of_distribution_point_name(tlv: &Tlv<'_>, what: &str) -> Result<Vec<String>, PkixError> {
    let mut cursor = inner(tlv);
    let name = cursor.next(what)?;
    cursor.finish(what)?;
    match name.tag {
        TAG_CONTEXT_0_CONSTRUCTED => uris_of_general_names(name.content, what),
        // nameRelativeToCRLIssuer: no URL.
        TAG_CONTEXT_1_CONSTRUCTED => Ok(Vec::new()),
        other => Err(invalid(format!(
            "{what}: unexpected DistributionPointName tag {other:#04x}"
        ))),
    }
}

/// The parsed issuingDistributionPoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct IssuingDistributionPoint {
    urls: Vec<String>,
    only_user_certs: bool,
    only_ca_certs: bool,
}

fn parse_idp(value: &[u8]) -> Result<IssuingDistributionPoint, PkixError> {
    const WHAT: &str = "issuingDistributionPoint";
    let mut outer = Cursor::new(value, 0);
    let sequence = outer.next_tagged(TAG_SEQUENCE, WHAT)?;
    outer.finish(WHAT)?;
    let mut cursor = inner(&sequence);
    let mut idp = IssuingDistributionPoint::default();
    while let Some(tag) = cursor.peek_tag() {
        let field = cursor.next(WHAT)?;
        match tag {
            TAG_CONTEXT_0_CONSTRUCTED => idp.urls = uris_of_distribution_point_name(&field, WHAT)?,
            TAG_CONTEXT_1 => idp.only_user_certs = parse_boolean(&field, WHAT)?,
            TAG_CONTEXT_2 => idp.only_ca_certs = parse_boolean(&field, WHAT)?,
            TAG_CONTEXT_3 => {
                return Err(invalid(
                    "issuingDistributionPoint onlySomeReasons is not supported",
                ));
            }
            TAG_CONTEXT_4 => {
                if parse_boolean(&field, WHAT)? {
                    return Err(invalid("indirect CRLs are not supported"));
                }
            }
            TAG_CONTEXT_5 => {
                if parse_boolean(&field, WHAT)? {
                    return Err(invalid("attribute-certificate CRLs are not supported"));
                }
            }
            other => {
                return Err(invalid(format!(
                    "{WHAT}: unexpected field tag {other:#04x}"
                )));
            }
        }
    }
    Ok(idp)
}

fn parse_freshest(value: &[u8]) -> Result<Vec<String>, PkixError> {
    const WHAT: &str = "freshestCRL";
    let mut outer = Cursor::new(value, 0);
    let points = outer.next_tagged(TAG_SEQUENCE, WHAT)?;
    outer.finish(WHAT)?;
    let mut cursor = inner(&points);
    let mut urls = Vec::new();
    while !cursor.is_empty() {
        let point = cursor.next_tagged(TAG_SEQUENCE, WHAT)?;
        let mut fields = inner(&point);
        while let Some(tag) = fields.peek_tag() {
            let field = fields.next(WHAT)?;
            if tag == TAG_CONTEXT_0_CONSTRUCTED {
                urls.extend(uris_of_distribution_point_name(&field, WHAT)?);
            }
        }
    }
    Ok(urls)
}

fn parse_single_integer(value: &[u8], what: &str) -> Result<u64, PkixError> {
    let mut cursor = Cursor::new(value, 0);
    let integer = cursor.next(what)?;
    cursor.finish(what)?;
    parse_u64(&integer, what)
}

fn parse_key_identifier(value: &[u8]) -> Result<Option<Vec<u8>>, PkixError> {
    const WHAT: &str = "authorityKeyIdentifier";
    let mut outer = Cursor::new(value, 0);
    let sequence = outer.next_tagged(TAG_SEQUENCE, WHAT)?;
    outer.finish(WHAT)?;
    let mut cursor = inner(&sequence);
    while let Some(tag) = cursor.peek_tag() {
        let field = cursor.next(WHAT)?;
        if tag == TAG_CONTEXT_0 {
            return Ok(Some(field.content.to_vec()));
        }
    }
    Ok(None)
}

/// One extension: (OID content octets, critical, value octets).
fn parse_extension<'a>(tlv: &Tlv<'a>, what: &str) -> Result<(&'a [u8], bool, &'a [u8]), PkixError> {
    let mut cursor = inner(tlv);
    let oid = cursor.next_tagged(0x06, what)?;
    let mut critical = false;
    if cursor.peek_tag() == Some(TAG_BOOLEAN) {
        critical = parse_boolean(&cursor.next(what)?, what)?;
    }
    let value = cursor.next_tagged(TAG_OCTET_STRING, what)?;
    cursor.finish(what)?;
    Ok((oid.content, critical, value.content))
}

fn oid_text(content: &[u8]) -> String {
    crate::oid::AnyOid::from_ber(content)
        .map_or_else(|_| "(malformed OID)".to_owned(), |oid| oid.to_string())
}

fn parse_entry(tlv: &Tlv<'_>, index: usize, is_delta: bool) -> Result<CrlEntry, PkixError> {
    let what = format!("revokedCertificates entry {index}");
    let mut cursor = inner(tlv);
    let serial = cursor.next_tagged(TAG_INTEGER, &what)?;
    let serial = match serial.content {
        [] => return Err(invalid(format!("{what}: empty serial"))),
        [first, ..] if first & 0x80 != 0 => {
            return Err(invalid(format!("{what}: negative serial")));
        }
        [0, second, ..] if second & 0x80 == 0 => {
            return Err(invalid(format!("{what}: non-minimal serial")));
        }
        [0] => return Err(invalid(format!("{what}: zero serial"))),
        content => content,
    };
    if serial.len() > MAX_SERIAL_OCTETS {
        return Err(invalid(format!("{what}: serial longer than 20 octets")));
    }
    let revoked_at = parse_time(&cursor.next(&what)?, &what)?;
    let mut reason = None;
    if !cursor.is_empty() {
        let extensions = cursor.next_tagged(TAG_SEQUENCE, &what)?;
        let mut list = inner(&extensions);
        while !list.is_empty() {
            let extension = list.next_tagged(TAG_SEQUENCE, &what)?;
            let (oid, critical, value) = parse_extension(&extension, &what)?;
            if oid == ID_CE_CRL_REASONS.as_bytes() {
                let mut value_cursor = Cursor::new(value, 0);
                let code = value_cursor.next_tagged(TAG_ENUMERATED, &what)?;
                value_cursor.finish(&what)?;
                let parsed = match code.content {
                    [code] => RevocationReason::from_code(*code),
                    _ => None,
                }
                .ok_or_else(|| invalid(format!("{what}: unknown reasonCode")))?;
                if reason.replace(parsed).is_some() {
                    return Err(invalid(format!("{what}: reasonCode appears twice")));
                }
            } else if oid == ID_CE_CERTIFICATE_ISSUER.as_bytes() {
                return Err(invalid(format!(
                    "{what}: certificateIssuer (indirect CRL) is not supported"
                )));
            } else if critical && oid != ID_CE_INVALIDITY_DATE.as_bytes() {
                return Err(invalid(format!(
                    "{what}: unrecognised critical extension {}",
                    oid_text(oid)
                )));
            }
        }
    }
    if reason == Some(RevocationReason::RemoveFromCrl) && !is_delta {
        return Err(invalid(format!(
            "{what}: removeFromCRL in a CRL that is not a delta CRL"
        )));
    }
    let mut content = [0u8; MAX_SERIAL_OCTETS];
    content[..serial.len()].copy_from_slice(serial);
    Ok(CrlEntry {
        serial: content,
        serial_len: u8::try_from(serial.len()).unwrap_or(u8::MAX),
        revoked_at: revoked_at.unix_timestamp(),
        reason,
    })
}

/// A parsed CRL, checked for structure, with its entries indexed by serial.
///
/// Parsing refuses: malformed DER or trailing bytes, a version other than v2 when
/// present, a TBS signature algorithm that differs from the outer one, unrecognised
/// critical CRL or entry extensions, indirect CRLs, `onlySomeReasons` partitions,
/// negative or zero serials, and `removeFromCRL` outside a delta CRL. It does not check
/// the signature or the dates: see [`CrlView::verify_signature`] and
/// [`CrlView::this_update`] / [`CrlView::next_update`].
#[derive(Clone, PartialEq, Eq)]
pub struct CrlView {
    der: Vec<u8>,
    tbs_start: usize,
    tbs_end: usize,
    signature_algorithm: Option<SignatureAlgorithm>,
    signature: Vec<u8>,
    issuer: DistinguishedName,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    number: Option<u64>,
    base_number: Option<u64>,
    authority_key_identifier: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    freshest_crl: Vec<String>,
    /// Sorted by serial magnitude.
    entries: Vec<CrlEntry>,
}

impl fmt::Debug for CrlView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrlView")
            .field("issuer", &self.issuer.to_rfc4514())
            .field("number", &self.number)
            .field("base_number", &self.base_number)
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("idp", &self.idp)
            .field("freshest_crl", &self.freshest_crl)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl CrlView {
    /// Parses a DER CRL (the bytes are copied; see [`CrlView::from_der_vec`]).
    pub fn from_der(der: &[u8]) -> Result<Self, PkixError> {
        Self::from_der_vec(der.to_vec())
    }

    /// Parses a DER CRL, keeping the buffer without a copy.
    pub fn from_der_vec(der: Vec<u8>) -> Result<Self, PkixError> {
        let parsed = Self::parse(&der)?;
        Ok(Self { der, ..parsed })
    }

    fn parse(der: &[u8]) -> Result<Self, PkixError> {
        let mut top = Cursor::new(der, 0);
        let list = top.next_tagged(TAG_SEQUENCE, "CertificateList")?;
        top.finish("CertificateList")?;
        let mut outer = inner(&list);
        let tbs = outer.next_tagged(TAG_SEQUENCE, "tbsCertList")?;
        let outer_algorithm = outer.next_tagged(TAG_SEQUENCE, "signatureAlgorithm")?;
        let signature = outer.next_tagged(TAG_BIT_STRING, "signatureValue")?;
        outer.finish("CertificateList")?;
        let signature = match signature.content {
            [0, bytes @ ..] => bytes.to_vec(),
            _ => return Err(invalid("signatureValue has unused bits")),
        };

        let mut fields = inner(&tbs);
        if fields.peek_tag() == Some(TAG_INTEGER) {
            let version = fields.next("version")?;
            if version.content != [0x01] {
                return Err(invalid("version is not v2"));
            }
        }
        let inner_algorithm = fields.next_tagged(TAG_SEQUENCE, "signature")?;
        if inner_algorithm.whole != outer_algorithm.whole {
            return Err(invalid(
                "tbsCertList signature differs from signatureAlgorithm",
            ));
        }
        let algorithm = AlgorithmIdentifierRef::from_der(outer_algorithm.whole)?;
        let signature_algorithm = signature_algorithm_of(&algorithm).ok();
        let issuer_tlv = fields.next_tagged(TAG_SEQUENCE, "issuer")?;
        let issuer = DistinguishedName::from_der(issuer_tlv.whole)?;
        let this_update = parse_time(&fields.next("thisUpdate")?, "thisUpdate")?;
        let mut next_update = None;
        if matches!(fields.peek_tag(), Some(TAG_UTC_TIME | TAG_GENERALIZED_TIME)) {
            next_update = Some(parse_time(&fields.next("nextUpdate")?, "nextUpdate")?);
        }
        let mut revoked = None;
        if fields.peek_tag() == Some(TAG_SEQUENCE) {
            revoked = Some(fields.next("revokedCertificates")?);
        }

        let mut view = Self {
            der: Vec::new(),
            tbs_start: tbs.start,
            tbs_end: tbs.start + tbs.whole.len(),
            signature_algorithm,
            signature,
            issuer,
            this_update,
            next_update,
            number: None,
            base_number: None,
            authority_key_identifier: None,
            idp: None,
            freshest_crl: Vec::new(),
            entries: Vec::new(),
        };

        if fields.peek_tag() == Some(TAG_CONTEXT_0_CONSTRUCTED) {
            let wrapper = fields.next("crlExtensions")?;
            let mut wrapper_cursor = inner(&wrapper);
            let list = wrapper_cursor.next_tagged(TAG_SEQUENCE, "crlExtensions")?;
            wrapper_cursor.finish("crlExtensions")?;
            view.read_extensions(&list)?;
        }
        fields.finish("tbsCertList")?;

        if let Some(revoked) = revoked {
            let is_delta = view.base_number.is_some();
            let mut cursor = inner(&revoked);
            let mut entries = Vec::new();
            while !cursor.is_empty() {
                let entry = cursor.next_tagged(TAG_SEQUENCE, "revokedCertificates")?;
                entries.push(parse_entry(&entry, entries.len(), is_delta)?);
            }
            entries.sort_unstable_by(|a, b| compare_magnitudes(a.magnitude(), b.magnitude()));
            view.entries = entries;
        }
        Ok(view)
    }

    fn read_extensions(&mut self, list: &Tlv<'_>) -> Result<(), PkixError> {
        let mut seen: Vec<&[u8]> = Vec::new();
        let mut cursor = inner(list);
        while !cursor.is_empty() {
            let extension = cursor.next_tagged(TAG_SEQUENCE, "crlExtensions")?;
            let (oid, critical, value) = parse_extension(&extension, "crlExtensions")?;
            if seen.contains(&oid) {
                return Err(invalid(format!(
                    "extension {} appears twice",
                    oid_text(oid)
                )));
            }
            seen.push(oid);
            if oid == ID_CE_CRL_NUMBER.as_bytes() {
                self.number = Some(parse_single_integer(value, "cRLNumber")?);
            } else if oid == ID_CE_DELTA_CRL_INDICATOR.as_bytes() {
                self.base_number = Some(parse_single_integer(value, "deltaCRLIndicator")?);
            } else if oid == ID_CE_AUTHORITY_KEY_IDENTIFIER.as_bytes() {
                self.authority_key_identifier = parse_key_identifier(value)?;
            } else if oid == ID_CE_ISSUING_DISTRIBUTION_POINT.as_bytes() {
                self.idp = Some(parse_idp(value)?);
            } else if oid == ID_CE_FRESHEST_CRL.as_bytes() {
                self.freshest_crl = parse_freshest(value)?;
            } else if critical {
                return Err(invalid(format!(
                    "unrecognised critical extension {}",
                    oid_text(oid)
                )));
            }
        }
        Ok(())
    }

    /// The CRL as parsed.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn issuer(&self) -> &DistinguishedName {
        &self.issuer
    }

    pub fn this_update(&self) -> OffsetDateTime {
        self.this_update
    }

    pub fn next_update(&self) -> Option<OffsetDateTime> {
        self.next_update
    }

    /// cRLNumber, when present.
    pub fn number(&self) -> Option<u64> {
        self.number
    }

    /// The base CRL number of a delta CRL (deltaCRLIndicator); `None` for a full CRL.
    pub fn base_number(&self) -> Option<u64> {
        self.base_number
    }

    pub fn is_delta(&self) -> bool {
        self.base_number.is_some()
    }

    pub fn authority_key_identifier(&self) -> Option<&[u8]> {
        self.authority_key_identifier.as_deref()
    }

    /// The issuingDistributionPoint URIs (the scope), empty without one.
    pub fn distribution_point_urls(&self) -> &[String] {
        self.idp.as_ref().map_or(&[], |idp| idp.urls.as_slice())
    }

    /// True when issuingDistributionPoint says onlyContainsUserCerts.
    pub fn only_user_certificates(&self) -> bool {
        self.idp.as_ref().is_some_and(|idp| idp.only_user_certs)
    }

    /// True when issuingDistributionPoint says onlyContainsCACerts.
    pub fn only_ca_certificates(&self) -> bool {
        self.idp.as_ref().is_some_and(|idp| idp.only_ca_certs)
    }

    /// freshestCRL URIs (where the delta CRLs are), empty without one.
    pub fn freshest_crl_urls(&self) -> &[String] {
        &self.freshest_crl
    }

    /// The signature algorithm, when it is one jpki verifies.
    pub fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        self.signature_algorithm
    }

    /// Every entry, sorted by serial.
    pub fn entries(&self) -> &[CrlEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `serial` (binary search).
    pub fn entry(&self, serial: &SerialNumber) -> Option<&CrlEntry> {
        self.entries
            .binary_search_by(|entry| entry.compare_serial(serial.as_bytes()))
            .ok()
            .and_then(|index| self.entries.get(index))
    }

    /// True when this CRL's scope covers a certificate whose cRLDistributionPoints
    /// lists `urls` (RFC 5280 §6.3.3 (b)(2)(i), for URIs): always true without a
    /// distributionPoint in the IDP; otherwise one URL must match.
    pub fn covers(&self, certificate_crl_urls: &[String]) -> bool {
        let scope = self.distribution_point_urls();
        scope.is_empty() || scope.iter().any(|url| certificate_crl_urls.contains(url))
    }

    /// Checks that `issuer` issued this CRL: the issuer name matches its subject, the
    /// authorityKeyIdentifier (when both sides have one) matches its SKI, and its key
    /// verifies the signature.
    pub fn verify_signature(&self, issuer: &JpkiCertificate) -> Result<(), PkixError> {
        if self.issuer.der() != issuer.subject().der() {
            return Err(PkixError::IssuerNameMismatch);
        }
        if let (Some(aki), Some(ski)) = (
            self.authority_key_identifier.as_deref(),
            issuer.subject_key_identifier(),
        ) && aki != ski
        {
            return Err(invalid(
                "authorityKeyIdentifier does not match the issuer's subjectKeyIdentifier",
            ));
        }
        let algorithm = self.signature_algorithm.ok_or_else(|| {
            PkixError::UnsupportedSignatureAlgorithm("the CRL's algorithm".to_owned())
        })?;
        let tbs = self
            .der
            .get(self.tbs_start..self.tbs_end)
            .ok_or_else(|| invalid("internal: TBS range"))?;
        verify_signature(algorithm, issuer.public_key_der(), tbs, &self.signature)
            .map_err(|_| PkixError::BadSignature)
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaParams, build_ca_certificate};
    use jpki_crypto::{RsaKeySize, SoftwareRsaKey};
    use jpki_model::Purpose;
    use std::sync::OnceLock;
    use time::macros::datetime;

    const URL: &str = "http://127.0.0.1:8080/crl/sign/3.crl";
    const DELTA_URL: &str = "http://127.0.0.1:8080/crl/sign/3-delta.crl";

    fn ca() -> &'static (SoftwareRsaKey, Vec<u8>) {
        static CA: OnceLock<(SoftwareRsaKey, Vec<u8>)> = OnceLock::new();
        CA.get_or_init(|| {
            let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
            let params = CaParams::new(
                Purpose::Signature,
                SerialNumber::from_hex("01").unwrap(),
                datetime!(2026-01-01 00:00 UTC),
                datetime!(2036-01-01 00:00 UTC),
            );
            let der = build_ca_certificate(&params, &key).unwrap();
            (key, der)
        })
    }

    fn template(kind: CrlKind, number: u64) -> CrlTemplate {
        CrlTemplate {
            number,
            this_update: datetime!(2026-11-26 10:00 UTC),
            next_update: datetime!(2026-11-27 10:00 UTC),
            distribution_point: Some(URL.to_owned()),
            only_user_certificates: true,
            kind,
        }
    }

    fn entry(serial: &str, reason: Option<RevocationReason>) -> CrlEntry {
        CrlEntry::new(
            &SerialNumber::from_hex(serial).unwrap(),
            datetime!(2026-11-20 01:02:03 UTC),
            reason,
        )
        .unwrap()
    }

    #[test]
    fn a_full_crl_round_trips_through_the_view_and_verifies() {
        let (key, ca_der) = ca();
        let issuer = CrlIssuer::new(ca_der).unwrap();
        let entries = [
            entry("1001", Some(RevocationReason::KeyCompromise)),
            entry("80AB", Some(RevocationReason::CertificateHold)),
            entry("05", Some(RevocationReason::Unspecified)),
            entry("0102030405060708090A0B0C0D0E0F1011121314", None),
        ];
        let full = template(
            CrlKind::Full {
                freshest_crl: Some(DELTA_URL.to_owned()),
            },
            1_700_000_000,
        );
        let der = encode_crl(&issuer, &full, &entries, key).unwrap();
        let view = CrlView::from_der(&der).unwrap();
        let ca_cert = JpkiCertificate::from_der(ca_der).unwrap();
        view.verify_signature(&ca_cert).unwrap();
        assert_eq!(view.issuer(), ca_cert.subject());
        assert_eq!(view.number(), Some(1_700_000_000));
        assert_eq!(view.base_number(), None);
        assert!(!view.is_delta());
        assert_eq!(view.this_update(), datetime!(2026-11-26 10:00 UTC));
        assert_eq!(view.next_update(), Some(datetime!(2026-11-27 10:00 UTC)));
        assert_eq!(view.distribution_point_urls(), [URL.to_owned()]);
        assert!(view.only_user_certificates());
        assert_eq!(view.freshest_crl_urls(), [DELTA_URL.to_owned()]);
        assert_eq!(
            view.authority_key_identifier(),
            ca_cert.subject_key_identifier()
        );
        assert!(view.covers(&[URL.to_owned()]));
        assert!(!view.covers(&["http://127.0.0.1:8080/crl/sign/4.crl".to_owned()]));
        assert_eq!(view.len(), 4);

        let held = view
            .entry(&SerialNumber::from_hex("80AB").unwrap())
            .unwrap();
        assert_eq!(held.reason(), Some(RevocationReason::CertificateHold));
        assert_eq!(held.revoked_at(), datetime!(2026-11-20 01:02:03 UTC));
        assert_eq!(held.serial_der_content(), &[0x00, 0x80, 0xAB]);
        assert_eq!(held.serial(), SerialNumber::from_hex("80AB").ok());
        // unspecified is not written, so it reads back as no reason.
        let unspecified = view.entry(&SerialNumber::from_hex("05").unwrap()).unwrap();
        assert_eq!(unspecified.reason(), None);
        assert!(
            view.entry(&SerialNumber::from_hex("1002").unwrap())
                .is_none()
        );
        assert!(
            view.entry(
                &SerialNumber::from_hex("0102030405060708090A0B0C0D0E0F1011121314").unwrap()
            )
            .is_some()
        );

        // A flipped bit anywhere in the TBS breaks the signature.
        let mut tampered = der.clone();
        let at = tampered.windows(2).position(|w| w == [0x10, 0x01]).unwrap();
        tampered[at + 1] ^= 0x02;
        let tampered = CrlView::from_der(&tampered).unwrap();
        assert!(matches!(
            tampered.verify_signature(&ca_cert),
            Err(PkixError::BadSignature)
        ));
    }

    #[test]
    fn a_delta_carries_its_base_and_remove_from_crl_only_there() {
        let (key, ca_der) = ca();
        let issuer = CrlIssuer::new(ca_der).unwrap();
        let removal = entry("80AB", Some(RevocationReason::RemoveFromCrl));
        let full = template(CrlKind::Full { freshest_crl: None }, 10);
        assert!(encode_crl(&issuer, &full, &[removal], key).is_err());

        let delta = template(CrlKind::Delta { base_number: 10 }, 11);
        let der = encode_crl(&issuer, &delta, &[removal], key).unwrap();
        let view = CrlView::from_der(&der).unwrap();
        assert!(view.is_delta());
        assert_eq!(view.base_number(), Some(10));
        assert_eq!(view.number(), Some(11));
        assert!(view.freshest_crl_urls().is_empty());
        assert_eq!(
            view.entries()[0].reason(),
            Some(RevocationReason::RemoveFromCrl)
        );

        let backwards = template(CrlKind::Delta { base_number: 11 }, 11);
        assert!(encode_crl(&issuer, &backwards, &[], key).is_err());
        let mut empty_period = template(CrlKind::Full { freshest_crl: None }, 12);
        empty_period.next_update = empty_period.this_update;
        assert!(encode_crl(&issuer, &empty_period, &[], key).is_err());
        let other_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        assert!(matches!(
            encode_crl(&issuer, &full, &[], &other_key),
            Err(PkixError::IssuerKeyMismatch)
        ));
    }

    #[test]
    fn lengths_are_right_across_every_header_size() {
        // 0, 1, a few hundred and a few thousand entries cross the one-, two- and
        // three-octet length forms of the revoked list and the TBS.
        let (key, ca_der) = ca();
        let issuer = CrlIssuer::new(ca_der).unwrap();
        for count in [0usize, 1, 3, 9, 300, 5000] {
            let entries: Vec<CrlEntry> = (0..count)
                .map(|index| {
                    let serial =
                        SerialNumber::from_bytes(&(index as u64 + 1).to_be_bytes()).unwrap();
                    let reason = (index % 3 == 0).then_some(RevocationReason::Superseded);
                    CrlEntry::new(
                        &serial,
                        datetime!(2026-01-01 00:00 UTC) + time::Duration::seconds(index as i64),
                        reason,
                    )
                    .unwrap()
                })
                .collect();
            let der = encode_crl(
                &issuer,
                &template(CrlKind::Full { freshest_crl: None }, 1),
                &entries,
                key,
            )
            .unwrap();
            let view = CrlView::from_der(&der).unwrap();
            assert_eq!(view.len(), count);
            view.verify_signature(&JpkiCertificate::from_der(ca_der).unwrap())
                .unwrap();
            // x509-cert, an independent decoder, agrees.
            let list: x509_cert::crl::CertificateList = Decode::from_der(&der).unwrap();
            assert_eq!(
                list.tbs_cert_list
                    .revoked_certificates
                    .map_or(0, |revoked| revoked.len()),
                count
            );
        }
    }

    #[test]
    fn times_switch_to_generalized_time_in_2050() {
        let before = encode_time(datetime!(2049-12-31 23:59:59 UTC)).unwrap();
        assert_eq!(before.as_bytes(), b"\x17\x0d491231235959Z");
        let after = encode_time(datetime!(2050-01-01 00:00:00 UTC)).unwrap();
        assert_eq!(after.as_bytes(), b"\x18\x0f20500101000000Z");
        assert_eq!(
            time_digits_len(datetime!(2049-12-31 23:59:59 UTC).unix_timestamp()),
            13
        );
        assert_eq!(
            time_digits_len(datetime!(2050-01-01 00:00:00 UTC).unix_timestamp()),
            15
        );
        let parsed = parse_time(&Cursor::new(after.as_bytes(), 0).next("t").unwrap(), "t").unwrap();
        assert_eq!(parsed, datetime!(2050-01-01 00:00:00 UTC));
        assert!(encode_time(datetime!(1969-12-31 23:59:59 UTC)).is_err());
    }

    #[test]
    fn serials_are_checked_like_certificate_serials() {
        let at = datetime!(2026-01-01 00:00 UTC);
        let longest = SerialNumber::from_bytes(&[0x7f; 20]).unwrap();
        assert!(CrlEntry::new(&longest, at, None).is_ok());
        let too_long = SerialNumber::from_bytes(&[0x80; 20]).unwrap();
        assert!(matches!(
            CrlEntry::new(&too_long, at, None),
            Err(PkixError::SerialTooLong { len: 21 })
        ));
    }

    #[test]
    fn malformed_crls_are_errors_not_panics() {
        let (key, ca_der) = ca();
        let issuer = CrlIssuer::new(ca_der).unwrap();
        let der = encode_crl(
            &issuer,
            &template(CrlKind::Full { freshest_crl: None }, 1),
            &[entry("1001", Some(RevocationReason::KeyCompromise))],
            key,
        )
        .unwrap();
        for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
            assert!(CrlView::from_der(&der[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(CrlView::from_der(&trailing).is_err());
        let mut indefinite = der.clone();
        indefinite[1] = 0x80;
        assert!(CrlView::from_der(&indefinite).is_err());
        assert!(CrlView::from_der(&[0xff; 32]).is_err());
        // A CA certificate is not a CRL.
        assert!(CrlView::from_der(ca_der).is_err());
    }
}

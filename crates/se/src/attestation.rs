//! Key attestation: the secure element's signed statement that a key slot holds a key
//! generated inside it, and the verifier a registration authority runs over it.
//!
//! The statement (our format, identified by the OID
//! `2.25.228021176431277688793511615349129701746.3.1`, the first attestation format
//! under our arc), DER:
//!
//! ```text
//! KeyAttestation ::= SEQUENCE {
//!     tbs                 TBSAttestation,
//!     signatureAlgorithm  AlgorithmIdentifier,    -- sha256WithRSAEncryption (NULL parameters)
//!     signature           BIT STRING }            -- by the SE's device key, over the DER of tbs
//!
//! TBSAttestation ::= SEQUENCE {
//!     version               INTEGER (1),
//!     format                OBJECT IDENTIFIER,    -- <arc>.3.1
//!     seSerial              UTF8String,           -- = serialNumber of the device certificate subject
//!     slot                  OCTET STRING (SIZE (2)),  -- the key EF: 00 17 or 00 1A
//!     usage                 ENUMERATED { signature (0), authentication (1) },  -- 001A / 0017
//!     subjectPublicKeyInfo  SubjectPublicKeyInfo, -- the attested key
//!     nonce                 OCTET STRING (SIZE (16..64)),  -- the server's challenge
//!     attestedAt            GeneralizedTime }     -- the SE's clock, whole seconds
//!
//! AttestationResponse ::= SEQUENCE {              -- what ATTEST KEY (80 A0) answers
//!     statement     KeyAttestation,
//!     certificates  SEQUENCE SIZE (1..MAX) OF Certificate }
//!                   -- the device certificate first, then the vendor chain up to its root
//! ```
//!
//! Verification ([`verify_attestation`]), in this order, first failure wins:
//! 1. the statement and the device certificate parse (strict DER, no trailing bytes);
//! 2. a trusted vendor root issued the device certificate (issuer name = root subject,
//!    signature), and that root is a CA, may sign certificates and is valid now;
//! 3. the device certificate is an end-entity certificate for signatures, valid now;
//! 4. the statement's signature verifies with the device key;
//! 5. the statement's content is well-formed (version, format, slot ↔ usage, nonce
//!    length, an acceptable key) and its SE serial is the device certificate's;
//! 6. the nonce is the expected one;
//! 7. it is fresh: attestedAt within [now − max age, now + allowed clock skew].
//!
//! What a verifier still has to check itself: that the attested key is the key it is
//! asked to certify, for the slot it is asked to certify ([`AttestedKey::check_binding`]),
//! and that it did not accept the same nonce before.

use std::fmt;

use der::asn1::{AnyRef, BitString, GeneralizedTime, OctetString};
use der::{Decode, Encode, Enumerated, Sequence, Tag, Tagged};
use jpki_crypto::{SignatureAlgorithm, Signer, verify_signature};
use jpki_pkix::JpkiCertificate;
use jpki_pkix::oid::{self, AnyOid};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::{SeError, SeSerial};

/// The statement format, `2.25.228021176431277688793511615349129701746.3.1`.
pub const KEY_ATTESTATION_FORMAT: AnyOid = AnyOid::from_static_ber(&FORMAT_BER);

/// BER content octets of [`KEY_ATTESTATION_FORMAT`]: our arc, then `.3`, then `.1`
/// (checked against `jpki_pkix::oid::SANDBOX_ATTESTATION_ARC` in the tests).
const FORMAT_BER: [u8; 22] = [
    0x69, 0x82, 0xd7, 0x8b, 0xa3, 0xfe, 0xcc, 0xad, 0xf2, 0x9a, 0x99, 0x80, 0xcb, 0xfb, 0x90, 0xaa,
    0xd2, 0x9d, 0xd2, 0x72, 0x03, 0x01,
];

/// The statement version this build writes and reads.
pub const STATEMENT_VERSION: u8 = 1;
/// Shortest nonce accepted (bytes).
pub const MIN_NONCE_LEN: usize = 16;
/// Longest nonce accepted (bytes).
pub const MAX_NONCE_LEN: usize = 64;

/// A key slot of the JPKI AP, by what its key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enumerated)]
#[repr(u8)]
pub enum SlotUsage {
    /// EF `001A`, the signature key (署名用), unlocked by the signature password.
    Signature = 0,
    /// EF `0017`, the user-authentication key (利用者証明用), unlocked by the auth PIN
    /// or a biometric unlock.
    Authentication = 1,
}

impl SlotUsage {
    pub const ALL: [Self; 2] = [Self::Signature, Self::Authentication];

    /// The key EF: `001A` or `0017`.
    pub fn key_fid(self) -> u16 {
        match self {
            Self::Signature => 0x001A,
            Self::Authentication => 0x0017,
        }
    }

    /// The certificate EF of the key: `0001` or `000A`.
    pub fn certificate_fid(self) -> u16 {
        match self {
            Self::Signature => 0x0001,
            Self::Authentication => 0x000A,
        }
    }

    /// The PIN EF that unlocks the key: `001B` or `0018`.
    pub fn pin_fid(self) -> u16 {
        match self {
            Self::Signature => 0x001B,
            Self::Authentication => 0x0018,
        }
    }

    /// The slot whose key EF is `fid`.
    pub fn from_key_fid(fid: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|usage| usage.key_fid() == fid)
    }
}

impl fmt::Display for SlotUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Signature => "signature key (EF 001A)",
            Self::Authentication => "authentication key (EF 0017)",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
struct TbsAttestation {
    version: u8,
    format: AnyOid,
    se_serial: String,
    slot: OctetString,
    usage: SlotUsage,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    nonce: OctetString,
    attested_at: GeneralizedTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
struct KeyAttestation {
    tbs: TbsAttestation,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

/// The statement as received: the TBS kept as bytes, so the signature is checked over
/// exactly what was signed.
#[derive(Sequence)]
struct KeyAttestationRef<'a> {
    tbs: AnyRef<'a>,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

#[derive(Sequence)]
struct AttestationResponseRef<'a> {
    statement: AnyRef<'a>,
    certificates: Vec<AnyRef<'a>>,
}

/// Makes a signed statement for `usage` whose key is `public_key_der` (the SE side of
/// ATTEST KEY).
pub(crate) fn build_statement(
    device_key: &dyn Signer,
    se_serial: &SeSerial,
    usage: SlotUsage,
    public_key_der: &[u8],
    nonce: &[u8],
    now: OffsetDateTime,
) -> Result<Vec<u8>, SeError> {
    if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len()) {
        return Err(SeError::InvalidArgument(format!(
            "a nonce has {MIN_NONCE_LEN} to {MAX_NONCE_LEN} bytes, not {}",
            nonce.len()
        )));
    }
    let seconds = u64::try_from(now.unix_timestamp())
        .map_err(|_| SeError::InvalidArgument("the SE clock is before 1970".into()))?;
    let tbs = TbsAttestation {
        version: STATEMENT_VERSION,
        format: KEY_ATTESTATION_FORMAT,
        se_serial: se_serial.as_str().to_owned(),
        slot: OctetString::new(usage.key_fid().to_be_bytes().to_vec())?,
        usage,
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(public_key_der)?,
        nonce: OctetString::new(nonce.to_vec())?,
        attested_at: GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))?,
    };
    let signature = device_key.sign(&tbs.to_der()?)?;
    let statement = KeyAttestation {
        tbs,
        signature_algorithm: jpki_pkix::signer::signature_algorithm_identifier(
            device_key.algorithm(),
        ),
        signature: BitString::from_bytes(&signature)?,
    };
    Ok(statement.to_der()?)
}

/// What ATTEST KEY answers: the statement, the device certificate and the vendor chain.
#[derive(Clone, PartialEq, Eq)]
pub struct AttestationBundle {
    statement: Vec<u8>,
    certificates: Vec<Vec<u8>>,
}

impl AttestationBundle {
    /// A bundle from its parts (the device certificate first, then the vendor chain).
    pub fn new(statement: Vec<u8>, certificates: Vec<Vec<u8>>) -> Result<Self, SeError> {
        if certificates.is_empty() {
            return Err(SeError::InvalidArgument(
                "an attestation needs at least the device certificate".into(),
            ));
        }
        Ok(Self {
            statement,
            certificates,
        })
    }

    /// Parses an `AttestationResponse` (structure only: nothing is verified here).
    pub fn from_der(der: &[u8]) -> Result<Self, AttestationError> {
        let response = AttestationResponseRef::from_der(der)
            .map_err(|error| malformed("attestation response", error))?;
        if response.statement.tag() != Tag::Sequence {
            return Err(AttestationError::Malformed(
                "attestation response: the statement is not a SEQUENCE".into(),
            ));
        }
        if response.certificates.is_empty()
            || response
                .certificates
                .iter()
                .any(|certificate| certificate.tag() != Tag::Sequence)
        {
            return Err(AttestationError::Malformed(
                "attestation response: no certificates, or one is not a SEQUENCE".into(),
            ));
        }
        let encode = |any: &AnyRef<'_>| {
            any.to_der()
                .map_err(|error| malformed("attestation response", error))
        };
        Ok(Self {
            statement: encode(&response.statement)?,
            certificates: response
                .certificates
                .iter()
                .map(encode)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The DER `AttestationResponse`.
    pub fn to_der(&self) -> Result<Vec<u8>, SeError> {
        let certificates: Vec<u8> = self.certificates.concat();
        let mut inner = self.statement.clone();
        inner.extend(wrap_sequence(&certificates)?);
        wrap_sequence(&inner)
    }

    /// The DER `KeyAttestation`.
    pub fn statement(&self) -> &[u8] {
        &self.statement
    }

    /// The device certificate (DER).
    pub fn device_certificate(&self) -> &[u8] {
        self.certificates.first().map_or(&[], Vec::as_slice)
    }

    /// The certificates after the device certificate, toward the vendor root.
    pub fn vendor_chain(&self) -> &[Vec<u8>] {
        self.certificates.get(1..).unwrap_or_default()
    }

    /// [`verify_attestation`] over this bundle's statement and device certificate. The
    /// vendor chain in the bundle is informative only: trust comes from `trusted_vendor_roots`.
    pub fn verify<R: AsRef<[u8]>>(
        &self,
        trusted_vendor_roots: &[R],
        expected_nonce: &[u8],
        now: OffsetDateTime,
    ) -> Result<AttestedKey, AttestationError> {
        verify_attestation(
            &self.statement,
            self.device_certificate(),
            trusted_vendor_roots,
            expected_nonce,
            now,
        )
    }
}

impl fmt::Debug for AttestationBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttestationBundle")
            .field(
                "statement",
                &format_args!("[{} bytes]", self.statement.len()),
            )
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

fn wrap_sequence(content: &[u8]) -> Result<Vec<u8>, SeError> {
    let header = der::Header::new(Tag::Sequence, der::Length::try_from(content.len())?);
    let mut out = Vec::with_capacity(content.len() + 4);
    header.encode_to_vec(&mut out)?;
    out.extend_from_slice(content);
    Ok(out)
}

/// How strict the freshness check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttestationPolicy {
    /// Oldest statement accepted (default 5 minutes: a statement answers one challenge).
    pub max_age: Duration,
    /// How far the SE's clock may run ahead of the verifier's (default 2 minutes).
    pub max_clock_skew: Duration,
}

impl Default for AttestationPolicy {
    fn default() -> Self {
        Self {
            max_age: Duration::minutes(5),
            max_clock_skew: Duration::minutes(2),
        }
    }
}

/// Why an attestation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    #[error("malformed attestation: {0}")]
    Malformed(String),
    #[error("the device certificate does not chain to a trusted SE vendor root ({reason})")]
    UntrustedVendor { reason: &'static str },
    #[error("the trusted vendor root that issued the device certificate expired at {not_after}")]
    VendorRootExpired { not_after: OffsetDateTime },
    #[error("the device certificate expired at {not_after}")]
    DeviceCertificateExpired { not_after: OffsetDateTime },
    #[error("the device certificate is not valid before {not_before}")]
    DeviceCertificateNotYetValid { not_before: OffsetDateTime },
    #[error("the device certificate may not sign attestations: {0}")]
    NotADeviceCertificate(&'static str),
    #[error("the attestation signature does not verify with the device key")]
    BadSignature,
    #[error("the statement names another secure element than its device certificate")]
    SerialMismatch,
    #[error("the attestation answers another challenge (wrong nonce)")]
    WrongNonce,
    #[error("the attestation is stale: made at {attested_at}, now is {now}")]
    Stale {
        attested_at: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("the attestation is dated in the future: {attested_at}, now is {now}")]
    FromTheFuture {
        attested_at: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("the attested key is the {found}, the {expected} was expected")]
    WrongSlot {
        expected: SlotUsage,
        found: SlotUsage,
    },
    #[error("the attested key is not the key to be certified")]
    KeyMismatch,
}

fn malformed(what: &str, error: impl fmt::Display) -> AttestationError {
    AttestationError::Malformed(format!("{what}: {error}"))
}

/// A key an SE attested, as the verifier established it. Only [`verify_attestation`]
/// makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedKey {
    se_serial: SeSerial,
    usage: SlotUsage,
    public_key_der: Vec<u8>,
    attested_at: OffsetDateTime,
    vendor: String,
    device_certificate_sha256: [u8; 32],
}

impl AttestedKey {
    /// The serial of the secure element that holds the key.
    pub fn se_serial(&self) -> &SeSerial {
        &self.se_serial
    }

    /// The slot: signature (`001A`) or authentication (`0017`).
    pub fn usage(&self) -> SlotUsage {
        self.usage
    }

    /// The key EF id.
    pub fn slot(&self) -> u16 {
        self.usage.key_fid()
    }

    /// The attested key, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    pub fn attested_at(&self) -> OffsetDateTime {
        self.attested_at
    }

    /// The subject of the vendor root the device certificate chains to.
    pub fn vendor(&self) -> &str {
        &self.vendor
    }

    /// SHA-256 of the device certificate (one device per person: an RA can recognise
    /// the same phone across applications).
    pub fn device_certificate_sha256(&self) -> &[u8; 32] {
        &self.device_certificate_sha256
    }

    /// Checks that this is the key an applicant asks to have certified, for the slot
    /// the certificate is meant for (a signature certificate for the `001A` key, an
    /// authentication certificate for the `0017` key).
    pub fn check_binding(
        &self,
        expected_usage: SlotUsage,
        public_key_der: &[u8],
    ) -> Result<(), AttestationError> {
        if self.usage != expected_usage {
            return Err(AttestationError::WrongSlot {
                expected: expected_usage,
                found: self.usage,
            });
        }
        if self.public_key_der != public_key_der {
            return Err(AttestationError::KeyMismatch);
        }
        Ok(())
    }
}

/// Verifies a statement with the [`AttestationPolicy::default`] freshness window. See
/// the module documentation for the checks and their order.
pub fn verify_attestation<R: AsRef<[u8]>>(
    statement_der: &[u8],
    device_certificate_der: &[u8],
    trusted_vendor_roots: &[R],
    expected_nonce: &[u8],
    now: OffsetDateTime,
) -> Result<AttestedKey, AttestationError> {
    verify_attestation_with(
        &AttestationPolicy::default(),
        statement_der,
        device_certificate_der,
        trusted_vendor_roots,
        expected_nonce,
        now,
    )
}

/// [`verify_attestation`] with an explicit freshness policy.
pub fn verify_attestation_with<R: AsRef<[u8]>>(
    policy: &AttestationPolicy,
    statement_der: &[u8],
    device_certificate_der: &[u8],
    trusted_vendor_roots: &[R],
    expected_nonce: &[u8],
    now: OffsetDateTime,
) -> Result<AttestedKey, AttestationError> {
    let mut device = None;
    verify_one(
        policy,
        statement_der,
        &mut device,
        device_certificate_der,
        trusted_vendor_roots,
        expected_nonce,
        now,
    )
}

/// [`verify_attestation_with`] for several statements of one SE (an application's
/// keys), each with its own result, in order: the device certificate and its vendor
/// root are checked once, when the first statement that parses needs them. Each result
/// is what [`verify_attestation_with`] gives for that statement alone.
pub fn verify_attestations_with<S: AsRef<[u8]>, R: AsRef<[u8]>>(
    policy: &AttestationPolicy,
    statements_der: &[S],
    device_certificate_der: &[u8],
    trusted_vendor_roots: &[R],
    expected_nonce: &[u8],
    now: OffsetDateTime,
) -> Vec<Result<AttestedKey, AttestationError>> {
    let mut device = None;
    statements_der
        .iter()
        .map(|statement_der| {
            verify_one(
                policy,
                statement_der.as_ref(),
                &mut device,
                device_certificate_der,
                trusted_vendor_roots,
                expected_nonce,
                now,
            )
        })
        .collect()
}

/// A device certificate that a trusted vendor root issued and that may attest now
/// (steps 1b to 3), and that root's name.
struct CheckedDevice {
    device: JpkiCertificate,
    vendor: String,
}

fn check_device<R: AsRef<[u8]>>(
    device_certificate_der: &[u8],
    trusted_vendor_roots: &[R],
    now: OffsetDateTime,
) -> Result<CheckedDevice, AttestationError> {
    let device = JpkiCertificate::from_der(device_certificate_der)
        .map_err(|error| malformed("device certificate", error))?;

    // Step 2: a trusted root issued it.
    let root = issuing_root(&device, trusted_vendor_roots)?;
    if now > root.not_after() {
        return Err(AttestationError::VendorRootExpired {
            not_after: root.not_after(),
        });
    }
    if now < root.not_before() {
        return Err(AttestationError::UntrustedVendor {
            reason: "the issuing root is not valid yet",
        });
    }

    // Step 3: the device certificate signs, and is valid now.
    if device.is_ca() {
        return Err(AttestationError::NotADeviceCertificate(
            "it is a CA certificate",
        ));
    }
    if !device
        .key_usage()
        .is_some_and(|usage| usage.digital_signature())
    {
        return Err(AttestationError::NotADeviceCertificate(
            "its keyUsage lacks digitalSignature",
        ));
    }
    if now < device.not_before() {
        return Err(AttestationError::DeviceCertificateNotYetValid {
            not_before: device.not_before(),
        });
    }
    if now > device.not_after() {
        return Err(AttestationError::DeviceCertificateExpired {
            not_after: device.not_after(),
        });
    }

    Ok(CheckedDevice {
        vendor: root.subject().to_der_order_string(),
        device,
    })
}

/// One statement; `device` holds the device check once made (shared by the statements
/// of one SE).
fn verify_one<R: AsRef<[u8]>>(
    policy: &AttestationPolicy,
    statement_der: &[u8],
    device: &mut Option<Result<CheckedDevice, AttestationError>>,
    device_certificate_der: &[u8],
    trusted_vendor_roots: &[R],
    expected_nonce: &[u8],
    now: OffsetDateTime,
) -> Result<AttestedKey, AttestationError> {
    // Step 1: parse both (strict DER; `from_der` refuses trailing bytes).
    let statement = KeyAttestationRef::from_der(statement_der)
        .map_err(|error| malformed("statement", error))?;
    if statement.tbs.tag() != Tag::Sequence {
        return Err(AttestationError::Malformed(
            "statement: the TBS is not a SEQUENCE".into(),
        ));
    }
    let tbs_der = statement
        .tbs
        .to_der()
        .map_err(|error| malformed("statement", error))?;
    let tbs =
        TbsAttestation::from_der(&tbs_der).map_err(|error| malformed("statement TBS", error))?;
    let CheckedDevice { device, vendor } = device
        .get_or_insert_with(|| check_device(device_certificate_der, trusted_vendor_roots, now))
        .as_ref()
        .map_err(Clone::clone)?;

    // Step 4: the device key signed the statement.
    if tbs.version != STATEMENT_VERSION {
        return Err(AttestationError::Malformed(format!(
            "statement version {} (this build reads {STATEMENT_VERSION})",
            tbs.version
        )));
    }
    if tbs.format != KEY_ATTESTATION_FORMAT {
        return Err(AttestationError::Malformed(format!(
            "statement format {} is not {KEY_ATTESTATION_FORMAT}",
            tbs.format
        )));
    }
    let device_key_kind = jpki_pkix::inspect_public_key(device.public_key_der())
        .map_err(|error| malformed("device key", error))?;
    let algorithm = signature_algorithm_of(&statement.signature_algorithm)
        .ok_or(AttestationError::BadSignature)?;
    if algorithm != device_key_kind.signature_algorithm() {
        return Err(AttestationError::BadSignature);
    }
    let signature = statement
        .signature
        .as_bytes()
        .ok_or(AttestationError::BadSignature)?;
    verify_signature(algorithm, device.public_key_der(), &tbs_der, signature)
        .map_err(|_| AttestationError::BadSignature)?;

    // Step 5: what it says is well-formed and about this SE.
    let usage = tbs.usage;
    if tbs.slot.as_bytes() != usage.key_fid().to_be_bytes() {
        return Err(AttestationError::Malformed(format!(
            "slot {} does not hold the {usage}",
            hex::encode_upper(tbs.slot.as_bytes())
        )));
    }
    let nonce = tbs.nonce.as_bytes();
    if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len()) {
        return Err(AttestationError::Malformed(format!(
            "nonce of {} bytes",
            nonce.len()
        )));
    }
    let public_key_der = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|error| malformed("attested key", error))?;
    jpki_pkix::inspect_public_key(&public_key_der)
        .map_err(|error| malformed("attested key", error))?;
    let se_serial = SeSerial::parse(&tbs.se_serial)
        .map_err(|_| AttestationError::Malformed("the SE serial is not valid".into()))?;
    if device
        .subject()
        .values_of("SERIALNUMBER")
        .collect::<Vec<_>>()
        != [se_serial.as_str()]
    {
        return Err(AttestationError::SerialMismatch);
    }

    // Step 6: it answers our challenge.
    if !bool::from(nonce.ct_eq(expected_nonce)) {
        return Err(AttestationError::WrongNonce);
    }

    // Step 7: and it is fresh.
    let attested_at = from_generalized_time(&tbs.attested_at)?;
    if now
        .checked_sub(policy.max_age)
        .is_some_and(|oldest| attested_at < oldest)
    {
        return Err(AttestationError::Stale { attested_at, now });
    }
    if now
        .checked_add(policy.max_clock_skew)
        .is_some_and(|latest| attested_at > latest)
    {
        return Err(AttestationError::FromTheFuture { attested_at, now });
    }

    Ok(AttestedKey {
        se_serial,
        usage,
        public_key_der,
        attested_at,
        vendor: vendor.clone(),
        device_certificate_sha256: device.fingerprint_sha256(),
    })
}

/// The trusted root whose subject is the device certificate's issuer and whose key
/// signed it, after checking that the root may issue certificates.
fn issuing_root<R: AsRef<[u8]>>(
    device: &JpkiCertificate,
    trusted_vendor_roots: &[R],
) -> Result<JpkiCertificate, AttestationError> {
    let mut reason = "no trusted root has the device certificate's issuer name";
    for (index, root) in trusted_vendor_roots.iter().enumerate() {
        let root = JpkiCertificate::from_der(root.as_ref())
            .map_err(|error| malformed(&format!("trusted vendor root #{index}"), error))?;
        if root.subject().der() != device.issuer().der() {
            continue;
        }
        if device.verify_issued_by(&root).is_err() {
            reason = "a trusted root has the issuer name but did not sign it";
            continue;
        }
        if !root.is_ca() {
            return Err(AttestationError::UntrustedVendor {
                reason: "the issuing root is not a CA certificate",
            });
        }
        if root.key_usage().is_some_and(|usage| !usage.key_cert_sign()) {
            return Err(AttestationError::UntrustedVendor {
                reason: "the issuing root may not sign certificates",
            });
        }
        return Ok(root);
    }
    Err(AttestationError::UntrustedVendor { reason })
}

fn signature_algorithm_of(identifier: &AlgorithmIdentifierOwned) -> Option<SignatureAlgorithm> {
    let parameters_null = identifier
        .parameters
        .as_ref()
        .is_some_and(|parameters| parameters.is_null());
    match identifier.oid {
        oid::SHA256_WITH_RSA_ENCRYPTION if parameters_null || identifier.parameters.is_none() => {
            Some(SignatureAlgorithm::RsaPkcs1Sha256)
        }
        oid::ECDSA_WITH_SHA256 if identifier.parameters.is_none() => {
            Some(SignatureAlgorithm::EcdsaP256Sha256)
        }
        _ => None,
    }
}

fn from_generalized_time(time: &GeneralizedTime) -> Result<OffsetDateTime, AttestationError> {
    i64::try_from(time.to_unix_duration().as_secs())
        .ok()
        .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
        .ok_or_else(|| AttestationError::Malformed("attestedAt out of range".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_oid_is_the_first_child_of_our_attestation_arc() {
        let mut expected = oid::SANDBOX_ATTESTATION_ARC.as_ber().to_vec();
        expected.push(0x01);
        assert_eq!(KEY_ATTESTATION_FORMAT.as_ber(), expected.as_slice());
        assert_eq!(
            KEY_ATTESTATION_FORMAT.to_string(),
            "2.25.228021176431277688793511615349129701746.3.1"
        );
        assert!(KEY_ATTESTATION_FORMAT.is_under(&oid::SANDBOX_ATTESTATION_ARC));
    }

    #[test]
    fn slots_map_to_their_efs() {
        assert_eq!(SlotUsage::Signature.key_fid(), 0x001A);
        assert_eq!(SlotUsage::Authentication.certificate_fid(), 0x000A);
        assert_eq!(SlotUsage::Authentication.pin_fid(), 0x0018);
        assert_eq!(
            SlotUsage::from_key_fid(0x0017),
            Some(SlotUsage::Authentication)
        );
        assert_eq!(SlotUsage::from_key_fid(0x0018), None);
        // ENUMERATED encodings: signature (0), authentication (1).
        assert_eq!(SlotUsage::Signature.to_der().unwrap(), [0x0A, 0x01, 0x00]);
        assert_eq!(
            SlotUsage::Authentication.to_der().unwrap(),
            [0x0A, 0x01, 0x01]
        );
        assert!(SlotUsage::from_der(&[0x0A, 0x01, 0x02]).is_err());
    }

    #[test]
    fn bundles_parse_only_what_they_encode() {
        let bundle = AttestationBundle::new(
            vec![0x30, 0x00],
            vec![vec![0x30, 0x01, 0x05], vec![0x30, 0x00]],
        )
        .unwrap();
        let der = bundle.to_der().unwrap();
        assert_eq!(
            der,
            [
                0x30, 0x09, 0x30, 0x00, 0x30, 0x05, 0x30, 0x01, 0x05, 0x30, 0x00
            ]
        );
        let back = AttestationBundle::from_der(&der).unwrap();
        assert_eq!(back, bundle);
        assert_eq!(back.device_certificate(), &[0x30, 0x01, 0x05]);
        assert_eq!(back.vendor_chain(), &[vec![0x30, 0x00]]);
        for bad in [
            &[0x30, 0x04, 0x30, 0x00, 0x30, 0x00][..],
            &[0x30, 0x04, 0x04, 0x00, 0x30, 0x00],
            &[0x30, 0x06, 0x30, 0x00, 0x30, 0x02, 0x04, 0x00],
            &der[..der.len() - 1],
            &[der.as_slice(), &[0]].concat(),
        ] {
            assert!(AttestationBundle::from_der(bad).is_err(), "{bad:02X?}");
        }
        assert!(AttestationBundle::new(vec![], vec![]).is_err());
    }
}

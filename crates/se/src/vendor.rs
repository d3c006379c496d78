//! The SE vendor's certification authority: the root that certifies every secure
//! element's device key, so a registration authority can tell a key made inside a real
//! (here: virtual) secure element from one made anywhere else.
//!
//! ```text
//! vendor root  (self-signed, v3, sha256WithRSAEncryption, RSA-2048)
//!   subject = issuer = O=<vendor>, CN=<vendor> Attestation Root
//!   basicConstraints  critical  cA TRUE, pathLenConstraint 0
//!   keyUsage          critical  keyCertSign, cRLSign
//!   subjectKeyIdentifier        SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 (1))
//!
//! device certificate  (issued by the root, one per secure element)
//!   subject = O=<vendor>, CN=Secure Element, serialNumber=<SE serial>   (PrintableString)
//!   basicConstraints  critical  cA FALSE
//!   keyUsage          critical  digitalSignature
//!   subjectKeyIdentifier, authorityKeyIdentifier (the root's key identifier)
//!   validity: now .. min(now + device validity (default 10 years), the root's notAfter)
//! ```
//! Serial numbers are 128 random bits. The root's key is exported only encrypted
//! (PKCS#8 PBES2, the format `jpki_crypto::encrypt_private_key` writes and OpenSSL reads).
//!
//! Not here: intermediate vendor CAs, revocation of device certificates (a vendor would
//! publish a list of compromised SE serials; the verifier takes trusted roots only).

use std::sync::Arc;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519;
use der::asn1::{Any, GeneralizedTime, OctetString};
use der::{Decode, Encode, Tag};
use jpki_crypto::{
    Clock, RsaKeySize, SecretString, Signer, SoftwareRsaKey, decrypt_private_key,
    encrypt_private_key,
};
use jpki_pkix::JpkiCertificate;
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use time::{Duration, OffsetDateTime};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::CertificateBuilder;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::{SeError, SeSerial};

/// How long a vendor root is valid from its creation.
pub const DEFAULT_ROOT_VALIDITY: Duration = Duration::days(20 * 365);
/// How long a device certificate is valid from manufacturing (capped at the root's end).
pub const DEFAULT_DEVICE_CERTIFICATE_VALIDITY: Duration = Duration::days(10 * 365);
/// The CN of every device certificate.
pub const DEVICE_COMMON_NAME: &str = "Secure Element";
/// Longest vendor name accepted (the root's CN adds 17 characters; X.520 allows 64).
pub const MAX_VENDOR_NAME_CHARS: usize = 40;

/// An SE vendor's root CA: its certificate and its key.
pub struct VendorCa {
    name: String,
    certificate: JpkiCertificate,
    key: SoftwareRsaKey,
    clock: Arc<dyn Clock>,
    device_validity: Duration,
}

impl VendorCa {
    /// A new vendor root named `name` (1 to 40 characters, no control characters, no
    /// leading or trailing space), valid [`DEFAULT_ROOT_VALIDITY`] from now, with a fresh
    /// RSA-2048 key.
    pub fn create(name: &str, clock: Arc<dyn Clock>) -> Result<Self, SeError> {
        check_vendor_name(name)?;
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?;
        let now = whole_seconds(clock.now());
        let subject = root_name(name)?;
        let ski = jpki_pkix::key::key_identifier(key.public_key_der())?;
        let mut extensions = Vec::new();
        let constraints = BasicConstraints {
            ca: true,
            path_len_constraint: Some(0),
        };
        extensions.push((true, &constraints).to_extension(&subject, &extensions)?);
        let usage = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
        extensions.push((true, &usage).to_extension(&subject, &extensions)?);
        let ski = SubjectKeyIdentifier(OctetString::new(ski)?);
        extensions.push((false, &ski).to_extension(&subject, &extensions)?);
        let not_after = now
            .checked_add(DEFAULT_ROOT_VALIDITY)
            .ok_or_else(|| SeError::InvalidArgument(format!("time {now} is out of range")))?;
        let der = build_certificate(
            Profile {
                issuer: subject.clone(),
                subject,
                extensions,
            },
            now,
            not_after,
            key.public_key_der(),
            &key,
        )?;
        Ok(Self {
            name: name.to_owned(),
            certificate: JpkiCertificate::from_der(&der)?,
            key,
            clock,
            device_validity: DEFAULT_DEVICE_CERTIFICATE_VALIDITY,
        })
    }

    /// Loads a vendor root from its certificate and its encrypted key (what
    /// [`VendorCa::export_key`] wrote). Refuses a certificate that is not a CA and a key
    /// that is not the certificate's.
    pub fn import(
        certificate_der: &[u8],
        encrypted_key: &[u8],
        passphrase: &SecretString,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SeError> {
        let certificate = JpkiCertificate::from_der(certificate_der)?;
        if !certificate.is_ca() {
            return Err(SeError::InvalidArgument(
                "the vendor certificate is not a CA certificate".into(),
            ));
        }
        let name = certificate
            .subject()
            .values_of("O")
            .next()
            .ok_or_else(|| {
                SeError::InvalidArgument("the vendor certificate names no organization".into())
            })?
            .to_owned();
        check_vendor_name(&name)?;
        let pkcs8 = decrypt_private_key(encrypted_key, passphrase)?;
        let key = SoftwareRsaKey::from_pkcs8_der(pkcs8.expose())?;
        if key.public_key_der() != certificate.public_key_der() {
            return Err(SeError::VendorKeyMismatch);
        }
        Ok(Self {
            name,
            certificate,
            key,
            clock,
            device_validity: DEFAULT_DEVICE_CERTIFICATE_VALIDITY,
        })
    }

    /// The same CA issuing device certificates valid `validity` (at least one second).
    pub fn with_device_certificate_validity(mut self, validity: Duration) -> Result<Self, SeError> {
        if validity < Duration::SECOND {
            return Err(SeError::InvalidArgument(
                "a device certificate is valid at least one second".into(),
            ));
        }
        self.device_validity = validity;
        Ok(self)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The root certificate (DER): what verifiers trust.
    pub fn certificate_der(&self) -> &[u8] {
        self.certificate.der()
    }

    /// The root certificate as PEM.
    pub fn certificate_pem(&self) -> Result<String, SeError> {
        Ok(self.certificate.to_pem()?)
    }

    /// The root key as an encrypted PKCS#8 PEM (PBES2, PBKDF2-HMAC-SHA256 with
    /// `iterations`, AES-256-CBC). Use [`jpki_crypto::DEFAULT_PBKDF2_ITERATIONS`] outside
    /// tests.
    pub fn export_key(
        &self,
        passphrase: &SecretString,
        iterations: u32,
    ) -> Result<String, SeError> {
        Ok(encrypt_private_key(
            self.key.pkcs8_der(),
            passphrase,
            iterations,
        )?)
    }

    /// Certifies a secure element's device key: `device_public_key_der` is its DER
    /// SubjectPublicKeyInfo (RSA ≥ 2048 or P-256), `se_serial` goes into the subject's
    /// serialNumber, which verifiers compare with the serial in each statement.
    pub fn issue_device_certificate(
        &self,
        device_public_key_der: &[u8],
        se_serial: &SeSerial,
    ) -> Result<Vec<u8>, SeError> {
        jpki_pkix::inspect_public_key(device_public_key_der)?;
        let now = whole_seconds(self.clock.now());
        let root_end = self.certificate.not_after();
        if now >= root_end {
            return Err(SeError::InvalidArgument(format!(
                "the vendor root expired at {root_end}"
            )));
        }
        let not_after = now
            .checked_add(self.device_validity)
            .map_or(root_end, |end| end.min(root_end));
        let subject = device_name(&self.name, se_serial)?;
        let issuer = Name::from_der(self.certificate.subject().der())?;
        let mut extensions = Vec::new();
        let constraints = BasicConstraints {
            ca: false,
            path_len_constraint: None,
        };
        extensions.push((true, &constraints).to_extension(&subject, &extensions)?);
        let usage = KeyUsage(KeyUsages::DigitalSignature.into());
        extensions.push((true, &usage).to_extension(&subject, &extensions)?);
        let ski = SubjectKeyIdentifier(OctetString::new(jpki_pkix::key::key_identifier(
            device_public_key_der,
        )?)?);
        extensions.push((false, &ski).to_extension(&subject, &extensions)?);
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(jpki_pkix::key::key_identifier(
                self.key.public_key_der(),
            )?)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        extensions.push((false, &aki).to_extension(&subject, &extensions)?);
        build_certificate(
            Profile {
                issuer,
                subject,
                extensions,
            },
            now,
            not_after,
            device_public_key_der,
            &self.key,
        )
    }
}

impl std::fmt::Debug for VendorCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorCa")
            .field("name", &self.name)
            .field("not_after", &self.certificate.not_after())
            .field("key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

fn check_vendor_name(name: &str) -> Result<(), SeError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_VENDOR_NAME_CHARS {
        return Err(SeError::InvalidArgument(format!(
            "a vendor name has 1 to {MAX_VENDOR_NAME_CHARS} characters, not {chars}"
        )));
    }
    if name.chars().any(char::is_control) || name.trim() != name {
        return Err(SeError::InvalidArgument(
            "a vendor name has no control characters and no leading or trailing space".into(),
        ));
    }
    Ok(())
}

fn root_name(vendor: &str) -> Result<Name, SeError> {
    build_name(&[
        (rfc4519::ORGANIZATION_NAME, Tag::Utf8String, vendor),
        (
            rfc4519::COMMON_NAME,
            Tag::Utf8String,
            &format!("{vendor} Attestation Root"),
        ),
    ])
}

fn device_name(vendor: &str, serial: &SeSerial) -> Result<Name, SeError> {
    build_name(&[
        (rfc4519::ORGANIZATION_NAME, Tag::Utf8String, vendor),
        (rfc4519::COMMON_NAME, Tag::Utf8String, DEVICE_COMMON_NAME),
        // X.520 serialNumber is a PrintableString; the serial is upper-case hex.
        (
            rfc4519::SERIAL_NUMBER,
            Tag::PrintableString,
            serial.as_str(),
        ),
    ])
}

/// One single-valued RDN per part, in the order given.
fn build_name(parts: &[(ObjectIdentifier, Tag, &str)]) -> Result<Name, SeError> {
    let mut rdns = RdnSequence::default();
    for (oid, tag, value) in parts {
        let mut rdn = RelativeDistinguishedName::default();
        rdn.insert(AttributeTypeAndValue {
            oid: *oid,
            value: Any::new(*tag, value.as_bytes())?,
        })?;
        rdns.push(rdn);
    }
    // `Name` has no public constructor from an RdnSequence outside x509-cert's `hazmat`
    // feature; the DER round trip is exact.
    Ok(Name::from_der(&rdns.to_der()?)?)
}

/// The builder profile of both certificates: fixed names and extensions.
struct Profile {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _subject_key: SubjectPublicKeyInfoRef<'_>,
        _issuer_key: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

fn build_certificate(
    profile: Profile,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    subject_public_key_der: &[u8],
    signer: &dyn Signer,
) -> Result<Vec<u8>, SeError> {
    let validity = Validity::new(x509_time(not_before)?, x509_time(not_after)?);
    let builder = CertificateBuilder::new(
        profile,
        random_serial()?,
        validity,
        SubjectPublicKeyInfoOwned::from_der(subject_public_key_der)?,
    )
    .map_err(jpki_pkix::PkixError::from)?;
    let certificate = jpki_pkix::sign_with(builder, signer)?;
    Ok(certificate.to_der()?)
}

/// 128 random bits, positive, no leading zero octet.
fn random_serial() -> Result<SerialNumber, SeError> {
    let mut bytes = jpki_crypto::random_bytes(16)?;
    if let Some(first) = bytes.first_mut() {
        *first = (*first & 0x7F) | 0x40;
    }
    Ok(SerialNumber::new(&bytes)?)
}

/// A certificate time; the builder turns it into UTCTime through 2049 (RFC 5280).
fn x509_time(instant: OffsetDateTime) -> Result<Time, SeError> {
    let seconds = u64::try_from(instant.unix_timestamp())
        .map_err(|_| SeError::InvalidArgument(format!("time {instant} is before 1970")))?;
    let generalized = GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))
        .map_err(|_| SeError::InvalidArgument(format!("time {instant} is after 9999")))?;
    Ok(Time::GeneralTime(generalized))
}

pub(crate) fn whole_seconds(instant: OffsetDateTime) -> OffsetDateTime {
    instant.replace_nanosecond(0).unwrap_or(instant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpki_crypto::ManualClock;
    use time::macros::datetime;

    #[test]
    fn vendor_names_are_checked() {
        for bad in ["", " Acme", "Acme ", "Ac\nme", &"x".repeat(41)] {
            assert!(check_vendor_name(bad).is_err(), "{bad:?}");
        }
        check_vendor_name("株式会社 Acme セキュアエレメント").unwrap();
    }

    #[test]
    fn root_and_device_certificates_have_the_documented_profile() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-04-01 00:00 UTC)));
        let vendor = VendorCa::create("Acme SE", clock.clone()).unwrap();
        let root = JpkiCertificate::from_der(vendor.certificate_der()).unwrap();
        assert!(root.is_ca());
        assert_eq!(
            root.subject().to_der_order_string(),
            "O=Acme SE, CN=Acme SE Attestation Root"
        );
        assert_eq!(root.not_after(), datetime!(2046-03-27 00:00 UTC));
        root.verify_issued_by(&root).unwrap();

        let device_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let serial = SeSerial::parse("0123456789ABCDEF0123").unwrap();
        let vendor = vendor
            .with_device_certificate_validity(Duration::days(1))
            .unwrap();
        let der = vendor
            .issue_device_certificate(device_key.public_key_der(), &serial)
            .unwrap();
        let device = JpkiCertificate::from_der(&der).unwrap();
        assert!(!device.is_ca());
        device.verify_issued_by(&root).unwrap();
        assert_eq!(
            device.subject().to_der_order_string(),
            "O=Acme SE, CN=Secure Element, SERIALNUMBER=0123456789ABCDEF0123"
        );
        assert_eq!(device.public_key_der(), device_key.public_key_der());
        assert_eq!(device.not_after(), datetime!(2026-04-02 00:00 UTC));
        assert_eq!(
            device.authority_key_identifier(),
            root.subject_key_identifier()
        );
        let usage = device.key_usage().unwrap();
        assert!(usage.digital_signature() && !usage.key_cert_sign());

        // Capped at the root's end.
        clock.set(datetime!(2046-03-26 00:00 UTC));
        let vendor = vendor
            .with_device_certificate_validity(DEFAULT_DEVICE_CERTIFICATE_VALIDITY)
            .unwrap();
        let late = JpkiCertificate::from_der(
            &vendor
                .issue_device_certificate(device_key.public_key_der(), &serial)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(late.not_after(), root.not_after());
        clock.set(datetime!(2046-03-27 00:00 UTC));
        assert!(
            vendor
                .issue_device_certificate(device_key.public_key_der(), &serial)
                .is_err()
        );
        assert!(
            vendor
                .issue_device_certificate(b"\x30\x00", &serial)
                .is_err()
        );
        assert!(!format!("{vendor:?}").contains("PRIVATE"));
    }

    #[test]
    fn vendor_key_export_round_trips_and_refuses_another_key() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(datetime!(2026-04-01 00:00 UTC)));
        let vendor = VendorCa::create("Acme SE", clock.clone()).unwrap();
        let passphrase = SecretString::from("vendor key passphrase");
        let pem = vendor.export_key(&passphrase, 2_000).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let again = VendorCa::import(
            vendor.certificate_der(),
            pem.as_bytes(),
            &passphrase,
            clock.clone(),
        )
        .unwrap();
        assert_eq!(again.name(), "Acme SE");
        assert_eq!(again.certificate_der(), vendor.certificate_der());
        assert!(matches!(
            VendorCa::import(
                vendor.certificate_der(),
                pem.as_bytes(),
                &SecretString::from("wrong"),
                clock.clone()
            ),
            Err(SeError::Crypto(jpki_crypto::CryptoError::WrongPassphrase))
        ));
        let other = VendorCa::create("Acme SE", clock.clone()).unwrap();
        let other_pem = other.export_key(&passphrase, 2_000).unwrap();
        assert!(matches!(
            VendorCa::import(
                vendor.certificate_der(),
                other_pem.as_bytes(),
                &passphrase,
                clock
            ),
            Err(SeError::VendorKeyMismatch)
        ));
    }
}

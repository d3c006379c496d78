//! A test-only certificate builder that can break any one rule, on x509-cert's
//! `CertificateBuilder` with a profile that writes exactly the names and extensions given,
//! signed through jpki-pkix's `sign_with` (so any `jpki_crypto::Signer` signs).
//!
//! Every fixture starts from a spec shaped like jpki-pkix's real profiles (checked by the
//! `baseline_*` tests: the SDK accepts it) and changes one field.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519;
use der::asn1::{Any, OctetString};
use der::{Decode, Encode, Tag};
use jpki_crypto::{DigestAlgorithm, Signer};
use jpki_pkix::extensions::PolicyInformation;
use jpki_pkix::oid::{self, AnyOid};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use time::OffsetDateTime;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::CertificateBuilder;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

/// A name from (type, PrintableString?, value) parts, one RDN each.
pub fn name(parts: &[(ObjectIdentifier, bool, &str)]) -> Name {
    let mut rdns = RdnSequence::default();
    for (oid, printable, value) in parts {
        let tag = if *printable {
            Tag::PrintableString
        } else {
            Tag::Utf8String
        };
        let mut rdn = RelativeDistinguishedName::default();
        rdn.insert(AttributeTypeAndValue {
            oid: *oid,
            value: Any::new(tag, value.as_bytes()).unwrap(),
        })
        .unwrap();
        rdns.push(rdn);
    }
    Name::from_der(&rdns.to_der().unwrap()).unwrap()
}

/// `C=JP, O=JPKI, OU=<unit>, OU=jpki sandbox (not J-LIS)`: a CA name like pkix's.
pub fn ca_name(unit: &str) -> Name {
    name(&[
        (rfc4519::COUNTRY_NAME, true, "JP"),
        (rfc4519::ORGANIZATION_NAME, false, "JPKI"),
        (rfc4519::ORGANIZATIONAL_UNIT_NAME, false, unit),
        (
            rfc4519::ORGANIZATIONAL_UNIT_NAME,
            false,
            "jpki sandbox (not J-LIS)",
        ),
    ])
}

/// `C=JP, CN=<cn>`.
pub fn subject(cn: &str) -> Name {
    name(&[
        (rfc4519::COUNTRY_NAME, true, "JP"),
        (rfc4519::COMMON_NAME, false, cn),
    ])
}

/// What a certificate says.
#[derive(Clone)]
pub struct Spec {
    pub issuer: Name,
    pub subject: Name,
    pub serial: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub public_key_der: Vec<u8>,
    pub extensions: Vec<Extension>,
}

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
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

fn time(instant: OffsetDateTime) -> x509_cert::time::Time {
    let utc = instant.to_offset(time::UtcOffset::UTC);
    x509_cert::time::Time::from(
        der::DateTime::new(
            u16::try_from(utc.year()).unwrap(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
        )
        .unwrap(),
    )
}

/// Builds and signs `spec` with `signer`; returns the DER.
pub fn build(spec: &Spec, signer: &dyn Signer) -> Vec<u8> {
    let profile = Profile {
        issuer: spec.issuer.clone(),
        subject: spec.subject.clone(),
        extensions: spec.extensions.clone(),
    };
    let builder = CertificateBuilder::new(
        profile,
        SerialNumber::new(&spec.serial).unwrap(),
        Validity::new(time(spec.not_before), time(spec.not_after)),
        SubjectPublicKeyInfoOwned::from_der(&spec.public_key_der).unwrap(),
    )
    .unwrap();
    jpki_pkix::sign_with(builder, signer)
        .unwrap()
        .to_der()
        .unwrap()
}

// ---- extensions ---------------------------------------------------------------------

fn extension<T: const_oid::AssociatedOid + Encode>(value: &T, critical: bool) -> Extension {
    // The subject name is only used by some extension types; none here.
    (critical, value).to_extension(&subject("X"), &[]).unwrap()
}

pub fn key_usage(usages: &[KeyUsages]) -> Extension {
    let mut flags = der::flagset::FlagSet::<KeyUsages>::default();
    for usage in usages {
        flags |= *usage;
    }
    extension(&KeyUsage(flags), true)
}

pub fn basic_constraints(ca: bool, path_len: Option<u8>) -> Extension {
    extension(
        &BasicConstraints {
            ca,
            path_len_constraint: path_len,
        },
        true,
    )
}

pub fn policies(ids: &[AnyOid]) -> Extension {
    let list: Vec<PolicyInformation> = ids
        .iter()
        .map(|id| PolicyInformation {
            policy_identifier: id.clone(),
            policy_qualifiers: None,
        })
        .collect();
    Extension {
        extn_id: const_oid::db::rfc5280::ID_CE_CERTIFICATE_POLICIES,
        critical: false,
        extn_value: OctetString::new(list.to_der().unwrap()).unwrap(),
    }
}

/// SHA-1 of the subjectPublicKey bits, as jpki-pkix computes key identifiers.
pub fn key_id(public_key_der: &[u8]) -> Vec<u8> {
    let spki = SubjectPublicKeyInfoOwned::from_der(public_key_der).unwrap();
    DigestAlgorithm::Sha1.hash(spki.subject_public_key.raw_bytes())
}

pub fn ski(public_key_der: &[u8]) -> Extension {
    extension(
        &SubjectKeyIdentifier(OctetString::new(key_id(public_key_der)).unwrap()),
        false,
    )
}

pub fn aki(issuer_public_key_der: &[u8]) -> Extension {
    extension(
        &AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(key_id(issuer_public_key_der)).unwrap()),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        },
        false,
    )
}

pub fn ocsp_signing_eku() -> Extension {
    extension(
        &ExtendedKeyUsage(vec![ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9")]),
        false,
    )
}

/// The six JPKI otherNames of a signature certificate.
pub fn basic_info_san() -> Extension {
    let values = [
        "公的 太郎",
        "公的 太郎",
        "1",
        "419900102",
        "東京都千代田区霞が関2-1-2",
        "東京都千代田区霞が関2-1-2",
    ];
    let names = oid::SAN_BASIC_INFO
        .iter()
        .zip(values)
        .map(|(type_id, value)| {
            GeneralName::OtherName(OtherName {
                type_id: *type_id,
                value: Any::new(Tag::Utf8String, value.as_bytes()).unwrap(),
            })
        })
        .collect();
    extension(&SubjectAltName(names), false)
}

/// An extension of our own arc's reserved branch, marked critical: nobody processes it.
pub fn unknown_critical() -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1.1"),
        critical: true,
        extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
    }
}

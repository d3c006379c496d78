//! Distinguished names: building the few JPKI names from parts, and reading any name
//! back as UTF-8 text.
//!
//! ```text
//! Name ::= CHOICE { rdnSequence RDNSequence }                       -- RFC 5280 §4.1.2.4
//! RDNSequence ::= SEQUENCE OF RelativeDistinguishedName
//! RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
//! AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY }
//! ```
//!
//! The real J-LIS CA names (JPKI-FACTS §2.1) encode `C` as PrintableString and every
//! other attribute as UTF8String; we do the same.

use std::fmt;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519;
use der::asn1::Any;
use der::{Decode, Encode, Tag, Tagged};
use jpki_model::Purpose;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use crate::PkixError;

/// `O=JPKI`, the organisation of both J-LIS root CAs.
pub const CA_ORGANIZATION: &str = "JPKI";
/// The first OU of the signature CA.
pub const CA_OU_SIGNATURE: &str = "JPKI for digital signature";
/// The first OU of the user-authentication CA.
pub const CA_OU_AUTHENTICATION: &str = "JPKI for user authentication";
/// The second OU of the real J-LIS CAs. Ours never uses it by default.
pub const JLIS_OU: &str = "Japan Agency for Local Authority Information Systems";
/// Our default second OU, so that no one mistakes a sandbox CA for the real one.
pub const DEFAULT_SECOND_OU: &str = "jpki sandbox (not J-LIS)";
/// `O=` of the Japanese-language directory name in the real CAs' subjectAltName.
pub const ALT_NAME_ORGANIZATION: &str = "公的個人認証サービス";
/// First `OU=` of that directory name in the signature CA.
pub const ALT_NAME_OU_SIGNATURE: &str = "公的個人認証サービス署名用";
/// First `OU=` of that directory name in the user-authentication CA.
pub const ALT_NAME_OU_AUTHENTICATION: &str = "公的個人認証サービス利用者証明用";

/// Upper bound of a CN (RFC 5280 Appendix A, `ub-common-name`).
pub const MAX_COMMON_NAME_CHARS: usize = 64;
/// Upper bound of an OU (RFC 5280 Appendix A, `ub-organizational-unit-name`).
pub const MAX_ORGANIZATIONAL_UNIT_CHARS: usize = 64;

/// The first OU of a JPKI CA for `purpose`.
pub fn ca_organizational_unit(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Signature => CA_OU_SIGNATURE,
        Purpose::Authentication => CA_OU_AUTHENTICATION,
    }
}

/// The purpose a JPKI CA name announces through its OU, if any.
pub(crate) fn purpose_of_ca_name(name: &DistinguishedName) -> Option<Purpose> {
    let mut purposes = name.values_of("OU").filter_map(|ou| match ou {
        CA_OU_SIGNATURE => Some(Purpose::Signature),
        CA_OU_AUTHENTICATION => Some(Purpose::Authentication),
        _ => None,
    });
    let first = purposes.next()?;
    // A name that claims both purposes claims neither.
    purposes.all(|other| other == first).then_some(first)
}

/// How a string attribute is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringKind {
    Printable,
    Utf8,
}

/// Builds a Name from (type, encoding, value) triples, one single-valued RDN each, in
/// the order given (the DER order: `C` first).
pub(crate) fn build_name(
    parts: &[(ObjectIdentifier, StringKind, &str)],
) -> Result<Name, PkixError> {
    let mut rdns = RdnSequence::default();
    for (oid, kind, value) in parts {
        let tag = match kind {
            StringKind::Printable => {
                if !value.bytes().all(is_printable_string_byte) {
                    return Err(PkixError::field(
                        "name attribute",
                        format!("{oid} value is not a PrintableString"),
                    ));
                }
                Tag::PrintableString
            }
            StringKind::Utf8 => Tag::Utf8String,
        };
        let mut rdn = RelativeDistinguishedName::default();
        rdn.insert(AttributeTypeAndValue {
            oid: *oid,
            value: Any::new(tag, value.as_bytes())?,
        })?;
        rdns.push(rdn);
    }
    // `Name` has no public constructor from an RdnSequence (x509-cert keeps that behind
    // its `hazmat` feature); the DER round trip is exact and costs a microsecond.
    Ok(Name::from_der(&rdns.to_der()?)?)
}

/// The name of a JPKI root CA: `C=JP, O=JPKI, OU=<purpose>, OU=<second_ou>`.
pub(crate) fn ca_name(purpose: Purpose, second_ou: &str) -> Result<Name, PkixError> {
    build_name(&[
        (rfc4519::COUNTRY_NAME, StringKind::Printable, "JP"),
        (
            rfc4519::ORGANIZATION_NAME,
            StringKind::Utf8,
            CA_ORGANIZATION,
        ),
        (
            rfc4519::ORGANIZATIONAL_UNIT_NAME,
            StringKind::Utf8,
            ca_organizational_unit(purpose),
        ),
        (
            rfc4519::ORGANIZATIONAL_UNIT_NAME,
            StringKind::Utf8,
            second_ou,
        ),
    ])
}

/// The Japanese directory name a JPKI CA carries in its subjectAltName:
/// `C=JP, O=公的個人認証サービス, OU=公的個人認証サービス署名用|利用者証明用, OU=<second_ou>`.
pub(crate) fn ca_alt_name(purpose: Purpose, second_ou: &str) -> Result<Name, PkixError> {
    let unit = match purpose {
        Purpose::Signature => ALT_NAME_OU_SIGNATURE,
        Purpose::Authentication => ALT_NAME_OU_AUTHENTICATION,
    };
    build_name(&[
        (rfc4519::COUNTRY_NAME, StringKind::Printable, "JP"),
        (
            rfc4519::ORGANIZATION_NAME,
            StringKind::Utf8,
            ALT_NAME_ORGANIZATION,
        ),
        (rfc4519::ORGANIZATIONAL_UNIT_NAME, StringKind::Utf8, unit),
        (
            rfc4519::ORGANIZATIONAL_UNIT_NAME,
            StringKind::Utf8,
            second_ou,
        ),
    ])
}

/// An end-entity (or CSR) subject: `C=JP, CN=<common_name>`.
pub(crate) fn subject_name(common_name: &str) -> Result<Name, PkixError> {
    check_common_name(common_name)?;
    build_name(&[
        (rfc4519::COUNTRY_NAME, StringKind::Printable, "JP"),
        (rfc4519::COMMON_NAME, StringKind::Utf8, common_name),
    ])
}

/// The subject CN is an opaque identifier: 1 to 64 characters of the PrintableString
/// repertoire (letters, digits, space and `'()+,-./:=?`). Anything that could carry
/// personal data in another script is refused here on purpose.
pub(crate) fn check_common_name(common_name: &str) -> Result<(), PkixError> {
    if common_name.is_empty() || common_name.len() > MAX_COMMON_NAME_CHARS {
        return Err(PkixError::field(
            "subject CN",
            format!(
                "must be 1 to {MAX_COMMON_NAME_CHARS} characters, got {}",
                common_name.chars().count()
            ),
        ));
    }
    if !common_name.bytes().all(is_printable_string_byte)
        || common_name.starts_with(' ')
        || common_name.ends_with(' ')
    {
        return Err(PkixError::field(
            "subject CN",
            "must use only A-Z a-z 0-9 space and '()+,-./:=? (an opaque identifier), without leading or trailing spaces",
        ));
    }
    Ok(())
}

/// An OU we write: 1 to 64 characters, no control characters.
pub(crate) fn check_organizational_unit(field: &'static str, unit: &str) -> Result<(), PkixError> {
    let chars = unit.chars().count();
    if unit.trim().is_empty() || chars > MAX_ORGANIZATIONAL_UNIT_CHARS {
        return Err(PkixError::field(
            field,
            format!("must be 1 to {MAX_ORGANIZATIONAL_UNIT_CHARS} characters, got {chars}"),
        ));
    }
    if unit.chars().any(char::is_control) {
        return Err(PkixError::field(field, "contains a control character"));
    }
    Ok(())
}

fn is_printable_string_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&byte)
}

/// A distinguished name read back from DER, with every value as UTF-8 text.
///
/// [`fmt::Display`] (and [`DistinguishedName::to_rfc4514`]) writes the RFC 4514 form:
/// RDNs in *reverse* DER order, so the J-LIS signature CA reads
/// `OU=Japan Agency for Local Authority Information Systems,OU=JPKI for digital signature,O=JPKI,C=JP`.
/// [`DistinguishedName::to_der_order_string`] writes the OpenSSL-style order
/// (`C=JP, O=JPKI, …`). Values of string types are decoded (BMPString too); any other value is shown as `#` + hex of its DER, as RFC 4514
/// §2.4 prescribes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName {
    /// One entry per RDN, in DER order; each RDN holds one or more (type, value) pairs.
    rdns: Vec<Vec<(String, String)>>,
    der: Vec<u8>,
}

impl DistinguishedName {
    pub(crate) fn from_name(name: &Name) -> Result<Self, PkixError> {
        let rdns = name
            .iter_rdn()
            .map(|rdn| {
                rdn.iter()
                    .map(|atv| Ok((attribute_label(&atv.oid), attribute_text(&atv.value)?)))
                    .collect::<Result<Vec<_>, PkixError>>()
            })
            .collect::<Result<Vec<_>, PkixError>>()?;
        Ok(Self {
            rdns,
            der: name.to_der()?,
        })
    }

    /// Parses a DER `Name`.
    pub fn from_der(der: &[u8]) -> Result<Self, PkixError> {
        Self::from_name(&Name::from_der(der)?)
    }

    /// Every (type, value) pair in DER order. Types are short names (`C`, `O`, `OU`, `CN`,
    /// `L`, `ST`, …) or dotted OIDs.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rdns
            .iter()
            .flatten()
            .map(|(label, value)| (label.as_str(), value.as_str()))
    }

    /// The values of one attribute type, in DER order.
    pub fn values_of<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes()
            .filter(move |(l, _)| *l == label)
            .map(|(_, value)| value)
    }

    /// The first (most significant) CN, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.values_of("CN").next()
    }

    /// The DER encoding of the Name (what OCSP CertIDs hash).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// RFC 4514 string: most specific RDN first, `,` between RDNs, `+` inside one.
    pub fn to_rfc4514(&self) -> String {
        self.join(self.rdns.iter().rev(), ",")
    }

    /// The DER order, `, ` separated, as OpenSSL prints it: `C=JP, O=JPKI, OU=…`.
    pub fn to_der_order_string(&self) -> String {
        self.join(self.rdns.iter(), ", ")
    }

    fn join<'a>(
        &'a self,
        rdns: impl Iterator<Item = &'a Vec<(String, String)>>,
        separator: &str,
    ) -> String {
        rdns.map(|rdn| {
            rdn.iter()
                .map(|(label, value)| format!("{label}={}", escape_rfc4514(value)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(separator)
    }
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc4514())
    }
}

fn attribute_label(oid: &ObjectIdentifier) -> String {
    let label = match *oid {
        rfc4519::COUNTRY_NAME => "C",
        rfc4519::ORGANIZATION_NAME => "O",
        rfc4519::ORGANIZATIONAL_UNIT_NAME => "OU",
        rfc4519::COMMON_NAME => "CN",
        rfc4519::LOCALITY_NAME => "L",
        rfc4519::ST => "ST",
        rfc4519::STREET => "STREET",
        rfc4519::DOMAIN_COMPONENT => "DC",
        rfc4519::UID => "UID",
        rfc4519::SERIAL_NUMBER => "SERIALNUMBER",
        _ => return oid.to_string(),
    };
    label.to_owned()
}

/// The text of an attribute value. Malformed strings (invalid UTF-8 in a UTF8String, an
/// odd-length BMPString) are errors; unknown types become `#<hex of DER>`.
fn attribute_text(value: &Any) -> Result<String, PkixError> {
    let bytes = value.value();
    let malformed = |what: &str| PkixError::MalformedCertificate(format!("name attribute: {what}"));
    match value.tag() {
        Tag::Utf8String => String::from_utf8(bytes.to_vec()).map_err(|_| malformed("bad UTF-8")),
        Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            if bytes.is_ascii() {
                Ok(bytes.iter().map(|&b| char::from(b)).collect())
            } else {
                Err(malformed("non-ASCII byte in an ASCII string type"))
            }
        }
        // T.61 is not Latin-1, but in practice TeletexString carries Latin-1 text.
        Tag::TeletexString => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return Err(malformed("odd-length BMPString"));
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| malformed("bad UTF-16 in a BMPString"))
        }
        _ => {
            let der = value.to_der()?;
            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
            Ok(format!("#{hex}"))
        }
    }
}

/// RFC 4514 §2.4 escaping of a string value.
fn escape_rfc4514(value: &str) -> String {
    if value.starts_with('#')
        && value.len() > 1
        && value[1..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        // Our own rendering of a non-string value: already in the `#hex` form.
        return value.to_owned();
    }
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (index, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if index == 0 => out.push_str("\\#"),
            ' ' if index == 0 || index == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_names_encode_country_as_printable_and_the_rest_as_utf8() {
        let name = ca_name(Purpose::Signature, DEFAULT_SECOND_OU).unwrap();
        let der = name.to_der().unwrap();
        // C=JP as PrintableString (tag 0x13), O=JPKI as UTF8String (tag 0x0C).
        let country = [0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'J', b'P'];
        let org = [
            0x06, 0x03, 0x55, 0x04, 0x0A, 0x0C, 0x04, b'J', b'P', b'K', b'I',
        ];
        assert!(der.windows(country.len()).any(|w| w == country));
        assert!(der.windows(org.len()).any(|w| w == org));
        let text = DistinguishedName::from_name(&name).unwrap();
        assert_eq!(
            text.to_der_order_string(),
            "C=JP, O=JPKI, OU=JPKI for digital signature, OU=jpki sandbox (not J-LIS)"
        );
        assert_eq!(
            text.to_rfc4514(),
            "OU=jpki sandbox (not J-LIS),OU=JPKI for digital signature,O=JPKI,C=JP"
        );
        assert_eq!(purpose_of_ca_name(&text), Some(Purpose::Signature));
    }

    #[test]
    fn japanese_alt_name_round_trips() {
        let name = ca_alt_name(Purpose::Authentication, "テスト").unwrap();
        let text = DistinguishedName::from_name(&name).unwrap();
        assert_eq!(
            text.values_of("OU").collect::<Vec<_>>(),
            ["公的個人認証サービス利用者証明用", "テスト"]
        );
        assert_eq!(text.values_of("O").next(), Some("公的個人認証サービス"));
    }

    #[test]
    fn common_names_are_opaque_printable_identifiers() {
        assert!(check_common_name("2026JP0000000001").is_ok());
        assert!(check_common_name("a-b.c:d=e?(f)").is_ok());
        for bad in ["", " x", "x ", "公的太郎", "a_b", "a@b", &"x".repeat(65)] {
            assert!(check_common_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rfc4514_escapes_special_characters() {
        assert_eq!(escape_rfc4514("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_rfc4514(" lead"), "\\ lead");
        assert_eq!(escape_rfc4514("trail "), "trail\\ ");
        assert_eq!(escape_rfc4514("#x"), "\\#x");
        assert_eq!(escape_rfc4514("公的"), "公的");
    }

    #[test]
    fn bmp_and_unknown_values_are_rendered() {
        let bmp = Any::new(Tag::BmpString, vec![0x51, 0x6C, 0x76, 0x84]).unwrap();
        assert_eq!(attribute_text(&bmp).unwrap(), "公的");
        let odd = Any::new(Tag::BmpString, vec![0x51]).unwrap();
        assert!(attribute_text(&odd).is_err());
        let integer = Any::new(Tag::Integer, vec![0x05]).unwrap();
        assert_eq!(attribute_text(&integer).unwrap(), "#020105");
        let bad_utf8 = Any::new(Tag::Utf8String, vec![0xFF]).unwrap();
        assert!(attribute_text(&bad_utf8).is_err());
    }

    #[test]
    fn purpose_is_read_from_the_ou() {
        let auth =
            DistinguishedName::from_name(&ca_name(Purpose::Authentication, JLIS_OU).unwrap())
                .unwrap();
        assert_eq!(purpose_of_ca_name(&auth), Some(Purpose::Authentication));
        let other = DistinguishedName::from_name(&subject_name("X1").unwrap()).unwrap();
        assert_eq!(purpose_of_ca_name(&other), None);
    }
}

//! Object identifiers: the JPKI ones (published by J-LIS) and our own arc for what JPKI
//! does not publish. Every identifier here is listed, with its source, in
//! `docs/certificate-profiles.md`.
//!
//! ```text
//! 1.2.392.200149.8.5            JPKI (J-LIS), "公的個人認証サービスにおけるオブジェクト識別子の体系"
//! ├── .1.1                      certificate policy arc: digital signature
//! │   └── .1.1.20               sign-class20  (署名用電子証明書)
//! ├── .1.3                      certificate policy arc: user authentication
//! │   └── .1.3.30               auth-class30  (利用者証明用電子証明書)
//! └── .5.1 … .5.6               subjectAltName otherName types (basic 4 information)
//!
//! 2.25.228021176431277688793511615349129701746     our UUID arc (ITU-T X.667)
//! ├── .1.1                      policy: the key lives in a phone (signature certificate)
//! ├── .1.2                      policy: the key lives in a phone (authentication certificate)
//! ├── .2.*                      reserved: our extensions
//! └── .3.*                      reserved: attestation formats
//! ```

use std::borrow::Cow;
use std::fmt;

use const_oid::ObjectIdentifier;

/// The JPKI arc, `1.2.392.200149.8.5` (J-LIS).
pub const JPKI_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5");

/// Certificate policy arc for signature certificates, `1.2.392.200149.8.5.1.1`.
pub const POLICY_SIGNATURE_ARC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.1");
/// "sign-class20", the policy of a signature certificate (署名用電子証明書),
/// `1.2.392.200149.8.5.1.1.20`.
pub const POLICY_SIGN_CLASS20: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.1.20");
/// Certificate policy arc for user-authentication certificates, `1.2.392.200149.8.5.1.3`.
pub const POLICY_AUTHENTICATION_ARC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.3");
/// "auth-class30", the policy of a user-authentication certificate (利用者証明用電子証明書),
/// `1.2.392.200149.8.5.1.3.30`.
pub const POLICY_AUTH_CLASS30: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.3.30");

/// SAN otherName: name (氏名), `1.2.392.200149.8.5.5.1`.
pub const SAN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.1");
/// SAN otherName: substitute characters of the name (氏名の代替文字), `…5.5.2`.
pub const SAN_NAME_SUBSTITUTE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.2");
/// SAN otherName: sex code `1`/`2`/`9` (性別), `…5.5.3`.
pub const SAN_SEX: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.3");
/// SAN otherName: date of birth, era digit + YYYYMMDD (生年月日), `…5.5.4`.
pub const SAN_DATE_OF_BIRTH: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.4");
/// SAN otherName: address (住所), `…5.5.5`.
pub const SAN_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.5");
/// SAN otherName: substitute characters of the address (住所の代替文字), `…5.5.6`.
pub const SAN_ADDRESS_SUBSTITUTE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.6");

/// The six SAN otherName types of a signature certificate, in the order we encode them.
pub const SAN_BASIC_INFO: [ObjectIdentifier; 6] = [
    SAN_NAME,
    SAN_NAME_SUBSTITUTE,
    SAN_SEX,
    SAN_DATE_OF_BIRTH,
    SAN_ADDRESS,
    SAN_ADDRESS_SUBSTITUTE,
];

/// Our own arc, `2.25.228021176431277688793511615349129701746`: the UUID
/// `ab8b47fa-62de-468c-8097-ec82aa476972` as an OID (ITU-T X.667, `2.25.<UUID as
/// an integer>`), allocated for this project for what JPKI does not publish. Nobody
/// else can collide with it, and nobody can mistake it for a J-LIS identifier.
///
/// Its last arc is a 128-bit integer, which `const-oid` (and so `der` and `x509-cert`)
/// cannot hold: `ObjectIdentifier` arcs are `u32`, and decoding one fails with
/// `ArcTooBig`. These OIDs are therefore [`AnyOid`]s, and the certificatePolicies
/// extension is encoded and decoded with our own types ([`crate::extensions`]).
pub const JPKI_SANDBOX_ARC: AnyOid = AnyOid::from_static_ber(&SANDBOX_ARC_BER);
/// Our policy: "phone signature certificate" (スマホ用署名用電子証明書), `<our arc>.1.1`,
/// added beside [`POLICY_SIGN_CLASS20`] so a relying party can tell the medium.
pub const POLICY_PHONE_SIGNATURE: AnyOid = AnyOid::from_static_ber(&PHONE_SIGNATURE_BER);
/// Our policy: "phone authentication certificate" (スマホ用利用者証明用電子証明書),
/// `<our arc>.1.2`, added beside [`POLICY_AUTH_CLASS30`].
pub const POLICY_PHONE_AUTHENTICATION: AnyOid = AnyOid::from_static_ber(&PHONE_AUTHENTICATION_BER);
/// `<our arc>.2`: reserved for our private extensions (none defined yet).
pub const SANDBOX_EXTENSIONS_ARC: AnyOid = AnyOid::from_static_ber(&EXTENSIONS_BER);
/// `<our arc>.3`: reserved for attestation formats (none defined yet).
pub const SANDBOX_ATTESTATION_ARC: AnyOid = AnyOid::from_static_ber(&ATTESTATION_BER);

/// BER content octets of `2.25.228021176431277688793511615349129701746` (checked against
/// a base-128 encoder in the tests).
const SANDBOX_ARC_BER: [u8; 20] = [
    0x69, 0x82, 0xd7, 0x8b, 0xa3, 0xfe, 0xcc, 0xad, 0xf2, 0x9a, 0x99, 0x80, 0xcb, 0xfb, 0x90, 0xaa,
    0xd2, 0x9d, 0xd2, 0x72,
];

const PHONE_SIGNATURE_BER: [u8; 22] = sandbox_ber(1, 1);
const PHONE_AUTHENTICATION_BER: [u8; 22] = sandbox_ber(1, 2);
const EXTENSIONS_BER: [u8; 21] = sandbox_child_ber(2);
const ATTESTATION_BER: [u8; 21] = sandbox_child_ber(3);

const fn sandbox_child_ber(child: u8) -> [u8; 21] {
    let mut out = [0u8; 21];
    let mut index = 0;
    while index < SANDBOX_ARC_BER.len() {
        out[index] = SANDBOX_ARC_BER[index];
        index += 1;
    }
    out[20] = child & 0x7f;
    out
}

const fn sandbox_ber(child: u8, grandchild: u8) -> [u8; 22] {
    let mut out = [0u8; 22];
    let prefix = sandbox_child_ber(child);
    let mut index = 0;
    while index < prefix.len() {
        out[index] = prefix[index];
        index += 1;
    }
    out[21] = grandchild & 0x7f;
    out
}

/// An object identifier with arcs of any size, kept as its BER content octets (the
/// value of the OBJECT IDENTIFIER TLV). Displays in dotted decimal.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnyOid(Cow<'static, [u8]>);

impl AnyOid {
    /// For constants whose encoding is known to be valid (checked by the tests).
    pub const fn from_static_ber(ber: &'static [u8]) -> Self {
        Self(Cow::Borrowed(ber))
    }

    /// Checks base-128 well-formedness: non-empty, no arc starting with a 0x80 padding
    /// byte, the last byte ending an arc.
    pub fn from_ber(ber: &[u8]) -> Result<Self, der::Error> {
        let malformed = || der::Tag::ObjectIdentifier.value_error();
        let last = ber.last().ok_or_else(malformed)?;
        if last & 0x80 != 0 {
            return Err(malformed().into());
        }
        let mut arc_start = true;
        for &byte in ber {
            if arc_start && byte == 0x80 {
                return Err(malformed().into());
            }
            arc_start = byte & 0x80 == 0;
        }
        Ok(Self(Cow::Owned(ber.to_vec())))
    }

    /// The BER content octets.
    pub fn as_ber(&self) -> &[u8] {
        &self.0
    }

    /// The same OID as a `const-oid` value, when every arc fits in 32 bits.
    pub fn to_object_identifier(&self) -> Option<ObjectIdentifier> {
        ObjectIdentifier::from_bytes(&self.0).ok()
    }

    /// True when this OID equals `arc` or lies below it.
    pub fn is_under(&self, arc: &impl AsRef<[u8]>) -> bool {
        is_under(self, arc)
    }
}

impl AsRef<[u8]> for AnyOid {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<ObjectIdentifier> for AnyOid {
    fn from(oid: ObjectIdentifier) -> Self {
        Self(Cow::Owned(oid.as_bytes().to_vec()))
    }
}

impl PartialEq<ObjectIdentifier> for AnyOid {
    fn eq(&self, other: &ObjectIdentifier) -> bool {
        self.as_ber() == other.as_bytes()
    }
}

impl fmt::Display for AnyOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut arcs = self.0.split_inclusive(|byte| byte & 0x80 == 0);
        let Some(first) = arcs.next() else {
            return Ok(());
        };
        // The first subidentifier packs the first two arcs: 40·X + Y, with X ≤ 2.
        let first = decimal_of_base128(first);
        let (x, y) = split_first_arcs(&first);
        write!(f, "{x}.{y}")?;
        for arc in arcs {
            write!(f, ".{}", decimal_of_base128(arc))?;
        }
        Ok(())
    }
}

impl fmt::Debug for AnyOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyOid({self})")
    }
}

/// Decimal digits of a base-128 subidentifier of any length (long division by 10).
fn decimal_of_base128(subidentifier: &[u8]) -> String {
    let mut digits: Vec<u8> = subidentifier.iter().map(|b| b & 0x7f).collect();
    let mut decimal = Vec::new();
    loop {
        let mut remainder = 0u32;
        for digit in &mut digits {
            let value = remainder * 128 + u32::from(*digit);
            *digit = u8::try_from(value / 10).unwrap_or(0);
            remainder = value % 10;
        }
        decimal.push(char::from(b'0' + u8::try_from(remainder).unwrap_or(0)));
        let first_nonzero = digits.iter().position(|&d| d != 0);
        match first_nonzero {
            Some(start) => {
                digits.drain(..start);
            }
            None => break,
        }
    }
    decimal.iter().rev().collect()
}

/// Splits the decimal value of the first subidentifier into the first two arcs.
fn split_first_arcs(first: &str) -> (u8, String) {
    // Values below 80 fit in u128 trivially; a larger one means X = 2 and Y = value − 80.
    match first.parse::<u128>() {
        Ok(value) if value < 40 => (0, value.to_string()),
        Ok(value) if value < 80 => (1, (value - 40).to_string()),
        Ok(value) => (2, (value - 80).to_string()),
        // More than 128 bits: X = 2 and Y = value − 80, computed on the decimal string.
        Err(_) => (2, subtract_80(first)),
    }
}

fn subtract_80(decimal: &str) -> String {
    let mut digits: Vec<u8> = decimal.bytes().map(|b| b - b'0').collect();
    let mut borrow = 80u32;
    for digit in digits.iter_mut().rev() {
        let value = u32::from(*digit);
        let take = borrow % 10;
        borrow /= 10;
        if value >= take {
            *digit = u8::try_from(value - take).unwrap_or(0);
        } else {
            *digit = u8::try_from(value + 10 - take).unwrap_or(0);
            borrow += 1;
        }
        if borrow == 0 {
            break;
        }
    }
    let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

impl der::FixedTag for AnyOid {
    const TAG: der::Tag = der::Tag::ObjectIdentifier;
}

impl<'a> der::DecodeValue<'a> for AnyOid {
    type Error = der::Error;

    fn decode_value<R: der::Reader<'a>>(reader: &mut R, header: der::Header) -> der::Result<Self> {
        let bytes = reader.read_slice(header.length())?;
        Self::from_ber(bytes)
    }
}

impl der::EncodeValue for AnyOid {
    fn value_len(&self) -> der::Result<der::Length> {
        der::Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

/// rsaEncryption (RFC 8017), `1.2.840.113549.1.1.1`.
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// sha256WithRSAEncryption (RFC 4055), `1.2.840.113549.1.1.11`.
pub const SHA256_WITH_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// id-ecPublicKey (RFC 5480), `1.2.840.10045.2.1`.
pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 / prime256v1 (RFC 5480), `1.2.840.10045.3.1.7`.
pub const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// ecdsa-with-SHA256 (RFC 5758), `1.2.840.10045.4.3.2`.
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// id-qt-cps, the CPS pointer policy qualifier (RFC 5280 §4.2.1.4), `1.3.6.1.5.5.7.2.1`.
pub const QT_CPS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.2.1");
/// id-ad-ocsp (RFC 5280 §4.2.2.1), `1.3.6.1.5.5.7.48.1`.
pub const AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
/// id-ad-caIssuers (RFC 5280 §4.2.2.1), `1.3.6.1.5.5.7.48.2`.
pub const AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// True when `oid` equals `arc` or lies below it (both given as BER content octets,
/// e.g. an [`ObjectIdentifier`] or an [`AnyOid`]).
pub fn is_under(oid: &impl AsRef<[u8]>, arc: &impl AsRef<[u8]>) -> bool {
    let arc = arc.as_ref();
    let oid = oid.as_ref();
    // BER-encoded arcs end on a byte with the high bit clear, so a byte-prefix match that
    // ends exactly at an arc boundary is an arc-prefix match.
    oid.len() >= arc.len() && oid.starts_with(arc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arcs_contain_their_children_only() {
        assert!(is_under(&POLICY_SIGN_CLASS20, &POLICY_SIGNATURE_ARC));
        assert!(is_under(&POLICY_SIGNATURE_ARC, &POLICY_SIGNATURE_ARC));
        assert!(!is_under(&POLICY_AUTH_CLASS30, &POLICY_SIGNATURE_ARC));
        assert!(POLICY_PHONE_SIGNATURE.is_under(&JPKI_SANDBOX_ARC));
        assert!(!POLICY_PHONE_SIGNATURE.is_under(&JPKI_ARC));
        assert!(!SANDBOX_EXTENSIONS_ARC.is_under(&POLICY_PHONE_SIGNATURE));
        // 1.2.392.200149.8.5.1.10 is not under 1.2.392.200149.8.5.1.1.
        let sibling = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.10");
        assert!(!is_under(&sibling, &POLICY_SIGNATURE_ARC));
        for (index, oid) in SAN_BASIC_INFO.iter().enumerate() {
            assert_eq!(
                oid.to_string(),
                format!("1.2.392.200149.8.5.5.{}", index + 1)
            );
        }
    }

    /// Base-128 BER of a dotted OID whose arcs fit in u128.
    fn encode(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u128> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
        let mut out = Vec::new();
        let mut push = |mut value: u128| {
            let mut chunk = vec![(value & 0x7f) as u8];
            value >>= 7;
            while value > 0 {
                chunk.push(0x80 | (value & 0x7f) as u8);
                value >>= 7;
            }
            out.extend(chunk.iter().rev());
        };
        push(arcs[0] * 40 + arcs[1]);
        for arc in &arcs[2..] {
            push(*arc);
        }
        out
    }

    #[test]
    fn sandbox_oids_encode_and_display_their_dotted_form() {
        let cases = [
            (
                &JPKI_SANDBOX_ARC,
                "2.25.228021176431277688793511615349129701746",
            ),
            (
                &POLICY_PHONE_SIGNATURE,
                "2.25.228021176431277688793511615349129701746.1.1",
            ),
            (
                &POLICY_PHONE_AUTHENTICATION,
                "2.25.228021176431277688793511615349129701746.1.2",
            ),
            (
                &SANDBOX_EXTENSIONS_ARC,
                "2.25.228021176431277688793511615349129701746.2",
            ),
            (
                &SANDBOX_ATTESTATION_ARC,
                "2.25.228021176431277688793511615349129701746.3",
            ),
        ];
        for (oid, dotted) in cases {
            assert_eq!(oid.as_ber(), encode(dotted).as_slice(), "{dotted}");
            assert_eq!(oid.to_string(), dotted);
            assert_eq!(AnyOid::from_ber(oid.as_ber()).unwrap(), *oid);
            assert!(
                oid.to_object_identifier().is_none(),
                "const-oid cannot hold it"
            );
        }
    }

    #[test]
    fn any_oid_matches_const_oid_for_small_arcs() {
        for dotted in ["1.2.392.200149.8.5.1.1.20", "0.9.2342", "1.39", "2.5.29.32"] {
            let small = ObjectIdentifier::new(dotted).unwrap();
            let any = AnyOid::from(small);
            assert_eq!(any.to_string(), dotted);
            assert_eq!(any, small);
            assert_eq!(any.to_object_identifier(), Some(small));
        }
        // A second arc above 39 (const-oid cannot hold it either).
        let wide = AnyOid::from_ber(&encode("2.999.3")).unwrap();
        assert_eq!(wide.to_string(), "2.999.3");
        assert_eq!(wide.to_object_identifier(), None);
        // A first subidentifier above 2^128: X = 2, Y = value - 80.
        let mut huge = vec![0x81; 20];
        huge.push(0x00);
        let text = AnyOid::from_ber(&huge).unwrap().to_string();
        assert!(text.starts_with("2."), "{text}");
    }

    #[test]
    fn malformed_ber_is_refused() {
        assert!(AnyOid::from_ber(&[]).is_err());
        assert!(AnyOid::from_ber(&[0x2a, 0x86]).is_err(), "unterminated arc");
        assert!(
            AnyOid::from_ber(&[0x2a, 0x80, 0x01]).is_err(),
            "padding byte"
        );
    }
}

//! The extension values of the JPKI profiles, built and read back.
//!
//! The basic 4 information in a signature certificate (JPKI-FACTS §2.2):
//!
//! ```text
//! SubjectAltName ::= GeneralNames                                   -- RFC 5280 §4.2.1.6
//! GeneralName ::= CHOICE { otherName [0] OtherName, … }
//! OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY DEFINED BY type-id }
//!
//! -- exactly six otherName entries, each value a UTF8String:
//! 1.2.392.200149.8.5.5.1  name                    e.g. "公的 太郎"
//! 1.2.392.200149.8.5.5.2  name substitute         (代替文字; equals the name when none)
//! 1.2.392.200149.8.5.5.3  sex                     "1" | "2" | "9"
//! 1.2.392.200149.8.5.5.4  date of birth           era digit + YYYYMMDD, e.g. "419900102"
//! 1.2.392.200149.8.5.5.5  address                 e.g. "東京都千代田区霞が関2-1-2"
//! 1.2.392.200149.8.5.5.6  address substitute
//! ```

use const_oid::db::rfc5280::ID_CE_CERTIFICATE_POLICIES;
use der::asn1::{Any, Ia5String, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use jpki_model::{BasicInfo, BirthDate, CertificateKind, Medium, Purpose, Sex};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, CrlDistributionPoints, SubjectAltName,
};

use crate::PkixError;
use crate::oid::{self, AnyOid};

/// Longest URL we put in a certificate.
pub const MAX_URL_LEN: usize = 1024;

/// Checks a URL for CRLDP / AIA / CPS: printable ASCII without spaces, of the form
/// `scheme://rest` with an http, https or ldap scheme.
pub(crate) fn checked_url(field: &'static str, url: &str) -> Result<Ia5String, PkixError> {
    if url.is_empty() || url.len() > MAX_URL_LEN {
        return Err(PkixError::field(
            field,
            format!("URL must be 1 to {MAX_URL_LEN} bytes"),
        ));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PkixError::field(
            field,
            "URL must be printable ASCII without spaces (IA5String; percent-encode the rest)",
        ));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(PkixError::field(field, "URL must be absolute (scheme://…)"));
    };
    if !["http", "https", "ldap"].contains(&scheme.to_ascii_lowercase().as_str()) || rest.is_empty()
    {
        return Err(PkixError::field(
            field,
            "URL scheme must be http, https or ldap, with a host",
        ));
    }
    Ok(Ia5String::new(url)?)
}

fn utf8_other_name(type_id: ObjectIdentifier, value: &str) -> Result<GeneralName, PkixError> {
    Ok(GeneralName::OtherName(OtherName {
        type_id,
        value: Any::new(Tag::Utf8String, value.as_bytes())?,
    }))
}

/// The signature certificate's SAN: the six otherName entries, in OID order.
pub(crate) fn basic_info_alt_name(info: &BasicInfo) -> Result<SubjectAltName, PkixError> {
    let date_of_birth = info.date_of_birth().jpki_encoding();
    let values: [&str; 6] = [
        info.name(),
        info.name_substitute(),
        info.sex().code(),
        &date_of_birth,
        info.address(),
        info.address_substitute(),
    ];
    let names = oid::SAN_BASIC_INFO
        .iter()
        .zip(values)
        .map(|(type_id, value)| utf8_other_name(*type_id, value))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SubjectAltName(names))
}

/// Reads the basic 4 information back from a SAN.
///
/// `Ok(None)` when the SAN holds no JPKI otherName at all. When it holds any, it must
/// hold exactly the six, each once, each a valid UTF8String, with a valid sex code and
/// date of birth; anything else is [`PkixError::MalformedBasicInfo`]. Error messages
/// name OIDs, never values (the values are personal data).
pub(crate) fn basic_info_from_alt_name(
    names: &[GeneralName],
) -> Result<Option<BasicInfo>, PkixError> {
    let jpki_arc = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5");
    let mut values: [Option<String>; 6] = Default::default();
    let mut found = 0usize;
    for name in names {
        let GeneralName::OtherName(other) = name else {
            continue;
        };
        if !oid::is_under(&other.type_id, &jpki_arc) {
            continue;
        }
        found += 1;
        let index = oid::SAN_BASIC_INFO
            .iter()
            .position(|known| *known == other.type_id)
            .ok_or_else(|| {
                PkixError::MalformedBasicInfo(format!("unknown otherName type {}", other.type_id))
            })?;
        if other.value.tag() != Tag::Utf8String {
            return Err(PkixError::MalformedBasicInfo(format!(
                "{} is a {}, not a UTF8String",
                other.type_id,
                other.value.tag()
            )));
        }
        let text = String::from_utf8(other.value.value().to_vec()).map_err(|_| {
            PkixError::MalformedBasicInfo(format!("{} is not valid UTF-8", other.type_id))
        })?;
        if values[index].replace(text).is_some() {
            return Err(PkixError::MalformedBasicInfo(format!(
                "{} appears more than once",
                other.type_id
            )));
        }
    }
    if found == 0 {
        return Ok(None);
    }
    let [
        Some(name),
        Some(name_substitute),
        Some(sex),
        Some(date_of_birth),
        Some(address),
        Some(address_substitute),
    ] = values
    else {
        let missing: Vec<String> = oid::SAN_BASIC_INFO
            .iter()
            .zip(values.iter())
            .filter(|(_, value)| value.is_none())
            .map(|(type_id, _)| type_id.to_string())
            .collect();
        return Err(PkixError::MalformedBasicInfo(format!(
            "missing {}",
            missing.join(", ")
        )));
    };
    let sex = Sex::from_code(&sex)
        .map_err(|_| PkixError::MalformedBasicInfo(format!("{} is not 1, 2 or 9", oid::SAN_SEX)))?;
    let date_of_birth = BirthDate::from_jpki_encoding(&date_of_birth).map_err(|_| {
        PkixError::MalformedBasicInfo(format!(
            "{} is not an era digit followed by YYYYMMDD",
            oid::SAN_DATE_OF_BIRTH
        ))
    })?;
    let info = BasicInfo::new(
        &name,
        Some(&name_substitute),
        &address,
        Some(&address_substitute),
        date_of_birth,
        sex,
    )
    .map_err(|e| PkixError::MalformedBasicInfo(e.to_string()))?;
    Ok(Some(info))
}

/// The JPKI policy OID of a certificate purpose.
pub fn jpki_policy(purpose: Purpose) -> ObjectIdentifier {
    match purpose {
        Purpose::Signature => oid::POLICY_SIGN_CLASS20,
        Purpose::Authentication => oid::POLICY_AUTH_CLASS30,
    }
}

/// Our medium policy OID, carried by phone certificates only.
pub fn phone_policy(purpose: Purpose) -> AnyOid {
    match purpose {
        Purpose::Signature => oid::POLICY_PHONE_SIGNATURE,
        Purpose::Authentication => oid::POLICY_PHONE_AUTHENTICATION,
    }
}

/// One PolicyInformation, with a policy identifier of any size. x509-cert's own type
/// holds a `const-oid` identifier, which cannot represent our UUID arc (see [`oid`]).
///
/// ```text
/// certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation   -- RFC 5280 §4.2.1.4
/// PolicyInformation ::= SEQUENCE {
///     policyIdentifier   CertPolicyId,                 -- OBJECT IDENTIFIER
///     policyQualifiers   SEQUENCE SIZE (1..MAX) OF PolicyQualifierInfo OPTIONAL }
/// PolicyQualifierInfo ::= SEQUENCE {
///     policyQualifierId  PolicyQualifierId,            -- e.g. id-qt-cps
///     qualifier          ANY DEFINED BY policyQualifierId }   -- CPSuri ::= IA5String
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct PolicyInformation {
    pub policy_identifier: AnyOid,
    pub policy_qualifiers: Option<Vec<PolicyQualifier>>,
}

/// One PolicyQualifierInfo (kept opaque except for its identifier).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct PolicyQualifier {
    pub policy_qualifier_id: AnyOid,
    pub qualifier: Any,
}

/// certificatePolicies for a kind: the JPKI class policy (with the CPS pointer when
/// one is configured), then our phone policy for phone certificates.
pub(crate) fn certificate_policies(
    kind: CertificateKind,
    cps_uri: Option<&Ia5String>,
) -> Result<Vec<PolicyInformation>, PkixError> {
    let qualifiers = cps_uri
        .map(|uri| {
            Ok::<_, PkixError>(vec![PolicyQualifier {
                policy_qualifier_id: oid::QT_CPS.into(),
                qualifier: Any::encode_from(uri)?,
            }])
        })
        .transpose()?;
    let mut policies = vec![PolicyInformation {
        policy_identifier: jpki_policy(kind.purpose).into(),
        policy_qualifiers: qualifiers,
    }];
    if kind.medium == Medium::Phone {
        policies.push(PolicyInformation {
            policy_identifier: phone_policy(kind.purpose),
            policy_qualifiers: None,
        });
    }
    Ok(policies)
}

/// The certificatePolicies extension (non-critical) for a kind.
pub(crate) fn certificate_policies_extension(
    kind: CertificateKind,
    cps_uri: Option<&Ia5String>,
) -> Result<Extension, PkixError> {
    Ok(Extension {
        extn_id: ID_CE_CERTIFICATE_POLICIES,
        critical: false,
        extn_value: OctetString::new(certificate_policies(kind, cps_uri)?.to_der()?)?,
    })
}

/// Reads certificatePolicies from a certificate's extensions: empty when absent,
/// an error when malformed or present twice.
pub(crate) fn policies_of(extensions: &[Extension]) -> Result<Vec<PolicyInformation>, PkixError> {
    let mut found = extensions
        .iter()
        .filter(|extension| extension.extn_id == ID_CE_CERTIFICATE_POLICIES);
    let Some(extension) = found.next() else {
        return Ok(Vec::new());
    };
    if found.next().is_some() {
        return Err(PkixError::MalformedCertificate(
            "certificatePolicies appears twice".to_owned(),
        ));
    }
    Vec::<PolicyInformation>::from_der(extension.extn_value.as_bytes())
        .map_err(|e| PkixError::MalformedCertificate(format!("certificatePolicies extension: {e}")))
}

/// CRLDP with one DistributionPoint per URL, each a fullName URI.
pub(crate) fn crl_distribution_points(urls: &[Ia5String]) -> CrlDistributionPoints {
    CrlDistributionPoints(
        urls.iter()
            .map(|url| DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![
                    GeneralName::UniformResourceIdentifier(url.clone()),
                ])),
                reasons: None,
                crl_issuer: None,
            })
            .collect(),
    )
}

/// AIA with one id-ad-ocsp access description.
pub(crate) fn authority_info_access(ocsp_url: &Ia5String) -> AuthorityInfoAccessSyntax {
    AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: oid::AD_OCSP,
        access_location: GeneralName::UniformResourceIdentifier(ocsp_url.clone()),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpki_model::BirthDate;

    fn taro() -> BasicInfo {
        BasicInfo::new(
            "公的 太郎",
            Some("公的 太郎"),
            "東京都千代田区霞が関2-1-2",
            None,
            BirthDate::parse("1990-01-02").unwrap(),
            Sex::Male,
        )
        .unwrap()
    }

    #[test]
    fn basic_info_round_trips_through_the_alt_name() {
        let san = basic_info_alt_name(&taro()).unwrap();
        assert_eq!(san.0.len(), 6);
        assert_eq!(basic_info_from_alt_name(&san.0).unwrap(), Some(taro()));
    }

    #[test]
    fn missing_duplicate_or_mistyped_entries_are_malformed() {
        let san = basic_info_alt_name(&taro()).unwrap().0;

        let mut missing = san.clone();
        missing.remove(3);
        let error = basic_info_from_alt_name(&missing).unwrap_err();
        assert!(
            error.to_string().contains("1.2.392.200149.8.5.5.4"),
            "{error}"
        );

        let mut duplicate = san.clone();
        duplicate.push(san[0].clone());
        assert!(matches!(
            basic_info_from_alt_name(&duplicate),
            Err(PkixError::MalformedBasicInfo(_))
        ));

        let mut printable = san.clone();
        printable[2] = GeneralName::OtherName(OtherName {
            type_id: oid::SAN_SEX,
            value: Any::new(Tag::PrintableString, b"1".to_vec()).unwrap(),
        });
        assert!(matches!(
            basic_info_from_alt_name(&printable),
            Err(PkixError::MalformedBasicInfo(_))
        ));

        let mut bad_sex = san.clone();
        bad_sex[2] = utf8_other_name(oid::SAN_SEX, "3").unwrap();
        let error = basic_info_from_alt_name(&bad_sex).unwrap_err();
        assert!(
            !error.to_string().contains("公的"),
            "no personal data in errors"
        );

        let mut bad_date = san.clone();
        bad_date[3] = utf8_other_name(oid::SAN_DATE_OF_BIRTH, "519900102").unwrap();
        assert!(basic_info_from_alt_name(&bad_date).is_err());

        let mut unknown = san;
        unknown.push(
            utf8_other_name(ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.7"), "x").unwrap(),
        );
        assert!(basic_info_from_alt_name(&unknown).is_err());
    }

    #[test]
    fn no_jpki_entries_means_no_basic_info() {
        let names = vec![GeneralName::DnsName(Ia5String::new("example.jp").unwrap())];
        assert_eq!(basic_info_from_alt_name(&names).unwrap(), None);
    }

    #[test]
    fn urls_must_be_absolute_ascii_http_https_or_ldap() {
        assert!(checked_url("u", "http://127.0.0.1:8080/ocsp").is_ok());
        assert!(checked_url("u", "ldap://dir.example/cn=crl").is_ok());
        for bad in [
            "",
            "/relative",
            "ftp://x",
            "http://",
            "http://a b",
            "http://公的",
            "javascript:alert(1)",
        ] {
            assert!(checked_url("u", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phone_kinds_carry_two_policies() {
        let card = certificate_policies(CertificateKind::CARD_SIGNATURE, None).unwrap();
        assert_eq!(card.len(), 1);
        assert_eq!(card[0].policy_identifier, oid::POLICY_SIGN_CLASS20);
        let phone = certificate_policies(CertificateKind::PHONE_AUTHENTICATION, None).unwrap();
        let ids: Vec<AnyOid> = phone.iter().map(|p| p.policy_identifier.clone()).collect();
        assert_eq!(
            ids,
            [
                oid::POLICY_AUTH_CLASS30.into(),
                oid::POLICY_PHONE_AUTHENTICATION
            ]
        );
    }

    #[test]
    fn policies_round_trip_through_the_extension_with_a_cps_qualifier() {
        let cps = Ia5String::new("https://example.invalid/cps").unwrap();
        let extension =
            certificate_policies_extension(CertificateKind::PHONE_SIGNATURE, Some(&cps)).unwrap();
        assert!(!extension.critical);
        let policies = policies_of(std::slice::from_ref(&extension)).unwrap();
        assert_eq!(policies.len(), 2);
        assert_eq!(policies[1].policy_identifier, oid::POLICY_PHONE_SIGNATURE);
        let qualifiers = policies[0].policy_qualifiers.as_ref().unwrap();
        assert_eq!(qualifiers[0].policy_qualifier_id, oid::QT_CPS);
        assert_eq!(qualifiers[0].qualifier.value(), cps.as_bytes());
        assert!(
            policies_of(&[extension.clone(), extension]).is_err(),
            "twice"
        );
    }
}

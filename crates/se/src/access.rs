//! Who may open an applet through OMAPI: app identities and access rules, modelled on
//! GlobalPlatform Secure Element Access Control (SEAC, the ARA-M rules Android's OMAPI
//! service enforces).
//!
//! ```text
//! rule  = AID-REF-DO (the applet)  →  [ (DeviceAppID-REF-DO = SHA-256 of the app's
//!                                        signing certificate, PKG-REF-DO = package name)
//!                                       → grant ]
//! ```
//!
//! A caller matches a rule entry only when both its package name and its certificate
//! hash are equal to the entry's: SEAC also allows hash-only and "all apps" entries, which
//! the JPKI rule never needs and this model does not offer. No rule for an AID means no
//! app may open it (SEAC's behaviour when an ARA-M is present). Rules are installed by
//! the SE issuer through [`crate::VirtualSecureElement::set_access_rules`], the role a
//! TSM plays in the field; no APDU changes them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::SeError;

/// The identity an on-device app presents to the SE through OMAPI: its package name and
/// the SHA-256 of its signing certificate, as Android's SEAC enforcer computes them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AppIdentity {
    package: String,
    certificate_sha256: [u8; 32],
}

impl AppIdentity {
    /// An identity from a package name (Android rules: at least two `.`-separated
    /// segments, each a letter followed by letters, digits or `_`; at most 255
    /// characters) and the SHA-256 of the app's signing certificate.
    pub fn new(package: &str, certificate_sha256: [u8; 32]) -> Result<Self, SeError> {
        check_package_name(package)?;
        Ok(Self {
            package: package.to_owned(),
            certificate_sha256,
        })
    }

    /// An identity from a package name and the app's DER signing certificate.
    pub fn from_signing_certificate(
        package: &str,
        certificate_der: &[u8],
    ) -> Result<Self, SeError> {
        Self::new(package, jpki_crypto::sha256(certificate_der))
    }

    pub fn package(&self) -> &str {
        &self.package
    }

    pub fn certificate_sha256(&self) -> &[u8; 32] {
        &self.certificate_sha256
    }
}

impl fmt::Debug for AppIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AppIdentity({}, sha256:{})",
            self.package,
            hex::encode(self.certificate_sha256)
        )
    }
}

fn check_package_name(package: &str) -> Result<(), SeError> {
    let invalid = |reason: &str| {
        SeError::InvalidArgument(format!("package name {package:?} is invalid: {reason}"))
    };
    if package.is_empty() || package.len() > 255 {
        return Err(invalid("1 to 255 characters"));
    }
    let segments: Vec<&str> = package.split('.').collect();
    if segments.len() < 2 {
        return Err(invalid("at least two segments separated by '.'"));
    }
    for segment in segments {
        let mut chars = segment.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(
                "each segment is a letter followed by letters, digits or '_'",
            ));
        }
    }
    Ok(())
}

/// What an app that matches a rule may do with the applet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessGrant {
    /// What a card client may do (read, VERIFY, CHANGE REFERENCE DATA after VERIFY,
    /// COMPUTE DIGITAL SIGNATURE), plus biometric unlock of the auth key.
    Holder,
    /// Everything a holder may do, plus in-field personalization: key generation,
    /// attestation, setting and resetting PINs, writing certificates, biometric
    /// enrolment, wipe. The portal app's grant.
    Personalization,
}

/// One rule: the apps allowed to open one applet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    aid: Vec<u8>,
    apps: Vec<(AppIdentity, AccessGrant)>,
}

impl AccessRule {
    pub fn aid(&self) -> &[u8] {
        &self.aid
    }

    pub fn apps(&self) -> &[(AppIdentity, AccessGrant)] {
        &self.apps
    }
}

/// The SE's access rules (its ARA-M content). The default is empty: no app may open
/// anything through OMAPI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRules {
    rules: Vec<AccessRule>,
}

impl AccessRules {
    /// No rules: every OMAPI caller is refused.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// The JPKI rule of the real service: only the portal app may open the JPKI AP, and
    /// it may personalize it.
    pub fn jpki_portal_only(portal: AppIdentity) -> Self {
        Self {
            rules: vec![AccessRule {
                aid: jpki_card::JPKI_AID.to_vec(),
                apps: vec![(portal, AccessGrant::Personalization)],
            }],
        }
    }

    /// The same rules with `identity` allowed to open applet `aid` with `grant`
    /// (replacing an earlier grant for the same identity and AID). AIDs are 5 to 16
    /// bytes (ISO/IEC 7816-4 §12.2.3).
    pub fn allow(
        mut self,
        aid: &[u8],
        identity: AppIdentity,
        grant: AccessGrant,
    ) -> Result<Self, SeError> {
        if !(5..=16).contains(&aid.len()) {
            return Err(SeError::InvalidArgument(format!(
                "an AID has 5 to 16 bytes, not {}",
                aid.len()
            )));
        }
        let index = match self.rules.iter().position(|rule| rule.aid == aid) {
            Some(index) => index,
            None => {
                self.rules.push(AccessRule {
                    aid: aid.to_vec(),
                    apps: Vec::new(),
                });
                self.rules.len() - 1
            }
        };
        if let Some(rule) = self.rules.get_mut(index) {
            rule.apps.retain(|(known, _)| *known != identity);
            rule.apps.push((identity, grant));
        }
        Ok(self)
    }

    pub fn rules(&self) -> &[AccessRule] {
        &self.rules
    }

    /// The grant of `identity` for applet `aid`, if a rule allows it.
    pub fn grant_for(&self, aid: &[u8], identity: &AppIdentity) -> Option<AccessGrant> {
        self.rules
            .iter()
            .filter(|rule| rule.aid == aid)
            .flat_map(|rule| rule.apps.iter())
            .find(|(known, _)| known == identity)
            .map(|(_, grant)| *grant)
    }

    pub(crate) fn to_records(&self) -> Vec<AccessRuleRecord> {
        self.rules
            .iter()
            .map(|rule| AccessRuleRecord {
                aid: hex::encode_upper(&rule.aid),
                apps: rule
                    .apps
                    .iter()
                    .map(|(identity, grant)| AllowedAppRecord {
                        package: identity.package.clone(),
                        certificate_sha256: hex::encode(identity.certificate_sha256),
                        grant: *grant,
                    })
                    .collect(),
            })
            .collect()
    }

    pub(crate) fn from_records(records: &[AccessRuleRecord]) -> Result<Self, SeError> {
        let mut rules = Self::default();
        for record in records {
            let aid = hex::decode(&record.aid)
                .map_err(|_| SeError::Malformed(format!("access rule AID {:?}", record.aid)))?;
            if record.apps.is_empty() {
                return Err(SeError::Malformed("an access rule without apps".into()));
            }
            for app in &record.apps {
                let hash: [u8; 32] = hex::decode(&app.certificate_sha256)
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| {
                        SeError::Malformed(
                            "access rule certificate hash is not 32 hex bytes".into(),
                        )
                    })?;
                let identity = AppIdentity::new(&app.package, hash)
                    .map_err(|error| SeError::Malformed(error.to_string()))?;
                rules = rules
                    .allow(&aid, identity, app.grant)
                    .map_err(|error| SeError::Malformed(error.to_string()))?;
            }
        }
        if rules.to_records() != records {
            return Err(SeError::Malformed(
                "access rules are not in their canonical form (duplicate entries)".into(),
            ));
        }
        Ok(rules)
    }
}

/// An access rule as stored in the clear part of an SE file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessRuleRecord {
    aid: String,
    apps: Vec<AllowedAppRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AllowedAppRecord {
    package: String,
    certificate_sha256: String,
    grant: AccessGrant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(package: &str, seed: u8) -> AppIdentity {
        AppIdentity::new(package, [seed; 32]).unwrap()
    }

    #[test]
    fn package_names_follow_android_rules() {
        for good in ["jp.go.cas.mpa", "a.b", "org.example.jpki_portal2"] {
            assert!(AppIdentity::new(good, [0; 32]).is_ok(), "{good}");
        }
        for bad in [
            "",
            "single",
            "jp..mpa",
            "1jp.mpa",
            "jp.go.cas-mpa",
            ".jp.mpa",
            "jp.mpa.",
        ] {
            assert!(AppIdentity::new(bad, [0; 32]).is_err(), "{bad}");
        }
        assert!(AppIdentity::new(&format!("a.{}", "b".repeat(254)), [0; 32]).is_err());
    }

    #[test]
    fn rules_match_package_and_certificate_hash_together() {
        let portal = identity("jp.example.portal", 1);
        let rules = AccessRules::jpki_portal_only(portal.clone());
        assert_eq!(
            rules.grant_for(&jpki_card::JPKI_AID, &portal),
            Some(AccessGrant::Personalization)
        );
        // Same package, other signer (a repackaged app); same signer, other package.
        assert_eq!(
            rules.grant_for(&jpki_card::JPKI_AID, &identity("jp.example.portal", 2)),
            None
        );
        assert_eq!(
            rules.grant_for(&jpki_card::JPKI_AID, &identity("jp.example.other", 1)),
            None
        );
        assert_eq!(rules.grant_for(&[1, 2, 3, 4, 5], &portal), None);
        assert_eq!(
            AccessRules::deny_all().grant_for(&jpki_card::JPKI_AID, &portal),
            None
        );

        let reader = identity("jp.example.reader", 3);
        let rules = rules
            .allow(&jpki_card::JPKI_AID, reader.clone(), AccessGrant::Holder)
            .unwrap()
            .allow(&jpki_card::JPKI_AID, reader.clone(), AccessGrant::Holder)
            .unwrap();
        assert_eq!(rules.rules()[0].apps().len(), 2, "re-allowing replaces");
        assert_eq!(
            rules.grant_for(&jpki_card::JPKI_AID, &reader),
            Some(AccessGrant::Holder)
        );
        assert!(
            rules
                .clone()
                .allow(&[1, 2, 3], reader, AccessGrant::Holder)
                .is_err()
        );

        let records = rules.to_records();
        assert_eq!(AccessRules::from_records(&records).unwrap(), rules);
        let mut duplicated = records.clone();
        duplicated.push(records[0].clone());
        assert!(AccessRules::from_records(&duplicated).is_err());
    }
}

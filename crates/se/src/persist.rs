//! The secure element file: a JSON document with a clear part and a sealed part, as the
//! card file (`jpki_card::VirtualCard::to_file_bytes`).
//!
//! ```text
//! {
//!   "format": "jpki-virtual-secure-element",
//!   "version": 1,
//!   "public": {
//!     "se_serial": "<20 upper-case hex>",
//!     "device_certificate": "<base64 DER>",
//!     "vendor_chain": ["<base64 DER>", …],                       -- root last
//!     "access_rules": [ { "aid": "D392F000260100000001",
//!                         "apps": [ { "package": "…", "certificate_sha256": "<hex>",
//!                                     "grant": "personalization" | "holder" } ] } ],
//!     "biometric": { "unlock_window_ms": 30000,
//!                    "bindings": [ { "id": "<32 hex>", "last_counter": 7 } ] },
//!     "jpki": { "profile": { "token": "JPKIAPGPSETOKEN", "auth_certificate_requires_pin": true },
//!               "state": AppletPublicState }                    -- counters, public keys, CA certs
//!   },
//!   "sealed": base64( Kek::seal( JSON { "device_key": "<base64 PKCS#8>",
//!                                       "jpki": AppletSealedState,   -- keys, PINs, 0001, 000A
//!                                       "binding_secrets": { "<id>": "<base64>" } },
//!                                aad = "jpki-virtual-secure-element/1\n" ‖ JSON(public) ) )
//! }
//! ```
//! Editing anything in the clear part (a counter, a rule, a certificate) makes the file
//! fail to open ([`SeError::Unseal`]); content checks stand behind the seal as well
//! (device key ↔ certificate, serial ↔ certificate, bindings ↔ secrets).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jpki_card::{AppletSealedState, CardFileError, JpkiAp, JpkiApProfile, JpkiApPublicState};
use jpki_crypto::{Clock, CryptoError, Kek, SecretBytes, Signer, SoftwareRsaKey};
use jpki_pkix::JpkiCertificate;
use serde::{Deserialize, Serialize};
use time::Duration;
use zeroize::{Zeroize, Zeroizing};

use crate::access::{AccessRuleRecord, AccessRules};
use crate::biometric::{
    BINDING_ID_LEN, Binding, BindingId, Bindings, MAX_BINDINGS, MAX_UNLOCK_WINDOW,
};
use crate::{SeError, SeSerial, VirtualSecureElement};

/// The `format` tag of an SE file.
pub const FORMAT: &str = "jpki-virtual-secure-element";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    public: PublicPart,
    sealed: String,
}

#[derive(Deserialize)]
struct Envelope {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicPart {
    se_serial: String,
    device_certificate: String,
    vendor_chain: Vec<String>,
    access_rules: Vec<AccessRuleRecord>,
    biometric: BiometricPublic,
    jpki: JpkiApPublicState,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BiometricPublic {
    unlock_window_ms: u64,
    bindings: Vec<BindingRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingRecord {
    id: String,
    last_counter: u64,
}

/// The sealed part; its strings are wiped when it is dropped.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedPart {
    device_key: String,
    jpki: AppletSealedState,
    binding_secrets: BTreeMap<String, String>,
}

impl Drop for SealedPart {
    fn drop(&mut self) {
        self.device_key.zeroize();
        for secret in self.binding_secrets.values_mut() {
            secret.zeroize();
        }
    }
}

fn associated_data(public: &PublicPart) -> Result<Vec<u8>, SeError> {
    let mut aad = format!("{FORMAT}/{VERSION}\n").into_bytes();
    aad.extend(
        serde_json::to_vec(public)
            .map_err(|error| SeError::Malformed(format!("public part: {error}")))?,
    );
    Ok(aad)
}

fn from_card_error(error: CardFileError) -> SeError {
    match error {
        CardFileError::Inconsistent(problem) => SeError::Inconsistent(problem),
        CardFileError::Crypto(error) => SeError::Crypto(error),
        other => SeError::Malformed(other.to_string()),
    }
}

fn decode(what: &str, text: &str) -> Result<Zeroizing<Vec<u8>>, SeError> {
    STANDARD
        .decode(text)
        .map(Zeroizing::new)
        .map_err(|_| SeError::Malformed(format!("{what} is not valid base64")))
}

impl VirtualSecureElement {
    /// The SE file: clear JSON plus the sealed secrets, bound together.
    pub fn to_file_bytes(&self, kek: &Kek) -> Result<Vec<u8>, SeError> {
        let (jpki_public, jpki_sealed) = self.jpki.export();
        let public = PublicPart {
            se_serial: self.serial.as_str().to_owned(),
            device_certificate: STANDARD.encode(&self.device_certificate),
            vendor_chain: self
                .vendor_chain
                .iter()
                .map(|c| STANDARD.encode(c))
                .collect(),
            access_rules: self.access_rules.to_records(),
            biometric: BiometricPublic {
                unlock_window_ms: u64::try_from(self.unlock_window.whole_milliseconds())
                    .map_err(|_| SeError::Malformed("unlock window".into()))?,
                bindings: self
                    .bindings
                    .list
                    .iter()
                    .map(|binding| BindingRecord {
                        id: binding.id.to_string(),
                        last_counter: binding.last_counter,
                    })
                    .collect(),
            },
            jpki: jpki_public,
        };
        let sealed = SealedPart {
            device_key: STANDARD.encode(self.device_key.pkcs8_der().expose()),
            jpki: jpki_sealed,
            binding_secrets: self
                .bindings
                .list
                .iter()
                .map(|binding| {
                    (
                        binding.id.to_string(),
                        STANDARD.encode(binding.secret.expose()),
                    )
                })
                .collect(),
        };
        let plain = Zeroizing::new(
            serde_json::to_vec(&sealed)
                .map_err(|_| SeError::Malformed("the sealed part does not serialize".into()))?,
        );
        let sealed = kek.seal(&plain, &associated_data(&public)?)?;
        let document = Document {
            format: FORMAT.to_owned(),
            version: VERSION,
            public,
            sealed: STANDARD.encode(sealed),
        };
        let mut bytes = serde_json::to_vec_pretty(&document)
            .map_err(|error| SeError::Malformed(format!("document: {error}")))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Opens an SE file written by [`VirtualSecureElement::to_file_bytes`]. The SE comes
    /// back with no session state and not dirty; `clock` is its clock from now on.
    pub fn from_file_bytes(
        bytes: &[u8],
        kek: &Kek,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SeError> {
        // 1. JSON that claims our format and version?
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|error| SeError::Syntax(error.to_string()))?;
        match envelope.format {
            Some(serde_json::Value::String(format)) if format == FORMAT => {}
            other => {
                return Err(SeError::UnknownFormat {
                    found: other.map(|value| value.to_string()).unwrap_or_default(),
                });
            }
        }
        match envelope
            .version
            .as_ref()
            .and_then(serde_json::Value::as_u64)
        {
            Some(version) if version == u64::from(VERSION) => {}
            Some(found) => {
                return Err(SeError::UnsupportedVersion {
                    found,
                    supported: VERSION,
                });
            }
            None => return Err(SeError::Malformed("version is not a number".into())),
        }
        // 2. The full structure.
        let document: Document =
            serde_json::from_slice(bytes).map_err(|error| SeError::Malformed(error.to_string()))?;
        // 3. Open the sealed part, bound to the clear part.
        let sealed = STANDARD
            .decode(document.sealed.as_bytes())
            .map_err(|_| SeError::Malformed("the sealed part is not base64".into()))?;
        let plain = kek
            .open(&sealed, &associated_data(&document.public)?)
            .map_err(|error| match error {
                CryptoError::Unseal => SeError::Unseal,
                other => SeError::Crypto(other),
            })?;
        let secrets: SealedPart = serde_json::from_slice(plain.expose()).map_err(|error| {
            // serde_json may quote values: give the position only.
            SeError::Malformed(format!(
                "the sealed part is not valid (line {}, column {})",
                error.line(),
                error.column()
            ))
        })?;
        // 4. Rebuild, checking what the seal cannot: that the parts agree.
        let public = &document.public;
        let serial = SeSerial::parse(&public.se_serial)
            .map_err(|_| SeError::Malformed("se_serial".into()))?;
        let device_certificate = decode("device certificate", &public.device_certificate)?.to_vec();
        let certificate = JpkiCertificate::from_der(&device_certificate)
            .map_err(|error| SeError::Malformed(format!("device certificate: {error}")))?;
        if certificate
            .subject()
            .values_of("SERIALNUMBER")
            .collect::<Vec<_>>()
            != [serial.as_str()]
        {
            return Err(SeError::Inconsistent(
                "the device certificate names another SE serial".into(),
            ));
        }
        let device_key =
            SoftwareRsaKey::from_pkcs8_der(&decode("device key", &secrets.device_key)?)
                .map_err(|_| SeError::Inconsistent("the device key does not load".into()))?;
        if device_key.public_key_der() != certificate.public_key_der() {
            return Err(SeError::Inconsistent(
                "the device key is not the device certificate's key".into(),
            ));
        }
        let vendor_chain = public
            .vendor_chain
            .iter()
            .map(|text| {
                let der = decode("vendor certificate", text)?.to_vec();
                JpkiCertificate::from_der(&der)
                    .map_err(|error| SeError::Malformed(format!("vendor certificate: {error}")))?;
                Ok(der)
            })
            .collect::<Result<Vec<_>, SeError>>()?;
        if public.jpki.profile != JpkiApProfile::phone_secure_element() {
            return Err(SeError::Inconsistent(
                "the JPKI AP does not have the phone secure element profile".into(),
            ));
        }
        let jpki = JpkiAp::import(&public.jpki, &secrets.jpki).map_err(from_card_error)?;
        let access_rules = AccessRules::from_records(&public.access_rules)?;
        let bindings = bindings_of(&public.biometric.bindings, &secrets.binding_secrets)?;
        let unlock_window = i64::try_from(public.biometric.unlock_window_ms)
            .ok()
            .map(Duration::milliseconds)
            .filter(|window| *window >= Duration::SECOND && *window <= MAX_UNLOCK_WINDOW)
            .ok_or_else(|| SeError::Inconsistent("the unlock window is out of range".into()))?;
        Ok(Self {
            serial,
            device_key,
            device_certificate,
            vendor_chain,
            access_rules,
            jpki,
            bindings,
            unlock_window,
            clock,
            dirty: false,
        })
    }
}

fn bindings_of(
    records: &[BindingRecord],
    secrets: &BTreeMap<String, String>,
) -> Result<Bindings, SeError> {
    if records.len() > MAX_BINDINGS {
        return Err(SeError::Inconsistent("too many biometric bindings".into()));
    }
    if records.len() != secrets.len() {
        return Err(SeError::Inconsistent(
            "biometric bindings and their secrets disagree".into(),
        ));
    }
    let mut bindings = Bindings::default();
    for record in records {
        let id = BindingId::from_hex(&record.id)
            .filter(|id| id.to_string() == record.id && id.as_bytes().len() == BINDING_ID_LEN)
            .ok_or_else(|| SeError::Malformed(format!("binding id {:?}", record.id)))?;
        if bindings.list.iter().any(|binding| binding.id == id) {
            return Err(SeError::Inconsistent(
                "a biometric binding appears twice".into(),
            ));
        }
        let secret = secrets
            .get(&record.id)
            .ok_or_else(|| SeError::Inconsistent("a biometric binding has no secret".into()))?;
        let secret = decode("binding secret", secret)?;
        if secret.len() != 32 {
            return Err(SeError::Inconsistent(
                "a biometric binding secret has the wrong length".into(),
            ));
        }
        bindings.list.push(Binding {
            id,
            secret: SecretBytes::new(secret.to_vec()),
            last_counter: record.last_counter,
        });
    }
    Ok(bindings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessGrant, AppIdentity, VendorCa};
    use jpki_crypto::ManualClock;
    use time::macros::datetime;

    type Edit = Box<dyn FnOnce(&mut PublicPart)>;

    /// Re-seals an edited document with the right KEK: what someone holding the device
    /// KEK could write. The checks behind the seal must still catch it.
    fn reseal(bytes: &[u8], kek: &Kek, edit: impl FnOnce(&mut PublicPart)) -> Vec<u8> {
        let mut document: Document = serde_json::from_slice(bytes).unwrap();
        let sealed = STANDARD.decode(&document.sealed).unwrap();
        let plain = kek
            .open(&sealed, &associated_data(&document.public).unwrap())
            .unwrap();
        edit(&mut document.public);
        let resealed = kek
            .seal(plain.expose(), &associated_data(&document.public).unwrap())
            .unwrap();
        document.sealed = STANDARD.encode(resealed);
        serde_json::to_vec(&document).unwrap()
    }

    #[test]
    fn content_checks_stand_behind_a_valid_seal() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(datetime!(2026-04-01 00:00 UTC)));
        let vendor = VendorCa::create("Acme SE", clock.clone()).unwrap();
        let mut se = VirtualSecureElement::manufacture(&vendor, clock.clone()).unwrap();
        let other = VirtualSecureElement::manufacture(&vendor, clock.clone()).unwrap();
        let portal = AppIdentity::new("jp.example.portal", [1; 32]).unwrap();
        se.set_access_rules(AccessRules::jpki_portal_only(portal));
        let kek = Kek::from_bytes(&[5; 32]).unwrap();
        let bytes = se.to_file_bytes(&kek).unwrap();
        let back = VirtualSecureElement::from_file_bytes(&bytes, &kek, clock.clone()).unwrap();
        assert_eq!(back.serial(), se.serial());
        assert!(!back.is_dirty());

        let other_serial = other.serial().as_str().to_owned();
        let other_certificate = STANDARD.encode(other.device_certificate());
        let inconsistent: Vec<Edit> = vec![
            Box::new(move |p| p.se_serial = other_serial),
            Box::new(move |p| p.device_certificate = other_certificate),
            Box::new(|p| {
                p.jpki.profile = JpkiApProfile::card();
            }),
            Box::new(|p| p.biometric.unlock_window_ms = 0),
            Box::new(|p| {
                p.biometric.bindings.push(BindingRecord {
                    id: "00".repeat(16),
                    last_counter: 0,
                });
            }),
            Box::new(|p| {
                p.jpki.state.pins.get_mut("0018").unwrap().tries_left = 9;
            }),
        ];
        for edit in inconsistent {
            let error = VirtualSecureElement::from_file_bytes(
                &reseal(&bytes, &kek, edit),
                &kek,
                clock.clone(),
            )
            .expect_err("refused");
            assert!(matches!(error, SeError::Inconsistent(_)), "{error}");
        }
        let malformed: Vec<Edit> = vec![
            Box::new(|p| p.se_serial = "not a serial".into()),
            Box::new(|p| p.vendor_chain.push("%%%".into())),
            Box::new(|p| p.device_certificate = STANDARD.encode([0x30, 0x00])),
            Box::new(|p| {
                p.jpki
                    .state
                    .files
                    .insert("0001".into(), STANDARD.encode([1]));
            }),
        ];
        for edit in malformed {
            let error = VirtualSecureElement::from_file_bytes(
                &reseal(&bytes, &kek, edit),
                &kek,
                clock.clone(),
            )
            .expect_err("refused");
            assert!(matches!(error, SeError::Malformed(_)), "{error}");
        }
        // The grant is part of the seal's associated data, so a hand edit of a rule does
        // not open; with the KEK, a rule edit is accepted as written (rules are data).
        let upgraded = reseal(&bytes, &kek, |p| {
            let mut rules = serde_json::to_value(&p.access_rules).unwrap();
            rules[0]["apps"][0]["grant"] = serde_json::json!("holder");
            p.access_rules = serde_json::from_value(rules).unwrap();
        });
        let loaded = VirtualSecureElement::from_file_bytes(&upgraded, &kek, clock).unwrap();
        let identity = AppIdentity::new("jp.example.portal", [1; 32]).unwrap();
        assert_eq!(
            loaded
                .access_rules()
                .grant_for(&jpki_card::JPKI_AID, &identity),
            Some(AccessGrant::Holder)
        );
    }
}

//! The persistent state of an application, split into what may be read in the clear and
//! what is sealed.
//!
//! The rule is mechanical, from the EF table: a data EF anyone may read is public; a data
//! EF behind a PIN is sealed (the signature certificate, the 券面事項 data, and the auth
//! certificate of a phone). PIN counters are public, PIN reference data sealed. Public
//! keys are public, private keys (PKCS#8) sealed.
//!
//! ```text
//! AppletPublicState  { "pins":  { "0018": { "max_tries": 3, "tries_left": 2,
//!                                          "blocked": false, "reference_set": true } },
//!                      "keys":  { "0017": { "public_key": "<base64 SPKI>" | null } },
//!                      "files": { "000A": "<base64>" } }
//! AppletSealedState  { "pins":  { "0018": "<base64 reference data>" },
//!                      "keys":  { "0017": "<base64 PKCS#8>" },
//!                      "files": { "0001": "<base64>" } }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jpki_crypto::{SecretBytes, Signer, SoftwareRsaKey};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::CardFileError;
use crate::applet::{Access, Applet, Fid, Node};
use crate::pin::PinEf;

/// The counter of a PIN, as stored in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinCounterState {
    pub max_tries: u8,
    pub tries_left: u8,
    pub blocked: bool,
    pub reference_set: bool,
}

/// A key slot, as stored in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPublicState {
    /// Base64 DER SubjectPublicKeyInfo, `null` before GENERATE ASYMMETRIC KEY PAIR.
    pub public_key: Option<String>,
}

/// The clear part of an application's state. Keys of the maps are FIDs in 4 upper-case
/// hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppletPublicState {
    pub pins: BTreeMap<String, PinCounterState>,
    pub keys: BTreeMap<String, KeyPublicState>,
    pub files: BTreeMap<String, String>,
}

/// The sealed part of an application's state. Every value is base64; the strings are
/// wiped when the value is dropped and never printed.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppletSealedState {
    pins: BTreeMap<String, String>,
    keys: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
}

impl Drop for AppletSealedState {
    fn drop(&mut self) {
        for map in [&mut self.pins, &mut self.keys, &mut self.files] {
            for value in map.values_mut() {
                value.zeroize();
            }
        }
    }
}

impl fmt::Debug for AppletSealedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppletSealedState")
            .field("pins", &self.pins.keys().collect::<Vec<_>>())
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("values", &"[redacted]")
            .finish()
    }
}

fn fid_text(fid: Fid) -> String {
    format!("{fid:04X}")
}

fn decode(what: &str, text: &str) -> Result<Zeroizing<Vec<u8>>, CardFileError> {
    STANDARD
        .decode(text)
        .map(Zeroizing::new)
        .map_err(|_| CardFileError::Malformed(format!("{what} is not valid base64")))
}

impl Applet {
    /// Splits the persistent state into its clear and sealed parts.
    pub(crate) fn export(&self) -> (AppletPublicState, AppletSealedState) {
        let mut public = AppletPublicState::default();
        let mut sealed = AppletSealedState::default();
        for (fid, node) in &self.files {
            let name = fid_text(*fid);
            match node {
                Node::Fixed(_) | Node::StatusOnlyPin { .. } => {}
                Node::Data { ef, read } => {
                    if ef.content().is_empty() {
                        continue;
                    }
                    let encoded = STANDARD.encode(ef.content());
                    match read {
                        Access::Always => public.files.insert(name, encoded),
                        Access::AfterPin(_) => sealed.files.insert(name, encoded),
                    };
                }
                Node::Pin(pin) => {
                    public.pins.insert(
                        name.clone(),
                        PinCounterState {
                            max_tries: pin.max_tries(),
                            tries_left: pin.tries_left(),
                            blocked: pin.is_blocked(),
                            reference_set: pin.reference().is_some(),
                        },
                    );
                    if let Some(reference) = pin.reference() {
                        sealed
                            .pins
                            .insert(name, STANDARD.encode(reference.expose()));
                    }
                }
                Node::Key { key, .. } => {
                    public.keys.insert(
                        name.clone(),
                        KeyPublicState {
                            public_key: key
                                .as_ref()
                                .map(|key| STANDARD.encode(key.public_key_der())),
                        },
                    );
                    if let Some(key) = key {
                        sealed
                            .keys
                            .insert(name, STANDARD.encode(key.pkcs8_der().expose()));
                    }
                }
            }
        }
        (public, sealed)
    }

    /// Loads a state made by [`Applet::export`] into this (blank) application. Every
    /// entry must name an EF of the right kind and confidentiality, and the clear and
    /// sealed parts must agree.
    pub(crate) fn import(
        &mut self,
        public: &AppletPublicState,
        sealed: &AppletSealedState,
    ) -> Result<(), CardFileError> {
        let name = self.name;
        let unexpected = |what: &str, key: &str| {
            CardFileError::Malformed(format!("application {name}: unexpected {what} {key}"))
        };
        // Every entry must refer to an EF of the right kind.
        let kind_of = |applet: &Applet, key: &str| -> Option<(Fid, Kind)> {
            let fid = parse_fid(key)?;
            let kind = match applet.node(fid)? {
                Node::Pin(_) => Kind::Pin,
                Node::Key { .. } => Kind::Key,
                Node::Data {
                    read: Access::Always,
                    ..
                } => Kind::PublicData,
                Node::Data { .. } => Kind::SealedData,
                Node::Fixed(_) | Node::StatusOnlyPin { .. } => Kind::Other,
            };
            Some((fid, kind))
        };
        let checks: [(&BTreeMap<String, _>, Kind, &str); 2] = [
            (&public.files, Kind::PublicData, "public file"),
            (&sealed.files, Kind::SealedData, "sealed file"),
        ];
        for (map, wanted, what) in checks {
            for key in map.keys() {
                if kind_of(self, key).map(|(_, kind)| kind) != Some(wanted) {
                    return Err(unexpected(what, key));
                }
            }
        }
        for key in public.pins.keys().chain(sealed.pins.keys()) {
            if kind_of(self, key).map(|(_, kind)| kind) != Some(Kind::Pin) {
                return Err(unexpected("PIN", key));
            }
        }
        for key in public.keys.keys().chain(sealed.keys.keys()) {
            if kind_of(self, key).map(|(_, kind)| kind) != Some(Kind::Key) {
                return Err(unexpected("key", key));
            }
        }

        for (fid, node) in &mut self.files {
            let key = fid_text(*fid);
            match node {
                Node::Fixed(_) | Node::StatusOnlyPin { .. } => {}
                Node::Data { ef, read } => {
                    let text = match read {
                        Access::Always => public.files.get(&key),
                        Access::AfterPin(_) => sealed.files.get(&key),
                    };
                    if let Some(text) = text {
                        let content = decode(&format!("{name} EF {key}"), text)?;
                        ef.restore(content.to_vec()).map_err(|problem| {
                            CardFileError::Inconsistent(format!("{name} EF {key}: {problem}"))
                        })?;
                    }
                }
                Node::Pin(pin) => {
                    let counter = public.pins.get(&key).ok_or_else(|| {
                        CardFileError::Malformed(format!("{name}: no counter for PIN {key}"))
                    })?;
                    let inconsistent = |problem: &str| {
                        CardFileError::Inconsistent(format!("{name} PIN {key}: {problem}"))
                    };
                    if counter.max_tries != pin.max_tries() {
                        return Err(inconsistent("maximum tries differ from the card's"));
                    }
                    if counter.blocked != (counter.tries_left == 0) {
                        return Err(inconsistent("blocked flag disagrees with the counter"));
                    }
                    let reference = match sealed.pins.get(&key) {
                        Some(text) => Some(SecretBytes::new(
                            decode(&format!("{name} PIN {key}"), text)?.to_vec(),
                        )),
                        None => None,
                    };
                    if counter.reference_set != reference.is_some() {
                        return Err(inconsistent("reference data presence disagrees"));
                    }
                    *pin = PinEf::restore(
                        pin.policy(),
                        pin.max_tries(),
                        counter.tries_left,
                        reference,
                    )
                    .map_err(|problem| inconsistent(&problem))?;
                }
                Node::Key { key: slot, .. } => {
                    let entry = public.keys.get(&key).ok_or_else(|| {
                        CardFileError::Malformed(format!("{name}: no entry for key {key}"))
                    })?;
                    let inconsistent = |problem: &str| {
                        CardFileError::Inconsistent(format!("{name} key {key}: {problem}"))
                    };
                    match (&entry.public_key, sealed.keys.get(&key)) {
                        (None, None) => *slot = None,
                        (Some(public_key), Some(private_key)) => {
                            let public_key =
                                decode(&format!("{name} public key {key}"), public_key)?;
                            let pkcs8 = decode(&format!("{name} private key {key}"), private_key)?;
                            let loaded = SoftwareRsaKey::from_pkcs8_der(&pkcs8)
                                .map_err(|_| inconsistent("the private key does not load"))?;
                            if loaded.public_key_der() != public_key.as_slice() {
                                return Err(inconsistent(
                                    "the public key does not match the private key",
                                ));
                            }
                            *slot = Some(loaded);
                        }
                        _ => return Err(inconsistent("public and private parts disagree")),
                    }
                }
            }
        }
        self.mark_saved();
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pin,
    Key,
    PublicData,
    SealedData,
    Other,
}

fn parse_fid(text: &str) -> Option<Fid> {
    // Upper-case only, as written: "000a" would otherwise pass this check and then be
    // missed by the lookup that loads the EF.
    if text.len() != 4
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

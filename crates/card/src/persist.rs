//! The card file: a JSON document with a clear part and a sealed part.
//!
//! ```text
//! {
//!   "format": "jpki-virtual-card",
//!   "version": 1,
//!   "public": {
//!     "card_id": "0123456789ABCDEF",
//!     "life_cycle": "personalization" | "operational",
//!     "jpki":    { "profile": { "token": "JPKIAPICCTOKEN2",
//!                               "auth_certificate_requires_pin": false },
//!                  "state": AppletPublicState },       -- counters, public keys,
//!     "support": AppletPublicState                     -- auth and CA certificates
//!   },
//!   "sealed": base64( Kek::seal( JSON { "jpki": AppletSealedState,
//!                                       "support": AppletSealedState },
//!                                aad = "jpki-virtual-card/1\n" ‖ JSON(public) ) )
//! }
//! ```
//! The sealed part holds the private keys (PKCS#8), the PIN reference data, the
//! signature certificate and the 券面事項 data. The associated data is the compact JSON
//! of the public part as this code serializes it, so changing any counter, flag,
//! certificate or the life cycle by hand makes the file fail to open
//! ([`CardFileError::Unseal`]); whitespace and key order do not matter.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jpki_crypto::{CryptoError, Kek};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::CardFileError;
use crate::card::{CardId, LifeCycle, VirtualCard};
use crate::jpki_ap::{JpkiAp, JpkiApPublicState};
use crate::state::{AppletPublicState, AppletSealedState};
use crate::support_ap::support_applet;

/// The `format` tag of a card file.
pub const FORMAT: &str = "jpki-virtual-card";
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

/// Only what is needed to say which format and version a file claims.
#[derive(Deserialize)]
struct Envelope {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicPart {
    card_id: String,
    life_cycle: LifeCycle,
    jpki: JpkiApPublicState,
    support: AppletPublicState,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedPart {
    jpki: AppletSealedState,
    support: AppletSealedState,
}

fn associated_data(public: &PublicPart) -> Result<Vec<u8>, CardFileError> {
    let mut aad = format!("{FORMAT}/{VERSION}\n").into_bytes();
    let json = serde_json::to_vec(public)
        .map_err(|error| CardFileError::Malformed(format!("public part: {error}")))?;
    aad.extend_from_slice(&json);
    Ok(aad)
}

impl VirtualCard {
    /// The card file: clear JSON plus the sealed secrets, bound together.
    pub fn to_file_bytes(&self, kek: &Kek) -> Result<Vec<u8>, CardFileError> {
        let (jpki_public, jpki_sealed) = self.jpki.export();
        let (support_public, support_sealed) = self.support.export();
        let public = PublicPart {
            card_id: self.id.as_str().to_owned(),
            life_cycle: self.life_cycle,
            jpki: jpki_public,
            support: support_public,
        };
        let sealed_plain = Zeroizing::new(
            serde_json::to_vec(&SealedPart {
                jpki: jpki_sealed,
                support: support_sealed,
            })
            .map_err(|_| CardFileError::Malformed("the sealed part does not serialize".into()))?,
        );
        let sealed = kek.seal(&sealed_plain, &associated_data(&public)?)?;
        let document = Document {
            format: FORMAT.to_owned(),
            version: VERSION,
            public,
            sealed: STANDARD.encode(sealed),
        };
        let mut bytes = serde_json::to_vec_pretty(&document)
            .map_err(|error| CardFileError::Malformed(format!("document: {error}")))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Opens a card file written by [`VirtualCard::to_file_bytes`]. The card comes back
    /// powered off (no selection, no verified PIN) and not dirty.
    pub fn from_file_bytes(bytes: &[u8], kek: &Kek) -> Result<VirtualCard, CardFileError> {
        // 1. Is it JSON, and does it claim to be our format and version?
        let envelope: Envelope = serde_json::from_slice(bytes)
            .map_err(|error| CardFileError::Syntax(error.to_string()))?;
        match envelope.format {
            Some(serde_json::Value::String(format)) if format == FORMAT => {}
            other => {
                return Err(CardFileError::UnknownFormat {
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
                return Err(CardFileError::UnsupportedVersion {
                    found,
                    supported: VERSION,
                });
            }
            None => return Err(CardFileError::Malformed("version is not a number".into())),
        }
        // 2. The full structure.
        let document: Document = serde_json::from_slice(bytes)
            .map_err(|error| CardFileError::Malformed(error.to_string()))?;
        // 3. Open the sealed part, bound to the public part.
        let sealed = STANDARD
            .decode(document.sealed.as_bytes())
            .map_err(|_| CardFileError::Malformed("the sealed part is not base64".into()))?;
        let plain = kek
            .open(&sealed, &associated_data(&document.public)?)
            .map_err(|error| match error {
                CryptoError::Unseal => CardFileError::Unseal,
                other => CardFileError::Crypto(other),
            })?;
        let secrets: SealedPart = serde_json::from_slice(plain.expose()).map_err(|error| {
            // serde_json may quote values in its message: give the position only.
            CardFileError::Malformed(format!(
                "the sealed part is not valid (line {}, column {})",
                error.line(),
                error.column()
            ))
        })?;
        // 4. Rebuild the applications from their states.
        let public = &document.public;
        let id = CardId::parse(&public.card_id)?;
        let jpki = JpkiAp::import(&public.jpki, &secrets.jpki)?;
        let mut support = support_applet();
        support.import(&public.support, &secrets.support)?;
        Ok(VirtualCard::assemble(
            id,
            public.life_cycle,
            jpki,
            support,
            false,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Edit = Box<dyn FnOnce(&mut PublicPart)>;

    /// Re-seals an edited document with the right KEK: what someone holding the device
    /// key could write. The content checks behind the seal must still catch it.
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
        let kek = Kek::from_bytes(&[9; 32]).unwrap();
        let mut card = VirtualCard::blank(CardId::parse("00000000000000AA").unwrap());
        for command in [
            &[
                0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00,
                0x01,
            ][..],
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18],
            &[0x00, 0x24, 0x01, 0x80, 0x04, b'1', b'2', b'3', b'4'],
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17],
            &[0x00, 0x46, 0x00, 0x00, 0x00, 0x00, 0x00],
        ] {
            let response = card.transmit(command);
            assert_eq!(&response[response.len() - 2..], &[0x90, 0x00]);
        }
        let bytes = card.to_file_bytes(&kek).unwrap();
        assert!(VirtualCard::from_file_bytes(&bytes, &kek).is_ok());

        fn pin(public: &mut PublicPart) -> &mut crate::PinCounterState {
            public.jpki.state.pins.get_mut("0018").unwrap()
        }
        let inconsistent: Vec<Edit> = vec![
            Box::new(|p| pin(p).blocked = true),
            Box::new(|p| pin(p).reference_set = false),
            Box::new(|p| pin(p).max_tries = 9),
            Box::new(|p| pin(p).tries_left = 7),
            Box::new(|p| {
                p.jpki.state.keys.get_mut("0017").unwrap().public_key =
                    Some(STANDARD.encode(b"another key"));
            }),
            Box::new(|p| {
                p.jpki.state.keys.get_mut("0017").unwrap().public_key = None;
            }),
            Box::new(|p| {
                p.jpki
                    .state
                    .files
                    .insert("000A".into(), STANDARD.encode(vec![0; 4097]));
            }),
        ];
        for edit in inconsistent {
            let error = VirtualCard::from_file_bytes(&reseal(&bytes, &kek, edit), &kek)
                .expect_err("refused");
            assert!(matches!(error, CardFileError::Inconsistent(_)), "{error}");
        }

        let malformed: Vec<Edit> = vec![
            Box::new(|p| p.card_id = "not an id".into()),
            Box::new(|p| {
                let counter = p.jpki.state.pins.remove("0018").unwrap();
                p.jpki.state.pins.insert("0099".into(), counter);
            }),
            Box::new(|p| {
                p.jpki
                    .state
                    .files
                    .insert("000a".into(), STANDARD.encode([1]));
            }),
            Box::new(|p| {
                // The signature certificate is sealed: it may not appear in clear.
                p.jpki
                    .state
                    .files
                    .insert("0001".into(), STANDARD.encode([1]));
            }),
            Box::new(|p| {
                p.jpki.state.files.insert("000B".into(), "%%%".into());
            }),
            Box::new(|p| {
                p.support.pins.remove("0011");
            }),
        ];
        for edit in malformed {
            let error = VirtualCard::from_file_bytes(&reseal(&bytes, &kek, edit), &kek)
                .expect_err("refused");
            assert!(matches!(error, CardFileError::Malformed(_)), "{error}");
        }
    }
}

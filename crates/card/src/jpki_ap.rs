//! The JPKI AP (公的個人認証AP), `D3 92 F0 00 26 01 00 00 00 01`, as a reusable core:
//! the My Number card runs it with [`JpkiApProfile::card`], the phone secure element
//! with [`JpkiApProfile::phone_secure_element`].
//!
//! ```text
//! EF    content                        READ BINARY                 capacity
//! 0001  signature certificate (DER)    after VERIFY of 001B        4096
//! 0002  signature CA certificate       free                        4096
//! 000A  auth certificate               free (card) / after 0018    4096
//! 000B  auth CA certificate            free                        4096
//! 0006  token info, 32 bytes           free                        fixed
//! 0017  auth private key               COMPUTE DIGITAL SIGNATURE after VERIFY of 0018
//! 0018  auth PIN: 4 digits, 3 tries
//! 001A  signature private key          COMPUTE DIGITAL SIGNATURE after VERIFY of 001B
//! 001B  signature password: 6–16 of A–Z 0–9, 5 tries
//! ```
//! Sources: JPKI-FACTS §1.2–§1.5 (OpenSC `card-jpki.c`/`pkcs15-jpki.c`, jpki/myna
//! `src/jpki.rs`). The capacities are ours.

use std::fmt;

use jpki_apdu::{Command, Response, StatusWord};
use jpki_crypto::PinPolicy;
use serde::{Deserialize, Serialize};

use crate::CardFileError;
use crate::applet::{Access, Applet, Fid, Node, Privilege, data_node, pin_node};
use crate::state::{AppletPublicState, AppletSealedState};

/// The application identifier (DF name) of the JPKI AP.
pub const JPKI_AID: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];

/// Capacity of each certificate EF. Real capacities are not public; 4 KiB holds any
/// JPKI certificate seen (the largest, signature certificates, are under 2 KiB).
pub const CERTIFICATE_EF_CAPACITY: usize = 4096;

/// Length of the token EF `0006` as clients read it.
pub const TOKEN_INFO_LEN: usize = 32;

pub(crate) const EF_SIGN_CERTIFICATE: Fid = 0x0001;
pub(crate) const EF_SIGN_CA_CERTIFICATE: Fid = 0x0002;
pub(crate) const EF_TOKEN_INFO: Fid = 0x0006;
pub(crate) const EF_AUTH_CERTIFICATE: Fid = 0x000A;
pub(crate) const EF_AUTH_CA_CERTIFICATE: Fid = 0x000B;
pub(crate) const EF_AUTH_KEY: Fid = 0x0017;
pub(crate) const EF_AUTH_PIN: Fid = 0x0018;
pub(crate) const EF_SIGN_KEY: Fid = 0x001A;
pub(crate) const EF_SIGN_PIN: Fid = 0x001B;

/// What differs between the JPKI AP instances: the token name in EF `0006` and whether
/// the auth certificate EF `000A` needs the auth PIN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ProfileRepr", into = "ProfileRepr")]
pub struct JpkiApProfile {
    token: String,
    auth_certificate_requires_pin: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileRepr {
    token: String,
    auth_certificate_requires_pin: bool,
}

impl TryFrom<ProfileRepr> for JpkiApProfile {
    type Error = CardFileError;
    fn try_from(repr: ProfileRepr) -> Result<Self, Self::Error> {
        Self::new(&repr.token, repr.auth_certificate_requires_pin)
    }
}

impl From<JpkiApProfile> for ProfileRepr {
    fn from(profile: JpkiApProfile) -> Self {
        Self {
            token: profile.token,
            auth_certificate_requires_pin: profile.auth_certificate_requires_pin,
        }
    }
}

impl JpkiApProfile {
    /// The My Number card's token name.
    pub const CARD_TOKEN: &'static str = "JPKIAPICCTOKEN2";
    /// The Android phone secure element's token name.
    pub const PHONE_TOKEN: &'static str = "JPKIAPGPSETOKEN";

    /// A profile with this token name (1–32 printable ASCII characters, no trailing
    /// space: it is padded with spaces on the card).
    pub fn new(token: &str, auth_certificate_requires_pin: bool) -> Result<Self, CardFileError> {
        if token.is_empty() || token.len() > TOKEN_INFO_LEN {
            return Err(CardFileError::InvalidProfile(format!(
                "a token name has 1 to {TOKEN_INFO_LEN} characters, got {}",
                token.len()
            )));
        }
        if !token.bytes().all(|b| (0x20..0x7F).contains(&b)) || token.ends_with(' ') {
            return Err(CardFileError::InvalidProfile(
                "a token name is printable ASCII without trailing spaces".into(),
            ));
        }
        Ok(Self {
            token: token.to_owned(),
            auth_certificate_requires_pin,
        })
    }

    /// The physical card: token `JPKIAPICCTOKEN2`, auth certificate readable by anyone.
    pub fn card() -> Self {
        Self {
            token: Self::CARD_TOKEN.to_owned(),
            auth_certificate_requires_pin: false,
        }
    }

    /// The Android phone secure element: token `JPKIAPGPSETOKEN`, auth certificate
    /// readable only after VERIFY of the auth PIN (JPKI-FACTS §1.4, §1.5).
    pub fn phone_secure_element() -> Self {
        Self {
            token: Self::PHONE_TOKEN.to_owned(),
            auth_certificate_requires_pin: true,
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn auth_certificate_requires_pin(&self) -> bool {
        self.auth_certificate_requires_pin
    }

    /// The content of EF `0006`: the token name padded with spaces to 32 bytes.
    pub fn token_info(&self) -> [u8; TOKEN_INFO_LEN] {
        let mut info = [b' '; TOKEN_INFO_LEN];
        for (slot, byte) in info.iter_mut().zip(self.token.bytes()) {
            *slot = byte;
        }
        info
    }
}

/// The clear part of a JPKI AP's persistent state: its profile and its EF state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JpkiApPublicState {
    pub profile: JpkiApProfile,
    pub state: AppletPublicState,
}

/// The JPKI AP: its EFs, keys, PINs and session state.
pub struct JpkiAp {
    profile: JpkiApProfile,
    applet: Applet,
}

impl JpkiAp {
    /// A blank JPKI AP (no keys, no PINs, empty certificate EFs).
    pub fn new(profile: JpkiApProfile) -> Self {
        let auth_certificate_read = if profile.auth_certificate_requires_pin {
            Access::AfterPin(EF_AUTH_PIN)
        } else {
            Access::Always
        };
        let files = vec![
            (
                EF_SIGN_CERTIFICATE,
                data_node(CERTIFICATE_EF_CAPACITY, Access::AfterPin(EF_SIGN_PIN)),
            ),
            (
                EF_SIGN_CA_CERTIFICATE,
                data_node(CERTIFICATE_EF_CAPACITY, Access::Always),
            ),
            (EF_TOKEN_INFO, Node::Fixed(profile.token_info().to_vec())),
            (
                EF_AUTH_CERTIFICATE,
                data_node(CERTIFICATE_EF_CAPACITY, auth_certificate_read),
            ),
            (
                EF_AUTH_CA_CERTIFICATE,
                data_node(CERTIFICATE_EF_CAPACITY, Access::Always),
            ),
            (
                EF_AUTH_KEY,
                Node::Key {
                    key: None,
                    pin: EF_AUTH_PIN,
                },
            ),
            (EF_AUTH_PIN, pin_node(PinPolicy::FourDigits, 3)),
            (
                EF_SIGN_KEY,
                Node::Key {
                    key: None,
                    pin: EF_SIGN_PIN,
                },
            ),
            (EF_SIGN_PIN, pin_node(PinPolicy::SignPassword, 5)),
        ];
        Self {
            profile,
            applet: Applet::new("jpki", files),
        }
    }

    pub fn profile(&self) -> &JpkiApProfile {
        &self.profile
    }

    /// Runs one command that reached this application (SELECT of the application itself
    /// and ACTIVATE FILE are the container's).
    pub fn process(&mut self, command: &Command, privilege: Privilege) -> Response {
        self.applet.process(command, privilege)
    }

    /// The DER SubjectPublicKeyInfo of the key in key EF `key_fid` (`0017`, `001A`), if
    /// one has been generated. For a container that attests its keys (the phone secure
    /// element); the private key stays inside.
    pub fn public_key(&self, key_fid: u16) -> Option<&[u8]> {
        self.applet.public_key(key_fid)
    }

    /// Whether PIN EF `pin_fid` (`0018`, `001B`) is verified in the current session.
    pub fn is_pin_verified(&self, pin_fid: u16) -> bool {
        self.applet.is_verified(pin_fid)
    }

    /// Empties a certificate EF (`0001`, `0002`, `000A`, `000B`): its content length
    /// becomes 0, as on a blank AP. For a container that replaces a key in the field and
    /// must not leave the old key's certificate beside the new key. Other EFs: `69 81`
    /// (token, PIN, key), unknown FID `6A 82`.
    pub fn erase_file(&mut self, fid: u16) -> Result<(), StatusWord> {
        self.applet.erase_data(fid)
    }

    /// Marks the auth PIN (`0018`) verified for the current session without a VERIFY:
    /// for a container that authenticated the holder by other means (the phone secure
    /// element's biometric unlock). Refused with `69 84` while the auth PIN is not set
    /// and `69 83` while it is blocked. There is deliberately no such method for the
    /// signature password: the signature key always needs the password itself.
    pub fn grant_auth_pin_verification(&mut self) -> Result<(), StatusWord> {
        self.applet.grant_verification(EF_AUTH_PIN)
    }

    /// Clears the current EF and every verified PIN.
    pub fn reset_session(&mut self) {
        self.applet.reset_session();
    }

    /// What is missing before activation (both keys, both PINs), as readable phrases.
    pub fn missing_for_activation(&self) -> Vec<String> {
        self.applet.missing_for_activation()
    }

    /// Whether persistent state (counters, PINs, keys, EFs) changed since the last
    /// [`JpkiAp::mark_saved`] or import.
    pub fn is_dirty(&self) -> bool {
        self.applet.is_dirty()
    }

    pub fn mark_saved(&mut self) {
        self.applet.mark_saved();
    }

    /// The persistent state, split into its clear and sealed parts.
    pub fn export(&self) -> (JpkiApPublicState, AppletSealedState) {
        let (state, sealed) = self.applet.export();
        (
            JpkiApPublicState {
                profile: self.profile.clone(),
                state,
            },
            sealed,
        )
    }

    /// Rebuilds an application from [`JpkiAp::export`] output.
    pub fn import(
        public: &JpkiApPublicState,
        sealed: &AppletSealedState,
    ) -> Result<Self, CardFileError> {
        let mut ap = Self::new(public.profile.clone());
        ap.applet.import(&public.state, sealed)?;
        Ok(ap)
    }
}

impl fmt::Debug for JpkiAp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JpkiAp")
            .field("profile", &self.profile)
            .field("dirty", &self.applet.is_dirty())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_info_is_space_padded() {
        let info = JpkiApProfile::card().token_info();
        assert_eq!(&info[..15], b"JPKIAPICCTOKEN2");
        assert!(info[15..].iter().all(|&b| b == b' '));
        assert_eq!(info.len(), 32);
    }

    fn run(ap: &mut JpkiAp, bytes: &[u8], privilege: Privilege) -> Response {
        ap.process(&Command::parse(bytes).unwrap(), privilege)
    }

    #[test]
    fn container_hooks_expose_keys_erase_files_and_grant_only_the_auth_pin() {
        let mut ap = JpkiAp::new(JpkiApProfile::phone_secure_element());
        assert_eq!(ap.public_key(0x0017), None);
        assert_eq!(
            ap.grant_auth_pin_verification(),
            Err(StatusWord::ReferenceDataNotUsable),
            "no auth PIN yet"
        );
        let issuer = Privilege::Issuer;
        assert!(run(&mut ap, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17], issuer).is_ok());
        let generated = run(&mut ap, &[0x00, 0x46, 0x00, 0x00, 0x00, 0x00, 0x00], issuer);
        assert!(generated.is_ok());
        assert_eq!(ap.public_key(0x0017), Some(generated.data.as_slice()));
        assert_eq!(ap.public_key(0x001A), None);
        assert_eq!(ap.public_key(0x0018), None, "a PIN EF holds no key");
        for command in [
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18][..],
            &[0x00, 0x24, 0x01, 0x80, 0x04, b'1', b'2', b'3', b'4'],
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A],
            &[0x00, 0xD6, 0x00, 0x00, 0x03, 0x30, 0x01, 0x00],
        ] {
            assert!(run(&mut ap, command, issuer).is_ok());
        }
        ap.mark_saved();

        // The auth certificate EF of a phone is readable once the auth PIN is granted.
        let read = [0x00, 0xB0, 0x00, 0x00, 0x00];
        let holder = Privilege::Holder;
        assert_eq!(
            run(&mut ap, &read, holder).sw,
            StatusWord::SecurityStatusNotSatisfied
        );
        assert!(!ap.is_pin_verified(0x0018));
        ap.grant_auth_pin_verification().unwrap();
        assert!(ap.is_pin_verified(0x0018));
        assert!(!ap.is_pin_verified(0x001B), "never the signature password");
        assert_eq!(run(&mut ap, &read, holder).data, vec![0x30, 0x01, 0x00]);
        ap.reset_session();
        assert!(!ap.is_pin_verified(0x0018));

        // Erasing empties a certificate EF and marks the state changed.
        ap.erase_file(0x000A).unwrap();
        assert!(ap.is_dirty());
        ap.grant_auth_pin_verification().unwrap();
        assert!(run(&mut ap, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A], holder).is_ok());
        assert_eq!(run(&mut ap, &read, holder), Response::ok(Vec::new()));
        assert_eq!(
            ap.erase_file(0x0006),
            Err(StatusWord::IncompatibleFileStructure)
        );
        assert_eq!(
            ap.erase_file(0x0017),
            Err(StatusWord::IncompatibleFileStructure)
        );
        assert_eq!(ap.erase_file(0x0099), Err(StatusWord::FileNotFound));

        // A blocked auth PIN cannot be bypassed.
        assert!(run(&mut ap, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18], holder).is_ok());
        for _ in 0..3 {
            run(
                &mut ap,
                &[0x00, 0x20, 0x00, 0x80, 0x04, b'0', b'0', b'0', b'0'],
                holder,
            );
        }
        assert_eq!(
            ap.grant_auth_pin_verification(),
            Err(StatusWord::AuthenticationMethodBlocked)
        );
    }

    #[test]
    fn profiles_are_validated() {
        assert!(JpkiApProfile::new("", false).is_err());
        assert!(JpkiApProfile::new(&"A".repeat(33), false).is_err());
        assert!(JpkiApProfile::new("TOKEN ", false).is_err());
        assert!(JpkiApProfile::new("TOKEN\u{7}", false).is_err());
        let profile = JpkiApProfile::new("JPKIAPIOSTOKEN", true).unwrap();
        let json = serde_json::to_string(&profile).unwrap();
        assert_eq!(
            serde_json::from_str::<JpkiApProfile>(&json).unwrap(),
            profile
        );
        assert!(
            serde_json::from_str::<JpkiApProfile>(
                r#"{"token":"","auth_certificate_requires_pin":false}"#
            )
            .is_err()
        );
    }
}

//! The secure element itself: its identity (serial, device key, device certificate),
//! its access rules, the JPKI AP and the biometric bindings.

use std::fmt;
use std::sync::Arc;

use jpki_card::{JpkiAp, JpkiApProfile};
use jpki_crypto::{Clock, RsaKeySize, Signer, SoftwareRsaKey};
use time::Duration;

use crate::access::AccessRules;
use crate::biometric::{BindingId, Bindings, DEFAULT_UNLOCK_WINDOW, MAX_UNLOCK_WINDOW};
use crate::session::{Interface, Session};
use crate::{SeError, SlotUsage, VendorCa};

/// The answer to reset a PC/SC reader reports for a contactless secure element without
/// historical bytes (PC/SC part 3: `3B 8n 80 01`, historical bytes, TCK). OpenSC's
/// `jpki` driver does not match it by ATR and falls back to SELECT of the JPKI AID
/// (JPKI-FACTS §1.1), which the SE answers.
pub const CONTACTLESS_ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// A secure element's serial number: 20 upper-case hex digits (80 random bits).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeSerial(String);

impl SeSerial {
    pub const LEN: usize = 20;

    /// A fresh random serial.
    pub fn random() -> Result<Self, SeError> {
        let bytes = jpki_crypto::random_bytes(Self::LEN / 2)?;
        Ok(Self(hex::encode_upper(bytes)))
    }

    /// Parses 20 upper-case hex digits.
    pub fn parse(text: &str) -> Result<Self, SeError> {
        if text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(SeError::InvalidArgument(format!(
                "an SE serial is {} upper-case hex digits",
                Self::LEN
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SeSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SeSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeSerial({})", self.0)
    }
}

/// A virtual GlobalPlatform secure element in a phone, holding the JPKI AP.
///
/// Sans-I/O: command bytes in, response bytes out through a [`Session`]; time comes
/// from the injected [`Clock`]; files are written by [`crate::file`] only.
pub struct VirtualSecureElement {
    pub(crate) serial: SeSerial,
    pub(crate) device_key: SoftwareRsaKey,
    pub(crate) device_certificate: Vec<u8>,
    pub(crate) vendor_chain: Vec<Vec<u8>>,
    pub(crate) access_rules: AccessRules,
    pub(crate) jpki: JpkiAp,
    pub(crate) bindings: Bindings,
    pub(crate) unlock_window: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) dirty: bool,
}

impl VirtualSecureElement {
    /// Manufactures a secure element: a random serial, an RSA-2048 device key generated
    /// inside, its device certificate from `vendor`, a blank JPKI AP
    /// ([`JpkiApProfile::phone_secure_element`]), no access rules (no app may open the
    /// JPKI AP through OMAPI until [`VirtualSecureElement::set_access_rules`]).
    pub fn manufacture(vendor: &VendorCa, clock: Arc<dyn Clock>) -> Result<Self, SeError> {
        let serial = SeSerial::random()?;
        let device_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?;
        let device_certificate =
            vendor.issue_device_certificate(device_key.public_key_der(), &serial)?;
        Ok(Self {
            serial,
            device_key,
            device_certificate,
            vendor_chain: vec![vendor.certificate_der().to_vec()],
            access_rules: AccessRules::deny_all(),
            jpki: JpkiAp::new(JpkiApProfile::phone_secure_element()),
            bindings: Bindings::default(),
            unlock_window: DEFAULT_UNLOCK_WINDOW,
            clock,
            dirty: true,
        })
    }

    pub fn serial(&self) -> &SeSerial {
        &self.serial
    }

    /// The device certificate (DER), issued by the vendor root.
    pub fn device_certificate(&self) -> &[u8] {
        &self.device_certificate
    }

    /// The vendor certificates above the device certificate, root last.
    pub fn vendor_chain(&self) -> &[Vec<u8>] {
        &self.vendor_chain
    }

    pub fn access_rules(&self) -> &AccessRules {
        &self.access_rules
    }

    /// Installs access rules (what the SE issuer's TSM does to the ARA-M). Not reachable
    /// through any APDU.
    pub fn set_access_rules(&mut self, rules: AccessRules) {
        if self.access_rules != rules {
            self.access_rules = rules;
            self.dirty = true;
        }
    }

    /// How long an unlock assertion and a challenge stay valid (default 30 s).
    pub fn unlock_window(&self) -> Duration {
        self.unlock_window
    }

    /// Sets the unlock window: 1 second to 5 minutes.
    pub fn set_unlock_window(&mut self, window: Duration) -> Result<(), SeError> {
        if window < Duration::SECOND || window > MAX_UNLOCK_WINDOW {
            return Err(SeError::InvalidArgument(
                "the unlock window is 1 second to 5 minutes".into(),
            ));
        }
        if self.unlock_window != window {
            self.unlock_window = window;
            self.dirty = true;
        }
        Ok(())
    }

    /// The ids of the enrolled biometric bindings.
    pub fn biometric_bindings(&self) -> Vec<BindingId> {
        self.bindings.ids()
    }

    /// The public key in a slot, if one was generated (public information: the SE
    /// answers it to GENERATE and attests it).
    pub fn public_key(&self, usage: SlotUsage) -> Option<&[u8]> {
        self.jpki.public_key(usage.key_fid())
    }

    /// The token name in EF `0006`.
    pub fn token(&self) -> &str {
        self.jpki.profile().token()
    }

    /// Opens a session on `interface` (the session borrows the SE; see [`Session::open`]
    /// for an owned one).
    pub fn open_session(&mut self, interface: Interface) -> Session<&mut Self> {
        Session::open(self, interface)
    }

    /// Whether persistent state changed since the SE was loaded or last marked saved.
    /// A newly manufactured SE is dirty.
    pub fn is_dirty(&self) -> bool {
        self.dirty || self.jpki.is_dirty()
    }

    /// Records that the current state is on disk ([`crate::file::save`] calls this).
    pub fn mark_saved(&mut self) {
        self.dirty = false;
        self.jpki.mark_saved();
    }

    /// Erases the JPKI AP (keys, certificates, PINs) and every biometric binding. The
    /// device identity, the access rules and the token stay.
    pub(crate) fn wipe(&mut self) {
        self.jpki = JpkiAp::new(JpkiApProfile::phone_secure_element());
        self.bindings.clear();
        self.dirty = true;
    }
}

impl fmt::Debug for VirtualSecureElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualSecureElement")
            .field("serial", &self.serial)
            .field("jpki", &self.jpki)
            .field("biometric_bindings", &self.bindings.ids().len())
            .field("dirty", &self.is_dirty())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_se_and_its_sessions_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<VirtualSecureElement>();
        send::<Session<VirtualSecureElement>>();
        send::<Session<&mut VirtualSecureElement>>();
        send::<crate::VendorCa>();
        send::<crate::SimulatedSensor>();
    }

    #[test]
    fn serials_are_twenty_upper_case_hex_digits() {
        let serial = SeSerial::random().unwrap();
        assert_eq!(SeSerial::parse(serial.as_str()).unwrap(), serial);
        assert_ne!(SeSerial::random().unwrap(), serial);
        for bad in [
            "",
            "0123456789abcdef0123",
            "0123456789ABCDEF012",
            "0123456789ABCDEF012G",
        ] {
            assert!(SeSerial::parse(bad).is_err(), "{bad}");
        }
    }
}

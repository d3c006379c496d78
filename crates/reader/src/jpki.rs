//! Typed operations on the JPKI AP of a card or a phone secure element.

use std::fmt;

use jpki_crypto::{Pin, PinPolicy};

use crate::channel::CardChannel;
use crate::{ReaderError, Transport, VerifyError};

/// The application identifier of the JPKI AP.
pub const JPKI_AID: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];

/// The token EF.
const EF_TOKEN_INFO: u16 = 0x0006;

/// Which JPKI AP this is, from the token EF `0006` (JPKI-FACTS §1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Token {
    /// `JPKIAPICCTOKEN2`: a My Number card.
    Card,
    /// `JPKIAPGPSETOKEN`: an Android phone's secure element.
    Phone,
    /// `JPKIAPICCTOKEN`: an old 住基カード.
    OldCard,
    /// Anything else, as read (trailing spaces and NULs removed).
    Other(String),
}

impl Token {
    /// Decodes the 32 bytes of EF `0006`.
    pub fn parse(bytes: &[u8]) -> Self {
        let end = bytes
            .iter()
            .rposition(|&b| b != b' ' && b != 0)
            .map_or(0, |last| last + 1);
        let name = String::from_utf8_lossy(bytes.get(..end).unwrap_or_default());
        match name.as_ref() {
            "JPKIAPICCTOKEN2" => Self::Card,
            "JPKIAPGPSETOKEN" => Self::Phone,
            "JPKIAPICCTOKEN" => Self::OldCard,
            _ => Self::Other(name.into_owned()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Card => "JPKIAPICCTOKEN2",
            Self::Phone => "JPKIAPGPSETOKEN",
            Self::OldCard => "JPKIAPICCTOKEN",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A certificate EF of the JPKI AP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateSlot {
    /// `0001`: the signature certificate (readable after VERIFY of the signature
    /// password).
    Sign,
    /// `0002`: the signature CA certificate.
    SignCa,
    /// `000A`: the user-authentication certificate (on a phone, after VERIFY of the
    /// auth PIN).
    Auth,
    /// `000B`: the user-authentication CA certificate.
    AuthCa,
}

impl CertificateSlot {
    pub fn fid(self) -> u16 {
        match self {
            Self::Sign => 0x0001,
            Self::SignCa => 0x0002,
            Self::Auth => 0x000A,
            Self::AuthCa => 0x000B,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Sign => "the signature certificate",
            Self::SignCa => "the signature CA certificate",
            Self::Auth => "the authentication certificate",
            Self::AuthCa => "the authentication CA certificate",
        }
    }
}

/// A PIN EF of the JPKI AP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinSlot {
    /// `0018`: the user-authentication PIN, 4 digits, 3 tries.
    Auth,
    /// `001B`: the signature password, 6–16 of A–Z 0–9, 5 tries.
    Sign,
}

impl PinSlot {
    pub fn fid(self) -> u16 {
        match self {
            Self::Auth => 0x0018,
            Self::Sign => 0x001B,
        }
    }

    /// The policy a [`Pin`] for this slot must have been made with.
    pub fn policy(self) -> PinPolicy {
        match self {
            Self::Auth => PinPolicy::FourDigits,
            Self::Sign => PinPolicy::SignPassword,
        }
    }

    fn check(self, pin: &Pin) -> Result<(), ReaderError> {
        if pin.policy() == self.policy() {
            Ok(())
        } else {
            Err(ReaderError::InvalidArgument(format!(
                "the {} needs a PIN made with policy {:?}",
                match self {
                    Self::Auth => "auth PIN",
                    Self::Sign => "signature password",
                },
                self.policy()
            )))
        }
    }
}

/// A private-key EF of the JPKI AP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySlot {
    /// `0017`: the user-authentication key, unlocked by [`PinSlot::Auth`].
    Auth,
    /// `001A`: the signature key, unlocked by [`PinSlot::Sign`].
    Sign,
}

impl KeySlot {
    pub fn fid(self) -> u16 {
        match self {
            Self::Auth => 0x0017,
            Self::Sign => 0x001A,
        }
    }

    /// The PIN that unlocks this key.
    pub fn pin(self) -> PinSlot {
        match self {
            Self::Auth => PinSlot::Auth,
            Self::Sign => PinSlot::Sign,
        }
    }
}

/// The JPKI AP, selected. Every method selects the EF it needs, so calls can come in any
/// order; the card keeps verified PINs until the AP is selected again, the card is reset
/// or powered off.
#[derive(Debug)]
pub struct JpkiAp<T> {
    channel: CardChannel<T>,
}

impl<T: Transport> JpkiAp<T> {
    /// Selects the JPKI AP (`00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01`).
    pub fn select(transport: T) -> Result<Self, ReaderError> {
        let mut channel = CardChannel::new(transport);
        channel.select_application(&JPKI_AID)?;
        Ok(Self { channel })
    }

    pub fn into_transport(self) -> T {
        self.channel.into_inner()
    }

    /// The ISO operations underneath, for anything not typed here.
    pub fn channel(&mut self) -> &mut CardChannel<T> {
        &mut self.channel
    }

    /// Reads the token EF `0006` with one READ BINARY of 32 bytes.
    pub fn token(&mut self) -> Result<Token, ReaderError> {
        self.channel.select_ef(EF_TOKEN_INFO)?;
        let info = self.channel.read_binary(0, 32)?;
        if info.is_empty() {
            return Err(ReaderError::EmptyFile {
                what: "the token EF".into(),
            });
        }
        Ok(Token::parse(&info))
    }

    /// Reads a certificate (DER): the header, then chunks of at most 256 bytes. The
    /// signature certificate needs [`JpkiAp::verify`] of [`PinSlot::Sign`] first.
    pub fn read_certificate(&mut self, slot: CertificateSlot) -> Result<Vec<u8>, ReaderError> {
        self.channel.select_ef(slot.fid())?;
        let der = self.channel.read_tlv_file(slot.label())?;
        if der.first() != Some(&0x30) {
            return Err(ReaderError::UnexpectedData(format!(
                "{} is not a DER SEQUENCE",
                slot.label()
            )));
        }
        Ok(der)
    }

    /// Tries left for a PIN, without using one (empty VERIFY). 0 means blocked.
    pub fn tries_left(&mut self, slot: PinSlot) -> Result<u8, ReaderError> {
        self.channel.tries_left(slot.fid())
    }

    /// VERIFY. The signature password must already be upper case (as clients send it);
    /// [`Pin`] with [`PinPolicy::SignPassword`] refuses lower case.
    pub fn verify(&mut self, slot: PinSlot, pin: &Pin) -> Result<(), VerifyError> {
        slot.check(pin)?;
        self.channel.verify(slot.fid(), pin.expose())
    }

    /// VERIFY with the current PIN, then CHANGE REFERENCE DATA to the new one.
    pub fn change_pin(
        &mut self,
        slot: PinSlot,
        current: &Pin,
        new: &Pin,
    ) -> Result<(), ReaderError> {
        slot.check(new)?;
        self.verify(slot, current)?;
        self.channel.change_reference_data(slot.fid(), new.expose())
    }

    /// COMPUTE DIGITAL SIGNATURE over a caller-built DigestInfo with a key whose PIN was
    /// verified in this session. Returns the raw RSA signature.
    pub fn sign_digest_info(
        &mut self,
        key: KeySlot,
        digest_info: &[u8],
    ) -> Result<Vec<u8>, ReaderError> {
        self.channel
            .compute_digital_signature(key.fid(), digest_info)
    }

    /// VERIFY of the key's PIN, then COMPUTE DIGITAL SIGNATURE.
    pub fn sign_with_pin(
        &mut self,
        key: KeySlot,
        pin: &Pin,
        digest_info: &[u8],
    ) -> Result<Vec<u8>, ReaderError> {
        self.verify(key.pin(), pin)?;
        self.sign_digest_info(key, digest_info)
    }

    // -- Personalization (accepted by a card before ACTIVATE FILE only) ---------------

    /// GENERATE ASYMMETRIC KEY PAIR on the card; returns the DER SubjectPublicKeyInfo.
    pub fn generate_key(&mut self, key: KeySlot) -> Result<Vec<u8>, ReaderError> {
        self.channel.generate_key_pair(key.fid())
    }

    /// Sets a PIN without VERIFY (CHANGE REFERENCE DATA during personalization).
    pub fn set_initial_pin(&mut self, slot: PinSlot, pin: &Pin) -> Result<(), ReaderError> {
        slot.check(pin)?;
        self.channel.change_reference_data(slot.fid(), pin.expose())
    }

    /// Writes an EF with UPDATE BINARY in chunks.
    pub fn write_ef(&mut self, fid: u16, content: &[u8]) -> Result<(), ReaderError> {
        self.channel.write_ef(fid, content)
    }

    /// Writes a certificate EF.
    pub fn write_certificate(
        &mut self,
        slot: CertificateSlot,
        der: &[u8],
    ) -> Result<(), ReaderError> {
        self.channel.write_ef(slot.fid(), der)
    }

    /// ACTIVATE FILE: ends the personalization of the card.
    pub fn activate(&mut self) -> Result<(), ReaderError> {
        self.channel.activate()
    }
}

//! Typed operations on the 券面事項入力補助AP.

use jpki_crypto::{Pin, PinPolicy};
use jpki_model::{BasicInfo, MyNumber};

use crate::channel::CardChannel;
use crate::support_data::{self, MY_NUMBER_READ_LEN};
use crate::{ReaderError, Transport, VerifyError};

/// The application identifier of the 券面事項入力補助AP.
pub const SUPPORT_AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];

const EF_MY_NUMBER: u16 = 0x0001;
const EF_ATTRIBUTES: u16 = 0x0002;
const EF_PIN: u16 = 0x0011;

/// The 券面事項入力補助AP, selected.
#[derive(Debug)]
pub struct SupportAp<T> {
    channel: CardChannel<T>,
}

fn check(pin: &Pin) -> Result<(), ReaderError> {
    if pin.policy() == PinPolicy::FourDigits {
        Ok(())
    } else {
        Err(ReaderError::InvalidArgument(
            "the 券面事項入力補助 PIN is a 4-digit PIN".into(),
        ))
    }
}

impl<T: Transport> SupportAp<T> {
    /// Selects the application (`00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08`).
    pub fn select(transport: T) -> Result<Self, ReaderError> {
        let mut channel = CardChannel::new(transport);
        channel.select_application(&SUPPORT_AID)?;
        Ok(Self { channel })
    }

    pub fn into_transport(self) -> T {
        self.channel.into_inner()
    }

    pub fn channel(&mut self) -> &mut CardChannel<T> {
        &mut self.channel
    }

    /// Tries left for the PIN (EF `0011`).
    pub fn tries_left(&mut self) -> Result<u8, ReaderError> {
        self.channel.tries_left(EF_PIN)
    }

    /// VERIFY of the PIN.
    pub fn verify(&mut self, pin: &Pin) -> Result<(), VerifyError> {
        check(pin)?;
        self.channel.verify(EF_PIN, pin.expose())
    }

    /// VERIFY, then the My Number (EF `0001`, one READ BINARY of 17 bytes) and the 4
    /// attributes (EF `0002`).
    pub fn read_support_data(&mut self, pin: &Pin) -> Result<(MyNumber, BasicInfo), ReaderError> {
        self.verify(pin)?;
        self.channel.select_ef(EF_MY_NUMBER)?;
        let my_number_ef = self.channel.read_binary(0, MY_NUMBER_READ_LEN)?;
        let my_number = support_data::decode_my_number(&my_number_ef)?;
        self.channel.select_ef(EF_ATTRIBUTES)?;
        let attributes_ef = self.channel.read_tlv_file("the 券面事項 attributes")?;
        let attributes = support_data::decode_attributes(&attributes_ef)?;
        Ok((my_number, attributes))
    }

    /// VERIFY with the current PIN, then CHANGE REFERENCE DATA.
    pub fn change_pin(&mut self, current: &Pin, new: &Pin) -> Result<(), ReaderError> {
        check(new)?;
        self.verify(current)?;
        self.channel.change_reference_data(EF_PIN, new.expose())
    }

    // -- Personalization ---------------------------------------------------------------

    /// Sets the PIN without VERIFY (personalization).
    pub fn set_initial_pin(&mut self, pin: &Pin) -> Result<(), ReaderError> {
        check(pin)?;
        self.channel.change_reference_data(EF_PIN, pin.expose())
    }

    /// Writes the My Number and the 4 attributes in the layout of
    /// [`crate::support_data`].
    pub fn write_support_data(
        &mut self,
        my_number: &MyNumber,
        attributes: &BasicInfo,
    ) -> Result<(), ReaderError> {
        self.channel
            .write_ef(EF_MY_NUMBER, &support_data::encode_my_number(my_number))?;
        self.channel
            .write_ef(EF_ATTRIBUTES, &support_data::encode_attributes(attributes)?)
    }

    /// ACTIVATE FILE: ends the personalization of the card.
    pub fn activate(&mut self) -> Result<(), ReaderError> {
        self.channel.activate()
    }
}

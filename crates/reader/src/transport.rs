//! The one thing a card link must do: carry a command APDU and bring back the response.

use crate::TransportError;

/// A link to a card: in-process, PC/SC, vpcd, NFC. Bytes in, bytes out; framing, power
/// and reader selection are the implementation's business.
pub trait Transport {
    /// Sends one command APDU and returns the complete response APDU (data ‖ SW1 SW2).
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
}

//! The in-process transport: the virtual card in the same process, no reader at all.
//! This is the only module of the crate that knows `jpki-card`.

use jpki_card::VirtualCard;

use crate::{Transport, TransportError};

/// A [`VirtualCard`] is its own transport, owned or borrowed (`&mut VirtualCard` through
/// the blanket implementation for `&mut T`).
impl Transport for VirtualCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(VirtualCard::transmit(self, command))
    }
}

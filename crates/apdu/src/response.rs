//! Response APDUs, ISO/IEC 7816-4:2020 §5.1.
//!
//! ```text
//! [ response data field ] SW1 SW2
//! ```

use std::fmt;

use crate::{ApduError, StatusWord};

/// A response APDU: data (possibly empty) and the status word.
///
/// `Debug` prints the length of the data, not the data: responses carry certificates,
/// but also the My Number and the 4 attributes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl Response {
    pub fn new(data: Vec<u8>, sw: StatusWord) -> Self {
        Self { data, sw }
    }

    /// Data and `90 00`.
    pub fn ok(data: Vec<u8>) -> Self {
        Self::new(data, StatusWord::Ok)
    }

    /// A status word without data.
    pub fn status(sw: StatusWord) -> Self {
        Self::new(Vec::new(), sw)
    }

    pub fn is_ok(&self) -> bool {
        self.sw.is_ok()
    }

    /// Splits the status bytes off the end.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        match bytes.split_last_chunk::<2>() {
            Some((data, &[sw1, sw2])) => {
                Ok(Self::new(data.to_vec(), StatusWord::from_bytes(sw1, sw2)))
            }
            None => Err(ApduError::ResponseTooShort { len: bytes.len() }),
        }
    }

    /// Data followed by SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("data", &format_args!("[{} bytes]", self.data.len()))
            .field("sw", &self.sw)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode() {
        let response = Response::parse(&[0x30, 0x82, 0x90, 0x00]).unwrap();
        assert_eq!(response.data, vec![0x30, 0x82]);
        assert!(response.is_ok());
        assert_eq!(response.to_bytes(), vec![0x30, 0x82, 0x90, 0x00]);
        let blocked = Response::parse(&[0x69, 0x83]).unwrap();
        assert!(blocked.data.is_empty());
        assert_eq!(blocked.sw, StatusWord::AuthenticationMethodBlocked);
        assert_eq!(
            Response::parse(&[0x90]),
            Err(ApduError::ResponseTooShort { len: 1 })
        );
        assert_eq!(
            Response::parse(&[]),
            Err(ApduError::ResponseTooShort { len: 0 })
        );
    }

    #[test]
    fn debug_shows_length_only() {
        let response = Response::ok(b"123456789018".to_vec());
        let printed = format!("{response:?}");
        assert!(printed.contains("[12 bytes]"), "{printed}");
        assert!(!printed.contains("1234"), "{printed}");
    }
}

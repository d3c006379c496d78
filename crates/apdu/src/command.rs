//! Command APDUs, ISO/IEC 7816-4:2020 §5.1 and §5.2.
//!
//! ```text
//! header            body
//! CLA INS P1 P2  [ Lc field | data field | Le field ]
//!
//! case 1   CLA INS P1 P2
//! case 2S  CLA INS P1 P2 Le                     Le: 1 byte, 00 means 256
//! case 3S  CLA INS P1 P2 Lc data                Lc: 1 byte 01..FF
//! case 4S  CLA INS P1 P2 Lc data Le
//! case 2E  CLA INS P1 P2 00 Le1 Le2             Le: 2 bytes, 0000 means 65536
//! case 3E  CLA INS P1 P2 00 Lc1 Lc2 data        Lc: 2 bytes 0001..FFFF
//! case 4E  CLA INS P1 P2 00 Lc1 Lc2 data Le1 Le2
//! ```
//! A command uses either short or extended length fields, never a mix (§5.1).

use std::fmt;

use crate::{ApduError, Instruction};

/// Longest data field a short Lc can announce.
pub const SHORT_MAX_DATA: usize = 255;
/// Largest Ne a short Le can ask for (encoded `00`).
pub const SHORT_MAX_LE: usize = 256;
/// Longest data field an extended Lc can announce.
pub const EXTENDED_MAX_DATA: usize = 65_535;
/// Largest Ne an extended Le can ask for (encoded `00 00`).
pub const EXTENDED_MAX_LE: usize = 65_536;

/// Which length fields [`Command::to_bytes`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LengthForm {
    /// Short fields when the data (≤ 255 bytes) and Le (≤ 256) fit, extended otherwise.
    #[default]
    Short,
    /// Extended fields even where short ones would fit (some commands, such as
    /// GENERATE ASYMMETRIC KEY PAIR with its 294-byte answer, need them).
    Extended,
}

/// A command APDU.
///
/// `le` is Ne, the number of response bytes expected: `None` when the command carries no
/// Le field, otherwise 1..=65536 (the wire values `00` and `00 00` mean 256 and 65536).
/// `form` records whether the parsed bytes used extended length fields, so that encoding
/// a parsed command gives back the same bytes; it is ignored for case 1, which has no
/// length fields.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    pub le: Option<usize>,
    pub form: LengthForm,
}

impl Command {
    /// A case 1 command (header only).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
            form: LengthForm::Short,
        }
    }

    /// The same command with this data field.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// The same command expecting `ne` response bytes (1..=65536).
    pub fn with_le(mut self, ne: usize) -> Self {
        self.le = Some(ne);
        self
    }

    /// The same command, encoded with extended length fields.
    pub fn extended(mut self) -> Self {
        self.form = LengthForm::Extended;
        self
    }

    /// The ISO case number: 1 (no data, no Le), 2 (Le only), 3 (data only), 4 (both).
    pub fn case(&self) -> u8 {
        match (self.data.is_empty(), self.le.is_some()) {
            (true, false) => 1,
            (true, true) => 2,
            (false, false) => 3,
            (false, true) => 4,
        }
    }

    /// Parses a command APDU. Every input either parses or gives an [`ApduError`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let (&[cla, ins, p1, p2], body) = split_header(bytes)?;
        let mut command = Self::new(cla, ins, p1, p2);
        match body {
            // Case 1.
            [] => {}
            // Case 2S.
            [le] => command.le = Some(short_le(*le)),
            // Cases 3S and 4S: a non-zero first body byte is a short Lc.
            [lc, rest @ ..] if *lc != 0 => {
                let lc = usize::from(*lc);
                let (data, tail) = take(rest, lc)?;
                command.data = data.to_vec();
                match tail {
                    [] => {}
                    [le] => command.le = Some(short_le(*le)),
                    [_, _] => return Err(ApduError::MixedLengthForms),
                    more => {
                        return Err(ApduError::TrailingBytes {
                            count: more.len() - 1,
                        });
                    }
                }
            }
            // A zero first byte starts an extended length field of 3 bytes.
            [_zero, _] => return Err(ApduError::TruncatedExtendedLength),
            // Case 2E.
            [_zero, le1, le2] => {
                command.le = Some(extended_le(*le1, *le2));
                command.form = LengthForm::Extended;
            }
            // Cases 3E and 4E.
            [_zero, lc1, lc2, rest @ ..] => {
                let lc = usize::from(u16::from_be_bytes([*lc1, *lc2]));
                if lc == 0 {
                    return Err(ApduError::ZeroExtendedLc);
                }
                let (data, tail) = take(rest, lc)?;
                command.data = data.to_vec();
                command.form = LengthForm::Extended;
                match tail {
                    [] => {}
                    [le1, le2] => command.le = Some(extended_le(*le1, *le2)),
                    [_] => return Err(ApduError::MixedLengthForms),
                    more => {
                        return Err(ApduError::TrailingBytes {
                            count: more.len() - 2,
                        });
                    }
                }
            }
        }
        Ok(command)
    }

    /// Encodes the command: short length fields when they fit and `form` is
    /// [`LengthForm::Short`], extended ones otherwise.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ApduError> {
        let n = self.data.len();
        if n > EXTENDED_MAX_DATA {
            return Err(ApduError::DataTooLong { len: n });
        }
        if let Some(le) = self.le
            && !(1..=EXTENDED_MAX_LE).contains(&le)
        {
            return Err(ApduError::InvalidLe { le });
        }
        let extended = self.form == LengthForm::Extended
            || n > SHORT_MAX_DATA
            || self.le.is_some_and(|le| le > SHORT_MAX_LE);
        let mut out = Vec::with_capacity(4 + 3 + n + 2);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if extended {
            // Ne of 65536 is written 00 00; every other value fits in 16 bits.
            let le_field = self
                .le
                .map(|le| ((le % EXTENDED_MAX_LE) as u16).to_be_bytes());
            if n > 0 {
                out.push(0);
                out.extend_from_slice(&(n as u16).to_be_bytes());
                out.extend_from_slice(&self.data);
                if let Some(le) = le_field {
                    out.extend_from_slice(&le);
                }
            } else if let Some(le) = le_field {
                out.push(0);
                out.extend_from_slice(&le);
            }
        } else {
            if n > 0 {
                out.push(n as u8);
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                // Ne of 256 is written 00.
                out.push((le % SHORT_MAX_LE) as u8);
            }
        }
        Ok(out)
    }
}

fn split_header(bytes: &[u8]) -> Result<(&[u8; 4], &[u8]), ApduError> {
    match bytes.split_first_chunk::<4>() {
        Some((header, body)) => Ok((header, body)),
        None => Err(ApduError::TruncatedHeader { len: bytes.len() }),
    }
}

fn take(bytes: &[u8], len: usize) -> Result<(&[u8], &[u8]), ApduError> {
    if bytes.len() < len {
        return Err(ApduError::DataTruncated {
            lc: len,
            available: bytes.len(),
        });
    }
    Ok(bytes.split_at(len))
}

fn short_le(byte: u8) -> usize {
    if byte == 0 {
        SHORT_MAX_LE
    } else {
        usize::from(byte)
    }
}

fn extended_le(high: u8, low: u8) -> usize {
    match u16::from_be_bytes([high, low]) {
        0 => EXTENDED_MAX_LE,
        value => usize::from(value),
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Data<'a>(&'a [u8], bool);
        impl fmt::Debug for Data<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.1 {
                    write!(f, "[redacted; {} bytes]", self.0.len())
                } else {
                    f.write_str("[")?;
                    for (index, byte) in self.0.iter().enumerate() {
                        if index > 0 {
                            f.write_str(" ")?;
                        }
                        write!(f, "{byte:02X}")?;
                    }
                    f.write_str("]")
                }
            }
        }
        struct Hex(u8);
        impl fmt::Debug for Hex {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:02X}", self.0)
            }
        }
        f.debug_struct("Command")
            .field("cla", &Hex(self.cla))
            .field("ins", &Hex(self.ins))
            .field("p1", &Hex(self.p1))
            .field("p2", &Hex(self.p2))
            .field(
                "data",
                &Data(&self.data, Instruction::carries_secret(self.ins)),
            )
            .field("le", &self.le)
            .field("form", &self.form)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|pair| u8::from_str_radix(pair, 16).unwrap())
            .collect()
    }

    /// Byte vectors → (case, data length, Le, extended?). Each must parse and re-encode to
    /// the same bytes.
    #[test]
    fn all_cases_round_trip_byte_for_byte() {
        let rows: &[(&str, u8, usize, Option<usize>, bool)] = &[
            // SELECT JPKI AP as OpenSC and myna send it (case 3S).
            (
                "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
                3,
                10,
                None,
                false,
            ),
            // Empty VERIFY: the tries-left query (case 1).
            ("00 20 00 80", 1, 0, None, false),
            // READ BINARY, Le=00 means 256 (case 2S).
            ("00 B0 00 00 00", 2, 0, Some(256), false),
            ("00 B0 01 00 20", 2, 0, Some(32), false),
            // COMPUTE DIGITAL SIGNATURE with Le=00 (case 4S).
            ("80 2A 00 80 03 AA BB CC 00", 4, 3, Some(256), false),
            // GENERATE ASYMMETRIC KEY PAIR, extended Le 0000 = 65536 (case 2E).
            ("00 46 00 00 00 00 00", 2, 0, Some(65_536), true),
            ("00 B0 00 00 00 01 00", 2, 0, Some(256), true),
            // Extended Lc (case 3E) and extended Lc + Le (case 4E).
            ("00 D6 00 00 00 00 02 AA BB", 3, 2, None, true),
            ("00 2A 00 80 00 00 01 AA 00 00", 4, 1, Some(65_536), true),
            ("00 2A 00 80 00 00 01 AA 01 2C", 4, 1, Some(300), true),
        ];
        for &(text, case, data_len, le, extended) in rows {
            let bytes = hex(text);
            let command = Command::parse(&bytes).unwrap();
            assert_eq!(command.case(), case, "{text}");
            assert_eq!(command.data.len(), data_len, "{text}");
            assert_eq!(command.le, le, "{text}");
            assert_eq!(command.form == LengthForm::Extended, extended, "{text}");
            assert_eq!(command.to_bytes().unwrap(), bytes, "{text}");
        }
    }

    #[test]
    fn long_data_round_trips_in_extended_form() {
        let mut bytes = hex("00 D6 00 00 00 01 00");
        bytes.extend(std::iter::repeat_n(0x5A, 256));
        let command = Command::parse(&bytes).unwrap();
        assert_eq!(command.data.len(), 256);
        assert_eq!(command.to_bytes().unwrap(), bytes);
        // 255 bytes still fit a short Lc.
        let short = Command::new(0, 0xD6, 0, 0).with_data(vec![1; 255]);
        let encoded = short.to_bytes().unwrap();
        assert_eq!(encoded[4], 0xFF);
        assert_eq!(encoded.len(), 5 + 255);
        assert_eq!(Command::parse(&encoded).unwrap(), short);
    }

    #[test]
    fn encoding_chooses_short_unless_extended_is_needed_or_asked() {
        let read = Command::new(0, 0xB0, 0, 0).with_le(256);
        assert_eq!(read.to_bytes().unwrap(), hex("00 B0 00 00 00"));
        assert_eq!(
            read.clone().extended().to_bytes().unwrap(),
            hex("00 B0 00 00 00 01 00")
        );
        let generate = Command::new(0, 0x46, 0, 0).with_le(65_536);
        assert_eq!(generate.to_bytes().unwrap(), hex("00 46 00 00 00 00 00"));
        let big_le = Command::new(0, 0xB0, 0, 0).with_le(257);
        assert_eq!(big_le.to_bytes().unwrap(), hex("00 B0 00 00 00 01 01"));
        let case1 = Command::new(0, 0x44, 0, 0).extended();
        assert_eq!(case1.to_bytes().unwrap(), hex("00 44 00 00"));
        // Data over 255 bytes forces extended Lc *and* extended Le.
        let sign = Command::new(0x80, 0x2A, 0, 0x80)
            .with_data(vec![7; 300])
            .with_le(256);
        let encoded = sign.to_bytes().unwrap();
        assert_eq!(&encoded[4..7], &[0, 0x01, 0x2C]);
        assert_eq!(&encoded[encoded.len() - 2..], &[0x01, 0x00]);
    }

    #[test]
    fn encoding_refuses_impossible_fields() {
        assert_eq!(
            Command::new(0, 0xB0, 0, 0).with_le(0).to_bytes(),
            Err(ApduError::InvalidLe { le: 0 })
        );
        assert_eq!(
            Command::new(0, 0xB0, 0, 0).with_le(65_537).to_bytes(),
            Err(ApduError::InvalidLe { le: 65_537 })
        );
        assert_eq!(
            Command::new(0, 0xD6, 0, 0)
                .with_data(vec![0; 65_536])
                .to_bytes(),
            Err(ApduError::DataTooLong { len: 65_536 })
        );
    }

    #[test]
    fn malformed_commands_give_typed_errors() {
        let rows: &[(&str, ApduError)] = &[
            ("", ApduError::TruncatedHeader { len: 0 }),
            ("00 A4 04", ApduError::TruncatedHeader { len: 3 }),
            // Lc says 10, only 2 follow.
            (
                "00 A4 04 0C 0A D3 92",
                ApduError::DataTruncated {
                    lc: 10,
                    available: 2,
                },
            ),
            // Short Lc followed by a 2-byte Le.
            ("00 A4 04 0C 01 AA 00 00", ApduError::MixedLengthForms),
            // Extended Lc followed by a 1-byte Le.
            ("00 2A 00 80 00 00 01 AA 00", ApduError::MixedLengthForms),
            // Trailing bytes after a short Le / after an extended Le.
            (
                "00 A4 04 0C 01 AA 00 01 02",
                ApduError::TrailingBytes { count: 2 },
            ),
            (
                "00 2A 00 80 00 00 01 AA 00 00 FF",
                ApduError::TrailingBytes { count: 1 },
            ),
            ("00 B0 00 00 00 01", ApduError::TruncatedExtendedLength),
            ("00 D6 00 00 00 00 00 AA", ApduError::ZeroExtendedLc),
            (
                "00 D6 00 00 00 00 05 AA",
                ApduError::DataTruncated {
                    lc: 5,
                    available: 1,
                },
            ),
        ];
        for (text, error) in rows {
            assert_eq!(Command::parse(&hex(text)).as_ref(), Err(error), "{text}");
        }
    }

    #[test]
    fn parse_never_panics_on_any_short_input() {
        // Every byte string up to 7 bytes long drawn from a small alphabet that hits every
        // length-field branch.
        let alphabet = [0x00, 0x01, 0x02, 0x03, 0xFF];
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..7 {
            let mut next = Vec::new();
            for prefix in &inputs {
                for &byte in &alphabet {
                    let mut extended = prefix.clone();
                    extended.push(byte);
                    next.push(extended);
                }
            }
            for input in &next {
                if let Ok(command) = Command::parse(input) {
                    assert_eq!(&command.to_bytes().unwrap(), input);
                }
            }
            inputs = next;
        }
    }

    #[test]
    fn debug_masks_pins_in_verify_and_change_reference_data() {
        for ins in [0x20, 0x24] {
            let command = Command::new(0x00, ins, 0x00, 0x80).with_data(b"1234".to_vec());
            let printed = format!("{command:?}");
            assert!(printed.contains("[redacted; 4 bytes]"), "{printed}");
            for leak in ["1234", "31 32 33 34", "31323334", "49, 50"] {
                assert!(!printed.contains(leak), "{printed}");
            }
            let printed = format!("{command:#?}");
            assert!(
                !printed.contains("31") && !printed.contains("1234"),
                "{printed}"
            );
        }
        let read = Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(vec![0x00, 0x1B]);
        assert!(format!("{read:?}").contains("[00 1B]"));
    }
}

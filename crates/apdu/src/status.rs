//! Status words SW1 SW2, ISO/IEC 7816-4:2020 §5.6 (tables 5 and 6).
//!
//! ```text
//! SW1 SW2   meaning (groups)
//! 90 00     normal processing
//! 61 xx     normal processing, xx bytes still available
//! 62 xx     warning, state unchanged          63 xx  warning, state changed (63 Cx: x tries)
//! 64 xx     error, state unchanged            65 xx  error, state changed
//! 67 00     wrong length                      68 xx  functions in CLA not supported
//! 69 xx     command not allowed               6A xx  wrong parameters P1-P2 or data
//! 6B 00     wrong parameters P1-P2            6C xx  wrong Le, xx available
//! 6D 00     INS not supported                 6E 00  CLA not supported
//! 6F 00     no precise diagnosis
//! ```

use std::fmt;

/// A status word, named for what it means. [`StatusWord::from_u16`] maps every code a
/// variant names to that variant and everything else to [`StatusWord::Other`], so
/// `from_u16(x).to_u16() == x` for all `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusWord {
    /// `90 00`: normal processing.
    Ok,
    /// `61 xx`: `xx` more response bytes are available with GET RESPONSE (`00` = 256).
    BytesAvailable { count: u8 },
    /// `62 82`: end of file reached before reading Ne bytes.
    EndOfFile,
    /// `63 Cx`: verification failed, `x` tries left (also the answer to a VERIFY
    /// without data: the tries-left query). Values above 15 encode as 15.
    VerifyFailed { tries_left: u8 },
    /// `65 81`: memory failure.
    MemoryFailure,
    /// `67 00`: wrong length (Lc or Le).
    WrongLength,
    /// `69 81`: command incompatible with file structure.
    IncompatibleFileStructure,
    /// `69 82`: security status not satisfied.
    SecurityStatusNotSatisfied,
    /// `69 83`: authentication method blocked.
    AuthenticationMethodBlocked,
    /// `69 84`: reference data not usable.
    ReferenceDataNotUsable,
    /// `69 85`: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `69 86`: command not allowed (no current EF).
    CommandNotAllowedNoEf,
    /// `6A 80`: incorrect parameters in the command data field.
    IncorrectData,
    /// `6A 81`: function not supported.
    FunctionNotSupported,
    /// `6A 82`: file or application not found.
    FileNotFound,
    /// `6A 84`: not enough memory space in the file.
    NotEnoughMemory,
    /// `6A 86`: incorrect parameters P1-P2.
    IncorrectP1P2,
    /// `6A 88`: referenced data or reference data not found.
    ReferencedDataNotFound,
    /// `6B 00`: wrong parameters P1-P2 (offset outside the EF).
    WrongP1P2,
    /// `6C xx`: wrong Le field; `xx` is the exact number of available bytes (`00` = 256).
    WrongLe { available: u8 },
    /// `6D 00`: instruction code not supported or invalid.
    InsNotSupported,
    /// `6E 00`: class not supported.
    ClaNotSupported,
    /// `6F 00`: no precise diagnosis.
    NoPreciseDiagnosis,
    /// Any other status word.
    Other(u16),
}

impl StatusWord {
    /// The 16-bit value SW1‖SW2.
    pub fn to_u16(self) -> u16 {
        match self {
            Self::Ok => 0x9000,
            Self::BytesAvailable { count } => 0x6100 | u16::from(count),
            Self::EndOfFile => 0x6282,
            Self::VerifyFailed { tries_left } => 0x63C0 | u16::from(tries_left.min(0x0F)),
            Self::MemoryFailure => 0x6581,
            Self::WrongLength => 0x6700,
            Self::IncompatibleFileStructure => 0x6981,
            Self::SecurityStatusNotSatisfied => 0x6982,
            Self::AuthenticationMethodBlocked => 0x6983,
            Self::ReferenceDataNotUsable => 0x6984,
            Self::ConditionsNotSatisfied => 0x6985,
            Self::CommandNotAllowedNoEf => 0x6986,
            Self::IncorrectData => 0x6A80,
            Self::FunctionNotSupported => 0x6A81,
            Self::FileNotFound => 0x6A82,
            Self::NotEnoughMemory => 0x6A84,
            Self::IncorrectP1P2 => 0x6A86,
            Self::ReferencedDataNotFound => 0x6A88,
            Self::WrongP1P2 => 0x6B00,
            Self::WrongLe { available } => 0x6C00 | u16::from(available),
            Self::InsNotSupported => 0x6D00,
            Self::ClaNotSupported => 0x6E00,
            Self::NoPreciseDiagnosis => 0x6F00,
            Self::Other(code) => code,
        }
    }

    /// The status word a 16-bit value names.
    pub fn from_u16(code: u16) -> Self {
        let [sw1, sw2] = code.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => Self::Ok,
            (0x61, count) => Self::BytesAvailable { count },
            (0x62, 0x82) => Self::EndOfFile,
            (0x63, low) if low & 0xF0 == 0xC0 => Self::VerifyFailed {
                tries_left: low & 0x0F,
            },
            (0x65, 0x81) => Self::MemoryFailure,
            (0x67, 0x00) => Self::WrongLength,
            (0x69, 0x81) => Self::IncompatibleFileStructure,
            (0x69, 0x82) => Self::SecurityStatusNotSatisfied,
            (0x69, 0x83) => Self::AuthenticationMethodBlocked,
            (0x69, 0x84) => Self::ReferenceDataNotUsable,
            (0x69, 0x85) => Self::ConditionsNotSatisfied,
            (0x69, 0x86) => Self::CommandNotAllowedNoEf,
            (0x6A, 0x80) => Self::IncorrectData,
            (0x6A, 0x81) => Self::FunctionNotSupported,
            (0x6A, 0x82) => Self::FileNotFound,
            (0x6A, 0x84) => Self::NotEnoughMemory,
            (0x6A, 0x86) => Self::IncorrectP1P2,
            (0x6A, 0x88) => Self::ReferencedDataNotFound,
            (0x6B, 0x00) => Self::WrongP1P2,
            (0x6C, available) => Self::WrongLe { available },
            (0x6D, 0x00) => Self::InsNotSupported,
            (0x6E, 0x00) => Self::ClaNotSupported,
            (0x6F, 0x00) => Self::NoPreciseDiagnosis,
            _ => Self::Other(code),
        }
    }

    /// From the two status bytes.
    pub fn from_bytes(sw1: u8, sw2: u8) -> Self {
        Self::from_u16(u16::from_be_bytes([sw1, sw2]))
    }

    /// The two status bytes.
    pub fn to_bytes(self) -> [u8; 2] {
        self.to_u16().to_be_bytes()
    }

    pub fn sw1(self) -> u8 {
        self.to_bytes()[0]
    }

    pub fn sw2(self) -> u8 {
        self.to_bytes()[1]
    }

    /// `90 00`.
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }

    /// What ISO/IEC 7816-4 says the status word means.
    pub fn description(self) -> &'static str {
        match self {
            Self::Ok => "normal processing",
            Self::BytesAvailable { .. } => "more response bytes available",
            Self::EndOfFile => "end of file reached before reading Ne bytes",
            Self::VerifyFailed { .. } => "verification failed or tries left",
            Self::MemoryFailure => "memory failure",
            Self::WrongLength => "wrong length",
            Self::IncompatibleFileStructure => "command incompatible with file structure",
            Self::SecurityStatusNotSatisfied => "security status not satisfied",
            Self::AuthenticationMethodBlocked => "authentication method blocked",
            Self::ReferenceDataNotUsable => "reference data not usable",
            Self::ConditionsNotSatisfied => "conditions of use not satisfied",
            Self::CommandNotAllowedNoEf => "command not allowed (no current EF)",
            Self::IncorrectData => "incorrect parameters in the command data field",
            Self::FunctionNotSupported => "function not supported",
            Self::FileNotFound => "file or application not found",
            Self::NotEnoughMemory => "not enough memory space in the file",
            Self::IncorrectP1P2 => "incorrect parameters P1-P2",
            Self::ReferencedDataNotFound => "referenced data not found",
            Self::WrongP1P2 => "wrong parameters P1-P2 (offset outside the file)",
            Self::WrongLe { .. } => "wrong Le field",
            Self::InsNotSupported => "instruction not supported",
            Self::ClaNotSupported => "class not supported",
            Self::NoPreciseDiagnosis => "no precise diagnosis",
            Self::Other(_) => "unknown status",
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [sw1, sw2] = self.to_bytes();
        write!(f, "{sw1:02X}{sw2:02X} ({})", self.description())?;
        match self {
            Self::VerifyFailed { tries_left } => write!(f, ", {tries_left} tries left"),
            _ => Ok(()),
        }
    }
}

impl From<u16> for StatusWord {
    fn from(code: u16) -> Self {
        Self::from_u16(code)
    }
}

impl From<StatusWord> for u16 {
    fn from(sw: StatusWord) -> Self {
        sw.to_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in 0..=u16::MAX {
            assert_eq!(StatusWord::from_u16(code).to_u16(), code, "{code:04X}");
        }
    }

    #[test]
    fn named_codes() {
        let rows = [
            (0x9000, StatusWord::Ok),
            (0x63C2, StatusWord::VerifyFailed { tries_left: 2 }),
            (0x63C0, StatusWord::VerifyFailed { tries_left: 0 }),
            (0x6700, StatusWord::WrongLength),
            (0x6982, StatusWord::SecurityStatusNotSatisfied),
            (0x6983, StatusWord::AuthenticationMethodBlocked),
            (0x6985, StatusWord::ConditionsNotSatisfied),
            (0x6986, StatusWord::CommandNotAllowedNoEf),
            (0x6A80, StatusWord::IncorrectData),
            (0x6A82, StatusWord::FileNotFound),
            (0x6A86, StatusWord::IncorrectP1P2),
            (0x6B00, StatusWord::WrongP1P2),
            (0x6D00, StatusWord::InsNotSupported),
            (0x6E00, StatusWord::ClaNotSupported),
            (0x6282, StatusWord::EndOfFile),
            (0x6F00, StatusWord::NoPreciseDiagnosis),
            (0x6C00, StatusWord::WrongLe { available: 0 }),
            (0x6310, StatusWord::Other(0x6310)),
        ];
        for (code, sw) in rows {
            assert_eq!(StatusWord::from_u16(code), sw);
            assert_eq!(sw.to_u16(), code);
        }
        assert_eq!(
            StatusWord::VerifyFailed { tries_left: 40 }.to_u16(),
            0x63CF,
            "clamped, never spills into SW1"
        );
        assert_eq!(
            StatusWord::VerifyFailed { tries_left: 1 }.to_string(),
            "63C1 (verification failed or tries left), 1 tries left"
        );
        assert_eq!(StatusWord::from_bytes(0x6A, 0x82), StatusWord::FileNotFound);
        assert_eq!(StatusWord::FileNotFound.to_bytes(), [0x6A, 0x82]);
    }
}

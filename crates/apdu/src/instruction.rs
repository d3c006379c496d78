//! Instruction bytes (INS) that jpki sends or answers.

/// The instructions of the JPKI applet and of jpki's personalization design, with the
/// names ISO/IEC 7816-4 and 7816-8 give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// SELECT (`A4`), ISO/IEC 7816-4 §11.2.2.
    Select,
    /// READ BINARY (`B0`), §11.3.3.
    ReadBinary,
    /// UPDATE BINARY (`D6`), §11.3.5.
    UpdateBinary,
    /// VERIFY (`20`), §11.5.6.
    Verify,
    /// CHANGE REFERENCE DATA (`24`), §11.5.7.
    ChangeReferenceData,
    /// COMPUTE DIGITAL SIGNATURE as JPKI cards implement it (`80 2A 00 80`): the
    /// proprietary-class form of PERFORM SECURITY OPERATION (`2A`, ISO/IEC 7816-8).
    ComputeDigitalSignature,
    /// GENERATE ASYMMETRIC KEY PAIR (`46`), ISO/IEC 7816-8 §5.1.
    GenerateAsymmetricKeyPair,
    /// ACTIVATE FILE (`44`), ISO/IEC 7816-9 §6.3.
    ActivateFile,
}

impl Instruction {
    pub const ALL: [Self; 8] = [
        Self::Select,
        Self::ReadBinary,
        Self::UpdateBinary,
        Self::Verify,
        Self::ChangeReferenceData,
        Self::ComputeDigitalSignature,
        Self::GenerateAsymmetricKeyPair,
        Self::ActivateFile,
    ];

    /// The INS byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::Select => 0xA4,
            Self::ReadBinary => 0xB0,
            Self::UpdateBinary => 0xD6,
            Self::Verify => 0x20,
            Self::ChangeReferenceData => 0x24,
            Self::ComputeDigitalSignature => 0x2A,
            Self::GenerateAsymmetricKeyPair => 0x46,
            Self::ActivateFile => 0x44,
        }
    }

    /// The instruction an INS byte names, if it is one of ours.
    pub fn from_code(ins: u8) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|instruction| instruction.code() == ins)
    }

    /// The standard's name, for traces.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Select => "SELECT",
            Self::ReadBinary => "READ BINARY",
            Self::UpdateBinary => "UPDATE BINARY",
            Self::Verify => "VERIFY",
            Self::ChangeReferenceData => "CHANGE REFERENCE DATA",
            Self::ComputeDigitalSignature => "COMPUTE DIGITAL SIGNATURE",
            Self::GenerateAsymmetricKeyPair => "GENERATE ASYMMETRIC KEY PAIR",
            Self::ActivateFile => "ACTIVATE FILE",
        }
    }

    /// Whether the data field of this instruction carries a PIN or password, and so must
    /// never be printed.
    pub const fn carries_secret(ins: u8) -> bool {
        matches!(ins, 0x20 | 0x24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for instruction in Instruction::ALL {
            assert_eq!(
                Instruction::from_code(instruction.code()),
                Some(instruction)
            );
        }
        assert_eq!(Instruction::from_code(0xCA), None);
        assert!(Instruction::carries_secret(0x20) && Instruction::carries_secret(0x24));
        assert!(!Instruction::carries_secret(0xB0));
    }
}

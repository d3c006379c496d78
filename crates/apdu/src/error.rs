/// Why bytes are not a well-formed APDU, or a [`crate::Command`] cannot be encoded.
///
/// Messages name the rule broken and the lengths involved, never the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("a command APDU needs the 4 header bytes CLA INS P1 P2, got {len} bytes")]
    TruncatedHeader { len: usize },
    #[error("Lc announces {lc} data bytes but only {available} follow")]
    DataTruncated { lc: usize, available: usize },
    #[error(
        "a 6-byte command APDU is malformed: an extended length field needs 3 bytes after the header"
    )]
    TruncatedExtendedLength,
    #[error("an extended Lc field must not be zero")]
    ZeroExtendedLc,
    #[error("short and extended length fields are mixed in one command")]
    MixedLengthForms,
    #[error("{count} unexpected bytes after the end of the command")]
    TrailingBytes { count: usize },
    #[error("command data of {len} bytes is longer than the extended maximum of 65535")]
    DataTooLong { len: usize },
    #[error("Le of {le} is outside 1..=65536 (use None when no response data is expected)")]
    InvalidLe { le: usize },
    #[error("a response APDU needs the 2 status bytes SW1 SW2, got {len} bytes")]
    ResponseTooShort { len: usize },
}

use jpki_apdu::{ApduError, StatusWord};

/// A transport could not carry a command to the card or the answer back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("no card is connected")]
    NotConnected,
    #[error("the card was removed from the reader")]
    CardRemoved,
    /// Another application reset the card: every verified PIN is forgotten.
    #[error("the card was reset by another application; reconnect and verify the PIN again")]
    CardReset,
    #[error("the PC/SC service is not available (is pcscd running?): {0}")]
    ServiceUnavailable(String),
    #[error("no smart-card reader is connected")]
    NoReaders,
    #[error("no reader matches {wanted:?}; readers: {}", readers.join(", "))]
    ReaderNotFound {
        wanted: String,
        readers: Vec<String>,
    },
    #[error("the reader {reader} is gone (unplugged, or its driver stopped)")]
    ReaderUnavailable { reader: String },
    #[error("no card in the reader {reader}")]
    NoCard { reader: String },
    #[error("no reader holds a card; readers: {}", readers.join(", "))]
    NoCardInAnyReader { readers: Vec<String> },
    #[error("transport I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("transport failed: {0}")]
    Other(String),
}

/// Why a card operation failed. Carries the status word when the card refused, never
/// a PIN or the personal data read.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("cannot encode the command: {0}")]
    Encode(#[source] ApduError),
    #[error("the card's answer is not a response APDU: {0}")]
    MalformedResponse(#[source] ApduError),
    #[error("{operation} failed: the card answered {sw}")]
    Status { operation: String, sw: StatusWord },
    #[error("wrong PIN: {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the PIN is blocked; it can only be reset by the issuer")]
    PinBlocked,
    #[error("{what} is empty on the card")]
    EmptyFile { what: String },
    #[error("unexpected data from the card: {0}")]
    UnexpectedData(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl ReaderError {
    /// The status word the card answered, when the failure is a refusal by the card.
    pub fn status_word(&self) -> Option<StatusWord> {
        match self {
            Self::Status { sw, .. } => Some(*sw),
            Self::WrongPin { tries_left } => Some(StatusWord::VerifyFailed {
                tries_left: *tries_left,
            }),
            Self::PinBlocked => Some(StatusWord::AuthenticationMethodBlocked),
            _ => None,
        }
    }
}

/// The outcome of a VERIFY that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// `63 Cx`: the PIN did not match; `tries_left` more attempts before it blocks
    /// (0: it is blocked now).
    #[error("wrong PIN: {tries_left} tries left")]
    Wrong { tries_left: u8 },
    /// `69 83`: the PIN was already blocked; nothing was compared.
    #[error("the PIN is blocked; it can only be reset by the issuer")]
    Blocked,
    /// Anything else: transport, malformed answer, another status word.
    #[error(transparent)]
    Reader(#[from] ReaderError),
}

impl From<VerifyError> for ReaderError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Wrong { tries_left } => Self::WrongPin { tries_left },
            VerifyError::Blocked => Self::PinBlocked,
            VerifyError::Reader(error) => error,
        }
    }
}

impl From<TransportError> for VerifyError {
    fn from(error: TransportError) -> Self {
        Self::Reader(error.into())
    }
}

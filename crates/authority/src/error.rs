use jpki_model::{CertificateKind, PersonError};
use jpki_store::{ResidentId, StoreError};

/// Everything that can stop the registry, the RA or the CA. Each variant is a
/// separate, stable reason a person or a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    #[error("no resident {0}")]
    UnknownResident(ResidentId),
    #[error("a resident with this My Number is already registered")]
    DuplicateMyNumber,
    #[error("resident {0} is deceased")]
    ResidentDeceased(ResidentId),
    #[error(
        "a signature certificate is not issued to a person under 15 (resident {resident} is {age})"
    )]
    SignatureUnderAge { resident: ResidentId, age: i32 },
    #[error("the CSR for the {0} is not signed by the key the card generated")]
    CsrKeyMismatch(CertificateKind),
    #[error("the CSR is not acceptable: {0}")]
    Csr(jpki_pkix::PkixError),
    #[error("the CA private key does not match the {0} CA certificate")]
    CaKeyMismatch(&'static str),
    #[error("the {0} CA certificate is not a JPKI CA certificate of that purpose")]
    WrongCaCertificate(&'static str),
    #[error("no certificate could be issued: {0}")]
    Issuance(jpki_pkix::PkixError),
    #[error("could not allocate a unique serial number after {0} attempts")]
    SerialExhausted(u32),
    #[error("the CA key could not be opened: {0}")]
    CaKey(jpki_crypto::CryptoError),
    #[error(transparent)]
    Crypto(#[from] jpki_crypto::CryptoError),
    #[error(transparent)]
    Person(#[from] PersonError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("card: {0}")]
    Card(#[from] jpki_reader::ReaderError),
    #[error("the card is not blank: {0}")]
    CardNotBlank(String),
    #[error("status services: {0}")]
    Status(String),
    #[error("the password is not acceptable: {0}")]
    Password(&'static str),
}

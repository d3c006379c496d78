/// Errors from jpki-crypto. Messages never contain key material or passphrases.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("the private key is not an acceptable RSA key: {0}")]
    KeyRejected(String),
    #[error("signing failed")]
    Signing,
    #[error("signature does not verify")]
    BadSignature,
    #[error("the public key is not a supported SubjectPublicKeyInfo: {0}")]
    PublicKey(String),
    #[error("wrong passphrase, or the encrypted key is damaged")]
    WrongPassphrase,
    #[error(
        "unsupported private-key encryption: {0} (jpki reads PBES2 with PBKDF2-HMAC-SHA2 and AES-CBC)"
    )]
    UnsupportedEncryption(String),
    #[error("malformed encrypted private key: {0}")]
    MalformedKeyFile(String),
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    #[error("cannot read passphrase file {path}: {source}")]
    PassphraseFile {
        path: String,
        source: std::io::Error,
    },
    #[error("sealed data does not open: wrong device key, or the data was changed")]
    Unseal,
    #[error("sealing failed")]
    Seal,
    #[error("key-encryption key must be {expected} bytes, found {found}")]
    KekLength { expected: usize, found: usize },
    #[error("input too long to sign with this key ({len} bytes, at most {max})")]
    InputTooLong { len: usize, max: usize },
    #[error("random number generator failed")]
    Random,
}

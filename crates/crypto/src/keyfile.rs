//! Private keys at rest: PKCS#8 `EncryptedPrivateKeyInfo` (RFC 5958) with PBES2
//! (RFC 8018), and where the passphrase comes from.
//!
//! ```text
//! EncryptedPrivateKeyInfo ::= SEQUENCE {
//!   encryptionAlgorithm  AlgorithmIdentifier { id-PBES2, PBES2-params {
//!       keyDerivationFunc  id-PBKDF2 { salt, iterationCount, prf hmacWithSHA256 },
//!       encryptionScheme   aes256-CBC { iv } } },
//!   encryptedData        OCTET STRING }
//! ```
//! This is what `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes, so `openssl pkey -in
//! ca.key.pem` opens our CA keys with the same passphrase. The key derivation and the
//! cipher run in aws-lc; the `pkcs5` crate only encodes and decodes the parameters.

use std::num::NonZeroU32;
use std::path::PathBuf;

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::pbkdf2;
use der::{Decode, EncodePem, pem::LineEnding};
use pkcs5::pbes2::{self, Kdf, Pbkdf2Params, Pbkdf2Prf};
use pkcs8::EncryptedPrivateKeyInfoOwned;

use crate::{CryptoError, SecretBytes, SecretString, random_bytes};

/// PBKDF2 iterations for keys we write (OWASP's 2023 figure for HMAC-SHA256).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;

/// Refuse to derive keys with fewer iterations than this when reading a file, so a
/// tampered file cannot turn the passphrase check into a fast oracle by accident.
const MIN_PBKDF2_ITERATIONS: u32 = 1_000;

/// Encrypts a PKCS#8 `PrivateKeyInfo` under `passphrase`; returns PEM
/// (`-----BEGIN ENCRYPTED PRIVATE KEY-----`).
pub fn encrypt_private_key(
    pkcs8_der: &SecretBytes,
    passphrase: &SecretString,
    iterations: u32,
) -> Result<String, CryptoError> {
    if passphrase.is_empty() {
        return Err(CryptoError::EmptyPassphrase);
    }
    let iterations =
        NonZeroU32::new(iterations.max(MIN_PBKDF2_ITERATIONS)).ok_or(CryptoError::Seal)?;
    let salt = random_bytes(16)?;
    let iv: [u8; 16] = random_bytes(16)?
        .try_into()
        .map_err(|_| CryptoError::Random)?;

    let mut key = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        passphrase.expose().as_bytes(),
        &mut key,
    );
    let cipher_key = UnboundCipherKey::new(&AES_256, &key).map_err(|_| CryptoError::Seal);
    zeroize::Zeroize::zeroize(&mut key);
    let encrypting =
        PaddedBlockEncryptingKey::cbc_pkcs7(cipher_key?).map_err(|_| CryptoError::Seal)?;
    let mut data = pkcs8_der.expose().to_vec();
    encrypting
        .less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| CryptoError::Seal)?;

    let kdf = Pbkdf2Params::hmac_sha256(iterations.get(), &salt)
        .map_err(|e| CryptoError::MalformedKeyFile(e.to_string()))?;
    let parameters = pbes2::Parameters {
        kdf: Kdf::Pbkdf2(kdf),
        encryption: pbes2::EncryptionScheme::Aes256Cbc { iv },
    };
    let info = EncryptedPrivateKeyInfoOwned {
        encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(parameters),
        encrypted_data: der::asn1::OctetString::new(data)
            .map_err(|e| CryptoError::MalformedKeyFile(e.to_string()))?,
    };
    info.to_pem(LineEnding::LF)
        .map_err(|e| CryptoError::MalformedKeyFile(e.to_string()))
}

/// Decrypts a PEM or DER `EncryptedPrivateKeyInfo`; returns the PKCS#8 `PrivateKeyInfo`.
pub fn decrypt_private_key(
    encoded: &[u8],
    passphrase: &SecretString,
) -> Result<SecretBytes, CryptoError> {
    let info = match std::str::from_utf8(encoded) {
        Ok(text) if text.trim_start().starts_with("-----BEGIN") => {
            let (label, der) = der::pem::decode_vec(text.trim().as_bytes())
                .map_err(|e| CryptoError::MalformedKeyFile(e.to_string()))?;
            if label != "ENCRYPTED PRIVATE KEY" {
                return Err(CryptoError::MalformedKeyFile(format!(
                    "expected ENCRYPTED PRIVATE KEY, found {label}"
                )));
            }
            EncryptedPrivateKeyInfoOwned::from_der(&der)
                .map_err(|e| CryptoError::MalformedKeyFile(e.to_string()))?
        }
        _ => EncryptedPrivateKeyInfoOwned::from_der(encoded)
            .map_err(|e| CryptoError::MalformedKeyFile(e.to_string()))?,
    };
    let pkcs5::EncryptionScheme::Pbes2(parameters) = &info.encryption_algorithm else {
        return Err(CryptoError::UnsupportedEncryption("PBES1".into()));
    };
    let Kdf::Pbkdf2(kdf) = &parameters.kdf else {
        return Err(CryptoError::UnsupportedEncryption("scrypt".into()));
    };
    let prf = match kdf.prf {
        Pbkdf2Prf::HmacWithSha256 => pbkdf2::PBKDF2_HMAC_SHA256,
        Pbkdf2Prf::HmacWithSha384 => pbkdf2::PBKDF2_HMAC_SHA384,
        Pbkdf2Prf::HmacWithSha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        other => {
            return Err(CryptoError::UnsupportedEncryption(format!(
                "PBKDF2 with {other:?}"
            )));
        }
    };
    let (algorithm, key_len, iv) = match parameters.encryption {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => (&AES_128, 16, iv),
        pbes2::EncryptionScheme::Aes192Cbc { iv } => (&AES_192, 24, iv),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => (&AES_256, 32, iv),
        other => {
            return Err(CryptoError::UnsupportedEncryption(format!(
                "{:?}",
                other.oid()
            )));
        }
    };
    if kdf
        .key_length
        .is_some_and(|len| usize::from(len) != key_len)
    {
        return Err(CryptoError::MalformedKeyFile(
            "PBKDF2 key length does not match the cipher".into(),
        ));
    }
    if kdf.iteration_count < MIN_PBKDF2_ITERATIONS {
        return Err(CryptoError::MalformedKeyFile(format!(
            "PBKDF2 iteration count {} is below {MIN_PBKDF2_ITERATIONS}",
            kdf.iteration_count
        )));
    }
    let iterations = NonZeroU32::new(kdf.iteration_count).ok_or(CryptoError::WrongPassphrase)?;

    let mut key = vec![0u8; key_len];
    pbkdf2::derive(
        prf,
        iterations,
        kdf.salt.as_ref(),
        passphrase.expose().as_bytes(),
        &mut key,
    );
    let cipher_key =
        UnboundCipherKey::new(algorithm, &key).map_err(|_| CryptoError::WrongPassphrase);
    zeroize::Zeroize::zeroize(&mut key);
    let decrypting = PaddedBlockDecryptingKey::cbc_pkcs7(cipher_key?)
        .map_err(|_| CryptoError::WrongPassphrase)?;
    let mut data = info.encrypted_data.as_bytes().to_vec();
    let plain = decrypting
        .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| CryptoError::WrongPassphrase)?;
    let plain = SecretBytes::new(plain.to_vec());
    zeroize::Zeroize::zeroize(&mut data);
    // Padding can match by chance under a wrong key (1 in 256): the result must also
    // be a well-formed PrivateKeyInfo.
    pkcs8::PrivateKeyInfoRef::from_der(plain.expose()).map_err(|_| CryptoError::WrongPassphrase)?;
    Ok(plain)
}

/// Where a passphrase comes from. Never a command-line argument: arguments are visible
/// to every user of the machine through the process list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassphraseSource {
    /// A file whose content (minus one trailing newline) is the passphrase.
    File(PathBuf),
    /// An environment variable holding the passphrase.
    Env(String),
}

/// Reads the passphrase from its source. Errors name the source, never the content.
pub fn read_passphrase(source: &PassphraseSource) -> Result<SecretString, CryptoError> {
    let mut text = match source {
        PassphraseSource::File(path) => {
            std::fs::read_to_string(path).map_err(|source| CryptoError::PassphraseFile {
                path: path.display().to_string(),
                source,
            })?
        }
        PassphraseSource::Env(name) => {
            std::env::var(name).map_err(|_| CryptoError::MissingEnv(name.clone()))?
        }
    };
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    let secret = SecretString::new(text);
    if secret.is_empty() {
        return Err(CryptoError::EmptyPassphrase);
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RsaKeySize, Signer, SoftwareRsaKey};

    #[test]
    fn encrypted_key_round_trips_and_wrong_passphrase_fails() {
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let passphrase = SecretString::from("correct horse");
        let pem = encrypt_private_key(key.pkcs8_der(), &passphrase, 2_000).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let plain = decrypt_private_key(pem.as_bytes(), &passphrase).unwrap();
        let reloaded = SoftwareRsaKey::from_pkcs8_der(plain.expose()).unwrap();
        assert_eq!(reloaded.public_key_der(), key.public_key_der());

        let wrong = decrypt_private_key(pem.as_bytes(), &SecretString::from("wrong horse"));
        assert!(matches!(wrong, Err(CryptoError::WrongPassphrase)));
    }

    /// Interop: OpenSSL opens the keys we write, and we open the keys OpenSSL writes.
    #[test]
    fn openssl_reads_our_encrypted_keys_and_we_read_its() {
        let dir = tempfile::tempdir().unwrap();
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let ours = dir.path().join("ours.pem");
        std::fs::write(
            &ours,
            encrypt_private_key(key.pkcs8_der(), &SecretString::from("pass phrase"), 2_000)
                .unwrap(),
        )
        .unwrap();
        let output = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-passin", "env:JPKI_TEST_PASS", "-in"])
            .arg(&ours)
            .env("JPKI_TEST_PASS", "pass phrase")
            .output()
            .expect("openssl must be installed");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (_, spki) = der::pem::decode_vec(&output.stdout).unwrap();
        assert_eq!(spki, key.public_key_der());

        let theirs = dir.path().join("theirs.pem");
        let status = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-aes-256-cbc",
                "-pass",
            ])
            .arg("env:JPKI_TEST_PASS")
            .arg("-out")
            .arg(&theirs)
            .env("JPKI_TEST_PASS", "pass phrase")
            .status()
            .unwrap();
        assert!(status.success());
        let plain = decrypt_private_key(
            &std::fs::read(&theirs).unwrap(),
            &SecretString::from("pass phrase"),
        )
        .unwrap();
        SoftwareRsaKey::from_pkcs8_der(plain.expose()).unwrap();
    }

    #[test]
    fn malformed_files_are_reported_as_such() {
        let result = decrypt_private_key(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            &SecretString::from("x"),
        );
        assert!(matches!(result, Err(CryptoError::MalformedKeyFile(_))));
        assert!(matches!(
            decrypt_private_key(b"\x30\x00", &SecretString::from("x")),
            Err(CryptoError::MalformedKeyFile(_))
        ));
    }

    #[test]
    fn empty_passphrase_is_refused() {
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        assert!(matches!(
            encrypt_private_key(key.pkcs8_der(), &SecretString::from(""), 2_000),
            Err(CryptoError::EmptyPassphrase)
        ));
    }

    #[test]
    fn passphrase_sources() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(
            read_passphrase(&PassphraseSource::File(path.clone()))
                .unwrap()
                .expose(),
            "s3cret"
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(
            read_passphrase(&PassphraseSource::File(path)),
            Err(CryptoError::EmptyPassphrase)
        ));
        let missing = read_passphrase(&PassphraseSource::Env(
            "JPKI_TEST_SURELY_UNSET_VARIABLE".into(),
        ));
        assert!(matches!(missing, Err(CryptoError::MissingEnv(_))));
        let error =
            read_passphrase(&PassphraseSource::File(dir.path().join("absent"))).unwrap_err();
        assert!(error.to_string().contains("absent"));
    }
}

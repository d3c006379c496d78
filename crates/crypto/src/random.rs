use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::CryptoError;

/// `n` bytes from the operating system's CSPRNG (through aws-lc).
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| CryptoError::Random)?;
    Ok(out)
}

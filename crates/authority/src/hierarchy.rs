//! The CA hierarchy: a signature CA (署名用) and a user-authentication CA (利用者証明用),
//! both self-signed roots as the real J-LIS CAs are, with their private keys stored as
//! encrypted PKCS#8.

use std::fmt;
use std::sync::Arc;

use jpki_crypto::{
    RsaKeySize, SecretString, Signer, SoftwareRsaKey, decrypt_private_key, encrypt_private_key,
};
use jpki_model::Purpose;
use jpki_pkix::{CaParams, CertificateRole, Issuer, JpkiCertificate, build_ca_certificate};
use time::{Duration, OffsetDateTime};

use crate::AuthorityError;

/// The store name of each CA.
pub fn issuer_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Signature => "sign",
        Purpose::Authentication => "auth",
    }
}

/// What `jpki init` decides about the CAs.
#[derive(Debug, Clone)]
pub struct HierarchySetup {
    /// Second OU of both CA names.
    pub organizational_unit: String,
    pub key_size: RsaKeySize,
    /// CA certificate lifetime (the real 2023 CAs have ten years).
    pub lifetime: Duration,
    /// PBKDF2 iterations for the encrypted keys.
    pub kdf_iterations: u32,
    pub now: OffsetDateTime,
}

/// One CA as created: certificate and encrypted key, ready to be written out.
pub struct CaMaterial {
    pub purpose: Purpose,
    pub certificate_der: Vec<u8>,
    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PKCS#8, PBES2).
    pub encrypted_key_pem: String,
}

impl fmt::Debug for CaMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaMaterial")
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// Creates both CAs: keys, self-signed certificates, keys encrypted under `passphrase`.
pub fn create_hierarchy(
    setup: &HierarchySetup,
    passphrase: &SecretString,
) -> Result<[CaMaterial; 2], AuthorityError> {
    let make = |purpose: Purpose| -> Result<CaMaterial, AuthorityError> {
        let key = SoftwareRsaKey::generate(setup.key_size)?;
        let mut params = CaParams::new(
            purpose,
            crate::ca::random_serial()?,
            setup.now,
            setup.now + setup.lifetime,
        );
        params.second_ou = setup.organizational_unit.clone();
        let certificate_der =
            build_ca_certificate(&params, &key).map_err(AuthorityError::Issuance)?;
        let encrypted_key_pem =
            encrypt_private_key(key.pkcs8_der(), passphrase, setup.kdf_iterations)?;
        Ok(CaMaterial {
            purpose,
            certificate_der,
            encrypted_key_pem,
        })
    };
    Ok([make(Purpose::Signature)?, make(Purpose::Authentication)?])
}

/// A CA ready to sign: its certificate (pre-parsed for issuance) and its key.
pub struct LoadedCa {
    purpose: Purpose,
    /// The certificate, parsed once (requests check certificates against it).
    certificate: JpkiCertificate,
    issuer: Issuer,
    key: Arc<SoftwareRsaKey>,
}

impl fmt::Debug for LoadedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedCa")
            .field("purpose", &self.purpose)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl LoadedCa {
    /// Opens a CA: parses its certificate, decrypts its key, and checks that the key is
    /// the certificate's and the certificate is a CA of `purpose`.
    pub fn open(
        purpose: Purpose,
        certificate_der: &[u8],
        encrypted_key: &[u8],
        passphrase: &SecretString,
    ) -> Result<Self, AuthorityError> {
        let name = issuer_name(purpose);
        let certificate = JpkiCertificate::from_der(certificate_der)
            .map_err(|_| AuthorityError::WrongCaCertificate(name))?;
        if certificate.role()
            != (CertificateRole::Authority {
                purpose: Some(purpose),
            })
        {
            return Err(AuthorityError::WrongCaCertificate(name));
        }
        let pkcs8 =
            decrypt_private_key(encrypted_key, passphrase).map_err(AuthorityError::CaKey)?;
        let key = SoftwareRsaKey::from_pkcs8_der(pkcs8.expose()).map_err(AuthorityError::CaKey)?;
        let issuer =
            Issuer::new(certificate_der).map_err(|_| AuthorityError::WrongCaCertificate(name))?;
        if key.public_key_der() != issuer.public_key_der() {
            return Err(AuthorityError::CaKeyMismatch(name));
        }
        Ok(Self {
            purpose,
            certificate,
            issuer,
            key: Arc::new(key),
        })
    }

    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    pub fn certificate(&self) -> &JpkiCertificate {
        &self.certificate
    }

    pub fn certificate_der(&self) -> &[u8] {
        self.issuer.certificate_der()
    }

    pub fn signer(&self) -> &dyn Signer {
        self.key.as_ref()
    }

    /// The CA key, shared (the CRL publisher keeps it).
    pub fn shared_signer(&self) -> Arc<dyn Signer> {
        Arc::clone(&self.key) as Arc<dyn Signer>
    }
}

/// A delegated OCSP responder of one CA (RFC 6960 §4.2.2.2): its certificate and its key,
/// kept encrypted beside the CA key under the same passphrase.
pub struct ResponderMaterial {
    pub purpose: Purpose,
    pub certificate_der: Vec<u8>,
    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PKCS#8, PBES2).
    pub encrypted_key_pem: String,
    pub not_after: OffsetDateTime,
    /// `n` of `CN=OCSP responder <n>`.
    pub number: u32,
}

impl fmt::Debug for ResponderMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponderMaterial")
            .field("purpose", &self.purpose)
            .field("not_after", &self.not_after)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

/// Issues a new delegated OCSP responder certificate for `ca`, with a fresh RSA-2048
/// key: the serial is reserved in the CA's serials first, as for any certificate.
pub async fn issue_ocsp_responder<S: jpki_store::CaStore>(
    ca: &LoadedCa,
    store: &S,
    passphrase: &SecretString,
    kdf_iterations: u32,
    number: u32,
    validity: Duration,
    now: OffsetDateTime,
) -> Result<ResponderMaterial, AuthorityError> {
    use jpki_pkix::ocsp_responder_profile::{
        OcspResponderParams, issue_ocsp_responder_certificate,
    };
    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)?;
    let serial = crate::ca::random_serial()?;
    store
        .reserve_serial(issuer_name(ca.purpose), &serial, now)
        .await?;
    let params = OcspResponderParams {
        number,
        validity,
        ..OcspResponderParams::new(serial, key.public_key_der().to_vec(), now)
    };
    let certificate_der = issue_ocsp_responder_certificate(ca.issuer(), &params, ca.signer())
        .map_err(AuthorityError::Issuance)?;
    let parsed = JpkiCertificate::from_der(&certificate_der).map_err(AuthorityError::Issuance)?;
    Ok(ResponderMaterial {
        purpose: ca.purpose,
        encrypted_key_pem: encrypt_private_key(key.pkcs8_der(), passphrase, kdf_iterations)?,
        not_after: parsed.not_after(),
        certificate_der,
        number,
    })
}

/// Opens a responder's key (decrypting it) and checks that it is the certificate's and
/// that `ca` issued the certificate.
pub fn open_ocsp_responder(
    ca: &LoadedCa,
    certificate_der: &[u8],
    encrypted_key: &[u8],
    passphrase: &SecretString,
) -> Result<(JpkiCertificate, Arc<SoftwareRsaKey>), AuthorityError> {
    let name = issuer_name(ca.purpose);
    let certificate = JpkiCertificate::from_der(certificate_der)
        .map_err(|_| AuthorityError::WrongCaCertificate(name))?;
    certificate
        .verify_issued_by(ca.certificate())
        .map_err(|_| AuthorityError::WrongCaCertificate(name))?;
    let pkcs8 = decrypt_private_key(encrypted_key, passphrase).map_err(AuthorityError::CaKey)?;
    let key = SoftwareRsaKey::from_pkcs8_der(pkcs8.expose()).map_err(AuthorityError::CaKey)?;
    if key.public_key_der() != certificate.public_key_der() {
        return Err(AuthorityError::CaKeyMismatch(name));
    }
    Ok((certificate, Arc::new(key)))
}

//! The status services of a data directory: each CA's delegated OCSP responder (its
//! certificate and encrypted key beside the CA's, renewed before expiry), the settings
//! from `[status]`, and the [`StatusService`] that `jpki serve` and `jpki crl publish`
//! run.
//!
//! ```text
//! <data dir>/ca/sign-ocsp.pem       OCSP responder certificate of the signature CA
//! <data dir>/ca/sign-ocsp.key.pem   its key, PKCS#8 encrypted under the CA passphrase
//! <data dir>/ca/auth-ocsp.pem       … of the user-authentication CA
//! <data dir>/ca/auth-ocsp.key.pem
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use jpki_authority::ca::StatusEndpoints;
use jpki_authority::hierarchy::{
    LoadedCa, ResponderMaterial, issue_ocsp_responder, issuer_name, open_ocsp_responder,
};
use jpki_crypto::{DEFAULT_PBKDF2_ITERATIONS, SecretString};
use jpki_pkix::JpkiCertificate;
use jpki_status::{
    AuthorityKeys, IssuerId, OcspConfig, ResponderKeys, StatusService, StatusSettings,
};
use time::{Duration, OffsetDateTime};

use crate::context::Context;

/// Where a CA's responder files are, relative to the data directory.
fn responder_paths(ca: &LoadedCa) -> (PathBuf, PathBuf) {
    let name = issuer_name(ca.purpose());
    (
        PathBuf::from(format!("ca/{name}-ocsp.pem")),
        PathBuf::from(format!("ca/{name}-ocsp.key.pem")),
    )
}

/// What new certificates name: the base URL and the number of CRL shards.
pub fn endpoints(context: &Context) -> StatusEndpoints {
    StatusEndpoints::new(
        context.config.status_base_url(),
        context.config.status.crl_shards,
    )
}

/// The status services' settings from `[status]`.
pub fn settings(context: &Context) -> StatusSettings {
    let section = &context.config.status;
    let validity = Duration::minutes(i64::from(section.ocsp_validity_minutes.max(2)));
    StatusSettings {
        ocsp: OcspConfig {
            validity,
            refresh_margin: validity / 2,
            ..OcspConfig::default()
        },
        full_every: Duration::hours(i64::from(section.full_crl_hours.max(1))),
        delta_every: Duration::minutes(i64::from(section.delta_crl_minutes.max(1))),
        crl_shards: section.crl_shards.max(1),
        open: section.open,
        publish_crls: section.publish_crls,
        ..StatusSettings::new(context.config.status_base_url())
    }
}

/// The `n` of `CN=OCSP responder <n>`.
fn responder_number(certificate: &JpkiCertificate) -> u32 {
    certificate
        .subject()
        .to_rfc4514()
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN=OCSP responder "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn write_private(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let temporary = path.with_extension("new");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options
            .open(&temporary)
            .with_context(|| format!("writing {}", temporary.display()))?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))
}

/// One CA's responder: opened from its files, or issued (and written) when missing or
/// within `[status] responder_renew_days` of its expiry. Returns the keys and the
/// responder certificate's notAfter.
pub async fn responder(
    context: &Context,
    ca: &LoadedCa,
    passphrase: &SecretString,
) -> anyhow::Result<(ResponderKeys, OffsetDateTime)> {
    let (certificate_path, key_path) = responder_paths(ca);
    let (certificate_path, key_path) = (
        context.data.path(&certificate_path),
        context.data.path(&key_path),
    );
    let now = context.clock.now();
    let renew_before = Duration::days(i64::from(context.config.status.responder_renew_days));
    let mut number = 1;
    if certificate_path.exists() && key_path.exists() {
        let pem = std::fs::read_to_string(&certificate_path)
            .with_context(|| format!("reading {}", certificate_path.display()))?;
        let certificate = JpkiCertificate::from_pem(&pem)
            .with_context(|| format!("{} is not a certificate", certificate_path.display()))?;
        number = responder_number(&certificate).saturating_add(1);
        if certificate.not_after() - renew_before > now && certificate.not_before() <= now {
            let key = std::fs::read(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))?;
            let (certificate, key) = open_ocsp_responder(ca, certificate.der(), &key, passphrase)
                .with_context(|| {
                format!("opening the OCSP responder key {}", key_path.display())
            })?;
            return Ok((
                ResponderKeys {
                    certificate_der: certificate.der().to_vec(),
                    signer: key,
                },
                certificate.not_after(),
            ));
        }
    }
    let validity = Duration::days(i64::from(context.config.status.responder_days.clamp(1, 90)));
    let material: ResponderMaterial = issue_ocsp_responder(
        ca,
        &context.store,
        passphrase,
        DEFAULT_PBKDF2_ITERATIONS,
        number,
        validity.min(ca.issuer().not_after() - now),
        now,
    )
    .await
    .with_context(|| {
        format!(
            "issuing the {} CA's OCSP responder certificate",
            issuer_name(ca.purpose())
        )
    })?;
    write_private(&key_path, material.encrypted_key_pem.as_bytes(), 0o600)?;
    write_private(
        &certificate_path,
        jpki_pkix::certificate_pem(&material.certificate_der)?.as_bytes(),
        0o644,
    )?;
    tracing::info!(ca = issuer_name(ca.purpose()), number, not_after = %material.not_after, "OCSP responder certificate issued");
    let (certificate, key) = open_ocsp_responder(
        ca,
        &material.certificate_der,
        material.encrypted_key_pem.as_bytes(),
        passphrase,
    )?;
    Ok((
        ResponderKeys {
            certificate_der: certificate.der().to_vec(),
            signer: key,
        },
        certificate.not_after(),
    ))
}

/// Both CAs as the status services need them; the second value is the earliest
/// responder expiry.
pub async fn authorities(
    context: &Context,
    cas: [&LoadedCa; 2],
    passphrase: &SecretString,
) -> anyhow::Result<(Vec<AuthorityKeys>, OffsetDateTime)> {
    let mut keys = Vec::with_capacity(2);
    let mut earliest = None::<OffsetDateTime>;
    for ca in cas {
        let (responder, not_after) = responder(context, ca, passphrase).await?;
        earliest = Some(earliest.map_or(not_after, |e| e.min(not_after)));
        keys.push(AuthorityKeys {
            issuer: IssuerId::new(issuer_name(ca.purpose()))?,
            ca_certificate_der: ca.certificate_der().to_vec(),
            ca_signer: ca.shared_signer(),
            responder,
        });
    }
    let earliest = earliest.context("no CA")?;
    Ok((keys, earliest))
}

/// Starts the status services over the data directory's database.
pub async fn start(
    context: &Context,
    cas: [&LoadedCa; 2],
    passphrase: &SecretString,
) -> anyhow::Result<(Arc<StatusService>, OffsetDateTime)> {
    let (keys, earliest) = authorities(context, cas, passphrase).await?;
    let status = StatusService::start(
        context.store.clone(),
        context.clock.clone(),
        settings(context),
        keys,
    )
    .await
    .context("starting the status services")?;
    Ok((status, earliest))
}

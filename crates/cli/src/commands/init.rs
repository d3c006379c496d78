//! `jpki init`: a new data directory with its database, two CAs and device key.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use jpki_authority::hierarchy::{HierarchySetup, create_hierarchy, issuer_name};
use jpki_crypto::{DEFAULT_PBKDF2_ITERATIONS, Kek, RsaKeySize};
use jpki_pkix::{JpkiCertificate, certificate_pem};
use jpki_store::{AuthorityRecord, CaStore, Store};
use time::{Duration, OffsetDateTime};

use crate::cli::InitArgs;
use crate::datadir::{
    CaConfig, Config, DataDir, DatabaseConfig, DevicesConfig, PhoneSection, redact_url,
    write_new_file,
};
use crate::output;
use crate::secrets::{self, CA_PASSPHRASE, Purpose as SecretPurpose};

pub async fn run(data_dir: Option<&Path>, args: InitArgs) -> anyhow::Result<()> {
    let data = DataDir::resolve(data_dir)?;
    let root = data.root().to_owned();
    if data.is_initialized() {
        bail!(
            "{} is already a jpki data directory; nothing was changed",
            root.display()
        );
    }
    if root.exists()
        && std::fs::read_dir(&root)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not empty; choose an empty or new directory (nothing was changed)",
            root.display()
        );
    }

    // Step 1: everything that can be refused is checked before anything is written.
    let passphrase = secrets::read_secret(
        CA_PASSPHRASE,
        args.passphrase.ca_passphrase_file.as_deref(),
        SecretPurpose::New,
    )?;
    let database_url = args
        .database
        .clone()
        .unwrap_or_else(|| "sqlite:jpki.db".to_owned());
    let is_postgres =
        database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
    let passphrase_file = match (
        &args.passphrase.ca_passphrase_file,
        args.remember_passphrase_file,
    ) {
        (Some(path), true) => {
            Some(std::path::absolute(path).context("resolving the passphrase file path")?)
        }
        _ => None,
    };

    // Step 2: build the directory under a temporary name beside it, then rename it into
    // place, so a failure leaves no half-initialized data directory behind.
    let parent = root
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".jpki-init-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a staging directory in {}", parent.display()))?;
    let staged = DataDir::at(staging.path().to_owned());

    println!("Initializing {}", root.display());
    let now = OffsetDateTime::now_utc();
    println!("  generating the signature CA and user-authentication CA keys (RSA-2048) …");
    let setup = HierarchySetup {
        organizational_unit: args.ca_ou.clone(),
        key_size: RsaKeySize::Rsa2048,
        lifetime: Duration::days(365 * i64::from(args.ca_years) + i64::from(args.ca_years / 4)),
        kdf_iterations: DEFAULT_PBKDF2_ITERATIONS,
        now,
    };
    let materials = create_hierarchy(&setup, &passphrase)?;

    std::fs::create_dir(staged.root().join("ca"))?;
    let mut ca_paths = Vec::new();
    for material in &materials {
        let name = issuer_name(material.purpose);
        let certificate = PathBuf::from(format!("ca/{name}-ca.pem"));
        let key = PathBuf::from(format!("ca/{name}-ca.key.pem"));
        write_new_file(
            &staged.path(&certificate),
            certificate_pem(&material.certificate_der)?.as_bytes(),
            0o644,
        )?;
        write_new_file(
            &staged.path(&key),
            material.encrypted_key_pem.as_bytes(),
            0o600,
        )?;
        ca_paths.push((certificate, key));
    }
    let kek_file = PathBuf::from("device.kek");
    Kek::generate()?
        .write_new(&staged.path(&kek_file))
        .context("writing the device key")?;
    println!("  generating the usage log's signing key (P-256) and pseudonym key …");
    let log = crate::datadir::LogSection::default();
    let (log_key, _) = crate::commands::log::create_log_keys(
        &staged,
        &log,
        &passphrase,
        DEFAULT_PBKDF2_ITERATIONS,
    )?;

    let [(sign_certificate, sign_key), (auth_certificate, auth_key)] = <[_; 2]>::try_from(ca_paths)
        .map_err(|_| anyhow::anyhow!("internal error: expected two CAs"))?;
    let config = Config {
        database: DatabaseConfig {
            url: database_url.clone(),
        },
        ca: CaConfig {
            organizational_unit: args.ca_ou.clone(),
            sign_certificate,
            sign_key,
            auth_certificate,
            auth_key,
            passphrase_file,
        },
        devices: DevicesConfig { kek_file },
        phone: PhoneSection::default(),
        status: crate::datadir::StatusSection::default(),
        log,
    };

    // Step 3: the database. SQLite lives in the staging directory; PostgreSQL is remote.
    let staged_url = staged.resolve_database_url(&database_url);
    let store = Store::open(&staged_url)
        .await
        .with_context(|| format!("opening the database {}", redact_url(&database_url)))?;
    if is_postgres && !store.authorities().await?.is_empty() {
        bail!(
            "the database {} already holds CAs from another data directory; use an empty database (nothing was changed)",
            redact_url(&database_url)
        );
    }
    for material in &materials {
        store
            .save_authority(&AuthorityRecord {
                name: issuer_name(material.purpose).to_owned(),
                certificate_der: material.certificate_der.clone(),
                created_at: now,
            })
            .await?;
    }
    store.close().await;

    // Step 4: the configuration is written last; its presence marks a complete directory.
    let text = toml::to_string_pretty(&config).context("encoding the configuration")?;
    write_new_file(
        &staged.config_path(),
        format!("# jpki configuration, written by `jpki init`\n{text}").as_bytes(),
        0o644,
    )?;
    let staging_path = staging.keep();
    if root.exists() {
        std::fs::remove_dir(&root)
            .with_context(|| format!("replacing the empty directory {}", root.display()))?;
    }
    std::fs::rename(&staging_path, &root)
        .with_context(|| format!("moving the data directory to {}", root.display()))?;
    set_mode(&root, 0o700)?;

    for material in &materials {
        let certificate = JpkiCertificate::from_der(&material.certificate_der)?;
        println!(
            "  {} CA: {}",
            issuer_name(material.purpose),
            certificate.subject().to_der_order_string()
        );
        output::field("serial", certificate.serial());
        output::field("valid until", output::instant(certificate.not_after()));
        output::field(
            "SHA-256",
            hex::encode_upper(certificate.fingerprint_sha256()),
        );
    }
    output::field("usage log id", log_key.log_id());
    output::field("database", redact_url(&database_url));
    println!("Done. Next: `jpki resident add …`, then `jpki card issue …`.");
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting permissions of {}", path.display()))?;
    }
    Ok(())
}

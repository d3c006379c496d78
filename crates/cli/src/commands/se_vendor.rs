//! `jpki se-vendor init`: the sandbox's secure-element vendor, whose CA certifies the
//! device key of every virtual phone SE, and whose root the RA trusts.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use jpki_crypto::{DEFAULT_PBKDF2_ITERATIONS, SecretString};
use jpki_se::VendorCa;

use crate::cli::{SeVendorCommand, SeVendorInitArgs, VendorPassphraseArgs};
use crate::context::Context;
use crate::datadir::write_new_file;
use crate::output;
use crate::secrets::{self, Purpose as SecretPurpose, VENDOR_PASSPHRASE};

pub async fn run(data_dir: Option<&Path>, command: SeVendorCommand) -> anyhow::Result<()> {
    match command {
        SeVendorCommand::Init(args) => init(data_dir, args).await,
    }
}

pub async fn init(data_dir: Option<&Path>, args: SeVendorInitArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    if context.config.phone.vendor_certificate.is_some() {
        bail!("this data directory already has an SE vendor; nothing was changed");
    }
    let passphrase = secrets::read_secret(
        VENDOR_PASSPHRASE,
        args.passphrase.vendor_passphrase_file.as_deref(),
        SecretPurpose::New,
    )?;
    println!("Creating the SE vendor CA \"{}\" (RSA-2048) …", args.name);
    let vendor = VendorCa::create(&args.name, context.clock.clone())?;
    let directory = context.data.root().join("se-vendor");
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let certificate = PathBuf::from("se-vendor/root.pem");
    let key = PathBuf::from("se-vendor/root.key.pem");
    std::fs::write(context.data.path(&certificate), vendor.certificate_pem()?)
        .with_context(|| format!("writing {}", certificate.display()))?;
    write_new_file(
        &context.data.path(&key),
        vendor
            .export_key(&passphrase, DEFAULT_PBKDF2_ITERATIONS)?
            .as_bytes(),
        0o600,
    )?;

    let mut config = context.config.clone();
    config.phone.vendor_certificate = Some(certificate.clone());
    config.phone.vendor_key = Some(key);
    if !config.phone.vendor_roots.contains(&certificate) {
        config.phone.vendor_roots.push(certificate.clone());
    }
    context.data.save_config(&config)?;
    output::field("certificate", context.data.path(&certificate).display());
    output::field("trusted by the RA", "yes (jpki.toml [phone] vendor_roots)");
    println!("Next: `jpki phone new --out phone.json`.");
    Ok(())
}

/// Opens the vendor CA (for manufacturing phones).
pub fn open_vendor(context: &Context, args: &VendorPassphraseArgs) -> anyhow::Result<VendorCa> {
    let phone = &context.config.phone;
    let (Some(certificate), Some(key)) = (&phone.vendor_certificate, &phone.vendor_key) else {
        bail!("this data directory has no SE vendor: run `jpki se-vendor init` first");
    };
    let certificate_path = context.data.path(certificate);
    let pem = std::fs::read_to_string(&certificate_path)
        .with_context(|| format!("reading {}", certificate_path.display()))?;
    let (_, der) = pem_to_der(&pem)
        .with_context(|| format!("{} is not a PEM certificate", certificate_path.display()))?;
    let key_path = context.data.path(key);
    let encrypted =
        std::fs::read(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let passphrase: SecretString = secrets::read_secret(
        VENDOR_PASSPHRASE,
        args.vendor_passphrase_file.as_deref(),
        SecretPurpose::Existing,
    )?;
    VendorCa::import(&der, &encrypted, &passphrase, context.clock.clone())
        .with_context(|| format!("opening the SE vendor key {}", key_path.display()))
}

/// The trusted vendor roots (DER) from the configuration.
pub fn vendor_roots(context: &Context) -> anyhow::Result<Vec<Vec<u8>>> {
    context
        .config
        .phone
        .vendor_roots
        .iter()
        .map(|path| {
            let path = context.data.path(path);
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let (_, der) = pem_to_der(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            Ok(der)
        })
        .collect()
}

fn pem_to_der(pem: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let certificate =
        jpki_pkix::JpkiCertificate::from_pem(pem).map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(("CERTIFICATE".into(), certificate.der().to_vec()))
}

//! What most commands need: the data directory, its configuration, the store, a clock,
//! and (for issuing commands) the CAs.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use jpki_authority::hierarchy::LoadedCa;
use jpki_crypto::{Clock, Kek, SecretString, SystemClock};
use jpki_model::Purpose;
use jpki_store::Store;

use crate::cli::CaPassphraseArgs;
use crate::datadir::{Config, DataDir, redact_url};
use crate::secrets::{self, CA_PASSPHRASE, Purpose as SecretPurpose};

pub struct Context {
    pub data: DataDir,
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl Context {
    /// Opens an initialized data directory and its database.
    pub async fn open(data_dir: Option<&Path>) -> anyhow::Result<Self> {
        let data = DataDir::resolve(data_dir)?;
        let config = data.load_config()?;
        let url = data.database_url(&config);
        let store = Store::open(&url)
            .await
            .with_context(|| format!("opening the database {}", redact_url(&url)))?;
        // Every usage line is appended to the verifiable log, which needs the pseudonym
        // key for a person's first line (absent in a data directory older than the log:
        // `jpki log init` adds it).
        if let Some(key) = crate::commands::log::read_pseudonym_key(&data, &config)? {
            store.set_log_pseudonym_key(key)?;
        }
        Ok(Self {
            data,
            config,
            store,
            clock: Arc::new(SystemClock),
        })
    }

    /// The CA key passphrase: the flag's file, else the configured file, else
    /// `JPKI_CA_PASSPHRASE`, else a prompt.
    pub fn ca_passphrase(&self, args: &CaPassphraseArgs) -> anyhow::Result<SecretString> {
        let configured = self
            .config
            .ca
            .passphrase_file
            .as_ref()
            .map(|path| self.data.path(path));
        let file = args.ca_passphrase_file.clone().or(configured);
        secrets::read_secret(CA_PASSPHRASE, file.as_deref(), SecretPurpose::Existing)
    }

    /// Opens both CAs (decrypting their keys).
    pub fn open_cas(&self, passphrase: &SecretString) -> anyhow::Result<(LoadedCa, LoadedCa)> {
        let ca = &self.config.ca;
        let open = |purpose: Purpose, certificate: &Path, key: &Path| -> anyhow::Result<LoadedCa> {
            let certificate_path = self.data.path(certificate);
            let key_path = self.data.path(key);
            let pem = std::fs::read_to_string(&certificate_path)
                .with_context(|| format!("reading {}", certificate_path.display()))?;
            let certificate = jpki_pkix::JpkiCertificate::from_pem(&pem)
                .with_context(|| format!("{} is not a certificate", certificate_path.display()))?;
            let key = std::fs::read(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))?;
            LoadedCa::open(purpose, certificate.der(), &key, passphrase)
                .with_context(|| format!("opening the CA key {}", key_path.display()))
        };
        Ok((
            open(Purpose::Signature, &ca.sign_certificate, &ca.sign_key)?,
            open(Purpose::Authentication, &ca.auth_certificate, &ca.auth_key)?,
        ))
    }

    /// The key that seals virtual card files.
    pub fn device_kek(&self) -> anyhow::Result<Kek> {
        read_kek(&self.data.path(&self.config.devices.kek_file))
    }
}

pub fn read_kek(path: &Path) -> anyhow::Result<Kek> {
    Kek::read(path)
        .with_context(|| format!("reading the device key {}", path.display()))?
        .with_context(|| format!("{} is not a device key", path.display()))
}

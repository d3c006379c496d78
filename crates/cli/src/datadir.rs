//! The data directory: configuration, embedded database, CA material, device key.
//!
//! ```text
//! <data dir>/
//!   jpki.toml            configuration written by `jpki init`
//!   jpki.db              SQLite database (the embedded default; absent with PostgreSQL)
//!   ca/sign-ca.pem       signature CA certificate
//!   ca/sign-ca.key.pem   its private key, PKCS#8 encrypted under the CA passphrase
//!   ca/auth-ca.pem       user-authentication CA certificate
//!   ca/auth-ca.key.pem   its private key, likewise
//!   device.kek           key-encryption key sealing virtual card / phone files
//!   log/log.key.pem      the usage log's signing key, encrypted under the CA passphrase
//!   log/log.pub.pem      its public key (what citizens verify tree heads with)
//!   log/pseudonym.key    the secret each person's log id is derived from (mode 0600)
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

pub const CONFIG_FILE: &str = "jpki.toml";
pub const DATABASE_ENV: &str = "JPKI_DATABASE_URL";

/// `jpki.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub ca: CaConfig,
    pub devices: DevicesConfig,
    #[serde(default)]
    pub phone: PhoneSection,
    #[serde(default)]
    pub status: StatusSection,
    #[serde(default)]
    pub log: LogSection,
}

/// `[log]`: the verifiable usage log (docs/verifiable-log.md). Its signing key is
/// encrypted under the CA passphrase like the CA keys; the pseudonym key (from which
/// each person's log id is derived) is a file readable by its owner only, like the
/// device key, because every command that writes usage history needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// The log's signing key, PKCS#8 encrypted under the CA passphrase.
    pub key: PathBuf,
    /// Its public key (PEM), what citizens verify tree heads with.
    pub public_key: PathBuf,
    /// The pseudonym key (32 random bytes).
    pub pseudonym_key: PathBuf,
    /// `jpki serve` signs a tree head this often when the log grew (and on demand, at
    /// most once a second).
    pub sign_interval_seconds: u64,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            key: PathBuf::from("log/log.key.pem"),
            public_key: PathBuf::from("log/log.pub.pem"),
            pseudonym_key: PathBuf::from("log/pseudonym.key"),
            sign_interval_seconds: 60,
        }
    }
}

/// `[status]`: the OCSP responder and the CRLs (`jpki serve`, `jpki crl publish`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusSection {
    /// Where relying parties reach `/ocsp` and `/crl/…`, written into every certificate
    /// issued from now on (CRL distribution point, OCSP in AIA). Default: `[phone]
    /// portal_url`.
    pub base_url: Option<String>,
    /// `false`: OCSP and CRLs only for registered verifiers (`jpki verifier add`), as
    /// the real JPKI gives revocation data only to them.
    pub open: bool,
    /// CRL shards per CA for new certificates.
    pub crl_shards: u32,
    /// A full CRL every this many hours, a delta every this many minutes (and after
    /// every change).
    pub full_crl_hours: u32,
    pub delta_crl_minutes: u32,
    /// nextUpdate − thisUpdate of OCSP responses.
    pub ocsp_validity_minutes: u32,
    /// Whether this process publishes CRLs (else it serves what another published).
    pub publish_crls: bool,
    /// Lifetime of a delegated OCSP responder certificate, and how long before its
    /// expiry a new one is issued.
    pub responder_days: u32,
    pub responder_renew_days: u32,
}

impl Default for StatusSection {
    fn default() -> Self {
        Self {
            base_url: None,
            open: true,
            crl_shards: 4,
            full_crl_hours: 24,
            delta_crl_minutes: 60,
            ocsp_validity_minutes: 60,
            publish_crls: true,
            responder_days: 30,
            responder_renew_days: 10,
        }
    }
}

impl Config {
    /// The status services' base URL: `[status] base_url`, else `[phone] portal_url`.
    pub fn status_base_url(&self) -> String {
        self.status
            .base_url
            .clone()
            .unwrap_or_else(|| self.phone.portal_url.clone())
            .trim_end_matches('/')
            .to_owned()
    }
}

/// `[phone]`: the portal and the phone flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneSection {
    /// Where `jpki serve` listens.
    pub listen: String,
    /// The portal URL phone commands use unless told otherwise.
    pub portal_url: String,
    /// The daily issuance window, JST: `HH:MM-HH:MM` or `always`.
    pub service_hours: String,
    /// Seconds between registration and the certificates becoming active.
    pub propagation_delay_seconds: u64,
    /// SE-vendor root certificates (PEM) whose attestations the RA trusts.
    pub vendor_roots: Vec<PathBuf>,
    /// The SE vendor's CA, made by `jpki se-vendor init` (sandbox only).
    pub vendor_certificate: Option<PathBuf>,
    pub vendor_key: Option<PathBuf>,
}

impl Default for PhoneSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            portal_url: "http://127.0.0.1:8080".into(),
            service_hours: "08:00-19:30".into(),
            propagation_delay_seconds: 0,
            vendor_roots: Vec::new(),
            vendor_certificate: None,
            vendor_key: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite:jpki.db` (relative to the data directory) or `postgres://…`.
    /// `JPKI_DATABASE_URL` overrides it.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// The second OU of both CA names.
    pub organizational_unit: String,
    pub sign_certificate: PathBuf,
    pub sign_key: PathBuf,
    pub auth_certificate: PathBuf,
    pub auth_key: PathBuf,
    /// File holding the CA key passphrase; when absent, `JPKI_CA_PASSPHRASE` or a prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesConfig {
    pub kek_file: PathBuf,
}

/// A resolved data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// `--data-dir` / `JPKI_DATA_DIR`, else `$XDG_DATA_HOME/jpki`, else `~/.local/share/jpki`.
    pub fn resolve(explicit: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(path) = explicit {
            return Ok(Self {
                root: path.to_owned(),
            });
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(Self {
                root: PathBuf::from(xdg).join("jpki"),
            });
        }
        let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).context(
            "cannot find a data directory: pass --data-dir DIR or set JPKI_DATA_DIR (HOME is not set)",
        )?;
        Ok(Self {
            root: PathBuf::from(home).join(".local/share/jpki"),
        })
    }

    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    pub fn is_initialized(&self) -> bool {
        self.config_path().exists()
    }

    /// A path from the configuration, taken relative to the data directory.
    pub fn path(&self, configured: &Path) -> PathBuf {
        if configured.is_absolute() {
            configured.to_owned()
        } else {
            self.root.join(configured)
        }
    }

    /// Rewrites `jpki.toml` (atomically).
    pub fn save_config(&self, config: &Config) -> anyhow::Result<()> {
        let text = toml::to_string_pretty(config).context("encoding the configuration")?;
        let path = self.config_path();
        let temporary = self.root.join(".jpki.toml.new");
        std::fs::write(&temporary, format!("# jpki configuration\n{text}"))
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    pub fn load_config(&self) -> anyhow::Result<Config> {
        let path = self.config_path();
        if !path.exists() {
            bail!(
                "{} is not a jpki data directory (no {CONFIG_FILE}): run `jpki init` first, or pass --data-dir",
                self.root.display()
            );
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid jpki configuration", path.display()))
    }

    /// The database URL: `JPKI_DATABASE_URL` if set, else the configuration's, with a
    /// relative SQLite path resolved against the data directory.
    pub fn database_url(&self, config: &Config) -> String {
        let url = std::env::var(DATABASE_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| config.database.url.clone());
        self.resolve_database_url(&url)
    }

    pub fn resolve_database_url(&self, url: &str) -> String {
        if url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite://")
        {
            return url.to_owned();
        }
        let path = url.strip_prefix("sqlite:").unwrap_or(url);
        format!("sqlite://{}", self.path(Path::new(path)).display())
    }
}

/// Writes a new file of the data directory (creating its directory if needed) with
/// `mode` on Unix (0o600 for keys), flushed to disk before returning. Refuses to replace
/// an existing file: keys and configurations are never overwritten by accident.
pub fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Hides the password of a database URL for printing.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_resolve_against_the_data_directory() {
        let dir = DataDir::at(PathBuf::from("/var/lib/jpki"));
        assert_eq!(
            dir.resolve_database_url("sqlite:jpki.db"),
            "sqlite:///var/lib/jpki/jpki.db"
        );
        assert_eq!(
            dir.resolve_database_url("jpki.db"),
            "sqlite:///var/lib/jpki/jpki.db"
        );
        assert_eq!(
            dir.resolve_database_url("sqlite:/tmp/x.db"),
            "sqlite:///tmp/x.db"
        );
        assert_eq!(
            dir.resolve_database_url("postgres://u@h/db"),
            "postgres://u@h/db"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://jpki:s3cret@db:5432/jpki"),
            "postgres://jpki:***@db:5432/jpki"
        );
        assert_eq!(
            redact_url("postgres://jpki@db/jpki"),
            "postgres://jpki@db/jpki"
        );
        assert_eq!(redact_url("sqlite:///x"), "sqlite:///x");
    }
}

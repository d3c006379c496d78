//! A virtual phone on disk: the SE file and the app's state, sealed together.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jpki_api::PhoneKind;
use jpki_crypto::{Clock, Kek};
use jpki_se::{AppIdentity, VirtualSecureElement};
use serde::{Deserialize, Serialize};

/// The package name of the portal app (the only app the SE's access rule allows).
pub const PORTAL_APP_PACKAGE: &str = "jpki.portal";

/// What the phone OS reports for the portal app: its package and the SHA-256 of its
/// signing certificate. Ours is a fixed sandbox value (docs/secure-element.md).
pub fn portal_app_identity() -> Result<AppIdentity, jpki_se::SeError> {
    AppIdentity::new(
        PORTAL_APP_PACKAGE,
        jpki_crypto::sha256(b"jpki portal app signing certificate (sandbox)"),
    )
}

/// The app's own state (private storage of the portal app).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppState {
    pub portal_url: Option<String>,
    /// The bearer token for this phone's events and certificates (base64url).
    pub device_token: Option<String>,
    pub application_id: Option<String>,
    pub applied_kinds: Vec<PhoneKind>,
    /// The last notification sequence number handled.
    pub last_event: i64,
    pub registered: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PhoneFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not a jpki phone file")]
    Format(String),
    #[error("the phone's secure element: {0}")]
    Se(#[from] jpki_se::SeError),
    #[error("the phone's app state does not open (wrong device key, or the file was changed)")]
    Sealed,
    #[error("cannot write the phone file: {0}")]
    Write(String),
}

#[derive(Serialize, Deserialize)]
struct PhoneFile {
    format: String,
    version: u32,
    /// The SE file, as `jpki-se` writes it (base64 of its bytes).
    se: String,
    /// The app state, sealed with the device KEK (base64).
    app: String,
}

const FORMAT: &str = "jpki-virtual-phone";
const VERSION: u32 = 1;
const APP_AAD: &[u8] = b"jpki-virtual-phone app state v1";

/// A virtual phone: its secure element and the portal app's state.
#[derive(Debug)]
pub struct Phone {
    pub se: VirtualSecureElement,
    pub app: AppState,
}

/// The phone file's bytes for an SE and the app's state.
pub fn file_bytes(
    se: &VirtualSecureElement,
    app: &AppState,
    kek: &Kek,
) -> Result<Vec<u8>, PhoneFileError> {
    let se = se.to_file_bytes(kek)?;
    let app = serde_json::to_vec(app).map_err(|error| PhoneFileError::Write(error.to_string()))?;
    let sealed = kek
        .seal(&app, APP_AAD)
        .map_err(|_| PhoneFileError::Sealed)?;
    let file = PhoneFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        se: STANDARD.encode(se),
        app: STANDARD.encode(sealed),
    };
    serde_json::to_vec_pretty(&file).map_err(|error| PhoneFileError::Write(error.to_string()))
}

impl Phone {
    pub fn new(se: VirtualSecureElement) -> Self {
        Self {
            se,
            app: AppState::default(),
        }
    }

    pub fn to_file_bytes(&self, kek: &Kek) -> Result<Vec<u8>, PhoneFileError> {
        file_bytes(&self.se, &self.app, kek)
    }

    pub fn from_file_bytes(
        bytes: &[u8],
        kek: &Kek,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PhoneFileError> {
        let file: PhoneFile = serde_json::from_slice(bytes)
            .map_err(|error| PhoneFileError::Format(error.to_string()))?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(PhoneFileError::Format(format!(
                "format {:?} version {}",
                file.format, file.version
            )));
        }
        let se_bytes = STANDARD
            .decode(&file.se)
            .map_err(|_| PhoneFileError::Format("se is not base64".into()))?;
        let se = VirtualSecureElement::from_file_bytes(&se_bytes, kek, clock)?;
        let sealed = STANDARD
            .decode(&file.app)
            .map_err(|_| PhoneFileError::Format("app is not base64".into()))?;
        let app = kek
            .open(&sealed, APP_AAD)
            .map_err(|_| PhoneFileError::Sealed)?;
        let app = serde_json::from_slice(app.expose()).map_err(|_| PhoneFileError::Sealed)?;
        Ok(Self { se, app })
    }

    pub fn load(path: &Path, kek: &Kek, clock: Arc<dyn Clock>) -> Result<Self, PhoneFileError> {
        let bytes = std::fs::read(path).map_err(|source| PhoneFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_file_bytes(&bytes, kek, clock).map_err(|error| match error {
            PhoneFileError::Format(detail) => {
                PhoneFileError::Format(format!("{}: {detail}", path.display()))
            }
            other => other,
        })
    }

    /// Writes the phone atomically (temporary file, then rename).
    pub fn save(&mut self, path: &Path, kek: &Kek) -> Result<(), PhoneFileError> {
        let bytes = self.to_file_bytes(kek)?;
        jpki_card::file::save_atomically(path, &bytes)
            .map_err(|error| PhoneFileError::Write(error.to_string()))?;
        self.se.mark_saved();
        Ok(())
    }
}

//! A phone file as a contactless card for the vpcd bridge: kiosks and PC/SC tools reach
//! the phone's JPKI AP through its contactless interface (JPKI-FACTS §4.3), with
//! card-holder privilege only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jpki_crypto::{Clock, Kek};
use jpki_reader::vpcd::{BridgeError, VirtualIcc};
use jpki_se::{CONTACTLESS_ATR, Interface, Session, VirtualSecureElement};

use crate::phone::{AppState, Phone, PhoneFileError, file_bytes};

/// The phone behind the contactless front end, written back to its file whenever a
/// command changed its state (PIN counters).
pub struct PhoneIcc {
    session: Session<VirtualSecureElement>,
    app: AppState,
    path: PathBuf,
    kek: Kek,
    saves: u64,
}

impl std::fmt::Debug for PhoneIcc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneIcc")
            .field("path", &self.path)
            .field("saves", &self.saves)
            .finish_non_exhaustive()
    }
}

impl PhoneIcc {
    pub fn open(path: &Path, kek: Kek, clock: Arc<dyn Clock>) -> Result<Self, PhoneFileError> {
        let phone = Phone::load(path, &kek, clock)?;
        Ok(Self {
            session: Session::open(phone.se, Interface::Contactless),
            app: phone.app,
            path: path.to_path_buf(),
            kek,
            saves: 0,
        })
    }

    pub fn serial(&self) -> String {
        self.session.element().serial().as_str().to_owned()
    }

    pub fn saves(&self) -> u64 {
        self.saves
    }
}

impl VirtualIcc for PhoneIcc {
    fn atr(&self) -> Vec<u8> {
        CONTACTLESS_ATR.to_vec()
    }

    fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
        self.session.transmit(command)
    }

    fn power_off(&mut self) {
        self.session.reset();
    }

    fn reset(&mut self) {
        self.session.reset();
    }

    fn commit(&mut self) -> Result<(), BridgeError> {
        if !self.session.element().is_dirty() {
            return Ok(());
        }
        let failed = |reason: String| BridgeError::PersistDevice {
            path: self.path.clone(),
            reason,
        };
        let bytes = file_bytes(self.session.element(), &self.app, &self.kek)
            .map_err(|e| failed(e.to_string()))?;
        jpki_card::file::save_atomically(&self.path, &bytes).map_err(|e| failed(e.to_string()))?;
        self.session.element_mut().mark_saved();
        self.saves += 1;
        Ok(())
    }
}

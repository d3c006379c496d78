//! SE files on disk: the only module of this crate that does I/O.

use std::path::Path;
use std::sync::Arc;

use jpki_crypto::{Clock, Kek};

use crate::{SeError, VirtualSecureElement};

/// Reads and opens an SE file.
pub fn load(
    path: &Path,
    kek: &Kek,
    clock: Arc<dyn Clock>,
) -> Result<VirtualSecureElement, SeError> {
    let bytes = std::fs::read(path).map_err(|source| SeError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    VirtualSecureElement::from_file_bytes(&bytes, kek, clock)
}

/// Seals the SE, writes it atomically (temporary file in the same directory, mode 0600,
/// fsync, rename, fsync of the directory: `jpki_card::file::save_atomically`) and marks
/// it saved.
pub fn save(path: &Path, se: &mut VirtualSecureElement, kek: &Kek) -> Result<(), SeError> {
    let bytes = se.to_file_bytes(kek)?;
    jpki_card::file::save_atomically(path, &bytes).map_err(SeError::Save)?;
    se.mark_saved();
    Ok(())
}

/// Saves only when something changed since the last save (PIN counters above all):
/// what a long-lived link calls after every command. Returns whether it wrote.
pub fn save_if_dirty(
    path: &Path,
    se: &mut VirtualSecureElement,
    kek: &Kek,
) -> Result<bool, SeError> {
    if !se.is_dirty() {
        return Ok(false);
    }
    save(path, se, kek)?;
    Ok(true)
}

//! Card files on disk: the only module of this crate that does I/O.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use jpki_crypto::Kek;

use crate::{CardFileError, VirtualCard};

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CardFileError {
    let path = path.to_path_buf();
    move |source| CardFileError::Io {
        action,
        path,
        source,
    }
}

/// Writes `bytes` to `path` so that a reader sees either the old file or the new one,
/// never a torn one: 1. write a temporary file in the same directory (mode 0600 on
/// Unix), 2. fsync it, 3. rename it over `path`, 4. fsync the directory.
pub fn save_atomically(path: &Path, bytes: &[u8]) -> Result<(), CardFileError> {
    let file_name = path
        .file_name()
        .ok_or_else(|| CardFileError::Io {
            action: "save",
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
        })?
        .to_string_lossy()
        .into_owned();
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let suffix: String = jpki_crypto::random_bytes(6)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let temporary = directory.join(format!(".{file_name}.{suffix}.tmp"));

    let written = write_synced(&temporary, bytes)
        .and_then(|()| fs::rename(&temporary, path).map_err(io_error("rename", path)));
    if let Err(error) = written {
        // Best effort: the temporary file is useless now, and the error that matters is
        // the one above.
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    sync_directory(&directory)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CardFileError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error("create", path))?;
    file.write_all(bytes).map_err(io_error("write", path))?;
    file.sync_all().map_err(io_error("sync", path))
}

#[cfg(unix)]
fn sync_directory(directory: &Path) -> Result<(), CardFileError> {
    fs::File::open(directory)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("sync directory", directory))
}

#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> Result<(), CardFileError> {
    Ok(())
}

/// Reads and opens a card file.
pub fn load(path: &Path, kek: &Kek) -> Result<VirtualCard, CardFileError> {
    let bytes = fs::read(path).map_err(io_error("read", path))?;
    VirtualCard::from_file_bytes(&bytes, kek)
}

/// Seals the card, writes it atomically and marks it saved.
pub fn save(path: &Path, card: &mut VirtualCard, kek: &Kek) -> Result<(), CardFileError> {
    let bytes = card.to_file_bytes(kek)?;
    save_atomically(path, &bytes)?;
    card.mark_saved();
    Ok(())
}

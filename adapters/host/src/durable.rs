//! Files that survive a crash: the checksum their records carry, and replacing a whole file
//! atomically. Shared by the replay journal and the audit outbox.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The first 4 bytes of SHA-256 over `record`: enough to tell a torn or corrupt record from a
/// whole one (not a defence against someone who can write the file).
pub(crate) fn checksum(record: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest(record);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Writes `bytes` to a new file beside `path`, fsyncs it, and renames it over `path` (atomic
/// on POSIX file systems). An error means `path` still holds the old file; once the rename is
/// done, failing to make it durable (the directory's fsync) is not reported.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        // Make the rename itself durable, as far as the system allows.
        let _ = File::open(directory).and_then(|directory| directory.sync_all());
    }
    Ok(())
}

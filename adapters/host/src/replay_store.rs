//! Where accepted launches are remembered: in memory, or in a journal that survives restarts.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use koppeltaal_core::{HeapReplayGuard, ReplayKey, ReplayProtection};

use crate::error::HostError;

/// Remembers accepted tokens and refuses one presented again, for every thread (and, for
/// shared implementations, every process) of a module.
pub trait ReplayStore: Send + Sync {
    /// Records `key` until `forget_at` (Unix seconds) unless it is recorded and live at `now`:
    /// then `Core(Replayed)`. Must be atomic: two concurrent calls with one key never both
    /// succeed.
    fn check_and_record(&self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), HostError>;
}

/// The core's replay guard behind a mutex: fast, bounded, and gone when the process ends
/// (a token accepted just before a restart can be accepted again after it, until it expires:
/// use [`JournalReplayStore`] to close that window).
pub struct MemoryReplayStore {
    guard: Mutex<HeapReplayGuard>,
}

impl MemoryReplayStore {
    /// A store for `capacity` live tokens.
    pub fn new(capacity: usize) -> MemoryReplayStore {
        MemoryReplayStore {
            guard: Mutex::new(HeapReplayGuard::with_capacity(capacity)),
        }
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_record(&self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), HostError> {
        let mut guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .check_and_record(key, forget_at, now)
            .map_err(HostError::Core)
    }
}

/// The first bytes of a journal.
const MAGIC: &[u8; 8] = b"KTRPLY01";
/// A record: the 12-byte replay key, then the forget-at time, little-endian.
const RECORD: usize = 12 + 8;

/// The core's replay guard, with every accepted token also appended to a journal file that
/// is read back at start-up: a restart opens no replay window.
///
/// Chosen over refusing every token issued before start-up (the other way to close the
/// window) because that refuses genuine launches for a leeway's length after every restart.
/// Appends are written before the launch is accepted; with `sync` they are also flushed to
/// disk (surviving a power cut, at the price of an fsync per launch), without it they survive
/// a process crash or restart. The journal is compacted to the live entries at start-up and
/// whenever it has grown by the guard's capacity. A journal that cannot be written refuses
/// launches ([`HostError::ReplayStoreUnavailable`]) rather than accept them unrecorded.
pub struct JournalReplayStore {
    state: Mutex<Journal>,
}

struct Journal {
    guard: HeapReplayGuard,
    file: File,
    path: PathBuf,
    appended: usize,
    sync: bool,
}

impl JournalReplayStore {
    /// Opens (or creates) the journal at `path` for `capacity` live tokens, loading the
    /// entries still live at `now`. A file that is not a journal is an error, not overwritten.
    pub fn open(
        path: impl AsRef<Path>,
        capacity: usize,
        now: u64,
        sync: bool,
    ) -> Result<JournalReplayStore, HostError> {
        let path = path.as_ref().to_owned();
        let mut guard = HeapReplayGuard::with_capacity(capacity);
        match File::open(&path) {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                let records = bytes.strip_prefix(MAGIC).ok_or_else(|| {
                    HostError::Io(std::io::Error::new(
                        ErrorKind::InvalidData,
                        "not a replay journal",
                    ))
                })?;
                // A partial last record is what a crash mid-append leaves: ignore it.
                for record in records.chunks_exact(RECORD) {
                    let mut key = [0u8; 12];
                    key.copy_from_slice(&record[..12]);
                    let mut forget_at = [0u8; 8];
                    forget_at.copy_from_slice(&record[12..]);
                    let forget_at = u64::from_le_bytes(forget_at);
                    if forget_at > now {
                        match guard.check_and_record(ReplayKey::from_bytes(key), forget_at, now) {
                            Ok(()) | Err(koppeltaal_core::Error::Replayed) => {}
                            Err(other) => return Err(HostError::Core(other)),
                        }
                    }
                }
            }
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
        let file = rewrite(&path, &guard, now)?;
        Ok(JournalReplayStore {
            state: Mutex::new(Journal {
                guard,
                file,
                path,
                appended: 0,
                sync,
            }),
        })
    }
}

/// Writes the live entries of `guard` to a new journal beside `path`, then renames it over
/// `path` (atomic on POSIX file systems), and returns it open for appending.
fn rewrite(path: &Path, guard: &HeapReplayGuard, now: u64) -> Result<File, HostError> {
    let temporary = path.with_extension("tmp");
    {
        let mut file = File::create(&temporary)?;
        let mut bytes = MAGIC.to_vec();
        for (key, forget_at) in guard.entries().filter(|(_, forget_at)| *forget_at > now) {
            bytes.extend_from_slice(key.as_bytes());
            bytes.extend_from_slice(&forget_at.to_le_bytes());
        }
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        // Make the rename itself durable.
        File::open(directory)?.sync_all()?;
    }
    Ok(OpenOptions::new().append(true).open(path)?)
}

impl ReplayStore for JournalReplayStore {
    fn check_and_record(&self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), HostError> {
        let mut journal = self.state.lock().unwrap_or_else(|e| e.into_inner());
        journal.guard.check_and_record(key, forget_at, now)?;
        let mut record = [0u8; RECORD];
        record[..12].copy_from_slice(key.as_bytes());
        record[12..].copy_from_slice(&forget_at.to_le_bytes());
        let unavailable =
            |error: std::io::Error| HostError::ReplayStoreUnavailable(format!("journal: {error}"));
        journal.file.write_all(&record).map_err(unavailable)?;
        if journal.sync {
            journal.file.sync_data().map_err(unavailable)?;
        }
        journal.appended += 1;
        if journal.appended >= journal.guard.capacity() {
            let file = rewrite(&journal.path, &journal.guard, now).map_err(|error| {
                HostError::ReplayStoreUnavailable(format!("compacting the journal: {error}"))
            })?;
            journal.file = file;
            journal.appended = 0;
        }
        Ok(())
    }
}

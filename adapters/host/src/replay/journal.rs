//! A journal of accepted launches that survives restarts.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use koppeltaal_core::{HeapReplayGuard, ReplayKey, ReplayStore as _};

use super::ReplayStore;
use crate::durable::{checksum, replace_file};

use crate::clock::{Clock, SystemClock};
use crate::error::HostError;

/// The first bytes of a journal (format 2: checksummed records).
const MAGIC: &[u8; 8] = b"KTRPLY02";
/// The first bytes of a format-1 journal (records without checksums), still read.
const MAGIC_V1: &[u8; 8] = b"KTRPLY01";
/// A format-2 record: the 12-byte replay key, the forget-at time (little-endian), and the
/// first 4 bytes of SHA-256 over those 20 bytes.
const RECORD: usize = 12 + 8 + 4;
/// A format-1 record: key and forget-at.
const RECORD_V1: usize = 12 + 8;

/// How a [`JournalReplayStore`] is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalOptions {
    /// How many unexpired launches it holds; beyond that it refuses launches (fails closed).
    pub capacity: usize,
    /// Flush every record to disk before the launch is accepted (`fsync`): survives a power
    /// cut, at the price of an fsync per launch. Without it, records survive a crash or
    /// restart of the process.
    pub sync: bool,
}

impl Default for JournalOptions {
    /// 65 536 launches, no fsync per record.
    fn default() -> Self {
        JournalOptions {
            capacity: 1 << 16,
            sync: false,
        }
    }
}

/// The core's replay guard, with every accepted token also appended to a journal file that
/// is read back at start-up: a restart opens no replay window.
///
/// Chosen over refusing every token issued before start-up (the other way to close the
/// window) because that refuses genuine launches for a leeway's length after every restart.
///
/// Fault semantics:
/// - A launch is accepted only after its record is written (and, with
///   [`JournalOptions::sync`], on disk). A write that fails refuses the launch
///   ([`HostError::ReplayStoreUnavailable`], temporary) and leaves no trace: the memory is
///   updated only after the write succeeded, and a partly written record is cut off again,
///   so retrying the launch is judged afresh, not as a replay. Until that cut succeeds, every
///   launch is refused rather than appended after a torn record.
/// - Each record carries a checksum. At start-up, records are read up to the first torn or
///   corrupt one; the rest is cut off (reported by
///   [`discarded_bytes`](Self::discarded_bytes)) rather than read as garbage or refused, and
///   the file is rewritten with the live entries.
/// - The journal is compacted to its live entries at start-up and whenever it has grown by
///   the capacity (write a new file, fsync, rename over the old one, fsync the directory). A
///   compaction that fails leaves the old journal in use and is tried again later; it does
///   not refuse the launch whose record was already written.
/// - A file that is not a journal is an error at start-up, and is left untouched.
pub struct JournalReplayStore {
    state: Mutex<Journal>,
    loaded: usize,
    discarded_bytes: u64,
}

/// Where a journal's records go: a file, or in tests a file that fails on cue.
trait JournalFile: Send {
    /// Appends `bytes` at the end.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Cuts the file to `len` bytes.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Flushes to the disk.
    fn sync(&mut self) -> std::io::Result<()>;
}

impl JournalFile for File {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }

    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

struct Journal {
    guard: HeapReplayGuard,
    /// The journal open for appending; `None` after a failure that may have left a partial
    /// record, or after a compaction: it is reopened and cut to `len` before the next append.
    file: Option<Box<dyn JournalFile>>,
    path: PathBuf,
    /// The length of the journal up to its last complete record.
    len: u64,
    appended: usize,
    sync: bool,
    /// Opens a journal file for appending (swapped in tests to inject faults).
    reopen: Opener,
}

type Opener = Box<dyn Fn(&Path) -> std::io::Result<Box<dyn JournalFile>> + Send>;

fn open_file(path: &Path) -> std::io::Result<Box<dyn JournalFile>> {
    Ok(Box::new(OpenOptions::new().append(true).open(path)?))
}

fn encode(key: &ReplayKey, forget_at: u64) -> [u8; RECORD] {
    let mut record = [0u8; RECORD];
    record[..12].copy_from_slice(key.as_bytes());
    record[12..20].copy_from_slice(&forget_at.to_le_bytes());
    let check = checksum(&record[..20]);
    record[20..].copy_from_slice(&check);
    record
}

/// The (key, forget-at) of a record body of 20 bytes.
fn decode(body: &[u8]) -> (ReplayKey, u64) {
    let mut key = [0u8; 12];
    key.copy_from_slice(&body[..12]);
    let mut forget_at = [0u8; 8];
    forget_at.copy_from_slice(&body[12..20]);
    (ReplayKey::from_bytes(key), u64::from_le_bytes(forget_at))
}

/// The records of a journal's bytes, and how many trailing bytes were torn or corrupt.
fn read_records(bytes: &[u8]) -> Result<(Vec<(ReplayKey, u64)>, u64), HostError> {
    let not_a_journal = || {
        HostError::Io(std::io::Error::new(
            ErrorKind::InvalidData,
            "not a replay journal",
        ))
    };
    if let Some(records) = bytes.strip_prefix(MAGIC) {
        let mut entries = Vec::with_capacity(records.len() / RECORD);
        let mut good = 0;
        for record in records.chunks_exact(RECORD) {
            if record[20..] != checksum(&record[..20]) {
                break;
            }
            entries.push(decode(record));
            good += RECORD;
        }
        Ok((entries, (records.len() - good) as u64))
    } else if let Some(records) = bytes.strip_prefix(MAGIC_V1) {
        let entries = records.chunks_exact(RECORD_V1).map(decode).collect();
        Ok((entries, (records.len() % RECORD_V1) as u64))
    } else {
        Err(not_a_journal())
    }
}

impl JournalReplayStore {
    /// Opens (or creates) the journal at `path`, loading the entries still live now (system
    /// clock). A file that is not a journal is an error, not overwritten; a torn or corrupt
    /// tail is cut off.
    ///
    /// ```no_run
    /// use koppeltaal_host::replay::{JournalOptions, JournalReplayStore};
    /// let store = JournalReplayStore::open(
    ///     "/var/lib/module/replay.journal",
    ///     JournalOptions { sync: true, ..JournalOptions::default() },
    /// )?;
    /// # Ok::<(), koppeltaal_host::HostError>(())
    /// ```
    pub fn open(
        path: impl AsRef<Path>,
        options: JournalOptions,
    ) -> Result<JournalReplayStore, HostError> {
        Self::open_at(path, options, SystemClock.now())
    }

    /// [`open`](Self::open), judging which entries are live at `now` (Unix seconds).
    pub fn open_at(
        path: impl AsRef<Path>,
        options: JournalOptions,
        now: u64,
    ) -> Result<JournalReplayStore, HostError> {
        Self::open_with(path.as_ref(), options, now, Box::new(open_file))
    }

    fn open_with(
        path: &Path,
        options: JournalOptions,
        now: u64,
        reopen: Opener,
    ) -> Result<JournalReplayStore, HostError> {
        let path = path.to_owned();
        let mut guard = HeapReplayGuard::with_capacity(options.capacity);
        let (mut loaded, mut discarded_bytes) = (0, 0);
        match File::open(&path) {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                let (entries, discarded) = read_records(&bytes)?;
                discarded_bytes = discarded;
                for (key, forget_at) in entries {
                    if forget_at <= now {
                        continue;
                    }
                    match guard.check_and_record(key, forget_at, now) {
                        Ok(()) => loaded += 1,
                        Err(koppeltaal_core::Error::Replayed) => {}
                        Err(other) => return Err(HostError::Core(other)),
                    }
                }
            }
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
        let len = rewrite(&path, &guard, now)?;
        let file = Some(reopen(&path)?);
        Ok(JournalReplayStore {
            state: Mutex::new(Journal {
                guard,
                file,
                path,
                len,
                appended: 0,
                sync: options.sync,
                reopen,
            }),
            loaded,
            discarded_bytes,
        })
    }

    /// How many live entries were read back when the journal was opened.
    pub fn loaded(&self) -> usize {
        self.loaded
    }

    /// How many bytes at the end of the journal were torn or corrupt when it was opened, and
    /// cut off (0 for a clean journal).
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded_bytes
    }
}

/// Writes the live entries of `guard` to a new journal beside `path`, then renames it over
/// `path` (atomic on POSIX file systems); returns the new journal's length. An error means
/// `path` still holds the old journal: once the rename is done, failing to make it durable
/// (the directory's fsync) is not reported.
fn rewrite(path: &Path, guard: &HeapReplayGuard, now: u64) -> Result<u64, HostError> {
    let mut bytes = MAGIC.to_vec();
    for (key, forget_at) in guard.entries().filter(|(_, forget_at)| *forget_at > now) {
        bytes.extend_from_slice(&encode(&key, forget_at));
    }
    replace_file(path, &bytes)?;
    Ok(bytes.len() as u64)
}

impl Journal {
    /// Appends one record, after cutting away whatever an earlier failure may have left
    /// after the last complete record; on failure cuts the file back again (or leaves that
    /// to the next call).
    fn append(&mut self, record: &[u8]) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = (self.reopen)(&self.path)?;
                file.truncate(self.len)?;
                self.file.insert(file)
            }
        };
        let written = file.append(record).and_then(|()| match self.sync {
            true => file.sync(),
            false => Ok(()),
        });
        match written {
            Ok(()) => {
                self.len += record.len() as u64;
                Ok(())
            }
            Err(error) => {
                if file.truncate(self.len).is_err() {
                    self.file = None;
                }
                Err(error)
            }
        }
    }

    /// Rewrites the journal with the live entries. On failure the old journal stays in use;
    /// either way the file at the path is reopened before the next append.
    fn compact(&mut self, now: u64) {
        if let Ok(len) = rewrite(&self.path, &self.guard, now) {
            self.len = len;
        }
        self.file = None;
        // Tried again after another `capacity` appends either way.
        self.appended = 0;
    }
}

impl ReplayStore for JournalReplayStore {
    fn check_and_record(&self, key: ReplayKey, forget_at: u64, now: u64) -> Result<(), HostError> {
        let mut journal = self.state.lock().unwrap_or_else(|e| e.into_inner());
        journal.guard.check(key, forget_at, now)?;
        journal
            .append(&encode(&key, forget_at))
            .map_err(|error| HostError::ReplayStoreUnavailable(format!("journal: {error}")))?;
        // Cannot fail: checked above under the same lock.
        journal.guard.check_and_record(key, forget_at, now)?;
        journal.appended += 1;
        if journal.appended >= journal.guard.capacity() {
            journal.compact(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// What the faulty file does on its next appends.
    #[derive(Default)]
    struct Faults {
        /// Appends still to succeed before the faults start.
        healthy_appends: AtomicUsize,
        /// How many bytes a failing append writes before failing (0: none).
        partial_bytes: AtomicUsize,
        /// Failing appends still to come; then it heals.
        failing_appends: AtomicUsize,
        /// Truncations still to fail.
        failing_truncates: AtomicUsize,
    }

    /// A real file whose appends and truncations fail on cue, as on a full disk.
    struct FaultyFile {
        file: File,
        faults: Arc<Faults>,
    }

    fn take(counter: &AtomicUsize) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    impl JournalFile for FaultyFile {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            if take(&self.faults.healthy_appends) || !take(&self.faults.failing_appends) {
                return self.file.write_all(bytes);
            }
            let partial = self
                .faults
                .partial_bytes
                .load(Ordering::SeqCst)
                .min(bytes.len());
            self.file.write_all(&bytes[..partial])?;
            Err(std::io::Error::new(
                ErrorKind::StorageFull,
                "no space left (injected)",
            ))
        }

        fn truncate(&mut self, len: u64) -> std::io::Result<()> {
            if take(&self.faults.failing_truncates) {
                return Err(std::io::Error::other("truncate failed (injected)"));
            }
            self.file.set_len(len)
        }

        fn sync(&mut self) -> std::io::Result<()> {
            self.file.sync_data()
        }
    }

    fn directory() -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("koppeltaal-journal-{}", crate::random::new_jti()));
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    fn faulty(path: &Path, capacity: usize, now: u64, faults: &Arc<Faults>) -> JournalReplayStore {
        let faults = Arc::clone(faults);
        let options = JournalOptions {
            capacity,
            sync: true,
        };
        let opener: Opener = Box::new(move |path: &Path| {
            Ok(Box::new(FaultyFile {
                file: OpenOptions::new().append(true).open(path)?,
                faults: Arc::clone(&faults),
            }) as Box<dyn JournalFile>)
        });
        JournalReplayStore::open_with(path, options, now, opener).unwrap()
    }

    fn key(n: u8) -> ReplayKey {
        ReplayKey::from_bytes([n; 12])
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_failed_write_leaves_no_trace_and_the_retry_is_accepted() {
        let directory = directory();
        let path = directory.join("replay.journal");
        let faults = Arc::new(Faults::default());
        let store = faulty(&path, 16, NOW, &faults);
        store.check_and_record(key(1), NOW + 300, NOW).unwrap();
        // The disk fills up halfway through the next record.
        faults.partial_bytes.store(11, Ordering::SeqCst);
        faults.failing_appends.store(1, Ordering::SeqCst);
        assert!(matches!(
            store.check_and_record(key(2), NOW + 300, NOW),
            Err(HostError::ReplayStoreUnavailable(_))
        ));
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            (MAGIC.len() + RECORD) as u64,
            "the partial record was cut off"
        );
        // The retry of the same launch is judged afresh: accepted, not Replayed.
        store.check_and_record(key(2), NOW + 300, NOW + 1).unwrap();
        assert!(matches!(
            store.check_and_record(key(2), NOW + 300, NOW + 2),
            Err(HostError::Core(koppeltaal_core::Error::Replayed))
        ));
        store.check_and_record(key(3), NOW + 300, NOW + 2).unwrap();
        drop(store);
        // After a restart every accepted launch is still known, and nothing else.
        let reopened =
            JournalReplayStore::open_at(&path, JournalOptions::default(), NOW + 3).unwrap();
        assert_eq!((reopened.loaded(), reopened.discarded_bytes()), (3, 0));
        for n in [1, 2, 3] {
            assert!(matches!(
                reopened.check_and_record(key(n), NOW + 300, NOW + 3),
                Err(HostError::Core(koppeltaal_core::Error::Replayed))
            ));
        }
        std::fs::remove_dir_all(directory).unwrap();
    }

    #[test]
    fn a_partial_record_that_cannot_be_cut_is_cut_before_the_next_append() {
        let directory = directory();
        let path = directory.join("replay.journal");
        let faults = Arc::new(Faults::default());
        let store = faulty(&path, 16, NOW, &faults);
        faults.partial_bytes.store(7, Ordering::SeqCst);
        faults.failing_appends.store(1, Ordering::SeqCst);
        faults.failing_truncates.store(2, Ordering::SeqCst);
        assert!(store.check_and_record(key(1), NOW + 300, NOW).is_err());
        // The cut fails again on the next call: that launch is refused too, not appended
        // after the torn bytes.
        assert!(matches!(
            store.check_and_record(key(2), NOW + 300, NOW),
            Err(HostError::ReplayStoreUnavailable(_))
        ));
        // The disk recovers: the torn bytes go, and records line up again.
        store.check_and_record(key(2), NOW + 300, NOW).unwrap();
        store.check_and_record(key(1), NOW + 300, NOW).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            (MAGIC.len() + 2 * RECORD) as u64
        );
        drop(store);
        let reopened = JournalReplayStore::open_at(&path, JournalOptions::default(), NOW).unwrap();
        assert_eq!((reopened.loaded(), reopened.discarded_bytes()), (2, 0));
        std::fs::remove_dir_all(directory).unwrap();
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_off_at_open_and_the_rest_kept() {
        let directory = directory();
        let path = directory.join("replay.journal");
        {
            let store = JournalReplayStore::open_at(&path, JournalOptions::default(), NOW).unwrap();
            for n in 1..=4 {
                store.check_and_record(key(n), NOW + 300, NOW).unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        // Corrupt the third record's forget-at, and leave a torn record after the fourth.
        bytes[MAGIC.len() + 2 * RECORD + 13] ^= 0x40;
        bytes.extend_from_slice(&encode(&key(5), NOW + 300)[..9]);
        std::fs::write(&path, &bytes).unwrap();
        let store = JournalReplayStore::open_at(&path, JournalOptions::default(), NOW).unwrap();
        assert_eq!(store.loaded(), 2, "the records before the corrupt one");
        assert_eq!(store.discarded_bytes(), (2 * RECORD + 9) as u64);
        for n in [1, 2] {
            assert!(store.check_and_record(key(n), NOW + 300, NOW).is_err());
        }
        store.check_and_record(key(5), NOW + 300, NOW).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            (MAGIC.len() + 3 * RECORD) as u64,
            "rewritten clean, then appended"
        );
        std::fs::remove_dir_all(directory).unwrap();
    }

    #[test]
    fn a_format_one_journal_is_read_and_upgraded() {
        let directory = directory();
        let path = directory.join("replay.journal");
        let mut bytes = MAGIC_V1.to_vec();
        for n in [1u8, 2] {
            bytes.extend_from_slice(&[n; 12]);
            bytes.extend_from_slice(&(NOW + 300).to_le_bytes());
        }
        std::fs::write(&path, &bytes).unwrap();
        let store = JournalReplayStore::open_at(&path, JournalOptions::default(), NOW).unwrap();
        assert_eq!(store.loaded(), 2);
        assert!(std::fs::read(&path).unwrap().starts_with(MAGIC));
        std::fs::remove_dir_all(directory).unwrap();
    }

    #[test]
    fn a_failed_compaction_does_not_refuse_the_launch_it_follows() {
        let directory = directory();
        let path = directory.join("replay.journal");
        let store = JournalReplayStore::open_at(
            &path,
            JournalOptions {
                capacity: 2,
                sync: false,
            },
            NOW,
        )
        .unwrap();
        // Compaction writes `replay.tmp` beside the journal: a directory there makes it fail.
        std::fs::create_dir(path.with_extension("tmp")).unwrap();
        store.check_and_record(key(1), NOW + 300, NOW).unwrap();
        store.check_and_record(key(2), NOW + 300, NOW).unwrap();
        assert!(store.check_and_record(key(2), NOW + 300, NOW).is_err());
        std::fs::remove_dir(path.with_extension("tmp")).unwrap();
        drop(store);
        let reopened = JournalReplayStore::open_at(&path, JournalOptions::default(), NOW).unwrap();
        assert_eq!(reopened.loaded(), 2);
        std::fs::remove_dir_all(directory).unwrap();
    }
}

//! Events on their way to the FHIR server, on disk until delivered.
//!
//! The file starts with `KTAUDIT1` and holds records, each followed by its checksum:
//! an event (`E`, sequence number, time queued, length, body), or the end of one (`D`
//! delivered, `X` dropped: sequence number). Only appended to, and fsynced before the call
//! that appended returns; at open, records are read up to the first torn or corrupt one, the
//! rest is cut off, and the file is rewritten with the events still pending.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::durable::{checksum, replace_file};
use crate::error::HostError;

/// The first bytes of an outbox.
const MAGIC: &[u8; 8] = b"KTAUDIT1";
/// The largest event body kept (an AuditEvent is about 1.1 KiB).
const MAX_EVENT: usize = 64 * 1024;

/// What an outbox does with a new event when it already holds its maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Drops the oldest pending event (reported by [`Enqueued::dropped`] and counted).
    DropOldest,
    /// Refuses the new one ([`HostError::OutboxFull`]): a module can then refuse the launch,
    /// so that no launch goes unrecorded.
    Refuse,
}

/// How an [`Outbox`] is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxOptions {
    /// The most events pending at once.
    pub max_events: usize,
    /// Pending events older than this are dropped (at open, and before each delivery).
    pub max_age: Duration,
    /// What happens to a new event when `max_events` are pending.
    pub when_full: WhenFull,
    /// fsync after every record (turn off only for tests and benchmarks).
    pub sync: bool,
}

impl Default for OutboxOptions {
    /// 10 000 events, a week, the oldest dropped when full, fsync on.
    fn default() -> Self {
        OutboxOptions {
            max_events: 10_000,
            max_age: Duration::from_secs(7 * 24 * 3600),
            when_full: WhenFull::DropOldest,
            sync: true,
        }
    }
}

/// What [`Outbox::enqueue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The new event's sequence number.
    pub sequence: u64,
    /// The sequence number of the oldest event, dropped to make room.
    pub dropped: Option<u64>,
}

/// Counts since the outbox was opened, and what is pending now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Events waiting to be delivered.
    pub pending: usize,
    /// Events queued.
    pub queued: u64,
    /// Events delivered (a 2xx).
    pub delivered: u64,
    /// Deliveries tried again after a failure.
    pub retried: u64,
    /// Events dropped: the outbox full, too old, or refused by the server for good.
    pub dropped: u64,
}

/// A pending event.
#[derive(Clone, Debug)]
struct Pending {
    sequence: u64,
    queued_at: u64,
    body: Vec<u8>,
}

struct State {
    file: File,
    path: PathBuf,
    /// The file's length up to its last complete record.
    len: u64,
    /// Bytes of the file that are pending events (the rest is history compaction removes).
    live: u64,
    next: u64,
    pending: VecDeque<Pending>,
    stats: OutboxStats,
}

/// A durable queue of AuditEvents: what [`enqueue`](Self::enqueue) accepted is on disk, and
/// stays there until [`delivered`](Self::delivered) or dropped (too old, full, refused for
/// good), across restarts. Thread-safe; share it in an `Arc`.
///
/// A crash (or power loss) can lose nothing that `enqueue` returned for, and can resend an
/// event only when it falls between the server's 2xx and the delivery record's fsync.
pub struct Outbox {
    state: Mutex<State>,
    options: OutboxOptions,
    /// Signalled when an event is queued (the sender waits on it).
    queued: Condvar,
    discarded_bytes: u64,
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`, at time `now` (Unix seconds): reads it up to
    /// the first torn or corrupt record, drops events older than `max_age`, and rewrites it
    /// with the pending events. A file that is not an outbox is [`HostError::Io`] and is left
    /// untouched.
    pub fn open(
        path: impl AsRef<Path>,
        options: OutboxOptions,
        now: u64,
    ) -> Result<Outbox, HostError> {
        let path = path.as_ref().to_path_buf();
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut file) => {
                file.read_to_end(&mut bytes)?;
            }
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
        let (mut pending, next, read) = read_records(&bytes)?;
        let mut stats = OutboxStats::default();
        let oldest = now.saturating_sub(options.max_age.as_secs());
        let before = pending.len();
        pending.retain(|event| event.queued_at >= oldest);
        stats.dropped += (before - pending.len()) as u64;
        while pending.len() > options.max_events.max(1) {
            pending.pop_front();
            stats.dropped += 1;
        }
        let mut rewritten = MAGIC.to_vec();
        for event in &pending {
            rewritten.extend_from_slice(&event_record(event));
        }
        replace_file(&path, &rewritten)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        stats.pending = pending.len();
        Ok(Outbox {
            state: Mutex::new(State {
                file,
                path,
                len: rewritten.len() as u64,
                live: rewritten.len() as u64,
                next,
                pending,
                stats,
            }),
            options,
            queued: Condvar::new(),
            discarded_bytes: bytes.len() as u64 - read,
        })
    }

    /// Bytes cut off the end at open (a torn or corrupt tail).
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded_bytes
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `event` (an AuditEvent's JSON) at `now`; on disk when this returns.
    /// [`HostError::OutboxFull`] when full and [`WhenFull::Refuse`], [`HostError::Io`] when it
    /// cannot be written (nothing is queued then), [`HostError::AuditEventTooLarge`] for an
    /// event over 64 KiB.
    pub fn enqueue(&self, event: &[u8], now: u64) -> Result<Enqueued, HostError> {
        if event.len() > MAX_EVENT {
            return Err(HostError::AuditEventTooLarge);
        }
        let mut state = self.state();
        let mut dropped = None;
        if state.pending.len() >= self.options.max_events.max(1) {
            match self.options.when_full {
                WhenFull::Refuse => return Err(HostError::OutboxFull),
                WhenFull::DropOldest => {
                    let oldest = state.pending.front().map(|event| event.sequence);
                    if let Some(sequence) = oldest {
                        self.end(&mut state, sequence, b'X')?;
                        dropped = Some(sequence);
                    }
                }
            }
        }
        let pending = Pending {
            sequence: state.next,
            queued_at: now,
            body: event.to_vec(),
        };
        let record = event_record(&pending);
        self.append(&mut state, &record)?;
        state.live += record.len() as u64;
        state.next += 1;
        state.stats.queued += 1;
        let sequence = pending.sequence;
        state.pending.push_back(pending);
        state.stats.pending = state.pending.len();
        drop(state);
        self.queued.notify_all();
        Ok(Enqueued { sequence, dropped })
    }

    /// The oldest pending event (its sequence number and body), after dropping those older
    /// than `max_age` at `now`; None when nothing is pending.
    pub fn next(&self, now: u64) -> Option<(u64, Vec<u8>)> {
        let mut state = self.state();
        let oldest = now.saturating_sub(self.options.max_age.as_secs());
        while let Some(event) = state.pending.front() {
            if event.queued_at >= oldest {
                return Some((event.sequence, event.body.clone()));
            }
            let sequence = event.sequence;
            if self.end(&mut state, sequence, b'X').is_err() {
                // Not recorded as dropped: it is tried again rather than lost silently.
                return Some((sequence, state.pending.front()?.body.clone()));
            }
        }
        None
    }

    /// Waits at most `timeout` for an event to be queued (returns at once if one is pending).
    pub fn wait(&self, timeout: Duration) {
        let state = self.state();
        let _ = self
            .queued
            .wait_timeout_while(state, timeout, |state| state.pending.is_empty());
    }

    /// Records that event `sequence` was delivered: it is not sent again, even after a
    /// restart. [`HostError::Io`] when that cannot be written (it may then be sent again).
    pub fn delivered(&self, sequence: u64) -> Result<(), HostError> {
        let mut state = self.state();
        self.end(&mut state, sequence, b'D')
    }

    /// Records that event `sequence` is dropped (the server refused it for good).
    pub fn dropped(&self, sequence: u64) -> Result<(), HostError> {
        let mut state = self.state();
        self.end(&mut state, sequence, b'X')
    }

    /// Whether a new event would be refused ([`WhenFull::Refuse`] and `max_events` pending): a
    /// module that must not let a launch go unrecorded refuses the launch instead.
    pub fn refuses_new_events(&self) -> bool {
        self.options.when_full == WhenFull::Refuse
            && self.state().pending.len() >= self.options.max_events.max(1)
    }

    /// Counts a delivery tried again.
    pub fn retried(&self) {
        self.state().stats.retried += 1;
    }

    /// The counts, and what is pending.
    pub fn stats(&self) -> OutboxStats {
        self.state().stats
    }

    /// Ends event `sequence` with a `D` (delivered) or `X` (dropped) record; compacts the
    /// file when most of it is history.
    fn end(&self, state: &mut State, sequence: u64, kind: u8) -> Result<(), HostError> {
        let Some(index) = state.pending.iter().position(|e| e.sequence == sequence) else {
            return Ok(());
        };
        let mut record = vec![kind];
        record.extend_from_slice(&sequence.to_le_bytes());
        let check = checksum(&record);
        record.extend_from_slice(&check);
        self.append(state, &record)?;
        let event = state.pending.remove(index).expect("the index was found");
        state.live -= event_record(&event).len() as u64;
        state.stats.pending = state.pending.len();
        match kind {
            b'D' => state.stats.delivered += 1,
            _ => state.stats.dropped += 1,
        }
        if state.len > 4 * state.live.max(64 * 1024) {
            self.compact(state);
        }
        Ok(())
    }

    /// Appends `record` and fsyncs; on failure cuts the file back to its last whole record.
    fn append(&self, state: &mut State, record: &[u8]) -> Result<(), HostError> {
        let written = state
            .file
            .write_all(record)
            .and_then(|()| match self.options.sync {
                true => state.file.sync_data(),
                false => Ok(()),
            });
        match written {
            Ok(()) => {
                state.len += record.len() as u64;
                Ok(())
            }
            Err(error) => {
                let _ = state.file.set_len(state.len);
                Err(error.into())
            }
        }
    }

    /// Rewrites the file with the pending events only. On failure the old file stays.
    fn compact(&self, state: &mut State) {
        let mut bytes = MAGIC.to_vec();
        for event in &state.pending {
            bytes.extend_from_slice(&event_record(event));
        }
        if replace_file(&state.path, &bytes).is_err() {
            return;
        }
        if let Ok(file) = OpenOptions::new().append(true).open(&state.path) {
            state.file = file;
            state.len = bytes.len() as u64;
            state.live = state.len;
        }
    }
}

/// An event's record: `E`, sequence, time queued, length, body, checksum.
fn event_record(event: &Pending) -> Vec<u8> {
    let mut record = Vec::with_capacity(21 + event.body.len() + 4);
    record.push(b'E');
    record.extend_from_slice(&event.sequence.to_le_bytes());
    record.extend_from_slice(&event.queued_at.to_le_bytes());
    record.extend_from_slice(&(event.body.len() as u32).to_le_bytes());
    record.extend_from_slice(&event.body);
    let check = checksum(&record);
    record.extend_from_slice(&check);
    record
}

/// The pending events of an outbox's bytes, the next sequence number, and how many bytes
/// were read as whole records (the rest is a torn or corrupt tail).
fn read_records(bytes: &[u8]) -> Result<(VecDeque<Pending>, u64, u64), HostError> {
    let mut pending: VecDeque<Pending> = VecDeque::new();
    if bytes.is_empty() {
        return Ok((pending, 0, 0));
    }
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(HostError::Io(std::io::Error::new(
            ErrorKind::InvalidData,
            "not an audit outbox (no KTAUDIT1 header)",
        )));
    }
    let mut at = MAGIC.len();
    let mut next = 0u64;
    loop {
        let rest = &bytes[at..];
        let length = match rest.first() {
            Some(b'E') if rest.len() >= 21 => {
                let body = u32::from_le_bytes(rest[17..21].try_into().expect("4 bytes")) as usize;
                if body > MAX_EVENT {
                    break;
                }
                21 + body
            }
            Some(b'D' | b'X') => 9,
            _ => break,
        };
        if rest.len() < length + 4 || checksum(&rest[..length]) != rest[length..length + 4] {
            break;
        }
        let sequence = u64::from_le_bytes(rest[1..9].try_into().expect("8 bytes"));
        match rest[0] {
            b'E' => {
                pending.push_back(Pending {
                    sequence,
                    queued_at: u64::from_le_bytes(rest[9..17].try_into().expect("8 bytes")),
                    body: rest[21..length].to_vec(),
                });
                next = next.max(sequence + 1);
            }
            _ => pending.retain(|event| event.sequence != sequence),
        }
        at += length + 4;
    }
    Ok((pending, next, at as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> PathBuf {
        std::env::temp_dir().join(format!("koppeltaal-outbox-{}", crate::random::new_jti()))
    }

    fn options() -> OutboxOptions {
        OutboxOptions {
            max_events: 4,
            max_age: Duration::from_secs(3600),
            ..OutboxOptions::default()
        }
    }

    fn bodies(outbox: &Outbox) -> Vec<Vec<u8>> {
        outbox
            .state()
            .pending
            .iter()
            .map(|e| e.body.clone())
            .collect()
    }

    #[test]
    fn what_was_queued_and_not_delivered_is_there_after_a_restart() {
        let path = path();
        let outbox = Outbox::open(&path, options(), 1000).unwrap();
        let first = outbox.enqueue(b"one", 1000).unwrap();
        let second = outbox.enqueue(b"two", 1001).unwrap();
        outbox.enqueue(b"three", 1002).unwrap();
        assert_eq!(outbox.next(1003), Some((first.sequence, b"one".to_vec())));
        outbox.delivered(first.sequence).unwrap();
        outbox.dropped(second.sequence).unwrap();
        assert_eq!(
            outbox.stats(),
            OutboxStats {
                pending: 1,
                queued: 3,
                delivered: 1,
                retried: 0,
                dropped: 1
            }
        );
        drop(outbox);
        let reopened = Outbox::open(&path, options(), 1010).unwrap();
        assert_eq!(bodies(&reopened), [b"three".to_vec()]);
        assert_eq!(reopened.discarded_bytes(), 0);
        // Numbers go on after the last one; nothing delivered comes back.
        let fourth = reopened.enqueue(b"four", 1011).unwrap();
        assert!(fourth.sequence > first.sequence + 2);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_and_the_whole_records_kept() {
        let path = path();
        let outbox = Outbox::open(&path, options(), 1000).unwrap();
        outbox.enqueue(b"kept", 1000).unwrap();
        outbox.enqueue(b"torn", 1000).unwrap();
        drop(outbox);
        let bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        // Every cut inside the second record keeps the first; a flipped byte in it too.
        let second = MAGIC.len()
            + event_record(&Pending {
                sequence: 0,
                queued_at: 0,
                body: b"kept".to_vec(),
            })
            .len();
        for cut in second + 1..whole {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let outbox = Outbox::open(&path, options(), 1000).unwrap();
            assert_eq!(bodies(&outbox), [b"kept".to_vec()], "cut at {cut}");
            assert_eq!(outbox.discarded_bytes(), (cut - second) as u64);
        }
        let mut flipped = bytes.clone();
        flipped[second + 22] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        let outbox = Outbox::open(&path, options(), 1000).unwrap();
        assert_eq!(bodies(&outbox), [b"kept".to_vec()]);
        // Not an outbox: an error, and the file is left as it was.
        std::fs::write(&path, b"KTRPLY02 something else").unwrap();
        assert!(matches!(
            Outbox::open(&path, options(), 1000),
            Err(HostError::Io(_))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"KTRPLY02 something else");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_full_outbox_drops_its_oldest_or_refuses_as_configured() {
        let path = path();
        let outbox = Outbox::open(&path, options(), 1000).unwrap();
        let first = outbox.enqueue(b"0", 1000).unwrap();
        for n in 1..4 {
            assert_eq!(
                outbox
                    .enqueue(n.to_string().as_bytes(), 1000)
                    .unwrap()
                    .dropped,
                None
            );
        }
        let fifth = outbox.enqueue(b"4", 1000).unwrap();
        assert_eq!(fifth.dropped, Some(first.sequence));
        assert_eq!(
            bodies(&outbox),
            [b"1", b"2", b"3", b"4"].map(|b| b.to_vec())
        );
        assert_eq!(outbox.stats().dropped, 1);
        drop(outbox);
        let refusing = OutboxOptions {
            when_full: WhenFull::Refuse,
            ..options()
        };
        let outbox = Outbox::open(&path, refusing, 1000).unwrap();
        assert!(matches!(
            outbox.enqueue(b"5", 1000),
            Err(HostError::OutboxFull)
        ));
        assert_eq!(bodies(&outbox).len(), 4, "nothing was dropped for it");
        assert!(matches!(
            outbox.enqueue(&vec![b'x'; MAX_EVENT + 1], 1000),
            Err(HostError::AuditEventTooLarge)
        ));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn events_older_than_max_age_are_dropped_and_counted() {
        let path = path();
        let outbox = Outbox::open(&path, options(), 1000).unwrap();
        outbox.enqueue(b"old", 1000).unwrap();
        outbox.enqueue(b"new", 4000).unwrap();
        assert_eq!(
            outbox.next(4700).map(|(_, body)| body),
            Some(b"new".to_vec())
        );
        assert_eq!(outbox.stats().dropped, 1);
        drop(outbox);
        let outbox = Outbox::open(&path, options(), 8000).unwrap();
        assert_eq!(outbox.next(8000), None, "dropped at open too");
        assert_eq!(outbox.stats().dropped, 1);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn history_is_compacted_away_and_pending_events_survive_it() {
        let path = path();
        let outbox = Outbox::open(&path, options(), 1000).unwrap();
        let body = vec![b'e'; 8 * 1024];
        let kept = outbox.enqueue(b"kept", 1000).unwrap();
        for _ in 0..64 {
            let sent = outbox.enqueue(&body, 1000).unwrap();
            outbox.delivered(sent.sequence).unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len < 4 * 64 * 1024 + 8 * 1024, "compacted: {len} bytes");
        drop(outbox);
        let outbox = Outbox::open(&path, options(), 1000).unwrap();
        assert_eq!(outbox.next(1000), Some((kept.sequence, b"kept".to_vec())));
        let _ = std::fs::remove_file(&path);
    }
}

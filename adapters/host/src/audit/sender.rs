//! Delivers an outbox's events to the FHIR server, in the background.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Outbox;
use crate::clock::Clock;
use crate::error::HostError;
use crate::fhir::FhirClient;
use crate::trace::TraceContext;

/// How an [`AuditSender`] retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderOptions {
    /// The wait after a first failure; doubled after each further one.
    pub first_backoff: Duration,
    /// The longest wait between two tries.
    pub max_backoff: Duration,
}

impl Default for SenderOptions {
    /// 1 s, doubling up to a minute.
    fn default() -> Self {
        SenderOptions {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// A thread POSTing each pending event of an [`Outbox`] to `<fhir-base>/AuditEvent`, oldest
/// first, one at a time, with the client's access token and the trace headers (the event's
/// `request-id` as `X-Correlation-Id`).
///
/// A 2xx marks the event delivered: it is never sent again. A timeout, a connection failure,
/// a 5xx, a 408, a 429 or a 401 that a fresh token did not cure (the [`FhirClient`] renews
/// it once) is tried again after a backoff, the event staying first in line. Any other 4xx
/// means the server will never take the event: it is dropped and counted, so that one bad
/// event cannot hold up the rest. A request that timed out after the server had stored the
/// event is sent again: the server may then hold it twice.
pub struct AuditSender {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl AuditSender {
    /// Starts delivering `outbox`'s events to `fhir_base` with `fhir`.
    pub fn start(
        outbox: Arc<Outbox>,
        fhir: FhirClient,
        fhir_base: &str,
        clock: impl Clock + 'static,
        options: SenderOptions,
    ) -> std::io::Result<AuditSender> {
        AuditSender::start_reporting(outbox, fhir, fhir_base, clock, options, |_: &str| {})
    }

    /// [`start`](Self::start), calling `report` with a sentence whenever the sender drops
    /// events (refused for good by the server, or older than the outbox keeps): for a log line.
    pub fn start_reporting(
        outbox: Arc<Outbox>,
        fhir: FhirClient,
        fhir_base: &str,
        clock: impl Clock + 'static,
        options: SenderOptions,
        report: impl Fn(&str) + Send + 'static,
    ) -> std::io::Result<AuditSender> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let url = format!("{}/AuditEvent", fhir_base.trim_end_matches('/'));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("koppeltaal-audit".into())
                .spawn(move || deliver(&outbox, &fhir, &url, &clock, &options, &stop, &report))?
        };
        Ok(AuditSender {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops after the delivery in flight (bounded by the HTTP client's timeout); what is
    /// still pending stays in the outbox for the next start.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for AuditSender {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The `request-id` extension of an AuditEvent's JSON, if it has one.
fn request_id_of(event: &[u8]) -> Option<String> {
    let event: serde_json::Value = serde_json::from_slice(event).ok()?;
    event["extension"].as_array()?.iter().find_map(|extension| {
        let url = extension["url"].as_str()?;
        url.ends_with("/request-id")
            .then(|| extension["valueId"].as_str().map(str::to_owned))
            .flatten()
    })
}

/// Whether the server will never take this event: a 4xx other than 401, 408 and 429.
fn refused_for_good(error: &HostError) -> bool {
    matches!(error, HostError::Refused { status, .. }
        if (400..500).contains(status) && ![401, 408, 429].contains(status))
}

fn deliver(
    outbox: &Outbox,
    fhir: &FhirClient,
    url: &str,
    clock: &dyn Clock,
    options: &SenderOptions,
    stop: &(Mutex<bool>, Condvar),
    report: &dyn Fn(&str),
) {
    let stopped = || *stop.0.lock().unwrap_or_else(|e| e.into_inner());
    let mut backoff = options.first_backoff;
    while !stopped() {
        let dropped_before = outbox.stats().dropped;
        let next = outbox.next(clock.now());
        let expired = outbox.stats().dropped - dropped_before;
        if expired > 0 {
            report(&format!(
                "{expired} audit event(s) older than the outbox keeps dropped undelivered"
            ));
        }
        let Some((sequence, event)) = next else {
            outbox.wait(Duration::from_millis(200));
            continue;
        };
        // The post is caused by the launch request the event records: it carries that
        // request's id as its X-Correlation-Id.
        let context = request_id_of(&event).map(|id| TraceContext::new(&id, None));
        let posted = match &context {
            Some(context) => context.enter(|| fhir.post(url, &event)),
            None => fhir.post(url, &event),
        };
        match posted {
            Ok(_) => {
                // Failing to record it means it may be sent once more after a restart; there
                // is nothing better to do than go on.
                let _ = outbox.delivered(sequence);
                backoff = options.first_backoff;
            }
            Err(error) if refused_for_good(&error) => {
                let _ = outbox.dropped(sequence);
                report(&format!(
                    "audit event {sequence} refused by the FHIR server for good, dropped: {error}"
                ));
            }
            Err(_) => {
                outbox.retried();
                let guard = stop.0.lock().unwrap_or_else(|e| e.into_inner());
                let _ = stop
                    .1
                    .wait_timeout_while(guard, backoff, |stopped| !*stopped);
                backoff = (backoff * 2).min(options.max_backoff);
            }
        }
    }
}

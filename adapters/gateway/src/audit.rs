//! The Launched AuditEvent Koppeltaal asks for (TOP-KT-011, TOP-KT-012c): one per launch
//! outcome, HTI and SHOF, accepted or refused, queued in the host's outbox before the answer
//! goes out, and delivered to the FHIR server in the background.

use std::fmt::Write as _;
use std::sync::Arc;

use koppeltaal_host::audit::{AuditOutcome, AuditSender, LaunchAudit, Outbox, SenderOptions};
use koppeltaal_host::fhir::FhirClient;
use koppeltaal_host::{Clock, SystemClock};

use crate::log::{Event, log_line};

/// What a gateway needs to record launches at the Koppeltaal FHIR server.
pub struct Audit {
    /// Where events wait until delivered (a file: they survive restarts).
    pub outbox: Arc<Outbox>,
    /// Posts them, with the module's access token.
    pub fhir: FhirClient,
    /// The FHIR server's base URL (`<base>/AuditEvent`).
    pub fhir_base: String,
    /// This module, `Device/<id>`: the events' agent and observer.
    pub device: String,
    /// This module's domain name: the events' `source.site`.
    pub site: String,
    /// How delivery is retried.
    pub sender: SenderOptions,
}

/// The gateway's side: turns each reported launch outcome into an event in the outbox.
pub(crate) struct AuditLog {
    outbox: Arc<Outbox>,
    device: String,
    site: String,
}

impl Audit {
    /// Starts the sender; returns the recording side for the routes.
    pub(crate) fn start(self) -> std::io::Result<(AuditLog, AuditSender)> {
        let sender = AuditSender::start_reporting(
            Arc::clone(&self.outbox),
            self.fhir,
            &self.fhir_base,
            SystemClock,
            self.sender,
            |sentence: &str| log_line(format_args!("koppeltaal serve: {sentence}")),
        )?;
        let log = AuditLog {
            outbox: self.outbox,
            device: self.device,
            site: self.site,
        };
        Ok((log, sender))
    }
}

impl AuditLog {
    /// Queues the event of `event` (nothing for a SHOF launch only started: its event comes
    /// when it returns). A failure to queue is logged; the launch's answer does not wait on
    /// the FHIR server either way.
    pub(crate) fn record(&self, event: &Event<'_>) {
        let outcome = match (event.outcome, event.own_fault) {
            ("started", _) => return,
            ("accepted", _) => AuditOutcome::Success,
            ("failed", _) | (_, true) => AuditOutcome::Failed,
            _ => AuditOutcome::Refused,
        };
        let mut description = None;
        if outcome != AuditOutcome::Success {
            let mut text = format!("{} {}", event.code, event.name);
            if let Some(detail) = &event.detail {
                let _ = write!(text, ": {detail}");
            }
            description = Some(text);
        }
        let now = SystemClock.now();
        let audit = LaunchAudit::new(&self.device, &self.site, now)
            .with_outcome(outcome, description.as_deref())
            .task(event.task)
            .launch_id(event.launch_id)
            .request(event.request_id, event.correlation_id);
        let json = audit.to_json().to_string();
        match self.outbox.enqueue(json.as_bytes(), now) {
            Ok(queued) => {
                if let Some(dropped) = queued.dropped {
                    log_line(format_args!(
                        "koppeltaal serve: the audit outbox is full: event {dropped} dropped"
                    ));
                }
            }
            Err(error) => log_line(format_args!(
                "koppeltaal serve: audit event of request {} not queued: {error}",
                event.request_id
            )),
        }
    }

    /// `OutboxFull` when the outbox refuses new events: the launch is then refused before it is
    /// recorded, rather than accepted without its event.
    pub(crate) fn check_room(&self) -> Result<(), koppeltaal_host::LaunchError> {
        match self.outbox.refuses_new_events() {
            true => Err(koppeltaal_host::HostError::OutboxFull.into()),
            false => Ok(()),
        }
    }

    /// The outbox's counts, as Prometheus lines.
    pub(crate) fn render(&self, out: &mut String) {
        let stats = self.outbox.stats();
        let _ = writeln!(
            out,
            "# HELP koppeltaal_audit_events_total Launched AuditEvents, by what became of them."
        );
        let _ = writeln!(out, "# TYPE koppeltaal_audit_events_total counter");
        for (state, count) in [
            ("queued", stats.queued),
            ("delivered", stats.delivered),
            ("retried", stats.retried),
            ("dropped", stats.dropped),
        ] {
            let _ = writeln!(
                out,
                "koppeltaal_audit_events_total{{state=\"{state}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP koppeltaal_audit_pending Events in the outbox, not yet delivered."
        );
        let _ = writeln!(out, "# TYPE koppeltaal_audit_pending gauge");
        let _ = writeln!(out, "koppeltaal_audit_pending {}", stats.pending);
    }
}

//! What Koppeltaal asks a module to record of every launch it receives (TOP-KT-011 and
//! TOP-KT-012c): a *Launched* AuditEvent, accepted or refused, POSTed to the Koppeltaal FHIR
//! server, and delivered without loss.
//!
//! - [`LaunchAudit`] builds the event (profile KT2AuditEvent) from a launch or a refusal.
//! - [`Outbox`] keeps events on disk until they are delivered: appended and fsynced before
//!   [`enqueue`](Outbox::enqueue) returns, torn tails cut at open, bounded in count and age.
//! - [`AuditSender`] delivers them in the background with a [`FhirClient`](crate::fhir::FhirClient),
//!   retrying with backoff, never again after a 2xx.

mod event;
mod outbox;
mod sender;

pub use event::{AuditOutcome, KT2_AUDIT_EVENT, LaunchAudit};
pub use outbox::{Enqueued, Outbox, OutboxOptions, OutboxStats, WhenFull};
pub use sender::{AuditSender, SenderOptions};

//! The Launched AuditEvent: what a module records of a launch, in the KT2AuditEvent profile.

use koppeltaal_core::HtiLaunch;
use serde_json::{Map, Value, json};

use crate::launch::{LaunchError, LaunchErrorKind};

/// The profile every event claims (`meta.profile`).
pub const KT2_AUDIT_EVENT: &str = "http://koppeltaal.nl/fhir/StructureDefinition/KT2AuditEvent";

/// DICOM's code system, for the event's type, subtype and agent type.
const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
/// Koppeltaal's trace extensions.
const EXTENSION: &str = "http://koppeltaal.nl/fhir/StructureDefinition/";

/// How a launch ended, as `AuditEvent.outcome` codes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditOutcome {
    /// `0`: accepted.
    Success,
    /// `4`: refused because of the launch (invalid, expired, replayed, for another module...).
    Refused,
    /// `8`: refused because of the module's own fault (replay store or application down).
    Failed,
}

impl AuditOutcome {
    /// The FHIR code: `0`, `4` or `8`.
    pub fn code(self) -> &'static str {
        match self {
            AuditOutcome::Success => "0",
            AuditOutcome::Refused => "4",
            AuditOutcome::Failed => "8",
        }
    }
}

/// One launch's AuditEvent, built from what the module knows of it.
///
/// ```
/// use koppeltaal_host::audit::{AuditOutcome, LaunchAudit};
/// use koppeltaal_host::{HostError, LaunchError};
/// let refused = LaunchError::from(HostError::Core(koppeltaal_host::core::Error::Replayed));
/// let event = LaunchAudit::new("Device/42", "module.example.org", 1_700_000_000)
///     .refused(&refused)
///     .launch_id(Some("6f1c..."))
///     .request("5d0a1e34-...", None)
///     .to_json();
/// assert_eq!(event["outcome"], "4");
/// assert_eq!(event["outcomeDesc"], "600 Replayed: token has been used before");
/// assert_eq!(event["agent"][0]["who"]["reference"], "Device/42");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchAudit {
    device: String,
    site: String,
    recorded: u64,
    outcome: AuditOutcome,
    outcome_desc: Option<String>,
    task: Option<String>,
    launch_id: Option<String>,
    request_id: Option<String>,
    correlation_id: Option<String>,
}

impl LaunchAudit {
    /// An accepted launch's event, recorded at `recorded` (Unix seconds) by the module that
    /// is `device` (`Device/<id>`) at the domain name `site`.
    pub fn new(device: &str, site: &str, recorded: u64) -> LaunchAudit {
        LaunchAudit {
            device: device.to_owned(),
            site: site.to_owned(),
            recorded,
            outcome: AuditOutcome::Success,
            outcome_desc: None,
            task: None,
            launch_id: None,
            request_id: None,
            correlation_id: None,
        }
    }

    /// The event of `launch`, accepted: its Task as the entity, its `jti` as the trace id.
    pub fn accepted(mut self, launch: &HtiLaunch) -> LaunchAudit {
        self.outcome = AuditOutcome::Success;
        self.outcome_desc = None;
        self.task = Some(launch.resource().to_owned());
        self.launch_id = Some(launch.token_id().to_owned());
        self
    }

    /// The event of a refused launch: outcome `8` when the fault is the module's
    /// ([`LaunchErrorKind::Temporary`]), else `4`; the code, name and reason as `outcomeDesc`.
    pub fn refused(mut self, error: &LaunchError) -> LaunchAudit {
        self.outcome = match error.kind() {
            LaunchErrorKind::Temporary => AuditOutcome::Failed,
            _ => AuditOutcome::Refused,
        };
        self.outcome_desc = Some(format!(
            "{} {}: {}",
            error.code(),
            error.name(),
            error.reason()
        ));
        self
    }

    /// An accepted launch the module could not serve after all (its application down):
    /// outcome `8` with `description`.
    pub fn failed(mut self, description: &str) -> LaunchAudit {
        self.outcome = AuditOutcome::Failed;
        self.outcome_desc = Some(description.to_owned());
        self
    }

    /// The outcome and its description, set directly (for a caller that has no
    /// [`LaunchError`] at hand, such as a gateway reporting what it logged).
    pub fn with_outcome(mut self, outcome: AuditOutcome, description: Option<&str>) -> LaunchAudit {
        self.outcome = outcome;
        self.outcome_desc = description.map(str::to_owned);
        self
    }

    /// The launch's Task (`Task/<id>`), when known (a refused launch whose claims were read).
    pub fn task(mut self, task: Option<&str>) -> LaunchAudit {
        self.task = task.map(str::to_owned);
        self
    }

    /// The launch's `jti`, the event's trace id, when the token could be read.
    pub fn launch_id(mut self, jti: Option<&str>) -> LaunchAudit {
        self.launch_id = jti.map(str::to_owned);
        self
    }

    /// The id of the request that brought the launch, and the id it correlates with.
    pub fn request(mut self, request_id: &str, correlation_id: Option<&str>) -> LaunchAudit {
        self.request_id = Some(request_id.to_owned());
        self.correlation_id = correlation_id.map(str::to_owned);
        self
    }

    /// The outcome.
    pub fn outcome(&self) -> AuditOutcome {
        self.outcome
    }

    /// The AuditEvent resource. Only references identify anyone: no names, no token.
    pub fn to_json(&self) -> Value {
        let coding =
            |code: &str, display: &str| json!({"system": DCM, "code": code, "display": display});
        let mut extension = Vec::new();
        for (name, value) in [
            ("trace-id", &self.launch_id),
            ("request-id", &self.request_id),
            ("correlation-id", &self.correlation_id),
        ] {
            if let Some(value) = value {
                extension
                    .push(json!({"url": format!("{EXTENSION}{name}"), "valueId": fhir_id(value)}));
            }
        }
        let mut entity = Map::new();
        entity.insert(
            "type".into(),
            json!({"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                   "code": "2", "display": "System Object"}),
        );
        if let Some(task) = &self.task {
            entity.insert("what".into(), json!({"reference": task}));
        }
        let mut event = json!({
            "resourceType": "AuditEvent",
            "meta": {"profile": [KT2_AUDIT_EVENT]},
            "type": coding("110100", "Application Activity"),
            "subtype": [coding("110120", "Application Start")],
            "action": "E",
            "recorded": crate::clock::rfc3339(self.recorded),
            "outcome": self.outcome.code(),
            "agent": [{
                "type": {"coding": [coding("110150", "Application")]},
                "who": {"reference": self.device},
                "requestor": false,
            }],
            "source": {
                "site": self.site,
                "observer": {"reference": self.device},
            },
            "entity": [entity],
        });
        if let Some(description) = &self.outcome_desc {
            event["outcomeDesc"] = description.as_str().into();
        }
        if !extension.is_empty() {
            event["extension"] = extension.into();
        }
        event
    }
}

/// `value` as a FHIR `id` (1 to 64 of `A-Za-z0-9-.`): other characters become `-`, the rest
/// is cut. A UUID, as Koppeltaal advises for every id, passes unchanged.
fn fhir_id(value: &str) -> String {
    let id: String = value
        .chars()
        .take(64)
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' => c,
            _ => '-',
        })
        .collect();
    if id.is_empty() { "-".into() } else { id }
}

//! The gateway's counters, rendered in the Prometheus text format at `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What happened to launches, and how long they took.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Launches by flow (`hti`, `shof` returns, `shof_start`), code (0 accepted) and name.
    outcomes: Mutex<BTreeMap<(&'static str, u16, &'static str), u64>>,
    /// Cumulative bucket counts of the launch latency, then its sum (µs) and count.
    buckets: [AtomicU64; BUCKETS.len()],
    latency_micros: AtomicU64,
    latency_count: AtomicU64,
    /// Answers of the upstream application by status, and failures to reach it.
    upstream: Mutex<BTreeMap<u16, u64>>,
    upstream_failures: AtomicU64,
}

impl Metrics {
    /// Counts one launch of `flow` that ended with `code` (`name`) after `took`.
    pub(crate) fn launch(&self, flow: &'static str, code: u16, name: &'static str, took: Duration) {
        *self
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((flow, code, name))
            .or_insert(0) += 1;
        let seconds = took.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros.fetch_add(micros, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an answer of the upstream application.
    pub(crate) fn upstream(&self, status: u16) {
        *self
            .upstream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(status)
            .or_insert(0) += 1;
    }

    /// Counts a failure to reach the upstream application (down or too slow).
    pub(crate) fn upstream_failure(&self) {
        self.upstream_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the JWKS fetches counted elsewhere.
    pub(crate) fn render(&self, jwks_fetches: u64) -> String {
        let mut out = String::new();
        let outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP koppeltaal_launches_total Launches received, by flow (hti, shof_start, shof) and outcome code (0: accepted or started)."
        );
        let _ = writeln!(out, "# TYPE koppeltaal_launches_total counter");
        for ((flow, code, name), count) in outcomes.iter() {
            let _ = writeln!(
                out,
                "koppeltaal_launches_total{{flow=\"{flow}\",code=\"{code}\",name=\"{name}\"}} {count}"
            );
        }
        let replay_store_errors: u64 = outcomes
            .iter()
            .filter(|((_, code, _), _)| matches!(code, 601 | 913))
            .map(|(_, count)| count)
            .sum();
        drop(outcomes);
        let _ = writeln!(
            out,
            "# HELP koppeltaal_launch_duration_seconds Time from a complete request to its answer, every outcome."
        );
        let _ = writeln!(out, "# TYPE koppeltaal_launch_duration_seconds histogram");
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "koppeltaal_launch_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "koppeltaal_launch_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "koppeltaal_launch_duration_seconds_sum {}",
            self.latency_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "koppeltaal_launch_duration_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP koppeltaal_replay_store_errors_total Launches refused because the replay store failed or was full."
        );
        let _ = writeln!(out, "# TYPE koppeltaal_replay_store_errors_total counter");
        let _ = writeln!(
            out,
            "koppeltaal_replay_store_errors_total {replay_store_errors}"
        );
        let _ = writeln!(
            out,
            "# HELP koppeltaal_jwks_fetches_total Fetches of issuers' JWKS documents."
        );
        let _ = writeln!(out, "# TYPE koppeltaal_jwks_fetches_total counter");
        let _ = writeln!(out, "koppeltaal_jwks_fetches_total {jwks_fetches}");
        let _ = writeln!(
            out,
            "# HELP koppeltaal_upstream_responses_total Answers of the application, by status."
        );
        let _ = writeln!(out, "# TYPE koppeltaal_upstream_responses_total counter");
        for (status, count) in self
            .upstream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "koppeltaal_upstream_responses_total{{status=\"{status}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP koppeltaal_upstream_failures_total Accepted launches the application could not be reached for."
        );
        let _ = writeln!(out, "# TYPE koppeltaal_upstream_failures_total counter");
        let _ = writeln!(
            out,
            "koppeltaal_upstream_failures_total {}",
            self.upstream_failures.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.launch("hti", 0, "Accepted", Duration::from_millis(3));
        metrics.launch("hti", 600, "Replayed", Duration::from_millis(30));
        metrics.launch("hti", 913, "ReplayStoreUnavailable", Duration::from_secs(2));
        metrics.upstream(303);
        let text = metrics.render(4);
        assert!(
            text.contains("koppeltaal_launches_total{flow=\"hti\",code=\"0\",name=\"Accepted\"} 1")
        );
        assert!(text.contains("koppeltaal_launch_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("koppeltaal_launch_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("koppeltaal_launch_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("koppeltaal_replay_store_errors_total 1"));
        assert!(text.contains("koppeltaal_jwks_fetches_total 4"));
        assert!(text.contains("koppeltaal_upstream_responses_total{status=\"303\"} 1"));
    }
}

//! Metrics, in the Prometheus text format: requests by route template,
//! method and status, with latency histograms; the database pools' size, use and waits; and, set
//! when scraped, the audit chain's head, the age of the last signed checkpoint, overdue returns
//! and reminders sent. The registry is the process's (`metrics` with its Prometheus exporter):
//! several services in one process share it. This module names nothing of the crate, so every
//! layer can record.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's registry, installed on first use; `None` if another recorder was installed
/// first (then nothing is recorded here).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new().set_buckets(&BUCKETS).and_then(|b| b.install_recorder());
            installed.map_err(|e| log::warn!("metrics are off: {e}")).ok()
        })
        .as_ref()
}

/// A request answered: `route` is the template it matched (`/api/v1/awards/{id}`), never the
/// path itself, so that ids do not become labels. The label writes a parameter as `:id`
/// (`/api/v1/awards/:id`): braces in a label value are valid, but some scrape tools' parsers
/// stop at the first `}`.
pub fn request(route: &str, method: &str, status: u16, took: Duration) {
    let labels = [("route", route_label(route)), ("method", method.to_string())];
    metrics::counter!("grants_http_requests_total", &[&labels[..], &[("status", status.to_string())]].concat())
        .increment(1);
    metrics::histogram!("grants_http_request_duration_seconds", &labels).record(took.as_secs_f64());
}

/// `/a/{id}/b` as `/a/:id/b`.
fn route_label(template: &str) -> String {
    template.replace('{', ":").replace('}', "")
}

/// A wait for a connection of `pool` (`request` or `long_read`), and whether one came.
pub fn pool_wait(pool: &'static str, took: Duration, got: bool) {
    metrics::histogram!("grants_db_pool_wait_seconds", "pool" => pool).record(took.as_secs_f64());
    if !got {
        metrics::counter!("grants_db_pool_timeouts_total", "pool" => pool).increment(1);
    }
}

/// A pool's state when scraped.
pub struct PoolState {
    pub name: &'static str,
    pub size: u32,
    pub open: u32,
    pub idle: u32,
}

/// What is read when scraped.
pub struct Snapshot {
    pub pools: Vec<PoolState>,
    /// The chain's last event (`0` when empty).
    pub audit_head_seq: i64,
    /// Seconds since the last signed checkpoint; `None` before the first.
    pub checkpoint_age_seconds: Option<f64>,
    /// Events after the last checkpoint.
    pub unsealed_events: i64,
    /// With a signer, whether it refuses to sign (the database no longer holds what it signed).
    pub signer_refusing: Option<bool>,
    /// Returns due and not received, today.
    pub overdue_returns: u64,
    /// Reminders ever sent.
    pub reminders_sent: u64,
    /// With a read replica configured, whether reads go to it (`1`) or, since it could not be
    /// reached, to the primary (`0`).
    pub replica_up: Option<bool>,
}

/// The registry in the Prometheus text format, with `snapshot`'s gauges set.
pub fn render(snapshot: &Snapshot) -> String {
    let Some(handle) = handle() else { return String::new() };
    for p in &snapshot.pools {
        metrics::gauge!("grants_db_pool_size", "pool" => p.name).set(p.size);
        metrics::gauge!("grants_db_pool_connections", "pool" => p.name).set(p.open);
        metrics::gauge!("grants_db_pool_in_use", "pool" => p.name).set(p.open.saturating_sub(p.idle));
    }
    metrics::gauge!("grants_audit_head_seq").set(snapshot.audit_head_seq as f64);
    metrics::gauge!("grants_audit_unsealed_events").set(snapshot.unsealed_events as f64);
    if let Some(age) = snapshot.checkpoint_age_seconds {
        metrics::gauge!("grants_audit_checkpoint_age_seconds").set(age);
    }
    if let Some(refusing) = snapshot.signer_refusing {
        metrics::gauge!("grants_audit_signer_refusing").set(f64::from(u8::from(refusing)));
    }
    metrics::gauge!("grants_returns_overdue").set(snapshot.overdue_returns as f64);
    metrics::counter!("grants_reminders_sent_total").absolute(snapshot.reminders_sent);
    if let Some(up) = snapshot.replica_up {
        metrics::gauge!("grants_replica_up").set(f64::from(u8::from(up)));
    }
    handle.render()
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_parameters_are_written_without_braces() {
        assert_eq!(super::route_label("/api/v1/awards/{id}/variations/{vid}"), "/api/v1/awards/:id/variations/:vid");
        assert_eq!(super::route_label("unmatched"), "unmatched");
    }
}

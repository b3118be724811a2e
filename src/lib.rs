//! The grants service: a ledger of crime and disorder reduction grants for an Office of the
//! Police and Crime Commissioner. `startup::Application` builds and serves the HTTP application;
//! `main.rs` is only the command line.

pub mod audit;
pub mod awards;
pub mod canonical;
pub mod client_address;
pub mod config;
pub mod db;
pub mod decisions;
pub mod delivery;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod error;
pub mod exports;
pub mod funds;
pub mod histories;
pub mod http;
pub mod imports;
pub mod logs;
pub mod openapi;
pub mod payments;
pub mod plans;
pub mod programmes;
pub mod ratelimit;
pub mod recipients;
pub mod repayments;
pub mod reports;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod variations;
pub mod web;

/// Locks `mutex` even when a thread panicked holding it: the values kept this way (rate-limit
/// buckets, leases, a replica's state, when keys were last fetched) are each whole at every
/// moment, so what a panic left is still good to use.
pub(crate) fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes `text` to standard output for a command's reader. A reader that stops reading
/// (`grants audit keygen … | head`) ends the output quietly instead of a panic, which
/// `println!` makes of a closed pipe; any other failure to write is the command's error.
pub fn say(text: impl std::fmt::Display) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match write!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write to standard output: {e}")),
        _ => Ok(()),
    }
}

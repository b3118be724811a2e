//! The grants service: a ledger of crime and disorder reduction grants for an Office of the
//! Police and Crime Commissioner. `startup::app` builds the HTTP application; `main.rs` is only
//! the command line.

pub mod audit;
pub mod auth;
pub mod awards;
pub mod config;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod error;
pub mod exports;
pub mod extract;
pub mod funds;
pub mod histories;
pub mod idempotency;
pub mod openapi;
pub mod payments;
pub mod programmes;
pub mod ratelimit;
pub mod recipients;
pub mod reports;
pub mod respond;
pub mod startup;
pub mod variations;

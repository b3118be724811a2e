//! The grants service: a ledger of crime and disorder reduction grants for an Office of the
//! Police and Crime Commissioner. `startup::Application` builds and serves the HTTP application;
//! `main.rs` is only the command line.

pub mod audit;
pub mod auth;
pub mod awards;
pub mod canonical;
pub mod client;
pub mod config;
pub mod db;
pub mod decisions;
pub mod delivery;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod error;
pub mod exports;
pub mod extract;
pub mod funds;
pub mod histories;
pub mod idempotency;
pub mod imports;
pub mod input;
pub mod middleware;
pub mod openapi;
pub mod payments;
pub mod plans;
pub mod programmes;
pub mod ratelimit;
pub mod recipients;
pub mod repayments;
pub mod reports;
pub mod respond;
pub mod routes;
pub mod startup;
pub mod state;
pub mod tokens;
pub mod variations;

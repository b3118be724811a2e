//! Integration tests: the real server, a real PostgreSQL, real tokens. One binary, one module
//! per area.

// A test's panic is its failure: unwrap and expect say where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_reads;
mod auth;
mod awards;
mod carry_forward;
mod checkpoints;
mod conventions;
mod decisions;
mod delivery;
mod demo;
mod docs;
mod documents;
mod faults;
mod feed;
mod four_eyes;
mod funds;
mod harness;
mod helpers;
mod idempotency;
mod imports;
mod layers;
mod ledger_audit;
mod long_reads;
mod money_movements;
mod monitoring;
mod oidc;
mod one_persons_word;
mod operations;
mod pack;
mod plans;
mod publications;
mod recipients_programmes;
mod reminders;
mod repayments;
mod replica;
mod reports;
mod roll_forward;
mod scale_out;
mod schedules;
mod service;
mod serving_role;
mod startup;
mod web;

//! Integration tests: the real server, a real PostgreSQL, real tokens. One binary, one module
//! per area.

mod audit_reads;
mod auth;
mod awards;
mod carry_forward;
mod checkpoints;
mod conventions;
mod decisions;
mod delivery;
mod documents;
mod feed;
mod funds;
mod hardening;
mod helpers;
mod imports;
mod insiders;
mod layers;
mod ledger_audit;
mod money_movements;
mod monitoring;
mod newcomer;
mod oidc;
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
mod second_round;
mod service;

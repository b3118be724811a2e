//! The request pipeline every feature's handlers stand on: who is asking ([`auth`]), reading
//! bodies, headers and paging ([`extract`]), checking each field into a domain value
//! ([`input`]), idempotent creation ([`idempotency`]), shaping responses ([`respond`]), and what
//! wraps every request ([`middleware`]). It names no feature; what `AppState` holds (tokens, the
//! rate limiter, the client's address, telemetry) lives below it.

pub mod auth;
pub mod extract;
pub mod idempotency;
pub mod input;
pub mod middleware;
pub mod respond;

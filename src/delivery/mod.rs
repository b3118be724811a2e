//! Delivery: what a recipient agreed to do and how it reports (DESIGN §5). Three features, each
//! with the shape of every other: `activities` agreed for an award; `monitoring`, its plan (how
//! often it reports) and outcome indicators; `returns`, the recipients' returns against them,
//! reviewed by finance, with the reminders sent when one falls due. Each stands on the ones
//! before it.

pub mod activities;
pub mod monitoring;
pub mod returns;

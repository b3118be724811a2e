//! Appends N synthetic events to the audit chain of `DATABASE_URL`, for measuring
//! `grants audit verify` on a long chain. Never point it at a real ledger.
//!
//! cargo run --release --example generate_chain -- 1000000

// A measuring tool, not the service: a failure stops it where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::Connection;
use grants::audit::{Actor, OwnedEvent, append_batch};

fn main() -> Result<(), String> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).ok_or("usage: generate_chain <events>")?;
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    grants::db::prepare(&url)?;
    let mut conn = diesel::PgConnection::establish(&url).map_err(|e| e.to_string())?;
    let actor = Actor { sub: "generator".into(), name: Some("Synthetic events".into()) };
    let started = std::time::Instant::now();
    let mut done = 0;
    while done < n {
        let batch: Vec<OwnedEvent> = (done..(done + 20_000).min(n)).map(synthetic).collect();
        conn.transaction(|c| append_batch(c, &actor, &batch).map(|_| ()))
            .map_err(|e: grants::error::ApiError| e.to_string())?;
        done += batch.len();
    }
    eprintln!("appended {n} events in {:.1?}", started.elapsed());
    Ok(())
}

/// An event shaped like an award approval, so verification does representative work. Its kind
/// is `synthetic`, not a ledger kind, so reconciliation (which would find no row for it) leaves
/// it be: appended to a generated ledger, it lengthens the chain without breaking it.
fn synthetic(i: usize) -> OwnedEvent {
    let id = uuid::Uuid::now_v7();
    OwnedEvent {
        action: "synthetic.recorded".into(),
        entity_type: "synthetic".into(),
        entity_id: id,
        award_id: Some(id),
        data: serde_json::json!({
            "id": id, "reference": format!("SYN-2020-21-{i:07}"), "status": "approved",
            "amount": "45000.00", "original_amount": "45000.00", "paid": "0.00", "scheduled": "0.00",
            "title": "Synthetic award", "purpose": "Measuring verification", "version": 2,
            "financial_year": "2020-21", "category": "commissioned_service", "decision_ref": "SYN"
        }),
    }
}

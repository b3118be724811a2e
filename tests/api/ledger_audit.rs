use diesel::prelude::*;
use grants::audit::chain::{EventContent, GENESIS_HASH, canonical_data, event_hash};
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[derive(Queryable, Debug)]
struct Event {
    seq: i64,
    id: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
    actor_sub: String,
    actor_name: Option<String>,
    action: String,
    entity_type: String,
    entity_id: uuid::Uuid,
    award_id: Option<uuid::Uuid>,
    data: serde_json::Value,
    prev_hash: String,
    hash: String,
    data_text: Option<String>,
}

fn events(conn: &mut PgConnection) -> Vec<Event> {
    use grants::db::schema::audit_events::dsl::*;
    audit_events.order(seq.asc()).load(conn).unwrap()
}

#[actix_web::test]
async fn every_write_appends_one_event_to_a_chain_that_links() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let id = app.draft(&l, "100").await;
    app.patch(&format!("/api/v1/awards/{id}"), &app.finance, Some("\"1\""), json!({"title": "t2"})).await;
    app.approve(&id).await;
    app.close(&id).await;
    // A refused write leaves no event.
    app.create_fund("CDRG", "2020-21", "1").await;

    let mut conn = app.db.connect();
    let all = events(&mut conn);
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "fund.created",
            "programme.created",
            "recipient.created",
            "award.created",
            "award.updated",
            "decision.recorded",
            "award.approved",
            "decision.recorded",
            "award.closed",
            "release.recorded"
        ]
    );
    let mut prev = GENESIS_HASH.to_string();
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
        assert_eq!(e.prev_hash, prev, "event {} links to its predecessor", e.seq);
        let content = EventContent {
            seq: e.seq,
            id: e.id,
            at: e.at,
            actor_sub: &e.actor_sub,
            actor_name: e.actor_name.as_deref(),
            action: &e.action,
            entity_type: &e.entity_type,
            entity_id: e.entity_id,
            award_id: e.award_id,
            data: &e.data,
        };
        assert_eq!(event_hash(&prev, &content), e.hash, "event {} hash recomputes", e.seq);
        // Beside the jsonb, the exact canonical text the hash covers.
        let text: Value = serde_json::from_str(e.data_text.as_deref().unwrap()).unwrap();
        assert_eq!((text, e.data_text.as_deref()), (e.data.clone(), Some(canonical_data(&e.data).as_str())));
        prev = e.hash.clone();
    }
    let approved = all.iter().find(|e| e.action == "award.approved").unwrap();
    assert_eq!(approved.actor_sub, "arthur");
    assert_eq!(approved.award_id.map(|a| a.to_string()), Some(id.clone()));
    assert_eq!(approved.data["status"], "approved");
    assert_eq!(approved.data["amount"], "100.00");
}

#[actix_web::test]
async fn the_database_refuses_to_update_delete_or_truncate_events() {
    let app = TestApp::spawn().await;
    app.fund("1000").await;
    let mut conn = app.db.connect();
    for sql in
        ["UPDATE audit_events SET actor_sub = 'someone-else'", "DELETE FROM audit_events", "TRUNCATE audit_events"]
    {
        let err = diesel::sql_query(sql).execute(&mut conn).expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(events(&mut conn)[0].actor_sub, "fiona");
}

#[actix_web::test]
async fn concurrent_writes_keep_one_unbroken_chain() {
    let app = TestApp::spawn().await;
    let replies = futures_util::future::join_all((0..20).map(|i| app.recipient_reply(i))).await;
    assert!(replies.iter().all(|s| *s == 201));
    let mut conn = app.db.connect();
    let all = events(&mut conn);
    assert_eq!(all.len(), 20);
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
}

impl TestApp {
    async fn recipient_reply(&self, i: usize) -> u16 {
        self.post("/api/v1/recipients", &self.admin, json!({"name": format!("R{i}"), "kind": "other"})).await.status
    }
}

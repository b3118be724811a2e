use diesel::prelude::*;
use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};

/// An approved CSP award with two agreed activities, and a token for its CSP officer.
struct Csp {
    award: String,
    recipient: String,
    activities: Vec<String>,
    officer: String,
}

async fn csp_award(app: &TestApp, fund: &str, programme: &str, name: &str) -> Csp {
    officer_award(app, fund, programme, name, "community_safety_partnership").await
}

/// An approved award with two agreed activities to a recipient of `kind`, and its officer's token.
async fn officer_award(app: &TestApp, fund: &str, programme: &str, name: &str, kind: &str) -> Csp {
    let recipient = app.recipient(name, kind).await;
    let award = app.create_award(app.award_body(fund, programme, &recipient, json!("50000"))).await.id();
    app.approve(&award).await;
    let mut activities = Vec::new();
    for (title, target) in [("Problem-solving groups", json!(40)), ("Awareness sessions", json!("12.5"))] {
        let r = app
            .post(
                &format!("/api/v1/awards/{award}/activities"),
                &app.finance,
                json!({"title": title, "measure": "Count", "target": target}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        activities.push(r.id());
    }
    let officer = app.token(&format!("officer-{name}"), &[Role::Recipient], Some(&recipient));
    Csp { award, recipient, activities, officer }
}

async fn setup(app: &TestApp) -> (Csp, Csp) {
    let fund = app.fund("1000000").await;
    let programme = app.programme("CSP allocation", "csp_allocation").await;
    (csp_award(app, &fund, &programme, "Fenland").await, csp_award(app, &fund, &programme, "Huntingdonshire").await)
}

fn return_body(csp: &Csp, period: &str) -> Value {
    json!({
        "period": period,
        "spend_to_date": "12500.00",
        "narrative": "Two groups met.",
        "lines": csp.activities.iter().map(|a| json!({"activity_id": a, "status": "on_track", "output_value": 9, "commentary": "9 closed"})).collect::<Vec<_>>()
    })
}

async fn submit(app: &TestApp, csp: &Csp, body: Value) -> Reply {
    app.post(&format!("/api/v1/awards/{}/returns", csp.award), &csp.officer, body).await
}

#[actix_web::test]
async fn finance_records_activities_and_the_csp_reads_its_own() {
    let app = TestApp::spawn().await;
    let (fenland, hunts) = setup(&app).await;
    let list = app.get(&format!("/api/v1/awards/{}/activities", fenland.award), &fenland.officer).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["target"].clone(), items[1]["target"].clone()), (json!(40), json!(12.5)));
    assert_eq!(app.get(&format!("/api/v1/awards/{}/activities", hunts.award), &fenland.officer).await.status, 404);
    let by_csp = app
        .post(
            &format!("/api/v1/awards/{}/activities", fenland.award),
            &fenland.officer,
            json!({"title": "x", "measure": "y"}),
        )
        .await;
    assert_eq!(by_csp.status, 403);
    let bad = app
        .post(
            &format!("/api/v1/awards/{}/activities", fenland.award),
            &app.finance,
            json!({"title": "", "measure": "y", "target": -1}),
        )
        .await;
    let fields: Vec<&str> =
        bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!((bad.status, fields), (422, vec!["title", "target"]));
}

#[actix_web::test]
async fn a_csp_submits_a_return_with_one_line_per_activity() {
    let app = TestApp::spawn().await;
    let (fenland, _) = setup(&app).await;
    let r = submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.body["status"].as_str(), r.body["revision"].as_i64(), r.body["period"].as_str()),
        (Some("submitted"), Some(1), Some("2020-21-Q1"))
    );
    assert_eq!(r.body["spend_to_date"], "12500.00");
    assert_eq!(r.body["recipient_id"], fenland.recipient.as_str());
    assert_eq!(r.body["lines"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["lines"][0]["output_value"], json!(9));
    assert_eq!(r.header("location"), Some(format!("/api/v1/returns/{}", r.id())));
    let read = app.get(&format!("/api/v1/returns/{}", r.id()), &fenland.officer).await;
    assert_eq!(read.body["submitted_by"], "officer-Fenland");
}

#[actix_web::test]
async fn every_broken_rule_of_a_return_is_a_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let (fenland, hunts) = setup(&app).await;
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change)> = vec![
        ("period", Box::new(|b| b["period"] = json!("2020-21-Q5"))),
        ("period", Box::new(|b| b["period"] = json!("2021-22-Q1"))),
        ("spend_to_date", Box::new(|b| b["spend_to_date"] = json!("-1"))),
        ("spend_to_date", Box::new(|b| b["spend_to_date"] = json!("50000.01"))),
        ("narrative", Box::new(|b| b["narrative"] = json!(" "))),
        (
            "lines",
            Box::new(|b| {
                b["lines"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "lines[2].activity_id",
            Box::new(|b| {
                let first = b["lines"][0].clone();
                b["lines"].as_array_mut().unwrap().push(first);
            }),
        ),
        ("lines[1].status", Box::new(|b| b["lines"][1]["status"] = json!("finished"))),
        ("lines[0].output_value", Box::new(|b| b["lines"][0]["output_value"] = json!("lots"))),
    ];
    for (field, change) in cases {
        let mut body = return_body(&fenland, "2020-21-Q1");
        change(&mut body);
        let r = submit(&app, &fenland, body.clone()).await;
        assert_eq!(r.status, 422, "{field}: {}", r.text);
        let fields: Vec<&str> =
            r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "{field} not in {fields:?}");
    }
    // A line for another award's activity.
    let mut foreign = return_body(&fenland, "2020-21-Q1");
    foreign["lines"][1]["activity_id"] = json!(hunts.activities[0]);
    let r = submit(&app, &fenland, foreign).await;
    assert_eq!(r.body["errors"][0]["field"], "lines[1].activity_id", "{}", r.text);
    assert_eq!(app.get("/api/v1/returns", &app.finance).await.body["items"], json!([]), "nothing was stored");
}

#[actix_web::test]
async fn one_live_return_per_period_and_a_send_back_opens_revision_two() {
    let app = TestApp::spawn().await;
    let (fenland, _) = setup(&app).await;
    let first = submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await;
    let dup = submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await;
    assert_eq!((dup.status, dup.problem().as_str()), (409, "conflict"));
    let no_comment =
        app.post(&format!("/api/v1/returns/{}/send-back", first.id()), &app.finance, json!({"comment": ""})).await;
    assert_eq!(no_comment.status, 422);
    let back = app
        .post(
            &format!("/api/v1/returns/{}/send-back", first.id()),
            &app.finance,
            json!({"comment": "Spend does not match"}),
        )
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(
        (back.body["status"].as_str(), back.body["review_comment"].as_str(), back.body["reviewed_by"].as_str()),
        (Some("returned"), Some("Spend does not match"), Some("fiona"))
    );
    let second = submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await;
    assert_eq!((second.status, second.body["revision"].as_i64()), (201, Some(2)), "{}", second.text);
    let accepted = app.post(&format!("/api/v1/returns/{}/accept", second.id()), &app.finance, json!({})).await;
    assert_eq!(accepted.body["status"], "accepted");
    let again = submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await;
    assert_eq!(again.status, 409, "an accepted period takes no more returns");
    let review_twice = app.post(&format!("/api/v1/returns/{}/accept", second.id()), &app.finance, json!({})).await;
    assert_eq!((review_twice.status, review_twice.problem().as_str()), (409, "invalid-state"));
    let listed = app.get(&format!("/api/v1/returns?award_id={}&period=2020-21-Q1", fenland.award), &app.auditor).await;
    let states: Vec<(i64, &str)> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["revision"].as_i64().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(1, "returned"), (2, "accepted")]);
    assert_eq!(
        app.get("/api/v1/returns?status=accepted", &app.auditor).await.body["items"].as_array().unwrap().len(),
        1
    );
}

#[actix_web::test]
async fn only_finance_reviews_returns() {
    let app = TestApp::spawn().await;
    let (fenland, _) = setup(&app).await;
    let r = submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await.id();
    for token in [&fenland.officer, &app.approver, &app.auditor, &app.admin] {
        let res = app.post(&format!("/api/v1/returns/{r}/accept"), token, json!({})).await;
        assert_eq!((res.status, res.problem().as_str()), (403, "forbidden"));
    }
    for token in [&app.approver, &app.auditor, &app.admin] {
        assert_eq!(app.submit_as(token, &fenland).await, 403, "only officers and finance submit returns");
    }
}

/// Finance enters a return the office received by other means (a history kept elsewhere), on
/// the day it came in: it is judged late or not on that day, not on the day it was typed in.
/// Only finance says when a return came in; the day is never in the future, never before the
/// period's end, and never edited afterwards.
#[actix_web::test]
async fn finance_enters_a_past_return_on_the_day_it_was_received() {
    let app = TestApp::spawn().await;
    let (fenland, _) = setup(&app).await;
    let path = format!("/api/v1/awards/{}/returns", fenland.award);
    let with = |period: &str, received_on: Value| {
        let mut body = return_body(&fenland, period);
        body["received_on"] = received_on;
        body
    };
    let field = |r: &Reply| (r.status, r.body["errors"][0]["field"].clone(), r.body["errors"][0]["message"].clone());
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    for (body, message) in [
        (
            return_body(&fenland, "2020-21-Q1"),
            "is required when finance enters a return: the day the office received it",
        ),
        (with("2020-21-Q1", json!(tomorrow)), "cannot be in the future"),
        (with("2020-21-Q1", json!("2020-06-30")), "must be after the period ends on 2020-06-30"),
    ] {
        let r = app.post(&path, &app.finance, body).await;
        assert_eq!(field(&r), (422, json!("received_on"), json!(message)), "{}", r.text);
    }
    let backdated = submit(&app, &fenland, with("2020-21-Q2", json!("2020-10-01"))).await;
    assert_eq!(
        field(&backdated),
        (
            422,
            json!("received_on"),
            json!("only finance records the day a return was received: one submitted here is received today")
        )
    );

    // Q1 came in by e-mail on 10 July 2020, within its 30 days; Q2 is submitted here today.
    let entered = app.post(&path, &app.finance, with("2020-21-Q1", json!("2020-07-10"))).await;
    assert_eq!(entered.status, 201, "{}", entered.text);
    assert_eq!(
        (entered.body["received_on"].as_str(), entered.body["submitted_by"].as_str()),
        (Some("2020-07-10"), Some("fiona"))
    );
    let today = submit(&app, &fenland, return_body(&fenland, "2020-21-Q2")).await;
    assert_eq!(today.body["received_on"].as_str(), Some(chrono::Utc::now().date_naive().to_string().as_str()));
    let report = app.get("/api/v1/reports/years/2020-21/outcomes?as_of=2021-03-31", &app.auditor).await;
    let returns = &report.body["awards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["award_id"] == fenland.award.as_str())
        .unwrap()["returns"];
    assert_eq!(returns, &json!({"due": 3, "received": 2, "late": 1, "missing": 1}), "Q1 on time, Q2 late, Q3 missing");

    // The day is never rewritten, even by the database's owner.
    let mut conn = app.db.connect();
    let id = entered.id();
    let err = diesel::sql_query(format!("UPDATE returns SET received_on = '2020-07-01' WHERE id = '{id}'"))
        .execute(&mut conn)
        .unwrap_err();
    assert!(err.to_string().contains("never edited"), "{err}");
    app.assert_verified().await;
}

#[actix_web::test]
async fn csps_are_isolated_both_ways() {
    let app = TestApp::spawn().await;
    let (fenland, hunts) = setup(&app).await;
    let theirs = submit(&app, &hunts, return_body(&hunts, "2020-21-Q1")).await.id();
    let mut body = return_body(&hunts, "2020-21-Q1");
    body["period"] = json!("2020-21-Q2");
    let write = app.post(&format!("/api/v1/awards/{}/returns", hunts.award), &fenland.officer, body).await;
    assert_eq!((write.status, write.problem().as_str()), (404, "not-found"), "writing to another CSP's award");
    assert_eq!(app.get(&format!("/api/v1/returns/{theirs}"), &fenland.officer).await.status, 404);
    assert_eq!(app.get("/api/v1/returns", &fenland.officer).await.body["items"], json!([]));
    assert_eq!(app.get("/api/v1/returns", &hunts.officer).await.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&format!("/api/v1/returns?recipient_id={}", hunts.recipient), &fenland.officer).await.body["items"],
        json!([])
    );
}

#[actix_web::test]
async fn returns_need_an_approved_award_and_are_never_edited() {
    let app = TestApp::spawn().await;
    let (fenland, _) = setup(&app).await;
    let r = submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await.id();
    let mut conn = app.db.connect();
    let err = diesel::sql_query(format!("UPDATE returns SET narrative = 'rewritten' WHERE id = '{r}'"))
        .execute(&mut conn)
        .unwrap_err();
    assert!(err.to_string().contains("never edited"), "{err}");
    let err = diesel::sql_query("UPDATE return_lines SET commentary = 'x'").execute(&mut conn).unwrap_err();
    assert!(err.to_string().contains("never edited"), "{err}");
    app.close(&fenland.award).await;
    let closed = submit(&app, &fenland, return_body(&fenland, "2020-21-Q2")).await;
    assert_eq!((closed.status, closed.problem().as_str()), (409, "invalid-state"));
}

async fn overdue(app: &TestApp, as_of: &str) -> Vec<(String, String, String, i64)> {
    let r = app.get(&format!("/api/v1/returns/overdue?as_of={as_of}"), &app.finance).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["award_id"].as_str().unwrap().to_string(),
                i["period"].as_str().unwrap().to_string(),
                i["due_on"].as_str().unwrap().to_string(),
                i["days_overdue"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn overdue_returns_are_computed_at_quarter_boundaries() {
    let app = TestApp::spawn().await;
    let (fenland, hunts) = setup(&app).await;
    // An approved award without activities owes nothing.
    let other_fund = app.create_fund("OTHER", "2020-21", "1000").await.id();
    let (p, r) = (app.programme("Plain", "commissioned_service").await, app.recipient("Plain Ltd", "other").await);
    let plain = app.create_award(app.award_body(&other_fund, &p, &r, json!("10"))).await.id();
    app.approve(&plain).await;

    // Q1 ends 30 June 2020: due 30 July (30 days).
    assert!(overdue(&app, "2020-07-29").await.is_empty(), "the day before the due date");
    let on = overdue(&app, "2020-07-30").await;
    assert_eq!(on.len(), 2);
    assert_eq!((on[0].1.as_str(), on[0].2.as_str(), on[0].3), ("2020-21-Q1", "2020-07-30", 0), "on the due date");
    let after = overdue(&app, "2020-07-31").await;
    assert_eq!(after[0].3, 1, "the day after");

    // Fenland's Q1 return is received; Huntingdonshire's is sent back, so it is owed again.
    submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await;
    let h = submit(&app, &hunts, return_body(&hunts, "2020-21-Q1")).await.id();
    app.post(&format!("/api/v1/returns/{h}/send-back"), &app.finance, json!({"comment": "redo"})).await;
    let now = overdue(&app, "2020-07-31").await;
    assert_eq!(
        now.iter().map(|o| (o.0.as_str(), o.1.as_str())).collect::<Vec<_>>(),
        [(hunts.award.as_str(), "2020-21-Q1")]
    );

    // Q4 ends 31 March 2021, in the next calendar year: due 30 April 2021.
    let before_q4 = overdue(&app, "2021-04-29").await;
    assert!(!before_q4.iter().any(|o| o.1 == "2020-21-Q4"));
    let q4 = overdue(&app, "2021-04-30").await;
    let fenland_q4 = q4.iter().find(|o| o.0 == fenland.award && o.1 == "2020-21-Q4").expect("Q4 is due");
    assert_eq!((fenland_q4.2.as_str(), fenland_q4.3), ("2021-04-30", 0));
    assert_eq!(q4.iter().filter(|o| o.0 == fenland.award).count(), 3, "Q2, Q3, Q4 for Fenland");
    let bad = app.get("/api/v1/returns/overdue?as_of=31/07/2020", &app.finance).await;
    assert_eq!((bad.status, bad.body["errors"][0]["field"].as_str()), (422, Some("as_of")));
    let own = app.get("/api/v1/returns/overdue?as_of=2021-04-30", &fenland.officer).await;
    assert!(own.body["items"].as_array().unwrap().iter().all(|o| o["award_id"] == fenland.award.as_str()));
}

#[actix_web::test]
async fn activities_and_returns_appear_in_the_award_history() {
    let app = TestApp::spawn().await;
    let (fenland, _) = setup(&app).await;
    let r = submit(&app, &fenland, return_body(&fenland, "2020-21-Q1")).await.id();
    app.post(&format!("/api/v1/returns/{r}/accept"), &app.finance, json!({"comment": "ok"})).await;
    let h = app.get(&format!("/api/v1/awards/{}/history", fenland.award), &app.auditor).await;
    let actions: Vec<&str> =
        h.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "award.created",
            "award.approved",
            "activity.created",
            "activity.created",
            "return.submitted",
            "return.accepted"
        ]
    );
}

impl TestApp {
    async fn submit_as(&self, token: &str, csp: &Csp) -> u16 {
        self.post(&format!("/api/v1/awards/{}/returns", csp.award), token, return_body(csp, "2020-21-Q1")).await.status
    }
}

#[actix_web::test]
async fn one_422_names_what_failed_to_parse_and_what_broke_the_awards_rules_together() {
    let app = TestApp::spawn().await;
    let (fenland, _) = setup(&app).await;
    let mut body = return_body(&fenland, "2019-20-Q1");
    body["narrative"] = json!("");
    body["spend_to_date"] = json!("50000.01");
    let r = submit(&app, &fenland, body).await;
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    // narrative fails to parse; period and spend_to_date break rules that need the award.
    assert_eq!((r.status, fields), (422, vec!["narrative", "period", "spend_to_date"]), "{}", r.text);
    assert_eq!(app.get("/api/v1/returns", &app.finance).await.body["items"], json!([]), "nothing was stored");
}

#[actix_web::test]
async fn any_recipients_officer_reports_on_its_own_awards_and_csp_tokens_still_work() {
    let app = TestApp::spawn().await;
    let (fenland, _) = setup(&app).await;
    // A charity, not a CSP: its officer holds the `recipient` role.
    let fund = app.create_fund("SERV", "2020-21", "500000").await.id();
    let programme = app.programme("Commissioned services", "commissioned_service").await;
    let charity = officer_award(&app, &fund, &programme, "Outside Links", "voluntary_sector").await;
    let r = submit(&app, &charity, return_body(&charity, "2020-21-Q1")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mine = app.get("/api/v1/awards", &charity.officer).await;
    let ids: Vec<&str> = mine.body["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![charity.award.as_str()]);
    // Its officer cannot report on, or read, the CSP's award.
    let body = return_body(&fenland, "2020-21-Q1");
    assert_eq!(submit(&app, &Csp { officer: charity.officer.clone(), ..fenland }, body).await.status, 404);
    // A token that still says `csp` is the same role.
    let claims = json!({
        "sub": "old-style", "roles": ["csp"], "recipient_id": charity.recipient,
        "exp": chrono::Utc::now().timestamp() + 3600, "iss": "grants", "aud": "grants-api"
    });
    let legacy = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::SECRET.as_bytes()),
    )
    .unwrap();
    let read = app.get("/api/v1/awards", &legacy).await;
    assert_eq!((read.status, read.body["items"].as_array().map(Vec::len)), (200, Some(1)), "{}", read.text);
    assert_eq!(app.get("/api/v1/funds", &legacy).await.status, 403);
}

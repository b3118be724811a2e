use grants::http::auth::Role;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use crate::helpers::{SECRET, TestApp};

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn sign(claims: serde_json::Value, secret: &str) -> String {
    encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn claims() -> serde_json::Value {
    json!({"sub": "mallory", "roles": ["admin"], "exp": now() + 600, "iss": "grants", "aud": "grants-api"})
}

async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let r = app.get("/api/v1/funds", token).await;
    assert_eq!(r.status, 401, "{why}: {}", r.text);
    assert_eq!(r.problem(), "unauthorized", "{why}");
    assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"), "{why}");
    assert!(!r.text.contains(token), "{why}: the response echoes the token");
}

#[actix_web::test]
async fn a_valid_token_is_accepted_and_round_trips_its_claims() {
    let app = TestApp::spawn().await;
    let token = sign(claims(), SECRET);
    let r = app.get("/api/v1/funds", &token).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[actix_web::test]
async fn forged_expired_and_misdirected_tokens_get_401() {
    let app = TestApp::spawn().await;
    // alg none: {"alg":"none","typ":"JWT"} with the payload of a real token and no signature.
    let real = sign(claims(), SECRET);
    let payload = real.split('.').nth(1).unwrap();
    assert_refused(&app, &format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."), "alg none").await;
    assert_refused(&app, &sign(claims(), "another-secret-another-secret-012345"), "wrong key").await;
    let mut expired = claims();
    expired["exp"] = json!(now() - 120);
    assert_refused(&app, &sign(expired, SECRET), "expired beyond the 30 s leeway").await;
    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!("someone-else");
    assert_refused(&app, &sign(wrong_aud, SECRET), "wrong aud").await;
    let mut wrong_iss = claims();
    wrong_iss["iss"] = json!("evil");
    assert_refused(&app, &sign(wrong_iss, SECRET), "wrong iss").await;
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_refused(&app, &sign(no_exp, SECRET), "no exp").await;
    // A payload swapped in under another token's signature.
    let finance = app.token("fiona", &[Role::Finance], None);
    let parts: Vec<&str> = finance.split('.').collect();
    assert_refused(&app, &format!("{}.{}.{}", parts[0], payload, parts[2]), "tampered payload").await;
    // HS384 with the right secret is still not the configured algorithm.
    let hs384 =
        encode(&Header::new(jsonwebtoken::Algorithm::HS384), &claims(), &EncodingKey::from_secret(SECRET.as_bytes()))
            .unwrap();
    assert_refused(&app, &hs384, "another algorithm").await;
    assert_refused(&app, &"a".repeat(10_000), "huge token").await;
    assert_refused(&app, "not-a-jwt", "garbage").await;
    let mut csp_without_recipient = claims();
    csp_without_recipient["roles"] = json!(["csp"]);
    assert_refused(&app, &sign(csp_without_recipient, SECRET), "csp without recipient_id").await;
}

#[actix_web::test]
async fn a_token_within_the_leeway_is_still_accepted() {
    let app = TestApp::spawn().await;
    let mut c = claims();
    c["exp"] = json!(now() - 10);
    assert_eq!(app.get("/api/v1/funds", &sign(c, SECRET)).await.status, 200);
}

#[actix_web::test]
async fn a_missing_or_non_bearer_authorization_gets_401() {
    let app = TestApp::spawn().await;
    let r = app.send("GET", "/api/v1/awards", None, &[], None).await;
    assert_eq!((r.status, r.problem().as_str()), (401, "unauthorized"));
    let r = app.send("GET", "/api/v1/awards", None, &[("Authorization", "Basic YWxpY2U6cw==")], None).await;
    assert_eq!(r.status, 401);
}

#[actix_web::test]
async fn roles_that_may_not_act_get_403() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/v1/funds",
            &app.auditor,
            json!({"code": "X", "name": "X", "financial_year": "2020-21", "budget": "1.00"}),
        )
        .await;
    assert_eq!((r.status, r.problem().as_str()), (403, "forbidden"));
    let l = app.ledger("100000").await;
    let body = app.award_body(&l.fund, &l.programme, &l.recipient, json!("10.00"));
    let r = app.post("/api/v1/awards", &app.approver, body).await;
    assert_eq!((r.status, r.problem().as_str()), (403, "forbidden"));
    let award = app.draft(&l, "10.00").await;
    let r = app.post(&format!("/api/v1/awards/{award}/approve"), &app.finance, json!({"decision_ref": "D1"})).await;
    assert_eq!((r.status, r.problem().as_str()), (403, "forbidden"), "finance cannot approve");
    let nobody = app.token("nobody", &[], None);
    assert_eq!(app.get("/api/v1/awards", &nobody).await.status, 403);
}

#[actix_web::test]
async fn a_csp_sees_only_its_own_partnership() {
    let app = TestApp::spawn().await;
    let fund = app.fund("500000").await;
    let programme = app.programme("CSP allocation", "csp_allocation").await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let hunts = app.recipient("Huntingdonshire CSP", "community_safety_partnership").await;
    let ours = app.create_award(app.award_body(&fund, &programme, &fenland, json!("50000"))).await.id();
    let theirs = app.create_award(app.award_body(&fund, &programme, &hunts, json!("55000"))).await.id();
    let csp = app.token("carol", &[Role::Recipient], Some(&fenland));

    let own = app.get(&format!("/api/v1/awards/{ours}"), &csp).await;
    assert_eq!(own.status, 200, "{}", own.text);
    let other = app.get(&format!("/api/v1/awards/{theirs}"), &csp).await;
    assert_eq!((other.status, other.problem().as_str()), (404, "not-found"));
    let list = app.get("/api/v1/awards", &csp).await;
    let ids: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![ours.as_str()]);
    let filtered = app.get(&format!("/api/v1/awards?recipient_id={hunts}"), &csp).await;
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 0, "a filter cannot widen a CSP's view");
    assert_eq!(app.get(&format!("/api/v1/recipients/{hunts}"), &csp).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/recipients/{fenland}"), &csp).await.status, 200);
    assert_eq!(app.get("/api/v1/recipients", &csp).await.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/api/v1/funds", &csp).await.status, 403, "funds are finance's business");
    // Writing is refused too.
    let r = app.post(&format!("/api/v1/awards/{theirs}/withdraw"), &csp, json!({"reason": "x"})).await;
    assert_eq!(r.status, 403);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

async fn identity_provider(public: &str) -> TestApp {
    let jwt = grants::config::JwtSettings::from_public_key_pem(&fixture(public), "grants".into(), "grants-api".into())
        .unwrap();
    TestApp::builder().jwt(jwt).spawn().await
}

#[actix_web::test]
async fn rs256_tokens_from_an_identity_provider_are_accepted_and_hs_rs_confusion_is_not() {
    let app = identity_provider("rsa-public.pem").await;
    assert_eq!(app.jwt.algorithm, jsonwebtoken::Algorithm::RS256);
    let rs256 = encode(
        &Header::new(jsonwebtoken::Algorithm::RS256),
        &claims(),
        &EncodingKey::from_rsa_pem(&fixture("rsa-private.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(app.get("/api/v1/funds", &rs256).await.status, 200);
    // The classic confusion: HS256 "signed" with the public key as the shared secret.
    let confused = encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(&fixture("rsa-public.pem")),
    )
    .unwrap();
    assert_refused(&app, &confused, "HS256 signed with the RSA public key").await;
    let ec = encode(
        &Header::new(jsonwebtoken::Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_pem(&fixture("ec-private.pem")).unwrap(),
    )
    .unwrap();
    assert_refused(&app, &ec, "ES256 when RS256 is configured").await;
}

#[actix_web::test]
async fn es256_tokens_are_accepted_when_an_ec_key_is_configured() {
    let app = identity_provider("ec-public.pem").await;
    assert_eq!(app.jwt.algorithm, jsonwebtoken::Algorithm::ES256);
    let es256 = encode(
        &Header::new(jsonwebtoken::Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_pem(&fixture("ec-private.pem")).unwrap(),
    )
    .unwrap();
    assert_eq!(app.get("/api/v1/funds", &es256).await.status, 200);
    let confused = encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(&fixture("ec-public.pem")),
    )
    .unwrap();
    assert_refused(&app, &confused, "HS256 signed with the EC public key").await;
}

#[actix_web::test]
async fn tokens_from_the_future_living_forever_or_naming_crit_are_refused_and_an_aud_array_is_read() {
    let app = TestApp::spawn().await;
    let mut nbf = claims();
    nbf["nbf"] = json!(now() + 120);
    assert_refused(&app, &sign(nbf, SECRET), "nbf beyond the leeway").await;
    let mut iat = claims();
    iat["iat"] = json!(now() + 120);
    assert_refused(&app, &sign(iat, SECRET), "iat beyond the leeway").await;
    let mut forever = claims();
    forever["exp"] = json!(u64::MAX);
    assert_refused(&app, &sign(forever, SECRET), "exp = 2^64 - 1").await;
    let mut thirteen_hours = claims();
    thirteen_hours["exp"] = json!(now() + 13 * 3600);
    assert_refused(&app, &sign(thirteen_hours, SECRET), "13 h, over the 12 h maximum").await;
    let header = Header { crit: Some(vec!["exp".to_string()]), ..Header::default() };
    let crit = encode(&header, &claims(), &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    let r = app.get("/api/v1/funds", &crit).await;
    assert!(r.status == 401 && r.text.contains("crit"), "{}", r.text);
    // Inside the leeway, and at the limit, all is well; so is aud as an array holding ours.
    let mut fine = claims();
    fine["nbf"] = json!(now() + 10);
    fine["iat"] = json!(now() + 10);
    fine["exp"] = json!(now() + 12 * 3600);
    fine["aud"] = json!(["another-api", "grants-api"]);
    let r = app.get("/api/v1/funds", &sign(fine, SECRET)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut others = claims();
    others["aud"] = json!(["another-api", "a-third"]);
    assert_refused(&app, &sign(others, SECRET), "aud array without ours").await;
}

#[actix_web::test]
async fn claims_with_control_characters_are_401_not_500_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    for (claim, value) in [
        ("sub", "mallory\u{0}"),
        ("name", "Mallory\nAPPROVED BY: arthur"),
        ("name", "\u{1b}[2J\u{1b}[31mMallory"),
        ("name", "Mallory\u{202E}cod.exe"),
        ("recipient_id", "\u{0}"),
    ] {
        let mut c = claims();
        c[claim] = json!(value);
        let token = sign(c, SECRET);
        let r = app
            .post(
                "/api/v1/funds",
                &token,
                json!({"code": "CTRL", "name": "Ctrl", "financial_year": "2020-21", "budget": "1000.00"}),
            )
            .await;
        assert_eq!(r.status, 401, "{claim} {value:?}: {}", r.text);
        assert!(r.text.contains(claim), "{claim}: the problem names the claim: {}", r.text);
    }
    let funds = app.get("/api/v1/funds", &app.admin).await;
    assert_eq!(funds.body["items"].as_array().map(Vec::len), Some(0), "{}", funds.text);
    // A name with quotes, markup and accents is kept as given (JSON escapes it on the way out).
    let mut c = claims();
    c["name"] = json!("Zoë \"<b>O'Brien</b>\"");
    let r = app
        .post(
            "/api/v1/funds",
            &sign(c, SECRET),
            json!({"code": "NAME", "name": "Name", "financial_year": "2020-21", "budget": "1000.00"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

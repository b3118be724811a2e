//! Evidence documents: files on awards and returns, accepted by content,
//! at most 10 MiB, stored in PostgreSQL, hashed into the trail, downloaded only as attachments
//! and only by those who may see what they are attached to.

use diesel::RunQueryDsl;
use futures_util::future::join_all;
use grants::http::auth::Role;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Reply, TestApp};

const MIB: usize = 1024 * 1024;
const BOUNDARY: &str = "grants-test-7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body with one file part named `name`.
fn form(name: &str, filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) async fn upload(app: &TestApp, path: &str, token: &str, filename: &str, bytes: &[u8]) -> Reply {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    app.send("POST", path, Some(token), &[], Some((&content_type, form("file", filename, bytes)))).await
}

/// A PDF of `size` bytes, all of them ASCII (so the test reads the download back as text).
pub(crate) fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n% evidence\n".to_vec();
    bytes.resize(size, b'a');
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An approved award with one submitted return, its recipient's officer, and another
/// recipient's officer: (award, return, officer, stranger).
async fn returned(app: &TestApp) -> (String, String, String, String) {
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "20000").await;
    app.approve(&award).await;
    let officer = app.token("officer-peterborough", &[Role::Recipient], Some(&l.recipient));
    let r = app
        .post(
            &format!("/api/v1/awards/{award}/returns"),
            &officer,
            json!({"period": "2020-21-Q1", "spend_to_date": "5000", "narrative": "Forty referrals."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let other = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let stranger = app.token("officer-fenland", &[Role::Recipient], Some(&other));
    (award, r.id(), officer, stranger)
}

fn ids(list: &Reply) -> Vec<String> {
    list.body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect()
}

#[actix_web::test]
async fn a_recipient_attaches_evidence_to_its_return_and_only_those_who_see_the_return_read_it() {
    let app = TestApp::spawn().await;
    let (award, ret, officer, stranger) = returned(&app).await;
    let bytes = pdf(300 * 1024);
    let path = format!("/api/v1/returns/{ret}/documents");
    let r = upload(&app, &path, &officer, "../../Q1 report (final).pdf", &bytes).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.id();
    assert_eq!(r.header("location"), Some(format!("/api/v1/documents/{id}")));
    assert_eq!(
        (r.body["media_type"].as_str(), r.body["size"].as_i64(), r.body["sha256"].as_str()),
        (Some("application/pdf"), Some(bytes.len() as i64), Some(sha256(&bytes).as_str()))
    );
    assert_eq!(
        (r.body["filename"].as_str(), r.body["return_id"].as_str()),
        (Some("Q1 report (final).pdf"), Some(ret.as_str()))
    );

    // Finance and the auditor download it, as an attachment that is never sniffed.
    for token in [&app.finance, &app.auditor, &officer] {
        let d = app.get(&format!("/api/v1/documents/{id}/content"), token).await;
        assert_eq!(d.status, 200);
        assert_eq!(sha256(d.text.as_bytes()), sha256(&bytes), "the bytes come back as they went in");
        assert_eq!(d.header("content-type").as_deref(), Some("application/pdf"));
        assert_eq!(d.header("x-content-type-options").as_deref(), Some("nosniff"));
        let disposition = d.header("content-disposition").unwrap();
        assert!(disposition.starts_with("attachment; filename=\"Q1 report (final).pdf\""), "{disposition}");
        assert!(disposition.contains("filename*=UTF-8''Q1%20report%20%28final%29.pdf"), "{disposition}");
        assert!(d.header("content-security-policy").unwrap().contains("sandbox"));
    }
    assert_eq!(ids(&app.get(&path, &officer).await), vec![id.clone()]);
    assert_eq!(ids(&app.get(&format!("/api/v1/awards/{award}/documents"), &app.finance).await), vec![id.clone()]);
    assert_eq!(ids(&app.get(&format!("/api/v1/awards/{award}/documents"), &officer).await), vec![id.clone()]);

    // Another recipient finds nothing, and cannot attach anything.
    for p in [format!("/api/v1/documents/{id}"), format!("/api/v1/documents/{id}/content"), path.clone()] {
        let r = app.get(&p, &stranger).await;
        assert_eq!((r.status, r.problem().as_str()), (404, "not-found"), "{p}: {}", r.text);
    }
    assert_eq!(upload(&app, &path, &stranger, "x.pdf", &pdf(100)).await.status, 404);
    assert_eq!(
        upload(&app, &format!("/api/v1/awards/{award}/documents"), &stranger, "x.pdf", &pdf(100)).await.status,
        404
    );
    // Reading roles other than finance may not attach.
    assert_eq!(upload(&app, &path, &app.approver, "x.pdf", &pdf(100)).await.status, 403);
    assert_eq!(upload(&app, &path, &app.auditor, "x.pdf", &pdf(100)).await.status, 403);

    // The same file again is a retry: refused, and nothing is added.
    let again = upload(&app, &path, &officer, "copy.pdf", &bytes).await;
    assert_eq!((again.status, again.problem().as_str()), (409, "conflict"), "{}", again.text);

    // The trail holds the hash; the chunks reconcile with it.
    let history = app.get(&format!("/api/v1/awards/{award}/history"), &app.auditor).await;
    let added: Vec<&Value> =
        history.body["events"].as_array().unwrap().iter().filter(|e| e["action"] == "document.added").collect();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["data"]["sha256"].as_str(), Some(sha256(&bytes).as_str()));
    app.assert_verified().await;
}

#[actix_web::test]
async fn only_accepted_kinds_by_content_and_at_most_ten_mebibytes() {
    let app = TestApp::spawn().await;
    let (award, ret, officer, _) = returned(&app).await;
    let path = format!("/api/v1/returns/{ret}/documents");
    let stored = || async { ids(&app.get(&format!("/api/v1/awards/{award}/documents"), &app.finance).await).len() };

    // A renamed executable, a script, HTML: 415 whatever the name says.
    for (name, bytes) in [
        ("evidence.pdf", b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff".to_vec()),
        ("evidence.csv", b"\x7fELF\x02\x01\x01\0".to_vec()),
        ("evidence.csv", b"#!/bin/sh\nrm -rf /,\n".to_vec()),
        ("evidence.csv", b"<script>alert(1)</script>,\n".to_vec()),
    ] {
        let r = upload(&app, &path, &officer, name, &bytes).await;
        assert_eq!((r.status, r.problem().as_str()), (415, "unsupported-media-type"), "{name}: {}", r.text);
    }
    // Not multipart at all.
    let json = app.post(&path, &officer, json!({"file": "JVBERi0="})).await;
    assert_eq!(json.status, 415, "{}", json.text);
    // A form without its file part, or with another part.
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let other =
        app.send("POST", &path, Some(&officer), &[], Some((&content_type, form("upload", "a.pdf", &pdf(50))))).await;
    assert_eq!((other.status, other.problem().as_str()), (422, "validation-failed"), "{}", other.text);
    let empty = upload(&app, &path, &officer, "a.pdf", b"").await;
    assert_eq!(empty.status, 422, "{}", empty.text);

    // 10 MiB + 1 byte: 413. Exactly 10 MiB: accepted, stored in chunks, and read back whole.
    let over = upload(&app, &path, &officer, "big.pdf", &pdf(10 * MIB + 1)).await;
    assert_eq!((over.status, over.problem().as_str()), (413, "payload-too-large"), "{}", over.text);
    assert_eq!(stored().await, 0, "nothing refused was stored");
    let limit = pdf(10 * MIB);
    let r = upload(&app, &path, &officer, "big.pdf", &limit).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = app.get(&format!("/api/v1/documents/{}/content", r.id()), &app.finance).await;
    assert_eq!((d.text.len(), sha256(d.text.as_bytes())), (limit.len(), sha256(&limit)));
    assert_eq!(d.header("content-length"), Some(limit.len().to_string()));

    // An Office document is typed by the parts its first 8 KiB name, wherever they fall in them.
    let mut docx = b"PK\x03\x04".to_vec();
    docx.extend_from_slice(&[0u8; 22]);
    docx.extend_from_slice(&19u16.to_le_bytes());
    docx.extend_from_slice(&0u16.to_le_bytes());
    docx.extend_from_slice(b"[Content_Types].xml");
    docx.resize(6000, b' ');
    docx.extend_from_slice(b"<Override PartName=\"/word/document.xml\"/>");
    docx.resize(20000, b' ');
    let r = upload(&app, &path, &officer, "report.docx", &docx).await;
    assert_eq!(
        (r.status, r.body["media_type"].as_str()),
        (201, Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")),
        "{}",
        r.text
    );

    // Finance attaches a CSV to the award itself.
    let csv = "period,referrals\n2020-21-Q1,40\n".as_bytes();
    let r = upload(&app, &format!("/api/v1/awards/{award}/documents"), &app.finance, "referrals.csv", csv).await;
    assert_eq!(
        (r.status, r.body["media_type"].as_str(), r.body["return_id"].clone()),
        (201, Some("text/csv"), Value::Null)
    );
    assert_eq!(stored().await, 3);
}

#[actix_web::test]
async fn a_rewritten_byte_is_found_and_the_serving_role_can_neither_edit_nor_delete_a_document() {
    let app = TestApp::spawn().await;
    let (_, ret, officer, _) = returned(&app).await;
    let r = upload(&app, &format!("/api/v1/returns/{ret}/documents"), &officer, "q1.pdf", &pdf(1000)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.id();
    let mut service = app.db.connect_as_service();
    for statement in [
        format!("UPDATE document_chunks SET data = 'x' WHERE document_id = '{id}'"),
        format!("DELETE FROM document_chunks WHERE document_id = '{id}'"),
        format!("UPDATE documents SET sha256 = repeat('0', 64) WHERE id = '{id}'"),
        format!("DELETE FROM documents WHERE id = '{id}'"),
        "TRUNCATE document_chunks".to_string(),
    ] {
        let error = diesel::sql_query(statement.as_str()).execute(&mut service).expect_err(&statement);
        let text = error.to_string();
        assert!(text.contains("permission denied") || text.contains("never"), "{statement}: {text}");
    }
    // The tables' owner, triggers off, rewrites the content and the row's hash to match: the
    // event still holds the original hash, so verification names the document.
    let mut owner = app.db.connect();
    diesel::sql_query("ALTER TABLE document_chunks DISABLE TRIGGER document_chunks_no_change")
        .execute(&mut owner)
        .unwrap();
    diesel::sql_query("ALTER TABLE documents DISABLE TRIGGER documents_no_change").execute(&mut owner).unwrap();
    diesel::sql_query(format!("UPDATE document_chunks SET data = 'forged' WHERE document_id = '{id}'"))
        .execute(&mut owner)
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE documents SET sha256 = encode(sha256('forged'::bytea), 'hex'), size = 6 WHERE id = '{id}'"
    ))
    .execute(&mut owner)
    .unwrap();
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], false, "{}", verify.text);
    let fields: Vec<&str> =
        verify.body["unreconciled"].as_array().unwrap().iter().map(|u| u["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["size", "sha256", "content"], "{}", verify.text);
}

#[test]
fn the_download_documents_every_media_type_an_upload_can_have() {
    let spec: Value = serde_json::from_str(&grants::openapi::spec_json()).unwrap();
    let content = spec["paths"]["/api/v1/documents/{id}/content"]["get"]["responses"]["200"]["content"]
        .as_object()
        .expect("the download documents its content");
    let mut documented: Vec<&str> = content.keys().map(String::as_str).collect();
    let mut known = grants::domain::document::MEDIA_TYPES.to_vec();
    documented.sort();
    known.sort();
    assert_eq!(documented, known);
}

/// A CSV-shaped `.bat`, `.hta` or `.html` and a name hiding its extension behind U+202E are
/// stored under names whose extension is their content's, with no hidden character, and
/// downloaded as attachments that may not be sniffed. One award's documents stay within their
/// quota, uploads racing included.
#[actix_web::test]
async fn a_document_is_named_by_its_content_and_an_awards_documents_keep_to_a_quota() {
    let app = TestApp::builder().settings(|s| s.document_quota = 3000).spawn().await;
    let (award, _, _, _) = returned(&app).await;
    let path = format!("/api/v1/awards/{award}/documents");
    let csv = |n: usize| format!("period,referrals\n2020-21-Q{n},40\n{}", "x,1\n".repeat(60)).into_bytes();
    for (n, (sent, stored)) in
        [("run.bat", "run.csv"), ("page.hta", "page.csv"), ("index.html", "index.csv")].into_iter().enumerate()
    {
        let r = upload(&app, &path, &app.finance, sent, &csv(n)).await;
        assert_eq!((r.status, r.body["filename"].as_str()), (201, Some(stored)), "{}", r.text);
    }
    let hidden = upload(&app, &path, &app.finance, "invoice\u{202E}fdp.exe", &pdf(300)).await;
    assert_eq!((hidden.status, hidden.body["filename"].as_str()), (201, Some("invoicefdp.pdf")), "{}", hidden.text);
    let download = app.get(&format!("/api/v1/documents/{}/content", hidden.id()), &app.finance).await;
    assert_eq!(download.header("x-content-type-options").as_deref(), Some("nosniff"));
    let disposition = download.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment;") && disposition.contains("invoicefdp.pdf"), "{disposition}");
    assert!(!disposition.contains("%E2%80%AE"), "{disposition}");
    // About 1,140 bytes are held; 3,000 is the quota. Racing uploads of 1,000 bytes each: at
    // most one more fits.
    let files: Vec<Vec<u8>> = (0..4u8)
        .map(|n| {
            let mut p = pdf(1000);
            p[999] = b'0' + n;
            p
        })
        .collect();
    let replies = join_all(files.iter().map(|f| upload(&app, &path, &app.finance, "more.pdf", f))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    let refused = replies.iter().find(|r| r.status == 409).expect("a refusal");
    assert!(refused.text.contains("quota of 3000 bytes"), "{}", refused.text);
    let listed = app.get(&path, &app.finance).await;
    let held: i64 = listed.body["items"].as_array().unwrap().iter().map(|d| d["size"].as_i64().unwrap()).sum();
    assert!(held <= 3000, "{held}");
}

/// A document attached in error is withdrawn, not deleted: it leaves the lists, stays readable
/// by id with its bytes, and the trail records who withdrew it and why. An officer withdraws
/// only what they uploaded, and not once the return is accepted; finance any; other roles and
/// other recipients none; a withdrawal is never edited or deleted, even by the serving role.
#[actix_web::test]
async fn a_withdrawn_document_leaves_the_lists_and_stays_in_the_trail() {
    let app = TestApp::spawn().await;
    let (award, ret, officer, stranger) = returned(&app).await;
    let colleague = {
        let l = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
        app.token("officer-two", &[Role::Recipient], Some(l.body["recipient_id"].as_str().unwrap()))
    };
    let on_return = upload(&app, &format!("/api/v1/returns/{ret}/documents"), &officer, "wrong.pdf", &pdf(700)).await;
    let kept = upload(&app, &format!("/api/v1/returns/{ret}/documents"), &officer, "right.pdf", &pdf(800)).await;
    let finances = upload(&app, &format!("/api/v1/awards/{award}/documents"), &app.finance, "a.pdf", &pdf(900)).await;
    let (id, kept, finances) = (on_return.id(), kept.id(), finances.id());
    let withdraw = |doc: String, token: String, reason: &'static str| {
        let app = &app;
        async move { app.post(&format!("/api/v1/documents/{doc}/withdrawal"), &token, json!({"reason": reason})).await }
    };

    // Refused: another recipient (404), roles that do not attach (403), an officer withdrawing
    // finance's document or a colleague's upload (403), a reason on two lines (422).
    assert_eq!(withdraw(id.clone(), stranger.clone(), "mine now").await.status, 404);
    for token in [&app.approver, &app.auditor, &colleague] {
        let r = withdraw(id.clone(), token.clone(), "not mine").await;
        assert_eq!((r.status, r.problem().as_str()), (403, "forbidden"), "{}", r.text);
    }
    assert_eq!(withdraw(finances.clone(), officer.clone(), "not mine").await.status, 403);
    let r = withdraw(id.clone(), officer.clone(), "wrong\r\nfile").await;
    assert_eq!((r.status, r.problem().as_str()), (422, "validation-failed"), "{}", r.text);
    let listed = |token: String| {
        let app = &app;
        let award = award.clone();
        async move { ids(&app.get(&format!("/api/v1/awards/{award}/documents"), &token).await) }
    };
    assert_eq!(listed(app.finance.clone()).await, [id.clone(), kept.clone(), finances.clone()]);

    // The officer withdraws their own upload.
    let r = withdraw(id.clone(), officer.clone(), "The wrong quarter's report").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["withdrawn"]["reason"].as_str(), r.body["withdrawn"]["withdrawn_by"].as_str()),
        (Some("The wrong quarter's report"), Some("officer-peterborough"))
    );
    let again = withdraw(id.clone(), app.finance.clone(), "twice").await;
    assert_eq!((again.status, again.problem().as_str()), (409, "invalid-state"), "{}", again.text);

    // Gone from every list, for everyone; still readable, and downloadable, by id.
    assert_eq!(listed(app.finance.clone()).await, [kept.clone(), finances.clone()]);
    assert_eq!(listed(officer.clone()).await, [kept.clone(), finances.clone()]);
    assert_eq!(ids(&app.get(&format!("/api/v1/returns/{ret}/documents"), &officer).await), vec![kept.clone()]);
    let read = app.get(&format!("/api/v1/documents/{id}"), &app.auditor).await;
    assert_eq!(read.body["withdrawn"]["reason"], "The wrong quarter's report", "{}", read.text);
    assert_eq!(app.get(&format!("/api/v1/documents/{kept}"), &app.auditor).await.body.get("withdrawn"), None);
    assert_eq!(app.get(&format!("/api/v1/documents/{id}/content"), &app.auditor).await.text.len(), 700);

    // Once the return is accepted its officer withdraws nothing more from it; finance still can.
    let accepted = app.post(&format!("/api/v1/returns/{ret}/accept"), &app.finance, json!({})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let r = withdraw(kept.clone(), officer.clone(), "after all").await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"), "{}", r.text);
    assert_eq!(withdraw(kept.clone(), app.finance.clone(), "Superseded").await.status, 200);
    assert_eq!(listed(app.finance.clone()).await, vec![finances.clone()]);

    // The trail: one event per withdrawal, on the award; the rows reconcile.
    let events = app.get("/api/v1/audit/events?action=document.withdrawn", &app.auditor).await;
    let seen: Vec<(&str, &str, &str)> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["data"]["document_id"].as_str().unwrap(),
                e["actor_sub"].as_str().unwrap(),
                e["data"]["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(id.as_str(), "officer-peterborough", "The wrong quarter's report"), (kept.as_str(), "fiona", "Superseded")]
    );
    app.assert_verified().await;

    // The serving role can neither take a withdrawal back nor aim one at another award.
    let mut service = app.db.connect_as_service();
    for statement in [
        format!("UPDATE document_withdrawals SET reason = 'x' WHERE document_id = '{id}'"),
        format!("DELETE FROM document_withdrawals WHERE document_id = '{id}'"),
        format!(
            "INSERT INTO document_withdrawals (id, document_id, award_id, reason, withdrawn_by, withdrawn_at) \
             VALUES (gen_random_uuid(), '{finances}', gen_random_uuid(), 'x', 'x', now())"
        ),
    ] {
        let error = diesel::sql_query(statement.as_str()).execute(&mut service).expect_err(&statement);
        let text = error.to_string();
        assert!(
            ["permission denied", "never", "names its document"].iter().any(|w| text.contains(w)),
            "{statement}: {text}"
        );
    }
}

/// A decision holds its papers: finance or an approver attaches the signed notice; staff and
/// auditors read it with the decision, recipients never; the same file twice is a retry;
/// racing uploads keep to the quota; an approver withdraws a decision's document (and only a
/// decision's); the decision's history shows both; the rows reconcile with the trail.
#[actix_web::test]
async fn a_decision_holds_its_signed_notice() {
    let app = TestApp::builder().settings(|s| s.document_quota = 3000).spawn().await;
    let decision = app.decision("PCC-DN-2021-007", "2021-04-20").await;
    let path = format!("/api/v1/decisions/{decision}/documents");
    let notice = upload(&app, &path, &app.finance, "PCC-DN-2021-007 signed.pdf", &pdf(600)).await;
    assert_eq!(notice.status, 201, "{}", notice.text);
    assert_eq!(
        (notice.body["decision_id"].as_str(), notice.body["award_id"].clone()),
        (Some(decision.as_str()), Value::Null)
    );
    let paper = upload(&app, &path, &app.approver, "board paper.pdf", &pdf(700)).await;
    assert_eq!(paper.status, 201, "{}", paper.text);
    let again = upload(&app, &path, &app.approver, "signed again.pdf", &pdf(600)).await;
    assert_eq!((again.status, again.problem().as_str()), (409, "conflict"), "{}", again.text);

    // Who may: finance and approvers attach; auditors read; recipients neither.
    let recipient = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let officer = app.token("fenland-officer", &[Role::Recipient], Some(&recipient));
    for token in [&app.auditor, &officer] {
        let r = upload(&app, &path, token, "mine.pdf", &pdf(100)).await;
        assert_eq!((r.status, r.problem().as_str()), (403, "forbidden"), "{}", r.text);
    }
    assert_eq!(ids(&app.get(&path, &app.auditor).await), [notice.id(), paper.id()]);
    assert_eq!(app.get(&path, &officer).await.status, 403);
    for read in [format!("/api/v1/documents/{}", notice.id()), format!("/api/v1/documents/{}/content", notice.id())] {
        assert_eq!(app.get(&read, &officer).await.status, 404, "{read}");
    }
    assert_eq!(app.get(&format!("/api/v1/documents/{}/content", notice.id()), &app.auditor).await.bytes, pdf(600));
    let nowhere = format!("/api/v1/decisions/{}/documents", uuid::Uuid::now_v7());
    assert_eq!(upload(&app, &nowhere, &app.finance, "x.pdf", &pdf(100)).await.status, 404);
    assert_eq!(app.get(&nowhere, &app.auditor).await.status, 404);

    // 1,300 bytes held of 3,000: of four racing uploads of 1,000 bytes, one fits.
    let files: Vec<Vec<u8>> = (0..4u8)
        .map(|n| {
            let mut p = pdf(1000);
            p[999] = b'0' + n;
            p
        })
        .collect();
    let replies = join_all(files.iter().map(|f| upload(&app, &path, &app.approver, "more.pdf", f))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    let refused = replies.iter().find(|r| r.status == 409).expect("a refusal");
    assert!(refused.text.contains("the decision's documents hold 2300 bytes"), "{}", refused.text);
    // The count and the insert are one under the decision's lock: while another transaction
    // holds it, an upload waits (this one, past the quota, is then refused and stores nothing).
    let mut holder = app.db.connect();
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    diesel::sql_query(format!(
        "SELECT pg_advisory_xact_lock({}, hashtext('{decision}'))",
        grants::documents::DECISION_DOCUMENTS_LOCK
    ))
    .execute(&mut holder)
    .unwrap();
    let waiting = actix_web::rt::time::timeout(
        std::time::Duration::from_millis(1500),
        upload(&app, &path, &app.approver, "waits.pdf", &pdf(800)),
    )
    .await;
    assert!(waiting.is_err(), "the upload did not wait for the decision's lock: {:?}", waiting.map(|r| r.text));
    diesel::sql_query("ROLLBACK").execute(&mut holder).unwrap();

    // An approver withdraws the decision's document; it leaves the list and stays by id.
    let withdrawal = format!("/api/v1/documents/{}/withdrawal", paper.id());
    let r = app.post(&withdrawal, &app.approver, json!({"reason": "The draft, not the paper"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&app.get(&path, &app.auditor).await).len(), 2, "the notice and the one that fitted");
    let history = app.get(&format!("/api/v1/decisions/{decision}/history"), &app.auditor).await;
    let actions: Vec<&str> =
        history.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["decision.recorded", "document.added", "document.added", "document.added", "document.withdrawn"]
    );
    // A decision's document belongs to no award, in its events too.
    assert!(history.body["events"].as_array().unwrap().iter().all(|e| e["award_id"].is_null()), "{}", history.text);
    // The quota is a limit, not a bar: 2,300 bytes held, 700 more fill it exactly.
    let mut rest = pdf(700);
    rest[699] = b'!';
    let exact = upload(&app, &path, &app.finance, "the rest.pdf", &rest).await;
    assert_eq!(exact.status, 201, "{}", exact.text);
    app.assert_verified().await;

    // The database holds a document to one owner: an award or a decision, not both, not none.
    let mut service = app.db.connect_as_service();
    for (award, decision_id) in [("NULL", "NULL".to_string()), ("gen_random_uuid()", format!("'{decision}'"))] {
        let statement = format!(
            "INSERT INTO documents (id, award_id, decision_id, filename, media_type, size, sha256, uploaded_by) \
             VALUES (gen_random_uuid(), {award}, {decision_id}, 'x.pdf', 'application/pdf', 1, repeat('a', 64), 'x')"
        );
        let refused = diesel::sql_query(&statement).execute(&mut service).unwrap_err().to_string();
        assert!(refused.contains("documents_one_owner"), "{statement}: {refused}");
    }
}

/// A document is stored in chunks of 256 KiB, and comes back byte for byte; its withdrawal's
/// event belongs to its award (so the award's history shows it).
#[actix_web::test]
async fn a_document_is_kept_in_256_kib_chunks_and_its_withdrawal_is_the_awards() {
    let app = TestApp::spawn().await;
    let (award, _, _, _) = returned(&app).await;
    let mut bytes = pdf(600 * 1024);
    bytes[600 * 1024 - 1] = b'!';
    let r = upload(&app, &format!("/api/v1/awards/{award}/documents"), &app.finance, "big.pdf", &bytes).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.id();
    #[derive(diesel::QueryableByName)]
    struct Chunk {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        size: i32,
    }
    let chunks: Vec<Chunk> = diesel::sql_query(format!(
        "SELECT length(data) AS size FROM document_chunks WHERE document_id = '{id}' ORDER BY n"
    ))
    .load(&mut app.db.connect())
    .unwrap();
    assert_eq!(chunks.iter().map(|c| c.size).collect::<Vec<_>>(), [262_144, 262_144, 90_112]);
    assert_eq!(app.get(&format!("/api/v1/documents/{id}/content"), &app.auditor).await.bytes, bytes);
    let r = app.post(&format!("/api/v1/documents/{id}/withdrawal"), &app.finance, json!({"reason": "Too big"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let events = app.get("/api/v1/audit/events?action=document.withdrawn", &app.auditor).await;
    assert_eq!(events.body["items"][0]["award_id"].as_str(), Some(award.as_str()), "{}", events.text);
}

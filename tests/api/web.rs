//! The screens' foundation: the start page on the layout, the files it loads served by the
//! binary itself under this build's digest, and the page-not-found page.

use crate::helpers::TestApp;

/// Every `href` and `src` of a page.
fn links(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = page;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            out.push(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    out
}

#[actix_web::test]
async fn the_start_page_loads_only_this_builds_own_files() {
    let app = TestApp::spawn().await;
    let r = app.send("GET", "/", None, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("content-security-policy").as_deref(), Some(grants::web::PAGE_CSP));
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let page = &r.text;
    assert_eq!(page.matches("<h1").count(), 1, "one h1");
    assert!(page.contains("<html lang=\"en-GB\""));
    assert!(
        page.contains("href=\"#main-content\"") && page.contains("id=\"main-content\""),
        "a skip link to the content"
    );
    for brand in ["GOV.UK", "govuk-header__logo", "crown", "GDS Transport"] {
        assert!(!page.contains(brand), "the office is not GOV.UK: {brand}");
    }
    let digest = grants::web::assets::DIGEST.as_str();
    let files: Vec<String> = links(page).into_iter().filter(|l| l.starts_with("/assets/")).collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for link in links(page) {
        assert!(link.starts_with('/') || link.starts_with('#'), "nothing from another origin: {link}");
    }
    for file in &files {
        assert!(file.starts_with(&format!("/assets/{digest}/")), "{file}");
        let r = app.send("GET", file, None, &[], None).await;
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.header("cache-control").as_deref(), Some("public, max-age=31536000, immutable"), "{file}");
        assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"));
        let kind = if file.ends_with(".css") { "text/css" } else { "text/javascript" };
        assert_eq!(r.header("content-type").as_deref(), Some(format!("{kind}; charset=utf-8").as_str()), "{file}");
    }
    // The script loads GOV.UK Frontend by a relative name, from the same build's directory.
    let init = app.send("GET", &format!("/assets/{digest}/init.mjs"), None, &[], None).await;
    assert!(init.text.contains("from \"./govuk-frontend.min.js\""), "{}", init.text);
    let css = app.send("GET", &format!("/assets/{digest}/govuk-frontend.min.css"), None, &[], None).await;
    assert!(!css.text.contains("GDS Transport") && !css.text.contains("url("), "no GOV.UK font, nothing loaded");
}

#[actix_web::test]
async fn another_builds_files_and_unknown_names_are_page_not_found() {
    let app = TestApp::spawn().await;
    let digest = grants::web::assets::DIGEST.as_str();
    for path in [
        "/assets/0000000000000000/govuk-frontend.min.css".to_string(),
        format!("/assets/{digest}/secrets.txt"),
        format!("/assets/{digest}/..%2F..%2FCargo.toml"),
    ] {
        let r = app.send("GET", &path, None, &[], None).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.text.contains("<h1 class=\"govuk-heading-l\">Page not found</h1>"), "{path}: {}", r.text);
        assert_eq!(r.header("content-security-policy").as_deref(), Some(grants::web::PAGE_CSP));
    }
    // The API's own answers are unchanged: problems, not pages.
    let r = app.send("GET", "/api/v1/nowhere", None, &[], None).await;
    assert_eq!((r.status, r.header("content-type").as_deref()), (404, Some("application/problem+json")));
}

/// A client that shows each redirect rather than following it.
fn browser() -> awc::Client {
    awc::Client::builder().disable_redirects().finish()
}

/// One request as a browser on this service would send it: (status, headers, page).
async fn visit(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<&str>,
) -> (u16, awc::http::header::HeaderMap, String) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = browser().request(method, format!("{}{path}", app.address));
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut res = match form {
        Some(body) => {
            req.insert_header(("Content-Type", "application/x-www-form-urlencoded")).send_body(body.to_string()).await
        }
        None => req.send().await,
    }
    .unwrap();
    let body = res.body().await.unwrap();
    (res.status().as_u16(), res.headers().clone(), String::from_utf8_lossy(&body).to_string())
}

fn header(headers: &awc::http::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_string())
}

/// Signs in as the demo's `person`: the `Set-Cookie` the service answered.
async fn sign_in(app: &TestApp, person: &str, extra: &[(&str, &str)]) -> String {
    let (status, headers, page) = visit(app, "POST", "/sign-in/demo", extra, Some(&format!("person={person}"))).await;
    let home = if person.starts_with("officer:") { "/grants" } else { "/account" };
    assert_eq!((status, header(&headers, "location").as_deref()), (303, Some(home)), "{page}");
    header(&headers, "set-cookie").expect("a session cookie")
}

/// `name=value` of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

#[actix_web::test]
async fn the_demo_signs_in_its_people_into_sessions_the_server_holds() {
    let app = TestApp::spawn().await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let (status, _, page) = visit(&app, "GET", "/sign-in", &[], None).await;
    assert_eq!(status, 200);
    for person in ["Demo finance officer", "Demo approver", "Demo auditor", "An officer of Fenland CSP"] {
        assert!(page.contains(person), "{person}");
    }
    assert_eq!(page.matches("<h1").count(), 1);

    // On loopback over HTTP the cookie is HttpOnly and SameSite=Lax; under any other host it
    // is also Secure and __Host-.
    let cookie = sign_in(&app, &format!("officer:{fenland}"), &[]).await;
    assert!(cookie.starts_with("grants-session=") && cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"), "{cookie}");
    let public = sign_in(&app, "demo-finance", &[("Host", "grants.example")]).await;
    assert!(
        public.starts_with("__Host-grants-session=") && public.ends_with("; Path=/; HttpOnly; SameSite=Lax; Secure"),
        "{public}"
    );

    // The session names the person, roles and recipient; the table holds only a digest.
    let (status, _, page) = visit(&app, "GET", "/account", &[("Cookie", &pair(&cookie))], None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Demo officer of Fenland CSP") && page.contains("recipient"), "{page}");
    let token = pair(&cookie).split_once('=').unwrap().1.to_string();
    let mut conn = app.db.connect();
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Held {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id_hash: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
        recipient_id: Option<uuid::Uuid>,
    }
    let held: Vec<Held> =
        diesel::sql_query("SELECT id_hash, recipient_id FROM web_sessions WHERE subject LIKE 'demo-officer-%'")
            .load(&mut conn)
            .unwrap();
    assert_eq!(held.len(), 1);
    assert_ne!(held[0].id_hash, token, "the token itself is never stored");
    assert_eq!(held[0].recipient_id.map(|r| r.to_string()), Some(fenland.clone()));

    // Nobody unknown: the error summary links to the field.
    let (status, _, page) = visit(&app, "POST", "/sign-in/demo", &[], Some("person=demo-root")).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("There is a problem") && page.contains("href=\"#person\"") && page.contains("id=\"person\""),
        "{page}"
    );
    let (status, _, _) = visit(&app, "GET", "/account", &[], None).await;
    assert_eq!(status, 303, "no session: to the sign-in page");
}

#[actix_web::test]
async fn sessions_resist_fixation_forgery_and_outliving_their_time() {
    let app = TestApp::spawn().await;
    // Fixation: a token the browser held before is not the one it holds after signing in,
    // and opens nothing.
    let planted = "grants-session=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let cookie = pair(&sign_in(&app, "demo-finance", &[("Cookie", planted)]).await);
    assert_ne!(cookie, planted);
    assert_eq!(visit(&app, "GET", "/account", &[("Cookie", planted)], None).await.0, 303);
    let (status, _, page) = visit(&app, "GET", "/account", &[("Cookie", &cookie)], None).await;
    assert_eq!(status, 200);
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // Forgery: signing out without the form's token, or from another site, does nothing.
    let headers = [("Cookie", cookie.as_str())];
    let (status, _, page) = visit(&app, "POST", "/sign-out", &headers, Some("csrf=wrong")).await;
    assert_eq!(status, 403, "{page}");
    let cross = [("Cookie", cookie.as_str()), ("Origin", "https://evil.example")];
    assert_eq!(visit(&app, "POST", "/sign-out", &cross, Some(&format!("csrf={csrf}"))).await.0, 403);
    let sites = [("Cookie", cookie.as_str()), ("Sec-Fetch-Site", "cross-site")];
    assert_eq!(visit(&app, "POST", "/sign-out", &sites, Some(&format!("csrf={csrf}"))).await.0, 403);
    let (status, headers_out, _) =
        visit(&app, "POST", "/sign-in/demo", &[("Origin", "https://evil.example")], Some("person=demo-finance")).await;
    assert_eq!((status, headers_out.get("set-cookie").is_none()), (403, true), "no session from another site");
    assert_eq!(visit(&app, "GET", "/account", &[("Cookie", &cookie)], None).await.0, 200, "still signed in");

    // Sign-out ends the session: the cookie is removed and the old token opens nothing.
    let origin = app.address.to_string();
    let ours = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
    let (status, out, _) = visit(&app, "POST", "/sign-out", &ours, Some(&format!("csrf={csrf}"))).await;
    assert_eq!(status, 303);
    assert!(header(&out, "set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(visit(&app, "GET", "/account", &[("Cookie", &cookie)], None).await.0, 303, "ended");

    // Time: 30 minutes idle, or 8 hours in all, and the session is over.
    use diesel::RunQueryDsl;
    let mut conn = app.db.connect();
    for (person, age) in [
        ("demo-approver", "last_seen_at = now() - interval '31 minutes'"),
        ("demo-auditor", "created_at = now() - interval '8 hours 1 minute', last_seen_at = now()"),
    ] {
        let cookie = pair(&sign_in(&app, person, &[]).await);
        assert_eq!(visit(&app, "GET", "/account", &[("Cookie", &cookie)], None).await.0, 200);
        diesel::sql_query(format!("UPDATE web_sessions SET {age} WHERE subject = '{person}'"))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(visit(&app, "GET", "/account", &[("Cookie", &cookie)], None).await.0, 303, "{person}: {age}");
    }
}

#[actix_web::test]
async fn outside_demo_mode_there_is_no_demo_sign_in() {
    let app = TestApp::builder().settings(|s| s.demo_sign_in = false).spawn().await;
    let (status, _, page) = visit(&app, "GET", "/sign-in", &[], None).await;
    assert_eq!(status, 200);
    assert!(!page.contains("demo-finance") && !page.contains("/sign-in/demo"), "{page}");
    let (status, headers, page) = visit(&app, "POST", "/sign-in/demo", &[], Some("person=demo-finance")).await;
    assert_eq!((status, headers.get("set-cookie").is_none()), (404, true), "{page}");
}

/// The officer's first page: their own organisation's grants, newest year first, with what
/// was paid and the next return due; never another organisation's; not a staff page.
#[actix_web::test]
async fn an_officer_lands_on_their_own_organisations_grants() {
    let app = TestApp::spawn().await;
    let f19 = app.create_fund("CDRG", "2019-20", "500000").await.id();
    let f20 = app.create_fund("CDRG", "2020-21", "500000").await.id();
    let csp = app.programme("CSP allocation", "csp_allocation").await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let hunts = app.recipient("Huntingdonshire CSP", "community_safety_partnership").await;
    for (fund, recipient, year, title, amount) in [
        (&f19, &fenland, 2019, "Fenland allocation 2019/20", "40000"),
        (&f20, &fenland, 2020, "Fenland allocation 2020/21", "50000"),
        (&f20, &hunts, 2020, "Huntingdonshire allocation 2020/21", "20000"),
    ] {
        let mut body = app.award_body(fund, &csp, recipient, serde_json::json!(amount));
        body["title"] = serde_json::json!(title);
        body["start_date"] = serde_json::json!(format!("{year}-04-01"));
        body["end_date"] = serde_json::json!(format!("{}-03-31", year + 1));
        let r = app.create_award(body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        app.approve(&r.id()).await;
    }
    let cookie = pair(&sign_in(&app, &format!("officer:{fenland}"), &[]).await);
    let (status, _, page) = visit(&app, "GET", "/grants", &[("Cookie", &cookie)], None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("<h1").count(), 1);
    assert!(page.contains("Fenland CSP"), "the organisation named");
    let (newer, older) = (page.find("Fenland allocation 2020/21"), page.find("Fenland allocation 2019/20"));
    assert!(newer.is_some() && older.is_some() && newer < older, "newest year first: {page}");
    assert!(page.contains("£50,000.00") && page.contains("£0.00"), "amount and paid");
    assert!(page.contains("30 July 2020"), "the first quarter's return, not yet in, is next: {page}");
    assert!(page.contains("govuk-tag--red\">Overdue"), "returns long due are flagged");
    assert!(!page.contains("Huntingdonshire"), "never another organisation's grants");

    // Staff are refused the officers' page; no session goes to sign in.
    let staff = pair(&sign_in(&app, "demo-finance", &[]).await);
    assert_eq!(visit(&app, "GET", "/grants", &[("Cookie", &staff)], None).await.0, 403);
    let (status, headers, _) = visit(&app, "GET", "/grants", &[], None).await;
    assert_eq!((status, header(&headers, "location").as_deref()), (303, Some("/sign-in")));
}

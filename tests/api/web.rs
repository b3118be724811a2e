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

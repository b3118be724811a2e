//! Signing in and out of the screens. In demo mode (`serve --demo` only) a page lists the
//! demo's people — finance, an approver, an auditor, an admin and an officer of each
//! partnership — and signing in as one needs no password. A deployment's sign-in through the
//! office's OpenID Connect provider, still to come, will start the same sessions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, LOOPBACK_COOKIE, SECURE_COOKIE, Session};
use super::{Layout, page};
use crate::domain::RecipientKind;
use crate::domain::ids::RecipientId;
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::recipients::store::{self as recipients, RecipientQuery};
use crate::state::AppState;

/// One of the demo's people.
pub struct Person {
    /// The form's value: `demo-finance`, or `officer:<recipient id>`.
    pub key: String,
    pub label: String,
    pub hint: String,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignIn {
    layout: Layout,
    demo: bool,
    people: Vec<Person>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct Account {
    layout: Layout,
    name: String,
    roles: String,
    csrf: String,
}

/// The staff among the demo's people: (subject, role, name).
const STAFF: &[(&str, Role, &str)] = &[
    ("demo-finance", Role::Finance, "Demo finance officer"),
    ("demo-approver", Role::Approver, "Demo approver"),
    ("demo-auditor", Role::Auditor, "Demo auditor"),
    ("demo-admin", Role::Admin, "Demo admin"),
];

/// The demo's people: its staff, then an officer of each partnership.
fn people(conn: &mut diesel::PgConnection) -> Result<Vec<Person>, ApiError> {
    let mut out: Vec<Person> = STAFF
        .iter()
        .map(|(sub, role, name)| Person {
            key: sub.to_string(),
            label: name.to_string(),
            hint: format!("Signs in with the {} role", role.as_str()),
        })
        .collect();
    let query =
        RecipientQuery { kind: Some(RecipientKind::CommunitySafetyPartnership), limit: 100, ..Default::default() };
    for r in recipients::list(conn, &query)? {
        out.push(Person {
            key: format!("officer:{}", r.id),
            label: format!("An officer of {}", r.name),
            hint: "Sees this partnership's grants and returns only".into(),
        });
    }
    Ok(out)
}

/// Who a demo key names, if anyone.
fn demo_user(key: &str, conn: &mut diesel::PgConnection) -> Result<Option<AuthUser>, ApiError> {
    if let Some((sub, role, name)) = STAFF.iter().find(|(sub, _, _)| *sub == key) {
        return Ok(Some(AuthUser {
            sub: sub.to_string(),
            name: Some(name.to_string()),
            roles: vec![*role],
            recipient_id: None,
        }));
    }
    let Some(id) = key.strip_prefix("officer:").and_then(|t| t.parse::<RecipientId>().ok()) else { return Ok(None) };
    let Some(r) = recipients::find(conn, id)? else { return Ok(None) };
    if r.kind != RecipientKind::CommunitySafetyPartnership {
        return Ok(None);
    }
    Ok(Some(AuthUser {
        sub: format!("demo-officer-{id}"),
        name: Some(format!("Demo officer of {}", r.name)),
        roles: vec![Role::Recipient],
        recipient_id: Some(id),
    }))
}

/// Whether the request's host is this machine's loopback (development over plain HTTP).
fn loopback_host(req: &HttpRequest) -> bool {
    let host = req.connection_info().host().to_string();
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host.as_str(), |(n, _)| n);
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

/// The session cookie's name for this request: `__Host-` and `Secure` unless on loopback.
fn cookie_name(req: &HttpRequest) -> &'static str {
    if loopback_host(req) { LOOPBACK_COOKIE } else { SECURE_COOKIE }
}

/// The `Set-Cookie` value for `token` (empty and expired: the cookie removed).
fn cookie(req: &HttpRequest, token: &str) -> String {
    let name = cookie_name(req);
    let secure = if name == SECURE_COOKIE { "; Secure" } else { "" };
    let age = if token.is_empty() { "; Max-Age=0" } else { "" };
    format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax{secure}{age}")
}

/// The cookie's token, if the browser sent one.
fn token_of(req: &HttpRequest) -> Option<String> {
    req.cookie(cookie_name(req)).map(|c| c.value().to_string()).filter(|t| !t.is_empty())
}

/// What a form posted from another site is told.
const CROSS_SITE: &str = "This form was sent from another site, so nothing was done.";

/// Whether a form was posted from this site: its `Origin` (or, without one, `Sec-Fetch-Site`)
/// must be this site's.
pub fn same_origin(req: &HttpRequest) -> bool {
    let host = req.connection_info().host().to_string();
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let fetch_site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match (origin, fetch_site) {
        (Some(origin), _) => origin.split_once("://").is_some_and(|(_, rest)| rest == host),
        (None, Some(site)) => matches!(site, "same-origin" | "none"),
        (None, None) => true,
    }
}

/// The session of the request, if it has one that stands.
pub async fn session_of(state: &AppState, req: &HttpRequest) -> Result<Option<Session>, ApiError> {
    let Some(token) = token_of(req) else { return Ok(None) };
    state.tx(move |conn| Ok(session::find(conn, &token, chrono::Utc::now())?)).await
}

/// A redirect after a form (POST/redirect/GET).
fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_string())).finish()
}

/// The sign-in page: the demo's people in demo mode; otherwise, for now, how to get in.
#[get("/sign-in")]
pub async fn sign_in(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let demo = state.demo_sign_in;
    let people = if demo { state.read(people).await? } else { Vec::new() };
    Ok(page(
        actix_web::http::StatusCode::OK,
        SignIn { layout: Layout::new("Sign in"), demo, people, error: None }.render(),
    ))
}

/// The demo sign-in form.
#[derive(Deserialize)]
pub struct DemoSignIn {
    #[serde(default)]
    person: String,
}

/// Signs in as one of the demo's people (demo mode only): a new session, whatever the browser
/// held before, then the account page.
#[post("/sign-in/demo")]
pub async fn sign_in_demo(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<DemoSignIn>,
) -> Result<HttpResponse, ApiError> {
    if !state.demo_sign_in {
        return Ok(super::not_found());
    }
    if !same_origin(&req) {
        return Ok(super::forbidden(CROSS_SITE));
    }
    let key = form.into_inner().person;
    let started = state
        .tx(move |conn| {
            let Some(user) = demo_user(&key, conn)? else { return Ok(None) };
            Ok(Some(session::start(conn, &user, chrono::Utc::now())?))
        })
        .await?;
    let Some((token, session)) = started else {
        let people = state.read(people).await?;
        let error = Some("Select who you are".to_string());
        let html = SignIn { layout: Layout::new("Error: Sign in"), demo: true, people, error }.render();
        return Ok(page(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, html));
    };
    // A recipient's officer lands on their organisation's grants.
    let home = if session.user.recipient_id.is_some() { "/grants" } else { "/account" };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, home))
        .insert_header((header::SET_COOKIE, cookie(&req, &token)))
        .finish())
}

/// Who is signed in, with the sign-out button; without a session, the sign-in page.
#[get("/account")]
pub async fn account(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(session) = session_of(&state, &req).await? else { return Ok(see_other("/sign-in")) };
    let user = session.user;
    let roles = user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
    let html =
        Account { layout: Layout::new("Your account"), name: user.name.unwrap_or(user.sub), roles, csrf: session.csrf }
            .render();
    Ok(page(actix_web::http::StatusCode::OK, html))
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct SignOut {
    #[serde(default)]
    csrf: String,
}

/// Ends the session (its CSRF token required, from this site only) and removes the cookie.
#[post("/sign-out")]
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignOut>,
) -> Result<HttpResponse, ApiError> {
    if !same_origin(&req) {
        return Ok(super::forbidden(CROSS_SITE));
    }
    let Some(token) = token_of(&req) else { return Ok(see_other("/sign-in")) };
    let Some(session) = session_of(&state, &req).await? else { return Ok(see_other("/sign-in")) };
    if !crate::http::auth::same_secret(&form.csrf, &session.csrf) {
        return Ok(super::forbidden("This form has expired or was not sent from this service. Go back and try again."));
    }
    state.tx(move |conn| Ok(session::end(conn, &token, chrono::Utc::now())?)).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .insert_header((header::SET_COOKIE, cookie(&req, "")))
        .finish())
}

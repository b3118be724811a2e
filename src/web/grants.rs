//! A recipient's officer's grants: "Your organisation's grants", the first page of their
//! journey. It reads what the API reads for them — their own recipient's awards,
//! with their money and their returns' schedule — through the same functions.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use super::sign_in::session_of;
use super::{Layout, page};
use crate::awards::store::AwardQuery;
use crate::delivery::monitoring::monitoring_of;
use crate::domain::ReturnStatus;
use crate::error::ApiError;
use crate::http::auth::Role;
use crate::reports::pack::html::pounds;
use crate::state::AppState;

/// One grant as the list shows it.
pub struct Line {
    pub reference: String,
    pub title: String,
    pub year: String,
    pub amount: String,
    pub paid: String,
    /// The next return not yet received, as `30 July 2020`; none when all are in.
    pub next_due: Option<String>,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "grants.html")]
struct Grants {
    layout: Layout,
    organisation: String,
    lines: Vec<Line>,
}

/// "Your organisation's grants": a recipient officer's own awards, newest year first. Without
/// a session, the sign-in page; to staff, a refusal saying whose page it is.
#[get("/grants")]
pub async fn grants(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(session) = session_of(&state, &req).await? else {
        return Ok(HttpResponse::SeeOther().insert_header(("Location", "/sign-in")).finish());
    };
    let user = session.user;
    let (true, Some(own)) = (user.has(Role::Recipient), user.recipient_id) else {
        return Ok(super::forbidden("This page is for the officers of the organisations the office funds."));
    };
    let default_days = state.return_due_days;
    let today = chrono::Utc::now().date_naive();
    let (organisation, mut lines) = state
        .read(move |conn| {
            let organisation = crate::recipients::store::find(conn, own)?.map_or_else(String::new, |r| r.name);
            let query = AwardQuery {
                financial_year: None,
                fund_id: None,
                programme_id: None,
                recipient_id: None,
                scope: Some(own),
                status: None,
                category: None,
                cursor: None,
                limit: 1000,
            };
            let mut lines = Vec::new();
            for award in crate::awards::list(conn, &query)? {
                let monitoring = monitoring_of(conn, Some(own), award.id, today, default_days)?;
                let waiting =
                    monitoring.schedule.iter().find(|r| r.return_status.is_none_or(|s| s == ReturnStatus::Returned));
                lines.push(Line {
                    reference: award.reference,
                    title: award.title,
                    year: award.financial_year.to_string(),
                    amount: pounds(award.amount),
                    paid: pounds(award.paid),
                    next_due: waiting.map(|r| r.due_on.format("%-d %B %Y").to_string()),
                    overdue: monitoring.schedule.iter().any(|r| r.overdue),
                });
            }
            Ok((organisation, lines))
        })
        .await?;
    lines.sort_by(|a, b| b.year.cmp(&a.year).then_with(|| a.reference.cmp(&b.reference)));
    let html = Grants { layout: Layout::new("Your organisation's grants"), organisation, lines }.render();
    Ok(page(actix_web::http::StatusCode::OK, html))
}

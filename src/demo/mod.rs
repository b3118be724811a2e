//! Demo data: the Cambridgeshire crime and disorder reduction grants pot for 2019-20 and
//! 2020-21. Outside Links (£30,000.00 then £45,000.00) and the £1,300,000.00 budgets are from
//! the Commissioner's board report; every other amount is illustrative, and says so.

pub mod data;
mod load;

use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::config::Settings;
use crate::domain::ids::{AwardId, FundId, RecipientId};
use crate::error::ApiError;
use crate::http::auth::{Role, TokenRequest, mint};

/// What the demo loaded, for the start-up banner.
pub struct DemoSummary {
    /// The six CSPs' recipient ids, by name: a `csp` token needs one.
    pub csp_recipient: (String, RecipientId),
    /// An approved award to show in the `curl` tour.
    pub award_id: AwardId,
    /// A fund to show in the tour.
    pub fund_id: FundId,
}

/// Loads the demo data in one transaction, unless the database already holds anything (any
/// audit event: every write appends one). Returns `None` when it was not empty.
pub fn load_if_empty(conn: &mut PgConnection) -> Result<Option<DemoSummary>, ApiError> {
    use crate::db::schema::audit_events as e;
    conn.transaction(|conn| {
        let existing: Option<i64> = e::table.select(e::seq).first(conn).optional()?;
        if existing.is_some() {
            return Ok(None);
        }
        load::load(conn).map(Some)
    })
}

/// True when every audit event was made by the demo: its loader and the tokens `serve --demo`
/// prints (subjects `demo-…`) and the service itself (`system:…`). A database anyone else has
/// written to is not a demo, and `serve --demo` prints no tokens for it.
pub fn holds_only_demo(conn: &mut PgConnection) -> Result<bool, ApiError> {
    use crate::db::schema::audit_events as e;
    let foreign: Option<i64> = e::table
        .filter(e::actor_sub.not_like("demo-%"))
        .filter(e::actor_sub.not_like("system:%"))
        .select(e::seq)
        .first(conn)
        .optional()?;
    Ok(foreign.is_none())
}

/// What an earlier `serve --demo` loaded, found again on a restart (so the banner can print a
/// token for every role each time); `None` when the database holds other data.
pub fn find(conn: &mut PgConnection) -> Result<Option<DemoSummary>, ApiError> {
    use crate::db::schema::{awards as a, recipients as r};
    let csp: Option<RecipientId> = r::table.filter(r::name.eq(data::TOKEN_CSP)).select(r::id).first(conn).optional()?;
    let award: Option<(AwardId, FundId)> =
        a::table.filter(a::title.eq("Outside Links 2020-21")).select((a::id, a::fund_id)).first(conn).optional()?;
    Ok(csp.zip(award).map(|(csp, (award_id, fund_id))| DemoSummary {
        csp_recipient: (data::TOKEN_CSP.to_string(), csp),
        award_id,
        fund_id,
    }))
}

/// `grants seed`: the demo into an empty database (created and migrated if need be).
pub fn seed(settings: &Settings) -> Result<(), String> {
    crate::db::prepare(&settings.database_url)?;
    let loaded = load_into(&settings.database_url)?;
    println!(
        "{}",
        if loaded.is_some() { "demo data loaded" } else { "the database already holds data: nothing loaded" }
    );
    Ok(())
}

/// Loads the demo into the database at `url` unless it holds anything already.
fn load_into(url: &str) -> Result<Option<DemoSummary>, String> {
    let mut conn = PgConnection::establish(url).map_err(|e| format!("cannot connect: {e}"))?;
    load_if_empty(&mut conn).map_err(|e| format!("demo data: {e}"))
}

/// `serve --demo`, before it serves: the demo loaded into an empty database, and a token per
/// role with `curl` examples printed, as long as the database holds nothing but the demo's own
/// making (a database anyone else has written to gets no tokens).
pub fn welcome(settings: &Settings) -> Result<(), String> {
    let loaded = load_into(settings.serving_url())?;
    let fresh = loaded.is_some();
    let mut conn = PgConnection::establish(settings.serving_url()).map_err(|e| format!("cannot connect: {e}"))?;
    let summary = match loaded {
        Some(summary) => Some(summary),
        None => find(&mut conn).map_err(|e| format!("demo data: {e}"))?,
    };
    let only_demo = fresh || holds_only_demo(&mut conn).map_err(|e| format!("demo data: {e}"))?;
    if only_demo {
        banner(settings, summary.as_ref(), fresh)
    } else {
        log::warn!(
            "demo: this database holds data the demo did not make, so no tokens are printed; \
             mint them with `grants token` if you hold the secret"
        );
        Ok(())
    }
}

/// Prints a token for each role (the recipient's for [`data::TOKEN_CSP`]) and `curl` examples.
fn banner(settings: &Settings, summary: Option<&DemoSummary>, loaded: bool) -> Result<(), String> {
    let jwt = settings.jwt.as_ref().ok_or("no token key")?;
    let base = format!("http://{}", settings.bind);
    println!("\nDemo tokens (valid 8 hours):");
    let csp = summary.map(|s| s.csp_recipient.clone());
    // Every demo subject starts `demo-`, which is how a later start knows the data is the demo's.
    for (role, sub, name) in [
        (Role::Admin, "demo-admin", "Demo admin"),
        (Role::Finance, "demo-finance", "Demo finance officer"),
        (Role::Approver, "demo-approver", "Demo approver"),
        (Role::Auditor, "demo-auditor", "Demo auditor"),
        (Role::Recipient, "demo-csp", "Demo CSP officer (recipient role)"),
    ] {
        let recipient_id = match (role, &csp) {
            (Role::Recipient, Some((_, id))) => Some(*id),
            (Role::Recipient, None) => continue,
            _ => None,
        };
        let ttl = std::time::Duration::from_secs(8 * 3600);
        let token = mint(jwt, &TokenRequest { sub, name: Some(name), roles: &[role], recipient_id, ttl })?;
        println!("  export {}_TOKEN={token}", role.as_str().to_uppercase());
    }
    if let Some((name, _)) = &csp {
        println!("  (the recipient token belongs to {name})");
    }
    println!("\nTry:");
    println!("  curl -s -H \"Authorization: Bearer $FINANCE_TOKEN\" '{base}/api/v1/funds?financial_year=2020-21'");
    println!(
        "  curl -s -H \"Authorization: Bearer $FINANCE_TOKEN\" '{base}/api/v1/awards?financial_year=2020-21&status=draft'"
    );
    if let Some(s) = summary {
        println!("  curl -s -H \"Authorization: Bearer $AUDITOR_TOKEN\" {base}/api/v1/awards/{}", s.award_id);
        println!("  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" {base}/api/v1/funds/{}", s.fund_id);
    }
    if csp.is_some() {
        println!("  curl -s -H \"Authorization: Bearer $RECIPIENT_TOKEN\" {base}/api/v1/awards");
    }
    println!("  open {base}/docs/ for the interactive API documentation\n");
    match (summary, loaded) {
        (_, true) => println!(
            "(demo data loaded; the tokens stay valid across restarts: the secret is kept in {})\n",
            crate::config::demo_secret_file().display()
        ),
        (Some(_), false) => println!("(the demo data was already loaded; tokens from earlier starts still work)\n"),
        (None, false) => println!(
            "(the database holds other data, so no demo data was loaded and there is no recipient token: mint one with\n \
             `grants token --sub officer --role recipient --recipient-id <id>`)\n"
        ),
    }
    Ok(())
}

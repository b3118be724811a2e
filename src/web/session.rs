//! The screens' sessions, held by the server (`web_sessions`) so that signing out, or an
//! operator, can end one. The browser's cookie holds a random token (256 bits); the table holds
//! only its SHA-256, so a copy of the table opens no session. A session is good for
//! [`IDLE`] after its last request and [`ABSOLUTE`] at most; each sign-in makes a new one (the
//! token a browser held before is never promoted). Every form carries the session's CSRF token,
//! compared with `http::auth::same_secret`.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::web_sessions;
use crate::domain::ids::RecipientId;
use crate::http::auth::{AuthUser, Role};

/// How long a session lasts without a request.
pub const IDLE: chrono::TimeDelta = chrono::TimeDelta::minutes(30);
/// How long a session lasts at most.
pub const ABSOLUTE: chrono::TimeDelta = chrono::TimeDelta::hours(8);

/// The cookie's name when it may only travel over HTTPS (bound to this host, path `/`).
pub const SECURE_COOKIE: &str = "__Host-grants-session";
/// The cookie's name in loopback development over plain HTTP, where `__Host-` cannot be used.
pub const LOOPBACK_COOKIE: &str = "grants-session";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = web_sessions)]
struct SessionRow {
    id_hash: String,
    subject: String,
    name: Option<String>,
    roles: Vec<String>,
    recipient_id: Option<uuid::Uuid>,
    csrf: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
}

/// A live session: who, and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: AuthUser,
    pub csrf: String,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session for `user`: answers the cookie's token (shown to nobody else) and the
/// session.
pub fn start(conn: &mut PgConnection, user: &AuthUser, now: DateTime<Utc>) -> QueryResult<(String, Session)> {
    let token = random_hex();
    let row = SessionRow {
        id_hash: hash(&token),
        subject: user.sub.clone(),
        name: user.name.clone(),
        roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
        recipient_id: user.recipient_id.map(Into::into),
        csrf: random_hex(),
        created_at: now,
        last_seen_at: now,
        ended_at: None,
    };
    diesel::insert_into(web_sessions::table).values(&row).execute(conn)?;
    Ok((token, Session { user: user.clone(), csrf: row.csrf }))
}

/// Whether a session begun at `created` and last used at `seen` still stands at `now`.
pub fn live(created: DateTime<Utc>, seen: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - seen < IDLE && now - created < ABSOLUTE
}

/// The session a cookie's token names, if it stands: not ended, not idle past [`IDLE`], not
/// older than [`ABSOLUTE`]. Touches it.
pub fn find(conn: &mut PgConnection, token: &str, now: DateTime<Utc>) -> QueryResult<Option<Session>> {
    let id = hash(token);
    let row: Option<SessionRow> = web_sessions::table
        .find(&id)
        .filter(web_sessions::ended_at.is_null())
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row.filter(|r| live(r.created_at, r.last_seen_at, now)) else { return Ok(None) };
    diesel::update(web_sessions::table.find(&id)).set(web_sessions::last_seen_at.eq(now)).execute(conn)?;
    let user = AuthUser {
        sub: row.subject,
        name: row.name,
        roles: row.roles.iter().filter_map(|r| Role::parse(r)).collect(),
        recipient_id: row.recipient_id.map(RecipientId::from),
    };
    Ok(Some(Session { user, csrf: row.csrf }))
}

/// Ends the session a cookie's token names (signing out); again is nothing.
pub fn end(conn: &mut PgConnection, token: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(web_sessions::table.find(hash(token)).filter(web_sessions::ended_at.is_null()))
        .set(web_sessions::ended_at.eq(now))
        .execute(conn)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_session_stands_thirty_idle_minutes_and_eight_hours_at_most() {
        let start = Utc.with_ymd_and_hms(2026, 12, 8, 9, 0, 0).unwrap();
        let minutes = |m| start + chrono::TimeDelta::minutes(m);
        assert!(live(start, start, minutes(29)));
        assert!(!live(start, start, minutes(30)), "30 minutes idle");
        assert!(live(start, minutes(460), minutes(479)), "busy, within 8 hours");
        assert!(!live(start, minutes(479), minutes(480)), "8 hours, however busy");
    }
}

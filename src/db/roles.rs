//! Least privilege: the tables belong to the role that migrates them (the owner); the service
//! serves through a separate role that may read, insert and update what the ledger needs and
//! nothing more. It cannot alter, drop or truncate a table, disable a trigger, update or delete
//! an audit event or checkpoint, delete any row, or change `session_replication_role` (only a
//! superuser can); triggers owned by the owner refuse edits of paid payments and submitted
//! returns whatever the serving role asks.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use sha2::{Digest, Sha256};

/// The serving role's name when `GRANTS_APP_ROLE` does not say otherwise.
pub const DEFAULT_SERVING_ROLE: &str = "grants_app";

/// Key of the advisory lock that serialises migrations and grants between instances starting
/// together.
const PREPARE_LOCK: i64 = 0x6772_616e_7470; // "grantp"

/// What the serving role may do with each table. Every table of the schema is listed: a table a
/// migration adds and this list forgets is refused to the service (and a test fails).
pub const PRIVILEGES: &[(&str, &str)] = &[
    ("funds", "SELECT, INSERT, UPDATE"),
    ("recipients", "SELECT, INSERT, UPDATE"),
    ("programmes", "SELECT, INSERT, UPDATE"),
    ("awards", "SELECT, INSERT, UPDATE"),
    ("payments", "SELECT, INSERT, UPDATE"),
    ("variations", "SELECT, INSERT, UPDATE"),
    ("activities", "SELECT, INSERT"),
    ("returns", "SELECT, INSERT, UPDATE"),
    ("return_lines", "SELECT, INSERT"),
    ("monitoring_plans", "SELECT, INSERT, UPDATE"),
    ("indicators", "SELECT, INSERT"),
    ("return_results", "SELECT, INSERT"),
    ("decisions", "SELECT, INSERT"),
    // A plan changes only its end date, under a decision (a trigger holds the rest).
    ("plans", "SELECT, INSERT, UPDATE (ends_on, ends_on_decision_id)"),
    ("repayments", "SELECT, INSERT"),
    ("documents", "SELECT, INSERT"),
    ("reminders", "SELECT, INSERT"),
    ("document_chunks", "SELECT, INSERT"),
    ("document_withdrawals", "SELECT, INSERT"),
    ("carry_forwards", "SELECT, INSERT"),
    ("releases", "SELECT, INSERT"),
    // A batch is confirmed, never changed otherwise (a trigger holds the rest).
    ("import_batches", "SELECT, INSERT, UPDATE (status, confirmed_by, confirmed_at, version)"),
    ("idempotency_keys", "SELECT, INSERT, UPDATE, DELETE"),
    // A screen's session is touched as it is used and ended, never deleted.
    ("web_sessions", "SELECT, INSERT, UPDATE (last_seen_at, ended_at)"),
    ("rate_buckets", "SELECT, INSERT, UPDATE, DELETE"),
    ("audit_events", "SELECT, INSERT"),
    // Keys are registered by the owner (`grants migrate`, or `serve` given the owner's URL).
    ("audit_keys", "SELECT"),
    ("audit_checkpoints", "SELECT, INSERT"),
    ("__diesel_schema_migrations", "SELECT"),
];

/// A role name safe to write into SQL: lower-case letters, digits and underscores.
pub fn check_role_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok { Ok(()) } else { Err(format!("{name:?} is not a role name: use a-z, 0-9 and _ (at most 63)")) }
}

/// The password of the serving role the service creates for itself, derived from a secret and
/// never from public inputs alone: the owner's password, or — when the owner's URL holds none
/// (peer authentication, `.pgpass`, certificates) — `kept`, a random secret the operator keeps
/// (`GRANTS_DATA_DIR/serving-role-secret`). Every instance given the same owner URL and the
/// same kept secret arrives at the same password, so nothing else needs storing. It is hex, so
/// it can be written into SQL as it is.
fn derived_password(owner: &url::Url, role: &str, kept: Option<&str>) -> Result<String, String> {
    let secret = match (password_of(owner), kept.filter(|k| !k.is_empty())) {
        (Some(password), _) => password,
        (None, Some(kept)) => kept,
        (None, None) => {
            return Err("DATABASE_URL holds no password, and no kept secret was given to derive the serving \
                        role's password from: set GRANTS_APP_DATABASE_URL, or let `serve` keep one in \
                        GRANTS_DATA_DIR"
                .to_string());
        }
    };
    let mut hasher = Sha256::new();
    // Not the database: the role belongs to the whole server, and every database's service
    // that creates it must arrive at the same password.
    for part in ["grants serving role", role, owner.username(), secret] {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    Ok(hex::encode(hasher.finalize())[..32].to_string())
}

/// A URL's password, when it holds a non-empty one.
fn password_of(url: &url::Url) -> Option<&str> {
    url.password().filter(|p| !p.is_empty())
}

/// Whether a database URL holds a password (else the serving role's password is derived from a
/// kept secret).
pub fn holds_password(database_url: &str) -> bool {
    url::Url::parse(database_url).is_ok_and(|u| password_of(&u).is_some())
}

/// The URL the service serves through when it creates its own serving role: the owner's URL
/// with the role and its derived password in place of the owner's.
pub fn serving_url(owner_url: &str, role: &str, kept: Option<&str>) -> Result<String, String> {
    check_role_name(role)?;
    let owner = url::Url::parse(owner_url).map_err(|e| format!("DATABASE_URL is not a URL: {e}"))?;
    let mut url = owner.clone();
    url.set_username(role).map_err(|()| "DATABASE_URL cannot carry a user name".to_string())?;
    url.set_password(Some(&derived_password(&owner, role, kept)?))
        .map_err(|()| "DATABASE_URL cannot carry a password".to_string())?;
    Ok(url.to_string())
}

/// The user a database URL connects as.
pub fn url_user(database_url: &str) -> Result<String, String> {
    let url = url::Url::parse(database_url).map_err(|e| format!("not a database URL: {e}"))?;
    let user = percent_decode(url.username());
    if user.is_empty() { Err("the database URL names no user".to_string()) } else { Ok(user) }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("u={text}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Runs `work` on the owner's connection under the prepare lock, so that instances starting
/// together migrate and grant one after another.
pub fn under_prepare_lock<T>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> Result<T, String>,
) -> Result<T, String> {
    let lock = |conn: &mut PgConnection, sql: &str| {
        diesel::sql_query(sql).bind::<diesel::sql_types::BigInt, _>(PREPARE_LOCK).execute(conn).map(|_| ())
    };
    lock(conn, "SELECT pg_advisory_lock($1)").map_err(|e| format!("cannot take the prepare lock: {e}"))?;
    let result = work(conn);
    let _ = lock(conn, "SELECT pg_advisory_unlock($1)");
    result
}

/// Creates the serving role `role` (owner connection) when it does not exist, able to log in
/// with the derived password and nothing else; a role the service created keeps its password
/// in step with the owner's URL (and the kept secret).
pub fn ensure_serving_role(
    conn: &mut PgConnection,
    owner_url: &str,
    role: &str,
    kept: Option<&str>,
) -> Result<(), String> {
    check_role_name(role)?;
    let owner = url::Url::parse(owner_url).map_err(|e| format!("DATABASE_URL is not a URL: {e}"))?;
    let password = derived_password(&owner, role, kept)?;
    // Roles belong to the whole server: two databases' services may create it at once.
    let create = format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN \
             CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS \
               NOINHERIT PASSWORD '{password}'; \
             COMMENT ON ROLE {role} IS 'grants serving role, created by grants serve'; \
           END IF; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; \
         END $$"
    );
    diesel::sql_query(create).execute(conn).map_err(|e| format!("cannot create the serving role {role}: {e}"))?;
    #[derive(QueryableByName)]
    struct Managed {
        #[diesel(sql_type = Bool)]
        managed: bool,
    }
    let managed = diesel::sql_query(
        "SELECT coalesce(shobj_description(oid, 'pg_authid') LIKE 'grants serving role, created by grants serve%', \
         false) AS managed FROM pg_roles WHERE rolname = $1",
    )
    .bind::<Text, _>(role)
    .get_result::<Managed>(conn)
    .map_err(|e| format!("cannot read the serving role {role}: {e}"))?;
    if managed.managed {
        // The same password whoever sets it; a concurrent setter is not an error.
        let _ = diesel::sql_query(format!("ALTER ROLE {role} PASSWORD '{password}'")).execute(conn);
    }
    Ok(())
}

/// Grants `role` exactly [`PRIVILEGES`] on this database's tables, after revoking everything,
/// so a privilege removed from the list is removed from the role.
pub fn grant_serving(conn: &mut PgConnection, role: &str) -> Result<(), String> {
    check_role_name(role)?;
    conn.transaction(|conn| {
        diesel::sql_query(format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")).execute(conn)?;
        diesel::sql_query(format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")).execute(conn)?;
        diesel::sql_query(format!("GRANT USAGE ON SCHEMA public TO {role}")).execute(conn)?;
        for (table, privileges) in PRIVILEGES {
            diesel::sql_query(format!("GRANT {privileges} ON TABLE {table} TO {role}")).execute(conn)?;
        }
        // The ledger as it stood: views, read only.
        let views = super::as_of::SCHEMA;
        diesel::sql_query(format!("REVOKE ALL ON ALL TABLES IN SCHEMA {views} FROM {role}")).execute(conn)?;
        diesel::sql_query(format!("GRANT USAGE ON SCHEMA {views} TO {role}")).execute(conn)?;
        diesel::sql_query(format!("GRANT SELECT ON ALL TABLES IN SCHEMA {views} TO {role}")).execute(conn)?;
        Ok::<_, diesel::result::Error>(())
    })
    .map_err(|e| format!("cannot grant the serving role {role} its privileges: {e}"))
}

/// Who the service is about to serve as, checked before it serves.
#[derive(Debug, Clone)]
pub struct ServingIdentity {
    /// The role.
    pub user: String,
    /// Whether it is a superuser (which can lift every guard).
    pub superuser: bool,
    /// Whether it owns the ledger's tables (which lets it disable triggers and alter tables).
    pub owns_tables: bool,
}

/// Connects through `serving_url` and says who that is.
pub fn identify(serving_url: &str) -> Result<ServingIdentity, String> {
    let mut conn =
        PgConnection::establish(serving_url).map_err(|e| format!("cannot connect as the serving role: {e}"))?;
    #[derive(QueryableByName)]
    struct Who {
        #[diesel(sql_type = Text)]
        who: String,
        #[diesel(sql_type = Bool)]
        superuser: bool,
        #[diesel(sql_type = Bool)]
        owns_tables: bool,
    }
    let who = diesel::sql_query(
        "SELECT current_user::text AS who, r.rolsuper AS superuser, \
         EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user) AS owns_tables \
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .get_result::<Who>(&mut conn)
    .map_err(|e| format!("cannot read the serving role: {e}"))?;
    Ok(ServingIdentity { user: who.who, superuser: who.superuser, owns_tables: who.owns_tables })
}

/// Refuses a serving role that could rewrite the trail unseen, unless the operator said so.
pub fn refuse_powerful(identity: &ServingIdentity, allow_superuser: bool) -> Result<(), String> {
    if allow_superuser {
        if identity.superuser || identity.owns_tables {
            log::warn!(
                "serving as {}, which {}: every guard of the database can be lifted through this connection",
                identity.user,
                if identity.superuser { "is a superuser" } else { "owns the tables" }
            );
        }
        return Ok(());
    }
    if identity.superuser {
        return Err(format!(
            "refusing to serve as {}, a PostgreSQL superuser, which can switch off the audit trail's guards: \
             give DATABASE_URL (the owner, for migrations) and let the service create its serving role, or set \
             GRANTS_APP_DATABASE_URL to a role without superuser; --allow-superuser serves anyway",
            identity.user
        ));
    }
    if identity.owns_tables {
        return Err(format!(
            "refusing to serve as {}, which owns the tables and so can disable their triggers: set \
             GRANTS_APP_DATABASE_URL to a separate role; --allow-superuser serves anyway",
            identity.user
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(url: &str) -> String {
        url::Url::parse(url).unwrap().password().unwrap().to_string()
    }

    #[test]
    fn a_serving_password_is_never_derived_from_public_inputs_alone() {
        // The owner's URL holds no password (peer authentication, .pgpass, certificates):
        // without a kept secret there is nothing secret to derive from, and it is refused.
        let bare = "postgres://postgres@db.internal:5432/grants";
        let refused = serving_url(bare, "grants_app", None).unwrap_err();
        assert!(refused.contains("GRANTS_APP_DATABASE_URL"), "{refused}");
        assert!(serving_url(bare, "grants_app", Some("")).is_err(), "an empty kept secret is none");
        // With kept secrets, each operator's password is their own.
        let one = password(&serving_url(bare, "grants_app", Some("first-kept-secret-0123456789abcdef")).unwrap());
        let two = password(&serving_url(bare, "grants_app", Some("other-kept-secret-0123456789abcdef")).unwrap());
        assert_ne!(one, two);
        assert_eq!(one.len(), 32);
        // The owner's password, when there is one, is the secret; a kept one is not needed.
        let with = "postgres://postgres:s3cret@db.internal:5432/grants";
        let from_owner = password(&serving_url(with, "grants_app", None).unwrap());
        assert_eq!(from_owner, password(&serving_url(with, "grants_app", Some("ignored-kept-secret")).unwrap()));
        assert_ne!(
            from_owner,
            password(&serving_url("postgres://postgres:other@db.internal/grants", "grants_app", None).unwrap())
        );
        let url = serving_url(with, "grants_app", None).unwrap();
        assert!(url.starts_with("postgres://grants_app:"), "{url}");
    }
}

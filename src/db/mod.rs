//! The connection pool, the embedded migrations and database creation.

pub mod as_of;
pub mod roles;
pub mod schema;

use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, ManageConnection, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The migrations in `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The ledger tables, the entity type their events carry, and columns no event holds. Every
/// row of one equals its latest event's data (audit reconciliation checks it), which is what
/// lets [`as_of`] read the ledger as it stood.
pub const LEDGER: &[(&str, &str, &[&str])] = &[
    ("funds", "fund", &["next_award_number"]),
    ("recipients", "recipient", &[]),
    ("programmes", "programme", &[]),
    ("awards", "award", &[]),
    ("payments", "payment", &[]),
    ("variations", "variation", &[]),
    ("activities", "activity", &[]),
    // A return's risks are compared with its lines and results, as a part (see RETURN_PARTS).
    ("returns", "return", &["risks"]),
    ("monitoring_plans", "monitoring_plan", &[]),
    ("indicators", "indicator", &[]),
    ("documents", "document", &[]),
    ("document_withdrawals", "document_withdrawal", &[]),
    ("reminders", "reminder", &[]),
    ("decisions", "decision", &[]),
    ("plans", "plan", &[]),
    ("repayments", "repayment", &[]),
    ("carry_forwards", "carry_forward", &[]),
    ("releases", "release", &[]),
    // The file itself is held by its digest, `sha256`.
    ("import_batches", "import", &["body"]),
];

/// A pool of PostgreSQL connections.
pub type DbPool = Pool<Manager>;

/// A connection the pool handed out within this long after it came back is handed out again
/// without a `SELECT 1` first: under load that check was a third of the round trips of a simple
/// read. Older connections are checked, so one the database dropped while it sat idle (a
/// restart, a network fault) is replaced before any request sees it. One dropped in the moment
/// between fails its request (503) and is discarded: diesel marks a connection whose libpq
/// status went bad as broken, and the pool drops broken connections.
const RECENTLY_RETURNED: Duration = Duration::from_secs(1);

/// A pooled PostgreSQL connection and when it last went back to the pool.
pub struct Conn {
    pg: PgConnection,
    returned: Option<Instant>,
}

impl std::ops::Deref for Conn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.pg
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.pg
    }
}

/// diesel's r2d2 manager, with the check on checkout skipped for recently returned connections.
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
    /// Set on each new connection: PostgreSQL cancels longer statements.
    statement_timeout: Option<Duration>,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let mut pg = self.inner.connect()?;
        if let Some(timeout) = self.statement_timeout {
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("SET statement_timeout = {}", timeout.as_millis().max(1))),
                &mut pg,
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(Conn { pg, returned: None })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        match conn.returned {
            Some(at) if at.elapsed() < RECENTLY_RETURNED => Ok(()),
            _ => self.inner.is_valid(&mut conn.pg),
        }
    }

    /// Called every time a connection goes back to the pool.
    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.returned = Some(Instant::now());
        self.inner.has_broken(&mut conn.pg)
    }
}

/// Builds a pool without connecting: the service starts (and `/readyz` says 503) even while
/// the database is down, and recovers when it returns.
pub fn pool(database_url: &str, size: u32, timeout: Duration) -> DbPool {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .test_on_check_out(true)
        .build_unchecked(Manager { inner: ConnectionManager::new(database_url), statement_timeout: None })
}

/// A pool for long reads (reports, exports, the public feed), apart from the one ordinary
/// requests use: `size` connections at most (so at most `size` such reads run at once; others
/// wait up to `wait` for a connection), each statement cancelled after `statement_timeout`.
pub fn long_read_pool(database_url: &str, size: u32, wait: Duration, statement_timeout: Duration) -> DbPool {
    Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(0))
        .connection_timeout(wait)
        .test_on_check_out(true)
        .build_unchecked(Manager {
            inner: ConnectionManager::new(database_url),
            statement_timeout: Some(statement_timeout),
        })
}

/// Splits a database URL into the URL of the server's `postgres` database and the name of the
/// database it names.
pub fn maintenance_url(database_url: &str) -> Result<(String, String), String> {
    let mut url = url::Url::parse(database_url).map_err(|e| format!("DATABASE_URL is not a URL: {e}"))?;
    let name = url.path().trim_start_matches('/').to_string();
    if name.is_empty() {
        return Err("DATABASE_URL names no database".to_string());
    }
    url.set_path("/postgres");
    Ok((url.to_string(), name))
}

/// Waits until the PostgreSQL server of `url` accepts a connection (to its `postgres` database
/// when `maintenance`, else to the database itself), retrying with backoff (½ s doubling to 5 s)
/// for at most `patience`: at start, a database container may still be coming up. A refusal
/// that waiting cannot cure (a wrong password, an unknown role) fails at once.
pub fn wait_for_server(url: &str, maintenance: bool, patience: Duration) -> Result<(), String> {
    let target = if maintenance { maintenance_url(url)?.0 } else { url.to_string() };
    let deadline = std::time::Instant::now() + patience;
    let mut pause = Duration::from_millis(500);
    loop {
        let message = match PgConnection::establish(&target) {
            Ok(_) => return Ok(()),
            Err(diesel::ConnectionError::BadConnection(message)) => message,
            Err(e) => return Err(format!("cannot connect to PostgreSQL: {e}")),
        };
        let message = message.trim().to_string();
        let lasting = ["authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied"]
            .iter()
            .any(|m| message.contains(m));
        let now = std::time::Instant::now();
        if lasting || now >= deadline {
            let waited = if lasting { String::new() } else { format!(" (waited {}s)", patience.as_secs()) };
            return Err(format!("cannot connect to PostgreSQL{waited}: {message}"));
        }
        let pause_now = pause.min(deadline - now);
        log::warn!("PostgreSQL is not reachable yet ({message}); retrying in {:.1}s", pause_now.as_secs_f64());
        std::thread::sleep(pause_now);
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Creates the database named by `database_url` when it does not exist yet.
pub fn create_database_if_missing(database_url: &str) -> Result<(), String> {
    let (admin_url, name) = maintenance_url(database_url)?;
    let mut conn = PgConnection::establish(&admin_url).map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let exists = diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
        .bind::<diesel::sql_types::Text, _>(&name)
        .get_result::<Found>(&mut conn)
        .map_err(|e| format!("cannot list databases: {e}"))?;
    if !exists.found {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match diesel::sql_query(format!("CREATE DATABASE {quoted}")).execute(&mut conn) {
            Ok(_) => log::info!("created database {name}"),
            // Another process created it first.
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {}
            Err(e) if e.to_string().contains("already exists") => {}
            Err(e) => return Err(format!("cannot create database {name}: {e}")),
        }
    }
    Ok(())
}

/// Applies every pending embedded migration.
pub fn run_migrations(conn: &mut PgConnection) -> Result<(), String> {
    // The as-of views stand on the tables' columns: out of the way while migrations change them.
    let pending = conn.has_pending_migration(MIGRATIONS).map_err(|e| format!("cannot read the migrations: {e}"))?;
    if pending {
        as_of::drop(conn).map_err(|e| format!("cannot drop the as-of views: {e}"))?;
    }
    conn.run_pending_migrations(MIGRATIONS).map_err(|e| format!("migrations failed: {e}"))?;
    as_of::prepare(conn).map(|_| ()).map_err(|e| format!("cannot make the as-of views: {e}"))
}

/// Creates the database if needed and migrates it, on a connection of its own, one instance
/// at a time.
pub fn prepare(database_url: &str) -> Result<(), String> {
    create_database_if_missing(database_url)?;
    let mut conn = PgConnection::establish(database_url).map_err(|e| format!("cannot connect to the database: {e}"))?;
    roles::under_prepare_lock(&mut conn, run_migrations)
}

/// As the owner (`owner_url`): creates the database if needed, migrates it, and readies the
/// serving role: the one `app_url` connects as, or else `role`, created if missing (its
/// password derived with `kept` when the owner's URL holds no password). Grants it
/// [`roles::PRIVILEGES`] and returns the URL to serve through.
pub fn prepare_serving(
    owner_url: &str,
    app_url: Option<&str>,
    role: &str,
    kept: Option<&str>,
) -> Result<String, String> {
    create_database_if_missing(owner_url)?;
    let mut conn = PgConnection::establish(owner_url).map_err(|e| format!("cannot connect to the database: {e}"))?;
    roles::under_prepare_lock(&mut conn, |conn| {
        run_migrations(conn)?;
        let (url, role) = match app_url {
            Some(url) => (url.to_string(), roles::url_user(url)?),
            None => {
                roles::ensure_serving_role(conn, owner_url, role, kept)?;
                (roles::serving_url(owner_url, role, kept)?, role.to_string())
            }
        };
        // Serving as the owner itself is refused later; revoking from it here would lock it out.
        if role != roles::url_user(owner_url)? {
            roles::grant_serving(conn, &role)?;
        }
        Ok(url)
    })
}

/// Refuses to serve a database whose migrations are behind this binary (when the service was
/// given no owner URL to migrate it with). It reads the migrations table only: the serving role
/// may not create it (as asking diesel would try to), nor anything else.
pub fn check_current(serving_url: &str) -> Result<(), String> {
    use diesel::migration::MigrationSource;
    let mut conn = PgConnection::establish(serving_url).map_err(|e| format!("cannot connect to the database: {e}"))?;
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let applied: std::collections::HashSet<String> =
        match diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Applied>(&mut conn) {
            Ok(rows) => rows.into_iter().map(|r| r.version).collect(),
            Err(e) if e.to_string().contains("does not exist") => Default::default(),
            Err(e) => return Err(format!("cannot read the database's migrations: {e}")),
        };
    let embedded = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| format!("cannot read this binary's migrations: {e}"))?;
    if embedded.iter().all(|m| applied.contains(&m.name().version().to_string())) {
        Ok(())
    } else {
        Err("the database needs migrating: run `grants migrate` with DATABASE_URL naming the owner".into())
    }
}

//! The connection pool, the embedded migrations and database creation.

pub mod schema;

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The migrations in `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pool of PostgreSQL connections.
pub type DbPool = Pool<ConnectionManager<PgConnection>>;
/// One connection taken from the pool.
pub type DbConn = PooledConnection<ConnectionManager<PgConnection>>;

/// Builds a pool without connecting: the service starts (and `/readyz` says 503) even while
/// the database is down, and recovers when it returns.
pub fn pool(database_url: &str, size: u32, timeout: Duration) -> DbPool {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .test_on_check_out(true)
        .build_unchecked(ConnectionManager::new(database_url))
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
    conn.run_pending_migrations(MIGRATIONS).map(|_| ()).map_err(|e| format!("migrations failed: {e}"))
}

/// Creates the database if needed and migrates it, on a connection of its own.
pub fn prepare(database_url: &str) -> Result<(), String> {
    create_database_if_missing(database_url)?;
    let mut conn = PgConnection::establish(database_url).map_err(|e| format!("cannot connect to the database: {e}"))?;
    run_migrations(&mut conn)
}

//! The test harness shares a PostgreSQL server with other checkouts: it drops only what is
//! provably stale.

use diesel::prelude::*;

use crate::helpers::{STALE_TEMPLATE, STALE_TEST_DB, admin_connection, sweep_locked, unix_now};

fn exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
    )))
    .get_result(conn)
    .unwrap()
}

#[test]
fn the_harness_drops_only_what_is_provably_stale() {
    let mut conn = admin_connection();
    let now = unix_now();
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let hours = |h: u64| now - h * 3600;
    // Another checkout's (or machine's) live run: a process id unknown here, a fresh date.
    let live_test = format!("grants_test_{now}_999999999_0_{tag}");
    // A run that died long ago.
    let dead_test = format!("grants_test_{}_1_0_{tag}", now - STALE_TEST_DB.as_secs() - 60);
    // A template another checkout used an hour ago, one unused for longer than the limit, and
    // one whose use is unknown.
    let used_template = format!("grants_template_u{tag}");
    let unused_template = format!("grants_template_s{tag}");
    let unknown_template = format!("grants_template_n{tag}");
    for name in [&live_test, &dead_test, &used_template, &unused_template, &unknown_template] {
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).unwrap();
    }
    for (name, at) in [(&used_template, hours(1)), (&unused_template, now - STALE_TEMPLATE.as_secs() - 60)] {
        diesel::sql_query(format!("COMMENT ON DATABASE \"{name}\" IS 'last used {at}'")).execute(&mut conn).unwrap();
    }
    // Someone connected to a stale database keeps it.
    let busy_test = format!("grants_test_{}_2_0_{tag}", hours(30));
    diesel::sql_query(format!("CREATE DATABASE \"{busy_test}\"")).execute(&mut conn).unwrap();
    let busy = PgConnection::establish(&crate::helpers::database_url(&busy_test)).unwrap();

    let dropped = sweep_locked(&mut conn, now);
    // Another checkout testing against this server at the same moment may sweep them first:
    // that they are gone is what counts, not which sweep dropped them.
    for name in [&dead_test, &unused_template] {
        assert!(!exists(&mut conn, name), "{name} should be gone; this sweep dropped {dropped:?}");
    }
    for name in [&live_test, &used_template, &unknown_template, &busy_test] {
        assert!(exists(&mut conn, name), "{name} was dropped while it may be in use");
    }
    drop(busy);
    for name in [&live_test, &used_template, &unknown_template, &busy_test] {
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).unwrap();
    }
}

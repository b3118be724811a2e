//! The ledger as it stood at an instant, for papers that must be reproducible later (the
//! board's pack as of the day it was sent).
//!
//! Every ledger row equals the data of its latest audit event (reconciliation proves it), and
//! nothing is ever deleted, so the ledger at audit head `h` is, for each table, the data of each
//! entity's latest event at or before `h`. Schema `as_of` holds one view per ledger table that
//! rebuilds it so, named like the table, with the table's columns; a read-only transaction that
//! calls [`enter`] puts that schema first on its `search_path`. The same queries, the same SQL
//! functions (`award_committed`, `award_paid`) and the same diesel code then read the ledger as
//! it stood, with nothing written twice. Leaving the transaction leaves the instant.
//!
//! The views are made by the tables' owner after the migrations (see [`prepare`]), from the
//! tables' columns then; a migration that changes a table makes them anew.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text, Timestamptz};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::LEDGER;
use crate::error::ApiError;

/// The schema of the views.
pub const SCHEMA: &str = "as_of";

/// Tables a read as of an instant reads as they are now: none holds a ledger fact that changes
/// (a document's bytes never change; the rest is the service's own housekeeping and keys).
pub const LIVE: &[&str] = &[
    "document_chunks",
    "idempotency_keys",
    "rate_buckets",
    "audit_keys",
    "web_sessions",
    "__diesel_schema_migrations",
];

/// Tables whose rows are parts of another entity's event: (table, parent entity type, the
/// event's key holding them in order, the column naming the parent).
const PARTS: &[(&str, &str, &str, &str)] =
    &[("return_lines", "return", "lines", "return_id"), ("return_results", "return", "results", "return_id")];

/// The instant a read shows and the audit head then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerAt {
    /// The instant asked for (a date: the end of that day, London time).
    pub at: DateTime<Utc>,
    /// The last audit event recorded at or before it (`0`: none): the figures are the ledger
    /// after that event and before the next.
    pub audit_head: i64,
}

/// What `?as_of=` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The end of that day in Europe/London.
    Day(NaiveDate),
    /// That instant.
    Instant(DateTime<Utc>),
}

impl AsOf {
    /// A date (`2021-04-30`) or an RFC 3339 instant (`2021-04-30T17:00:00+01:00`; a `+` that
    /// arrived as a space is read as `+`).
    pub fn parse(text: &str) -> Result<AsOf, ApiError> {
        let text = text.trim();
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(AsOf::Day(day));
        }
        crate::domain::dates::query_instant(text).map(AsOf::Instant).ok_or_else(|| {
            ApiError::field(
                "as_of",
                "must be a date such as 2021-04-30 (the end of that day, London time) or an RFC 3339 instant such \
                 as 2021-04-30T17:00:00+01:00",
            )
        })
    }
}

/// An instant a read was made as of, as the office reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub ledger: LedgerAt,
    /// The day it falls on in London.
    pub day: NaiveDate,
    /// How a page says it: `the end of 30 April 2021 (London time)`, or
    /// `30 April 2021 at 17:00:00 (London time)`.
    pub words: String,
}

/// Makes the rest of this transaction read the ledger as it stood at `as_of`: the instant and
/// the audit head then. An instant still to come is refused (the figures could yet change).
/// Call inside a transaction, before the reads.
pub fn enter(conn: &mut PgConnection, as_of: AsOf) -> Result<Seen, ApiError> {
    #[derive(QueryableByName)]
    struct Resolved {
        #[diesel(sql_type = Timestamptz)]
        at: DateTime<Utc>,
        #[diesel(sql_type = Date)]
        day: NaiveDate,
        #[diesel(sql_type = Text)]
        time: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        to_come: bool,
    }
    // A day ends at the next day's midnight in London; the instant is the last microsecond
    // before it (events are stamped to the microsecond).
    let query = "SELECT t AS at, (t AT TIME ZONE 'Europe/London')::date AS day, \
                        to_char(t AT TIME ZONE 'Europe/London', 'HH24:MI:SS') AS time, t > clock_timestamp() AS to_come \
                 FROM (SELECT CASE WHEN $1::date IS NULL THEN $2 \
                       ELSE (($1::date + 1)::timestamp AT TIME ZONE 'Europe/London') - interval '1 microsecond' END AS t) x";
    let (day, instant) = match as_of {
        AsOf::Day(day) => (Some(day), None),
        AsOf::Instant(at) => (None, Some(at)),
    };
    let resolved: Resolved = diesel::sql_query(query)
        .bind::<diesel::sql_types::Nullable<Date>, _>(day)
        .bind::<diesel::sql_types::Nullable<Timestamptz>, _>(instant)
        .get_result(conn)?;
    if resolved.to_come {
        let what = match as_of {
            AsOf::Day(_) => "must be a day that has ended (London time)",
            AsOf::Instant(_) => "must not be in the future",
        };
        return Err(ApiError::field("as_of", format!("{what}; leave it out for the ledger as it stands now")));
    }
    let date = resolved.day.format("%-d %B %Y");
    let words = match as_of {
        AsOf::Day(_) => format!("the end of {date} (London time)"),
        AsOf::Instant(_) => format!("{date} at {} (London time)", resolved.time),
    };
    let ledger = LedgerAt { at: resolved.at, audit_head: enter_at(conn, resolved.at)? };
    Ok(Seen { ledger, day: resolved.day, words })
}

/// Puts the `as_of` views first for the rest of the transaction, at the last event recorded at
/// or before `at`; answers that event's `seq`.
fn enter_at(conn: &mut PgConnection, at: DateTime<Utc>) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Head {
        #[diesel(sql_type = BigInt)]
        seq: i64,
    }
    let head = diesel::sql_query("SELECT coalesce(max(seq), 0) AS seq FROM public.audit_events WHERE at <= $1")
        .bind::<Timestamptz, _>(at)
        .get_result::<Head>(conn)?
        .seq;
    diesel::sql_query(format!(
        "SELECT set_config('grants.as_of_seq', $1, true), set_config('grants.as_of_at', $2, true), \
                set_config('search_path', '{SCHEMA}, public', true)"
    ))
    .bind::<Text, _>(head.to_string())
    .bind::<Text, _>(at.to_rfc3339())
    .execute(conn)?;
    Ok(head)
}

#[derive(QueryableByName)]
struct ColumnName {
    #[diesel(sql_type = Text)]
    name: String,
}

fn columns(conn: &mut PgConnection, table: &str) -> QueryResult<Vec<String>> {
    let rows: Vec<ColumnName> = diesel::sql_query(
        "SELECT column_name::text AS name FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind::<Text, _>(table)
    .load(conn)?;
    Ok(rows.into_iter().map(|c| c.name).collect())
}

/// The latest event of each entity of `entity_type` at the head.
fn latest(entity_type: &str) -> String {
    format!(
        "(SELECT DISTINCT ON (entity_id) entity_id, data FROM public.audit_events \
          WHERE entity_type = '{entity_type}' AND seq <= {SCHEMA}.head() ORDER BY entity_id, seq DESC) e"
    )
}

/// Every statement that makes the schema, from the tables' columns now.
fn statements(conn: &mut PgConnection) -> QueryResult<Vec<String>> {
    let mut out = vec![
        format!("CREATE SCHEMA {SCHEMA}"),
        // Unset (outside an as-of read), the views are empty rather than the ledger now.
        format!(
            "CREATE FUNCTION {SCHEMA}.head() RETURNS bigint LANGUAGE sql STABLE AS \
             $$ SELECT nullif(current_setting('grants.as_of_seq', true), '')::bigint $$"
        ),
        format!(
            "CREATE FUNCTION {SCHEMA}.instant() RETURNS timestamptz LANGUAGE sql STABLE AS \
             $$ SELECT nullif(current_setting('grants.as_of_at', true), '')::timestamptz $$"
        ),
    ];
    for (table, entity_type, _) in LEDGER {
        let list: Vec<String> = columns(conn, table)?.iter().map(|c| format!("r.{c}")).collect();
        out.push(format!(
            "CREATE VIEW {SCHEMA}.{table} AS SELECT {list} FROM {latest} \
             CROSS JOIN LATERAL jsonb_populate_record(NULL::public.{table}, e.data) r",
            list = list.join(", "),
            latest = latest(entity_type)
        ));
    }
    for (table, entity_type, key, parent) in PARTS {
        let list: Vec<String> = columns(conn, table)?
            .iter()
            .map(|c| match c.as_str() {
                c if c == *parent => format!("e.entity_id AS {c}"),
                "position" => "(p.n - 1)::integer AS position".to_string(),
                c => format!("r.{c}"),
            })
            .collect();
        out.push(format!(
            "CREATE VIEW {SCHEMA}.{table} AS SELECT {list} FROM {latest} \
             CROSS JOIN LATERAL jsonb_array_elements(coalesce(e.data->'{key}', '[]'::jsonb)) WITH ORDINALITY p(part, n) \
             CROSS JOIN LATERAL jsonb_populate_record(NULL::public.{table}, p.part) r",
            list = list.join(", "),
            latest = latest(entity_type)
        ));
    }
    // The trail itself up to the head; a checkpoint signed after the instant was not there to
    // be shown, whatever it seals.
    for (table, filter) in [
        ("audit_events", format!("seq <= {SCHEMA}.head()")),
        ("audit_checkpoints", format!("seq <= {SCHEMA}.head() AND at <= {SCHEMA}.instant()")),
    ] {
        let list = columns(conn, table)?.join(", ");
        out.push(format!("CREATE VIEW {SCHEMA}.{table} AS SELECT {list} FROM public.{table} WHERE {filter}"));
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct Comment {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    comment: Option<String>,
}

/// Drops the views, so that migrations may change the tables under them.
pub fn drop(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")).execute(conn).map(|_| ())
}

/// As the tables' owner, after the migrations: makes the views anew when the tables' columns
/// (or this code) changed since they were made, else leaves them (and their grants) alone.
/// Answers whether it made them.
pub fn prepare(conn: &mut PgConnection) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let statements = statements(conn)?;
        let digest = hex::encode(Sha256::digest(statements.join(";\n").as_bytes()));
        let made: Option<Comment> = diesel::sql_query(
            "SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1",
        )
        .bind::<Text, _>(SCHEMA)
        .get_result(conn)
        .optional()?;
        if made.and_then(|m| m.comment).as_deref() == Some(digest.as_str()) {
            return Ok(false);
        }
        drop(conn)?;
        for statement in &statements {
            diesel::sql_query(statement).execute(conn)?;
        }
        diesel::sql_query(format!("COMMENT ON SCHEMA {SCHEMA} IS '{digest}'")).execute(conn)?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::AsOf;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn a_date_or_an_instant_and_nothing_else() {
        assert_eq!(AsOf::parse(" 2021-04-30 ").unwrap(), AsOf::Day(NaiveDate::from_ymd_opt(2021, 4, 30).unwrap()));
        let five = Utc.with_ymd_and_hms(2021, 4, 30, 16, 0, 0).unwrap();
        assert_eq!(AsOf::parse("2021-04-30T17:00:00+01:00").unwrap(), AsOf::Instant(five));
        assert_eq!(AsOf::parse("2021-04-30T17:00:00 01:00").unwrap(), AsOf::Instant(five), "a + read as a space");
        for bad in ["30/04/2021", "2021-04-31", "2021-04-30T17:00", "yesterday", ""] {
            assert!(AsOf::parse(bad).is_err(), "{bad}");
        }
    }
}

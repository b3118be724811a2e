//! Reconciliation: every ledger row equals the data of its latest event, and every row has one.
//! A row edited behind the service's back (or an event forged without its row) shows here even
//! when the chain itself is intact.
//!
//! PostgreSQL compares, column by column, each row with its latest event (`numeric`, `date`
//! and `timestamptz` columns as values, the rest as text; a column the event lacks counts as
//! null, so a nullable column added later needs no back-filled events), and returns only the
//! rows that differ; only those travel.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;
use utoipa::ToSchema;

/// The ledger tables (kept with the database's other facts, where the as-of views read them
/// too).
pub use crate::db::LEDGER;

/// How many unreconciled rows a report lists (it counts them all).
pub const LISTED: usize = 1_000;

/// A row that does not match its latest event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Unreconciled {
    /// e.g. `payment`.
    #[schema(example = "payment")]
    pub entity_type: String,
    pub entity_id: String,
    /// The column that differs; `(row)` when the row has no event, `(event)` when events name
    /// a row that does not exist, `entity_type` when the latest event is about another kind.
    #[schema(example = "amount")]
    pub field: String,
    /// The table's value, as JSON text (`null` when there is no row).
    #[schema(example = "\"9000.00\"")]
    pub table_value: Option<String>,
    /// The latest event's value, as JSON text (`null` when there is no event).
    #[schema(example = "\"1000.00\"")]
    pub event_value: Option<String>,
    /// The latest event's sequence number.
    pub event_seq: Option<i64>,
}

#[derive(QueryableByName)]
pub(super) struct Column {
    #[diesel(sql_type = Text)]
    pub(super) name: String,
    #[diesel(sql_type = Text)]
    pub(super) kind: String,
}

/// The columns of ledger table `index` (in [`LEDGER`]) an event holds, in the table's order.
pub(super) fn compared_columns(conn: &mut PgConnection, index: usize) -> QueryResult<Vec<Column>> {
    let (table, _, skipped) = LEDGER[index];
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT column_name::text AS name, data_type::text AS kind FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind::<Text, _>(table)
    .load(conn)?;
    Ok(columns.into_iter().filter(|c| !skipped.contains(&c.name.as_str())).collect())
}

#[derive(QueryableByName)]
struct Mismatch {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    seq: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    entity_type: Option<String>,
    #[diesel(sql_type = Text)]
    fields: String,
}

#[derive(QueryableByName)]
struct Values {
    #[diesel(sql_type = Nullable<Text>)]
    table_value: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    event_value: Option<String>,
}

#[derive(QueryableByName)]
struct Orphan {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = Text)]
    entity_type: String,
    #[diesel(sql_type = Text)]
    entity_id: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// True in SQL when column `name` of row `t` differs from the event `e`'s value.
fn differs(name: &str, kind: &str) -> String {
    let value = format!("(e.data->>'{name}')");
    let guarded = |pattern: &str, cast: &str| {
        format!(
            "(CASE WHEN {value} IS NULL THEN t.{name} IS NOT NULL \
             WHEN {value} ~ '{pattern}' THEN t.{name} IS DISTINCT FROM {value}::{cast} ELSE true END)"
        )
    };
    match kind {
        "numeric" => guarded(r"^-?[0-9]+(\.[0-9]+)?$", "numeric"),
        "integer" | "bigint" | "smallint" => guarded(r"^-?[0-9]{1,18}$", "bigint"),
        "date" => guarded(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "date"),
        "timestamp with time zone" => guarded(
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}(:[0-9]{2})?)$",
            "timestamptz",
        ),
        _ => format!("(t.{name}::text IS DISTINCT FROM {value})"),
    }
}

/// What a ledger row holds beyond its own columns, compared with its event: the name a
/// mismatch is reported under, the event's key, and the row's value as JSON.
pub(super) type Part = (&'static str, &'static str, &'static str);

/// A return's parts as its events hold them. Lines and results live in tables of their own;
/// risks are a column that returns made before risks were reported leave null, as their events
/// leave them out.
const RETURN_PARTS: &[Part] = &[
    (
        "lines",
        "lines",
        "(SELECT coalesce(jsonb_agg(jsonb_build_object('activity_id', l.activity_id, \
         'status', l.status, 'output_value', trim_scale(l.output_value), 'commentary', l.commentary) ORDER BY l.position), \
         '[]'::jsonb) FROM return_lines l WHERE l.return_id = t.id)",
    ),
    (
        "results",
        "results",
        "(SELECT coalesce(jsonb_agg(jsonb_build_object('indicator_id', l.indicator_id, \
         'actual', trim_scale(l.actual), 'commentary', l.commentary) ORDER BY l.position), \
         '[]'::jsonb) FROM return_results l WHERE l.return_id = t.id)",
    ),
    ("risks", "risks", "coalesce(t.risks, '[]'::jsonb)"),
];

/// A document's content: the SHA-256 of its stored chunks must be the one its event recorded
/// (so a rewritten byte is found even when the row's `sha256` was rewritten to match).
const DOCUMENT_PARTS: &[Part] = &[(
    "content",
    "sha256",
    "to_jsonb(encode(sha256(coalesce((SELECT string_agg(c.data, ''::bytea ORDER BY c.n) \
     FROM document_chunks c WHERE c.document_id = t.id), ''::bytea)), 'hex'))",
)];

/// The parts of `table`'s rows.
pub(super) fn parts_of(table: &str) -> &'static [Part] {
    match table {
        "returns" => RETURN_PARTS,
        "documents" => DOCUMENT_PARTS,
        _ => &[],
    }
}

/// Every row that differs from its latest event and every event naming a missing row, at most
/// [`LISTED`] listed; returns them and how many there are in all. Each row is compared with its
/// latest event in PostgreSQL, column by column: verification itself does this only for the rows
/// it could not match by digest ([`reconcile_matched`]); this whole comparison is the
/// independent check the tests hold matching to.
pub fn reconcile(conn: &mut PgConnection) -> QueryResult<(Vec<Unreconciled>, i64)> {
    let mut report = Report::default();
    let everything: Vec<(usize, Option<Vec<uuid::Uuid>>)> = (0..LEDGER.len()).map(|table| (table, None)).collect();
    compare_rows(conn, &everything, &mut report)?;
    // Events about rows that are not there (deleted behind the service's back).
    let kinds: Vec<String> = LEDGER.iter().map(|(_, t, _)| format!("'{t}'")).collect();
    let rows: Vec<String> =
        LEDGER.iter().map(|(table, t, _)| format!("SELECT '{t}'::text AS t, id FROM {table}")).collect();
    let t0 = std::time::Instant::now();
    let orphans: Vec<Orphan> = diesel::sql_query(format!(
        "WITH ledger AS ({rows}) \
         SELECT count(*) OVER () AS rows, e.entity_type, e.entity_id::text AS entity_id, max(e.seq) AS seq \
         FROM audit_events e \
         WHERE e.entity_type IN ({kinds}) \
           AND NOT EXISTS (SELECT 1 FROM ledger r WHERE r.id = e.entity_id AND r.t = e.entity_type) \
         GROUP BY e.entity_type, e.entity_id ORDER BY 4 LIMIT {LISTED}",
        rows = rows.join(" UNION ALL "),
        kinds = kinds.join(", ")
    ))
    .load(conn)?;
    log::debug!("looked for events without rows in {:.2?}", t0.elapsed());
    report.total += orphans.first().map_or(0, |o| o.rows - orphans.len() as i64);
    for o in orphans {
        report.orphan(o.entity_type, o.entity_id, o.seq);
    }
    Ok((report.found, report.total))
}

/// What verification's matching left: the rows it could not match, compared here column by
/// column (which names the field, or finds the difference was of form only), and the events
/// naming a row that was missing, looked for again (a row written while the rows were read has
/// its event read later).
/// `rows`: of each listed table (by its index in [`LEDGER`]) the rows to compare, or all of them
/// (`None`); `orphans`: (table, id, latest seq) of each event that named a missing row.
pub fn reconcile_matched(
    conn: &mut PgConnection,
    rows: &[(usize, Option<Vec<uuid::Uuid>>)],
    orphans_seen: &[(usize, uuid::Uuid, i64)],
) -> QueryResult<(Vec<Unreconciled>, i64)> {
    let mut report = Report::default();
    compare_rows(conn, rows, &mut report)?;
    let mut orphans = Vec::new();
    for (table, (name, entity_type, _)) in LEDGER.iter().enumerate() {
        let named: Vec<&(usize, uuid::Uuid, i64)> = orphans_seen.iter().filter(|o| o.0 == table).collect();
        let mut present = std::collections::HashSet::new();
        for chunk in named.chunks(10_000) {
            let ids: Vec<uuid::Uuid> = chunk.iter().map(|o| o.1).collect();
            let found: Vec<uuid::Uuid> = diesel::sql_query(format!("SELECT id FROM {name} WHERE id = ANY($1)"))
                .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&ids)
                .load::<Present>(conn)?
                .into_iter()
                .map(|p| p.id)
                .collect();
            present.extend(found);
        }
        orphans.extend(named.into_iter().filter(|o| !present.contains(&o.1)).map(|o| (*entity_type, o.1, o.2)));
    }
    orphans.sort_by_key(|o| o.2);
    for (entity_type, id, seq) in orphans {
        report.orphan(entity_type.to_string(), id.to_string(), seq);
    }
    Ok((report.found, report.total))
}

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
}

/// The unreconciled rows found so far (at most [`LISTED`]) and how many in all.
#[derive(Default)]
struct Report {
    found: Vec<Unreconciled>,
    total: i64,
}

impl Report {
    fn orphan(&mut self, entity_type: String, entity_id: String, seq: i64) {
        self.total += 1;
        if self.found.len() < LISTED {
            self.found.push(Unreconciled {
                entity_type,
                entity_id,
                field: "(event)".to_string(),
                table_value: None,
                event_value: Some("(the latest event names this row)".to_string()),
                event_seq: Some(seq),
            });
        }
    }
}

/// Compares rows with their latest events column by column: of each listed table (by its index
/// in [`LEDGER`]) the rows given, or all of them (`None`).
fn compare_rows(
    conn: &mut PgConnection,
    tables: &[(usize, Option<Vec<uuid::Uuid>>)],
    report: &mut Report,
) -> QueryResult<()> {
    for (index, only) in tables {
        let (table, entity_type, _) = LEDGER[*index];
        let columns = compared_columns(conn, *index)?;
        let t0 = std::time::Instant::now();
        let compared: Vec<&Column> = columns.iter().collect();
        let parts = parts_of(table);
        let only = only.as_deref();
        // Fast: the event's data read once into a row of the table's own type, then compared
        // column by column. A value that does not even cast (an attacker's garbage) fails the
        // whole statement; then the guarded comparison, slower, names it.
        let fast =
            diesel::sql_query(mismatch_sql(table, entity_type, &compared, parts, only, true)).load::<Mismatch>(conn);
        let mismatches = match fast {
            Ok(found) => found,
            Err(e) => {
                log::warn!("reconciling {table}: an event's data does not fit its row ({e}); comparing value by value");
                diesel::sql_query(mismatch_sql(table, entity_type, &compared, parts, only, false))
                    .load::<Mismatch>(conn)?
            }
        };
        log::debug!(
            "compared {} rows of {table} column by column in {:.2?}",
            only.map_or("all".to_string(), |o| o.len().to_string()),
            t0.elapsed()
        );
        // Rows beyond the listed ones count once each (their fields are not read).
        report.total += mismatches.first().map_or(0, |m| m.rows - mismatches.len() as i64);
        for m in mismatches {
            let fields: Vec<String> = match (&m.seq, m.entity_type.as_deref()) {
                (None, _) => vec!["(row)".to_string()],
                (Some(_), Some(t)) if t != entity_type => vec!["entity_type".to_string()],
                _ => m.fields.split(',').map(str::to_string).collect(),
            };
            for field in fields {
                report.total += 1;
                if report.found.len() >= LISTED {
                    continue;
                }
                let values = values(conn, table, &m, &field)?;
                report.found.push(Unreconciled {
                    entity_type: entity_type.to_string(),
                    entity_id: m.id.clone(),
                    field,
                    table_value: values.table_value,
                    event_value: values.event_value,
                    event_seq: m.seq,
                });
            }
        }
    }
    Ok(())
}

/// The query that finds `table`'s rows differing from their latest events. `fast` reads each
/// event's data into a row of the table's type with `jsonb_populate_record`; otherwise each
/// value is compared through a guarded cast. `only`: just these rows.
fn mismatch_sql(
    table: &str,
    entity_type: &str,
    columns: &[&Column],
    parts: &[Part],
    only: Option<&[uuid::Uuid]>,
    fast: bool,
) -> String {
    let mut checks: Vec<String> = columns
        .iter()
        .map(|c| {
            let differs =
                if fast { format!("t.{0} IS DISTINCT FROM r.{0}", c.name) } else { differs(&c.name, &c.kind) };
            format!("CASE WHEN {differs} THEN '{}' END", c.name)
        })
        .collect();
    for (name, key, rows) in parts {
        checks.push(format!(
            "CASE WHEN {rows} IS DISTINCT FROM coalesce(e.data->'{key}', '[]'::jsonb) THEN '{name}' END"
        ));
    }
    let record = if fast {
        format!("LEFT JOIN LATERAL jsonb_populate_record(NULL::{table}, e.data) r ON true")
    } else {
        String::new()
    };
    // The ids are uuids written here, not text from outside.
    let only = only.map_or(String::new(), |ids| {
        format!("WHERE t.id = ANY('{{{}}}'::uuid[])", ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(","))
    });
    format!(
        "SELECT count(*) OVER () AS rows, id, seq, entity_type, fields FROM ( \
           SELECT t.id::text AS id, e.seq, e.entity_type, \
             array_to_string(ARRAY[{checks}], ',') AS fields \
           FROM {table} t LEFT JOIN LATERAL ( \
             SELECT seq, entity_type, data FROM audit_events WHERE entity_id = t.id ORDER BY seq DESC LIMIT 1 \
           ) e ON true {record} {only} \
         ) x WHERE seq IS NULL OR entity_type <> '{entity_type}' OR fields <> '' ORDER BY id LIMIT {LISTED}",
        checks = checks.join(", ")
    )
}

/// The table's and the event's value of one field, as JSON text.
fn values(conn: &mut PgConnection, table: &str, m: &Mismatch, field: &str) -> QueryResult<Values> {
    let part = parts_of(table).iter().find(|(name, _, _)| *name == field);
    let (table_expr, event_expr) = match (field, part) {
        ("(row)", _) => ("to_jsonb(t)::text".to_string(), "NULL::text".to_string()),
        ("entity_type", _) => ("NULL::text".to_string(), "to_jsonb(e.entity_type)::text".to_string()),
        (_, Some((_, key, rows))) => (format!("{rows}::text"), format!("(e.data->'{key}')::text")),
        (name, None) => (format!("(to_jsonb(t)->'{name}')::text"), format!("(e.data->'{name}')::text")),
    };
    diesel::sql_query(format!(
        "SELECT {table_expr} AS table_value, (SELECT {event_expr} FROM audit_events e WHERE e.seq = $2) AS event_value \
         FROM {table} t WHERE t.id::text = $1"
    ))
    .bind::<Text, _>(&m.id)
    .bind::<Nullable<BigInt>, _>(m.seq)
    .get_result(conn)
}

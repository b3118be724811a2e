//! Reading the audit trail.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::schema::audit_events;
use crate::domain::AwardId;

/// One event of the audit trail, exactly as stored and hashed.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    /// Position in the one chain, from 1.
    #[schema(example = 42)]
    pub seq: i64,
    pub id: Uuid,
    /// When it happened (microseconds).
    pub at: DateTime<Utc>,
    /// The token subject that made the change.
    #[schema(example = "arthur")]
    pub actor_sub: String,
    pub actor_name: Option<String>,
    /// What happened, `<entity>.<verb>`.
    #[schema(example = "award.approved")]
    pub action: String,
    #[schema(example = "award")]
    pub entity_type: String,
    pub entity_id: Uuid,
    /// The award the change belongs to, if any.
    pub award_id: Option<Uuid>,
    /// The entity after the change.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The previous event's hash (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and the event's canonical JSON.
    pub hash: String,
}

/// What the events feed may be narrowed to.
#[derive(Debug, Default, Clone)]
pub struct EventQuery {
    pub after: i64,
    pub entity_id: Option<Uuid>,
    pub action: Option<String>,
    pub limit: i64,
}

/// A page of events after a sequence number.
pub fn list(conn: &mut PgConnection, query: &EventQuery) -> QueryResult<Vec<AuditEvent>> {
    let mut q =
        audit_events::table.select(AuditEvent::as_select()).filter(audit_events::seq.gt(query.after)).into_boxed();
    if let Some(id) = query.entity_id {
        q = q.filter(audit_events::entity_id.eq(id));
    }
    if let Some(action) = &query.action {
        q = q.filter(audit_events::action.eq(action.clone()));
    }
    q.order(audit_events::seq.asc()).limit(query.limit + 1).load(conn)
}

/// Every event of one award, in order.
pub fn for_award(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .select(AuditEvent::as_select())
        .filter(audit_events::award_id.eq(award_id))
        .order(audit_events::seq.asc())
        .load(conn)
}

/// The events of `entities` whose action is one of `actions`, in order.
pub fn approvals_of(conn: &mut PgConnection, entities: &[Uuid], actions: &[&str]) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .select(AuditEvent::as_select())
        .filter(audit_events::entity_id.eq_any(entities))
        .filter(audit_events::action.eq_any(actions))
        .order(audit_events::seq.asc())
        .load(conn)
}

/// For each entity of an award, its last event at or before `at`: the state it stood in then.
pub fn award_state_at(conn: &mut PgConnection, award_id: AwardId, at: DateTime<Utc>) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .select(AuditEvent::as_select())
        .filter(audit_events::award_id.eq(award_id))
        .filter(audit_events::at.le(at))
        .distinct_on(audit_events::entity_id)
        .order((audit_events::entity_id, audit_events::seq.desc()))
        .load(conn)
}

/// A batch of events after `after`, for verification.
pub fn batch(conn: &mut PgConnection, after: i64, size: i64) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .select(AuditEvent::as_select())
        .filter(audit_events::seq.gt(after))
        .order(audit_events::seq.asc())
        .limit(size)
        .load(conn)
}

/// Whether `actor_sub` recorded any of `actions` about `entity_id` after event `after_seq`:
/// how the four-eyes rule finds everyone who shaped what is being approved.
pub fn acted_on(
    conn: &mut PgConnection,
    entity_id: Uuid,
    actor_sub: &str,
    actions: &[&str],
    after_seq: i64,
) -> Result<bool, diesel::result::Error> {
    diesel::select(diesel::dsl::exists(
        audit_events::table
            .filter(audit_events::entity_id.eq(entity_id))
            .filter(audit_events::actor_sub.eq(actor_sub))
            .filter(audit_events::action.eq_any(actions))
            .filter(audit_events::seq.gt(after_seq)),
    ))
    .get_result(conn)
}

/// Whether `actor_sub` recorded any of `actions` about anything of award `award_id` (the award,
/// its activities, payments, variations, returns) after event `after_seq`.
pub fn acted_on_award(
    conn: &mut PgConnection,
    award_id: AwardId,
    actor_sub: &str,
    actions: &[&str],
    after_seq: i64,
) -> Result<bool, diesel::result::Error> {
    diesel::select(diesel::dsl::exists(
        audit_events::table
            .filter(audit_events::award_id.eq(award_id))
            .filter(audit_events::actor_sub.eq(actor_sub))
            .filter(audit_events::action.eq_any(actions))
            .filter(audit_events::seq.gt(after_seq)),
    ))
    .get_result(conn)
}

/// The chain's last event: its `seq` and hash (`None` while the chain is empty).
pub fn head(conn: &mut PgConnection) -> QueryResult<Option<(i64, String)>> {
    audit_events::table
        .select((audit_events::seq, audit_events::hash))
        .order(audit_events::seq.desc())
        .first(conn)
        .optional()
}

/// The sequence number of the last `action` event about `entity_id`.
pub fn last_seq(conn: &mut PgConnection, entity_id: Uuid, action: &str) -> Result<Option<i64>, diesel::result::Error> {
    audit_events::table
        .filter(audit_events::entity_id.eq(entity_id))
        .filter(audit_events::action.eq(action))
        .select(diesel::dsl::max(audit_events::seq))
        .get_result(conn)
}

/// An event with its data as PostgreSQL writes the JSON, for verification: hashing
/// canonicalizes the text directly, without building a value.
#[derive(Debug, Clone, Queryable)]
pub struct RawEvent {
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_sub: String,
    pub actor_name: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub award_id: Option<Uuid>,
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
    /// Whether `data` is the stored canonical text (`data_text`), hashed as it is; otherwise it
    /// is the `jsonb` as PostgreSQL writes it (events from before `data_text`), canonicalized.
    pub canonical: bool,
}

impl RawEvent {
    /// The event as the chain hashes it.
    pub fn view(&self) -> EventView<'_> {
        EventView {
            seq: self.seq,
            id: self.id,
            at: self.at,
            actor_sub: &self.actor_sub,
            actor_name: self.actor_name.as_deref(),
            action: &self.action,
            entity_type: &self.entity_type,
            entity_id: self.entity_id,
            award_id: self.award_id,
            data: self.data.as_bytes(),
            prev_hash: &self.prev_hash,
            hash: &self.hash,
            canonical: self.canonical,
        }
    }
}

/// An event as the chain pass hashes it, its text borrowed from where it was read (a
/// [`RawEvent`], or the buffer verification streams the chain into).
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_sub: &'a str,
    pub actor_name: Option<&'a str>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub award_id: Option<Uuid>,
    /// Its data's JSON text: the stored canonical text, or what PostgreSQL writes of its `jsonb`.
    pub data: &'a [u8],
    pub prev_hash: &'a str,
    pub hash: &'a str,
    /// Whether `data` is the stored canonical text, hashed as it is.
    pub canonical: bool,
}

/// The columns the chain pass reads, in [`RawEvent`]'s order: the data as its stored
/// canonical text, or as PostgreSQL writes its `jsonb` for events from before that.
pub const RAW_COLUMNS: &str = "seq, id, at, actor_sub, actor_name, action, entity_type, entity_id, award_id, \
     coalesce(data_text, data::text), prev_hash, hash, data_text IS NOT NULL";

/// A batch of events after `after`, their data as text.
pub fn raw_batch(conn: &mut PgConnection, after: i64, size: i64) -> QueryResult<Vec<RawEvent>> {
    audit_events::table
        .select((
            audit_events::seq,
            audit_events::id,
            audit_events::at,
            audit_events::actor_sub,
            audit_events::actor_name,
            audit_events::action,
            audit_events::entity_type,
            audit_events::entity_id,
            audit_events::award_id,
            diesel::dsl::sql::<diesel::sql_types::Text>("coalesce(data_text, data::text)"),
            audit_events::prev_hash,
            audit_events::hash,
            audit_events::data_text.is_not_null(),
        ))
        .filter(audit_events::seq.gt(after))
        .order(audit_events::seq.asc())
        .limit(size)
        .load(conn)
}

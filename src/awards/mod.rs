//! Awards: the grants themselves, from draft to approval, withdrawal or closure (DESIGN §5).
//!
//! `mod.rs` holds the award as the API shows it, how it is read, and every write: each one
//! function that runs inside the caller's transaction and appends its audit event last. Lock
//! order everywhere: award, then fund, then the audit chain. `http` holds the handlers, `store`
//! the SQL, `as_of` the award rebuilt from the audit trail.

pub mod as_of;
pub mod http;
pub mod store;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::decisions::{self, Decision, DecisionChoice};
use crate::domain::budget::check_headroom;
use crate::domain::dates::check_award_dates;
use crate::domain::ids::{AwardId, DecisionId, FundId, PlanId, ProgrammeId, RecipientId};
use crate::domain::{AwardAction, AwardStatus, Category, FinancialYear, FundStatus, Money, PlanTheme};
use crate::error::ApiError;
use crate::{funds, programmes, recipients};
use store::{AwardChanges, AwardMoney, AwardRow, NewAward};

/// A grant to one recipient from one fund, under one programme.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Award {
    pub id: AwardId,
    /// Assigned by the service: `<fund code>-<year>-<number>`.
    #[schema(example = "CDRG-2020-21-0007")]
    pub reference: String,
    pub fund_id: FundId,
    pub financial_year: FinancialYear,
    pub programme_id: ProgrammeId,
    pub category: Category,
    pub recipient_id: RecipientId,
    #[schema(example = "Outside Links 2020-21")]
    pub title: String,
    /// Published: what the grant is for.
    #[schema(example = "Support for people given out of court disposals")]
    pub purpose: String,
    /// Published: the conditions attached.
    #[schema(example = "Quarterly monitoring returns; funds used only for the agreed service")]
    pub conditions: String,
    /// Published: why the grant will reduce crime and disorder.
    #[schema(example = "Addresses the needs behind offending and so reduces reoffending")]
    pub crime_reduction_rationale: String,
    /// The current amount (after variations).
    pub amount: Money,
    /// The amount when approved.
    pub original_amount: Money,
    /// Payments scheduled and not yet paid.
    pub scheduled: Money,
    /// Payments made, net of repayments.
    pub paid: Money,
    /// Money the recipient returned (already taken off `paid`).
    pub repaid: Money,
    /// For a closed award, the part of its amount it will never use (`amount - paid`, `paid`
    /// being net of repayments), so that `amount = paid + released`; zero otherwise. A closed
    /// award commits only its `paid`: `released` is back in the fund's headroom.
    pub released: Money,
    pub status: AwardStatus,
    /// The reference of the decision that approved it.
    #[schema(example = "PCC-DN-2020-014")]
    pub decision_ref: Option<String>,
    /// The decision that approved it (null for awards approved before decisions were records).
    pub decision_id: Option<DecisionId>,
    /// The award date: the day of the decision that approved it (360Giving's `awardDate`, and
    /// the month the transparency feed lists it under). `approved_at` is when the approval was
    /// recorded here.
    #[schema(example = "2020-04-21")]
    pub awarded_on: Option<NaiveDate>,
    /// The award of an earlier year this one continues (set by roll-forward).
    pub previous_award_id: Option<AwardId>,
    /// Why the amount differs from the previous award's; required when it does.
    #[schema(example = "To reflect the increased capacity required")]
    pub change_reason: Option<String>,
    /// What the recipient asked for (360Giving's `amountAppliedFor`).
    pub amount_requested: Option<Money>,
    /// When they asked.
    pub requested_on: Option<NaiveDate>,
    /// The plan theme it was approved under (its programme's then), which reports and exports
    /// use whatever the programme's theme becomes; null while a draft, and for awards approved
    /// before themes were kept.
    pub plan_theme: Option<PlanTheme>,
    /// The plan of that theme (null for the Police and Crime Plan 2017-20's themes).
    pub plan_id: Option<PlanId>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// Why it was withdrawn, if it was.
    pub withdrawn_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl crate::audit::Audited for Award {
    const ENTITY_TYPE: &'static str = "award";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.id.into())
    }
}

impl Award {
    /// Combines a stored award with its payment totals.
    pub fn from_row(row: AwardRow, money: AwardMoney) -> Result<Award, ApiError> {
        let status = row.status;
        let amount = row.amount;
        Ok(Award {
            id: row.id,
            financial_year: row.financial_year,
            category: row.category,
            status,
            reference: row.reference,
            fund_id: row.fund_id,
            programme_id: row.programme_id,
            recipient_id: row.recipient_id,
            title: row.title,
            purpose: row.purpose,
            conditions: row.conditions,
            crime_reduction_rationale: row.crime_reduction_rationale,
            amount,
            original_amount: row.original_amount,
            scheduled: money.scheduled,
            paid: money.paid,
            repaid: money.repaid,
            released: if status == AwardStatus::Closed { amount - money.paid } else { Money::ZERO },
            decision_ref: row.decision_ref,
            decision_id: row.decision_id,
            awarded_on: row.awarded_on,
            previous_award_id: row.previous_award_id,
            change_reason: row.change_reason,
            amount_requested: row.amount_requested,
            requested_on: row.requested_on,
            plan_theme: row.plan_theme,
            plan_id: row.plan_id,
            start_date: row.start_date,
            end_date: row.end_date,
            created_by: row.created_by,
            created_at: row.created_at,
            approved_by: row.approved_by,
            approved_at: row.approved_at,
            withdrawn_reason: row.withdrawn_reason,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// Reads an award with its payment totals.
pub fn load(conn: &mut PgConnection, row: AwardRow) -> Result<Award, ApiError> {
    let money = store::money(conn, &[row.id])?.remove(&row.id).unwrap_or_default();
    Award::from_row(row, money)
}

/// The awards a query names, each with its money, in the store's order (the API's list and the
/// screens' both read them here).
pub fn list(conn: &mut PgConnection, query: &store::AwardQuery) -> Result<Vec<Award>, ApiError> {
    let rows = store::list(conn, query)?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut money = store::money(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            let m = money.remove(&row.id).unwrap_or_default();
            Award::from_row(row, m)
        })
        .collect()
}

/// Reads an award a user may see: another CSP's award is "not found".
pub fn find_visible(
    conn: &mut PgConnection,
    user_scope: Option<RecipientId>,
    id: AwardId,
) -> Result<AwardRow, ApiError> {
    match store::find(conn, id)? {
        Some(row) if user_scope.is_none_or(|own| own == row.recipient_id) => Ok(row),
        _ => Err(ApiError::not_found("award")),
    }
}

/// Looks up a programme for an award: a missing one is a bad field, not a missing resource.
fn programme_category(conn: &mut PgConnection, id: ProgrammeId) -> Result<Category, ApiError> {
    let row = programmes::store::find(conn, id)?.ok_or_else(|| ApiError::field("programme_id", "no such programme"))?;
    Ok(row.category)
}

fn check_recipient(conn: &mut PgConnection, id: RecipientId) -> Result<(), ApiError> {
    recipients::store::find(conn, id)?.ok_or_else(|| ApiError::field("recipient_id", "no such recipient"))?;
    Ok(())
}

/// A checked request for a new award.
pub struct AwardInput {
    pub fund_id: FundId,
    pub programme_id: ProgrammeId,
    pub recipient_id: RecipientId,
    pub title: String,
    pub purpose: String,
    pub conditions: String,
    pub crime_reduction_rationale: String,
    pub amount: Money,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// The award of an earlier year this one continues.
    pub previous_award_id: Option<AwardId>,
    /// Why the amount differs from the previous award's.
    pub change_reason: Option<String>,
    /// What the recipient asked for, and when.
    pub requested: Requested,
}

/// What a recipient asked for, and when; `None` when not recorded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requested {
    pub amount: Option<Money>,
    pub on: Option<NaiveDate>,
}

/// Checks that `previous` may be continued by an award of `year`, and that an amount that
/// differs from its amount says why.
fn check_predecessor(
    conn: &mut PgConnection,
    previous: AwardId,
    year: FinancialYear,
    amount: Money,
    change_reason: Option<&str>,
) -> Result<(), ApiError> {
    let field = "previous_award_id";
    let row = store::find(conn, previous)?.ok_or_else(|| ApiError::field(field, "no such award"))?;
    if row.financial_year >= year {
        return Err(ApiError::field(field, format!("must be an award of a year before {year}")));
    }
    if !row.status.is_committed() {
        return Err(ApiError::field(field, "must be an approved or closed award"));
    }
    check_change_reason(row.amount, amount, change_reason).map_err(|message| ApiError::field("change_reason", message))
}

/// A change of amount from the previous award's needs a reason.
fn check_change_reason(previous: Money, amount: Money, reason: Option<&str>) -> Result<(), String> {
    if amount != previous && reason.is_none() {
        Err(format!("is required: the amount {amount} differs from the previous award's {previous}"))
    } else {
        Ok(())
    }
}

/// The amount of the award `current` continues, if any.
fn previous_amount(conn: &mut PgConnection, current: &store::AwardRow) -> Result<Option<Money>, ApiError> {
    match current.previous_award_id {
        None => Ok(None),
        Some(id) => Ok(store::find(conn, id)?.map(|row| row.amount)),
    }
}

/// Creates a draft award inside the caller's transaction, with its audit event.
pub fn create(conn: &mut PgConnection, actor: &Actor, input: AwardInput) -> Result<Award, ApiError> {
    let (fund, number) = funds::store::take_award_number(conn, input.fund_id)?
        .ok_or_else(|| ApiError::field("fund_id", "no such fund"))?;
    if fund.status == FundStatus::Closed {
        return Err(ApiError::InvalidState("the fund is closed and takes no new awards".into()));
    }
    let year = fund.financial_year;
    check_award_dates(input.start_date, input.end_date, year)?;
    let category = programme_category(conn, input.programme_id)?;
    check_recipient(conn, input.recipient_id)?;
    if let Some(previous) = input.previous_award_id {
        check_predecessor(conn, previous, year, input.amount, input.change_reason.as_deref())?;
    }
    let new = NewAward {
        id: AwardId::new(),
        reference: format!("{}-{}-{:04}", fund.code, fund.financial_year, number),
        fund_id: fund.id,
        financial_year: fund.financial_year,
        programme_id: input.programme_id,
        category,
        recipient_id: input.recipient_id,
        title: input.title,
        purpose: input.purpose,
        conditions: input.conditions,
        crime_reduction_rationale: input.crime_reduction_rationale,
        amount: input.amount,
        original_amount: input.amount,
        start_date: input.start_date,
        end_date: input.end_date,
        created_by: actor.sub.clone(),
        previous_award_id: input.previous_award_id,
        change_reason: input.change_reason,
        amount_requested: input.requested.amount,
        requested_on: input.requested.on,
    };
    let award = Award::from_row(store::insert(conn, &new)?, AwardMoney::default())?;
    audit::record(conn, actor, Action::AwardCreated, &award)?;
    Ok(award)
}

/// Checks that `actor` may approve `current`: its status allows it (a draft), four-eyes holds,
/// and a changed amount says why. Call with the award's row locked.
fn check_approvable(conn: &mut PgConnection, actor: &Actor, current: &store::AwardRow) -> Result<(), ApiError> {
    current.status.after(AwardAction::Approve, Money::ZERO).map_err(|e| ApiError::InvalidState(e.0))?;
    if current.created_by == actor.sub {
        return Err(ApiError::FourEyes("an award cannot be approved by the person who created it".into()));
    }
    if audit::store::acted_on_award(conn, current.id, &actor.sub, &audit::AWARD_EDITS.map(Action::as_str), 0)? {
        return Err(ApiError::FourEyes(
            "an award cannot be approved by a person who changed it while it was a draft, or added its \
             activities, indicators, monitoring plan or documents"
                .into(),
        ));
    }
    if let Some(previous) = previous_amount(conn, current)? {
        check_change_reason(previous, current.amount, current.change_reason.as_deref())
            .map_err(|m| ApiError::InvalidState(format!("change_reason {m}: give one before approving")))?;
    }
    Ok(())
}

/// Locks a fund for approvals against it: it must be open. Returns it with what it has
/// committed.
fn lock_open_fund(conn: &mut PgConnection, id: FundId) -> Result<(funds::store::FundRow, Money), ApiError> {
    let fund = funds::store::lock(conn, id)?.ok_or_else(|| ApiError::Internal("award without fund".into()))?;
    if fund.status == FundStatus::Closed {
        return Err(ApiError::InvalidState("the fund is closed and takes no approvals".into()));
    }
    // Committed, with budget carried out counted and carried in deducted.
    let used = funds::store::used(conn, fund.id)?;
    Ok((fund, used))
}

/// Keeps on each award the theme its programme has now.
pub fn keep_themes(conn: &mut PgConnection, rows: &[&store::AwardRow]) -> Result<(), ApiError> {
    let mut by_programme: std::collections::BTreeMap<ProgrammeId, Vec<AwardId>> = Default::default();
    for row in rows {
        by_programme.entry(row.programme_id).or_default().push(row.id);
    }
    for (programme, ids) in by_programme {
        let p = programmes::store::find(conn, programme)?
            .ok_or_else(|| ApiError::Internal("award without programme".into()))?;
        store::keep_theme(conn, &ids, p.plan_id, &p.plan_theme)?;
    }
    Ok(())
}

/// The changes that approve an award under `decision`.
fn approval(actor: &Actor, decision: &Decision) -> AwardChanges {
    AwardChanges {
        status: Some(AwardStatus::Approved),
        decision_ref: Some(decision.reference.clone()),
        decision_id: Some(decision.id),
        awarded_on: Some(decision.decided_on),
        approved_by: Some(actor.sub.clone()),
        approved_at: Some(audit::now_micros()),
        ..AwardChanges::default()
    }
}

/// Approves a draft inside the caller's transaction under the decision `choice` names: four-eyes,
/// open fund, and the budget rule checked under the fund's row lock, then the audit event. The
/// award date is the decision's date.
pub fn approve(
    conn: &mut PgConnection,
    actor: &Actor,
    id: AwardId,
    choice: &DecisionChoice,
) -> Result<Award, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("award"))?;
    check_approvable(conn, actor, &current)?;
    let (fund, committed) = lock_open_fund(conn, current.fund_id)?;
    check_headroom(fund.budget, committed, current.amount).map_err(|e| ApiError::BudgetExceeded(e.to_string()))?;
    let decision = decisions::resolve(conn, actor, choice)?;
    keep_themes(conn, &[&current])?;
    let row = store::update(conn, id, &approval(actor, &decision))?;
    let award = load(conn, row)?;
    audit::record(conn, actor, Action::AwardApproved, &award)?;
    Ok(award)
}

/// The most awards one schedule approves.
pub const SCHEDULE_MAX: usize = 1_000;

/// Approves a schedule of drafts under one recorded decision, all or nothing, inside the
/// caller's transaction: every award locked (in id order), four-eyes and a changed amount's
/// reason checked for each (the refusal names the award), then each fund locked (in id order)
/// and the budget rule checked for the schedule's whole total against it; then one update and
/// one `award.approved` event per award. Returns the awards in the order asked.
pub fn approve_schedule(
    conn: &mut PgConnection,
    actor: &Actor,
    decision: &Decision,
    ids: &[AwardId],
) -> Result<Vec<Award>, ApiError> {
    let rows = store::lock_many(conn, ids)?;
    if let Some(missing) = ids.iter().find(|id| !rows.iter().any(|r| r.id == **id)) {
        return Err(ApiError::field("award_ids", format!("no such award: {missing}")));
    }
    let mut by_fund: std::collections::BTreeMap<FundId, Money> = std::collections::BTreeMap::new();
    for row in &rows {
        check_approvable(conn, actor, row).map_err(|e| e.about(&row.reference))?;
        let total = by_fund.entry(row.fund_id).or_insert(Money::ZERO);
        *total = *total + row.amount;
    }
    for (fund_id, total) in &by_fund {
        let (fund, committed) = lock_open_fund(conn, *fund_id)?;
        check_headroom(fund.budget, committed, *total).map_err(|e| {
            ApiError::BudgetExceeded(format!(
                "the schedule's awards from {} {}: {e}; nothing was approved, and the schedule is short by {}",
                fund.code,
                fund.financial_year,
                *total - e.headroom
            ))
        })?;
    }
    keep_themes(conn, &rows.iter().collect::<Vec<_>>())?;
    let approved = store::update_many(conn, ids, &approval(actor, decision))?;
    let mut money = store::money(conn, ids)?;
    let mut awards = Vec::with_capacity(approved.len());
    for row in approved {
        let totals = money.remove(&row.id).unwrap_or_default();
        awards.push(Award::from_row(row, totals)?);
    }
    awards.sort_by_key(|a| ids.iter().position(|id| *id == a.id));
    audit::record_all(conn, actor, Action::AwardApproved, &awards)?;
    Ok(awards)
}

/// Changes to a draft; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct AwardEdit {
    pub programme_id: Option<ProgrammeId>,
    pub recipient_id: Option<RecipientId>,
    pub title: Option<String>,
    pub purpose: Option<String>,
    pub conditions: Option<String>,
    pub crime_reduction_rationale: Option<String>,
    pub amount: Option<Money>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub change_reason: Option<String>,
    pub requested: Requested,
}

/// Edits a draft whose version is `expected` (the client's `If-Match`).
pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    id: AwardId,
    if_match: &crate::http::extract::IfMatch,
    edit: AwardEdit,
) -> Result<Award, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("award"))?;
    if_match.check(current.version)?;
    current.status.after(AwardAction::Edit, Money::ZERO).map_err(|e| ApiError::InvalidState(e.0))?;
    let start = edit.start_date.unwrap_or(current.start_date);
    let end = edit.end_date.unwrap_or(current.end_date);
    let year = current.financial_year;
    check_award_dates(start, end, year)?;
    let category = match edit.programme_id {
        Some(p) => Some(programme_category(conn, p)?),
        None => None,
    };
    if let Some(r) = edit.recipient_id {
        check_recipient(conn, r)?;
    }
    if let Some(previous) = previous_amount(conn, &current)? {
        let amount = edit.amount.unwrap_or(current.amount);
        let reason = edit.change_reason.as_deref().or(current.change_reason.as_deref());
        check_change_reason(previous, amount, reason).map_err(|m| ApiError::field("change_reason", m))?;
    }
    let changes = AwardChanges {
        programme_id: edit.programme_id,
        category,
        recipient_id: edit.recipient_id,
        title: edit.title,
        purpose: edit.purpose,
        conditions: edit.conditions,
        crime_reduction_rationale: edit.crime_reduction_rationale,
        // A draft commits nothing yet: its original amount follows its amount.
        amount: edit.amount,
        original_amount: edit.amount,
        start_date: edit.start_date,
        end_date: edit.end_date,
        change_reason: edit.change_reason,
        amount_requested: edit.requested.amount,
        requested_on: edit.requested.on,
        ..AwardChanges::default()
    };
    let row = store::update(conn, id, &changes)?;
    let award = load(conn, row)?;
    audit::record(conn, actor, Action::AwardUpdated, &award)?;
    Ok(award)
}

/// Withdraws a draft, or an approved award with nothing paid or scheduled.
pub fn withdraw(conn: &mut PgConnection, actor: &Actor, id: AwardId, reason: String) -> Result<Award, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("award"))?;
    let money = store::money(conn, &[id])?.remove(&id).unwrap_or_default();
    let next = current
        .status
        .after(AwardAction::Withdraw, money.gross_paid() + money.scheduled)
        .map_err(|e| ApiError::InvalidState(e.0))?;
    let changes = AwardChanges { status: Some(next), withdrawn_reason: Some(reason), ..AwardChanges::default() };
    let row = store::update(conn, id, &changes)?;
    let award = load(conn, row)?;
    audit::record(conn, actor, Action::AwardWithdrawn, &award)?;
    Ok(award)
}

/// The same day `years` later; 29 February becomes the 28th in a year without one.
fn years_later(day: NaiveDate, years: i32) -> NaiveDate {
    let year = day.year() + years;
    day.with_year(year).or_else(|| NaiveDate::from_ymd_opt(year, day.month(), 28)).unwrap_or(day)
}

/// What rolling a year forward did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RollForward {
    /// The new drafts, one per award of the earlier year that still stands, in its order.
    pub created: Vec<Award>,
    /// How many of the earlier year's standing awards already had a successor in this fund.
    pub already_rolled: usize,
}

/// Creates in `to`, inside the caller's transaction, a draft continuing every approved or
/// closed award of `from` that has no successor in `to` yet: same programme, recipient, texts
/// and amount, dates moved to the new year, and the year in the title and purpose respelt in each
/// way the office writes it ([`crate::domain::financial_year::FinancialYear::respell_in`]). Under `to`'s row lock,
/// so two roll-forwards at once create each draft once.
pub fn roll_forward(conn: &mut PgConnection, actor: &Actor, to: FundId, from: FundId) -> Result<RollForward, ApiError> {
    let target = funds::store::lock(conn, to)?.ok_or_else(|| ApiError::not_found("fund"))?;
    if target.status == FundStatus::Closed {
        return Err(ApiError::InvalidState("the fund is closed and takes no new awards".into()));
    }
    let source = funds::store::find(conn, from)?.ok_or_else(|| ApiError::field("from_fund_id", "no such fund"))?;
    if source.financial_year >= target.financial_year {
        return Err(ApiError::field(
            "from_fund_id",
            format!("must be a fund of a year before {}", target.financial_year),
        ));
    }
    let years = target.financial_year.start_year() - source.financial_year.start_year();
    let standing = store::count_standing(conn, from)?;
    let rows = store::standing_without_successor(conn, from, to)?;
    let mut created = Vec::with_capacity(rows.len());
    for row in rows {
        let input = AwardInput {
            fund_id: to,
            programme_id: row.programme_id,
            recipient_id: row.recipient_id,
            title: source.financial_year.respell_in(&row.title, target.financial_year),
            purpose: source.financial_year.respell_in(&row.purpose, target.financial_year),
            conditions: row.conditions,
            crime_reduction_rationale: row.crime_reduction_rationale,
            amount: row.amount,
            start_date: years_later(row.start_date, years),
            end_date: years_later(row.end_date, years),
            previous_award_id: Some(row.id),
            change_reason: None,
            requested: Requested::default(),
        };
        created.push(create(conn, actor, input)?);
    }
    Ok(RollForward { already_rolled: standing - created.len(), created })
}

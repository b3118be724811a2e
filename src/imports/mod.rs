//! Imports: earlier years' records brought in from a CSV in the shape of our own `awards.csv`
//! (plus decision columns) or from a 360Giving data package, checked row by row and then
//! committed all or nothing — never on one person's word.
//!
//! A dry run (the default) plans the whole import against the ledger as it stands and writes
//! nothing: every row says what it would create or match, or its errors. Finance then stages
//! the file ([`batch`]): it is planned again and kept, and nothing else is written. An approver
//! who did not stage it confirms it: the plan is made once more under the matched funds' row
//! locks, and the records are written only when no row has an error, in the confirmation's
//! transaction — the awards created by the person who staged them and approved by the person who
//! confirmed them, every event the confirmer's.

pub mod batch;
pub mod http;
pub mod parse;
pub mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Action, Actor};
use crate::awards::store::ImportedAward;
use crate::awards::{self, Award};
use crate::decisions::{self, DecisionInput};
use crate::domain::dates::{check_award_dates, check_decided_on};
use crate::domain::ids::{AwardId, DecisionId, FundId, PaymentId, ProgrammeId, RecipientId, RepaymentId};
use crate::domain::{AwardStatus, Category, FinancialYear, FundStatus, Money, PaymentStatus, RecipientKind};
use crate::error::ApiError;
use crate::http::extract::BoundedBody;
use crate::payments::store::NewPayment;
use parse::{ImportRow, RowError};
use store::KnownFund;

/// The largest import body: 16 MiB (some 50,000 CSV rows).
pub const IMPORT_LIMIT: usize = 16 * 1024 * 1024;
/// The most rows one import takes.
pub const IMPORT_ROWS: usize = 20_000;

/// Whether a row's record is already in the ledger or would be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Match,
    Create,
}

/// What one row creates or matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowPlan {
    pub row: usize,
    /// The award's reference; `null` in a dry run when the service will assign it.
    pub reference: Option<String>,
    #[schema(example = "CDRG 2019-20")]
    pub fund: String,
    pub fund_outcome: Outcome,
    pub recipient: String,
    pub recipient_outcome: Outcome,
    pub programme: String,
    pub programme_outcome: Outcome,
    pub decision: Option<String>,
    pub decision_outcome: Option<Outcome>,
    pub status: AwardStatus,
    pub amount: Money,
    /// Payments it brings (paid, or still scheduled).
    pub payments: usize,
    /// Repayments it brings (a 360Giving package's negative disbursements).
    pub repayments: usize,
    /// The award's id once committed.
    pub award_id: Option<AwardId>,
}

/// How many records the import makes.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Created {
    pub funds: usize,
    pub recipients: usize,
    pub programmes: usize,
    pub decisions: usize,
    pub awards: usize,
    pub payments: usize,
    pub repayments: usize,
}

/// The answer to an import: every row's plan, or the errors.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// True when the import was written (only ever by a confirmation).
    pub committed: bool,
    /// The staged import this plan is of; `null` for a dry run.
    pub batch: Option<batch::ImportBatch>,
    /// True when no row has an error.
    pub ok: bool,
    pub rows: Vec<RowPlan>,
    pub errors: Vec<RowError>,
    pub created: Created,
}

/// A fund the import uses: one in the ledger, or one it makes.
struct FundPlan {
    id: FundId,
    code: String,
    year: FinancialYear,
    existing: Option<KnownFund>,
    committed: Money,
    adds: Money,
    first_row: usize,
    /// A new fund's budget, as the rows give it (never invented); an existing fund's own.
    budget: Option<(Money, usize)>,
}

/// What the ledger holds, keyed as the import matches it.
#[derive(Default)]
struct Ledger {
    funds: HashMap<(String, FinancialYear), (KnownFund, Money)>,
    recipient_by_org: HashMap<String, (RecipientId, String)>,
    recipient_by_name: HashMap<String, RecipientId>,
    recipient_ids: HashSet<RecipientId>,
    programme_by_name: HashMap<String, ProgrammeId>,
    programme_ids: HashMap<ProgrammeId, (String, crate::domain::Category)>,
    decisions: HashMap<String, (DecisionId, NaiveDate)>,
}

fn load_ledger(conn: &mut PgConnection) -> Result<Ledger, ApiError> {
    // Each fund with what counts against its budget: committed, plus carried out, less
    // carried in, as every budget rule counts it.
    let known = store::funds(conn)?;
    let ids: Vec<FundId> = known.iter().map(|f| f.id).collect();
    let mut totals = crate::funds::store::totals(conn, &ids)?;
    let funds = known
        .into_iter()
        .map(|f| {
            let used = totals.remove(&f.id).unwrap_or_default().used();
            ((f.code.clone(), f.financial_year), (f, used))
        })
        .collect();
    let (mut recipient_by_org, mut recipient_by_name, mut recipient_ids) =
        (HashMap::new(), HashMap::new(), HashSet::new());
    for (id, name, org) in store::recipients(conn)? {
        if let Some(org) = org {
            recipient_by_org.insert(org, (id, name.clone()));
        }
        recipient_by_name.entry(name.trim().to_lowercase()).or_insert(id);
        recipient_ids.insert(id);
    }
    let (mut programme_by_name, mut programme_ids) = (HashMap::new(), HashMap::new());
    for (id, name, category, _) in store::programmes(conn)? {
        programme_by_name.insert(name.trim().to_lowercase(), id);
        programme_ids.insert(id, (name, category));
    }
    let decisions = store::decisions(conn)?.into_iter().map(|(id, r, d)| (r, (id, d))).collect();
    Ok(Ledger {
        funds,
        recipient_by_org,
        recipient_by_name,
        recipient_ids,
        programme_by_name,
        programme_ids,
        decisions,
    })
}

/// The records an import makes, once planned.
#[derive(Default)]
struct Plan {
    funds: BTreeMap<(String, FinancialYear), FundPlan>,
    recipients: Vec<crate::recipients::store::NewRecipient>,
    recipient_of_row: Vec<RecipientId>,
    programmes: Vec<crate::programmes::store::NewProgramme>,
    /// The day whose plan each new programme's theme belongs to (its first award's start).
    programme_dates: Vec<NaiveDate>,
    programme_of_row: Vec<(ProgrammeId, crate::domain::Category)>,
    decisions: Vec<DecisionInput>,
    rows: Vec<RowPlan>,
}

/// Plans every row against the ledger: what it matches, what it makes, and every error.
fn plan(
    conn: &mut PgConnection,
    ledger: &Ledger,
    rows: &[ImportRow],
    errors: &mut Vec<RowError>,
) -> Result<Plan, ApiError> {
    let references: Vec<String> = rows.iter().filter_map(|r| r.reference.clone()).collect();
    let mut planner = Planner {
        ledger,
        errors,
        plan: Plan::default(),
        taken: store::taken_references(conn, &references)?.into_iter().collect(),
        seen_references: HashSet::new(),
        new_recipients: HashMap::new(),
        new_programmes: HashMap::new(),
        new_decisions: HashMap::new(),
        today: Utc::now().date_naive(),
    };
    for r in rows {
        let fund_outcome = planner.fund(r);
        planner.award(r);
        let recipient_outcome = planner.recipient(r);
        let programme_outcome = planner.programme(conn, r)?;
        let decision_outcome = planner.decision(r);
        planner.money_dates(r);
        planner.plan.rows.push(RowPlan {
            row: r.row,
            reference: r.reference.clone(),
            fund: format!("{} {}", r.fund_code, r.year),
            fund_outcome,
            recipient: r.recipient.name.clone(),
            recipient_outcome,
            programme: r.programme.name.clone(),
            programme_outcome,
            decision: r.decision.as_ref().map(|(d, _)| d.clone()),
            decision_outcome,
            status: r.status,
            amount: r.amount,
            payments: r.payments.len(),
            repayments: r.repayments.len(),
            award_id: None,
        });
    }
    planner.budgets();
    Ok(planner.plan)
}

/// The plan as it grows row by row, what the rows before made, and the errors found so far.
struct Planner<'a> {
    ledger: &'a Ledger,
    errors: &'a mut Vec<RowError>,
    plan: Plan,
    /// References the ledger already holds.
    taken: HashSet<String>,
    seen_references: HashSet<String>,
    new_recipients: HashMap<String, RecipientId>,
    new_programmes: HashMap<String, (ProgrammeId, Category)>,
    new_decisions: HashMap<String, NaiveDate>,
    today: NaiveDate,
}

impl Planner<'_> {
    fn fail(&mut self, row: usize, column: &str, message: String) {
        self.errors.push(RowError { row, column: column.into(), message });
    }

    /// The row's fund, matched by code and year or planned, and what the row adds to it.
    fn fund(&mut self, r: &ImportRow) -> Outcome {
        let key = (r.fund_code.clone(), r.year);
        let existing = self.ledger.funds.get(&key);
        if existing.is_some_and(|(f, _)| f.status == FundStatus::Closed) {
            self.fail(r.row, "financial_year", format!("the fund {} {} is closed", r.fund_code, r.year));
        }
        if crate::domain::FundCode::parse(&r.fund_code).is_err() {
            self.fail(r.row, "reference", format!("{:?} is not a fund code", r.fund_code));
        }
        let fund = self.plan.funds.entry(key).or_insert_with(|| FundPlan {
            id: existing.map(|(f, _)| f.id).unwrap_or_else(FundId::new),
            code: r.fund_code.clone(),
            year: r.year,
            existing: existing.map(|(f, _)| f.clone()),
            committed: existing.map(|(_, c)| *c).unwrap_or(Money::ZERO),
            adds: Money::ZERO,
            first_row: r.row,
            budget: existing.map(|(f, _)| (f.budget, 0)),
        });
        let (code, year, in_ledger) = (fund.code.clone(), fund.year, fund.existing.is_some());
        let conflict = match (r.fund_budget, fund.budget) {
            (Some(given), None) => {
                fund.budget = Some((given, r.row));
                None
            }
            (Some(given), Some((budget, _))) if given != budget && in_ledger => {
                Some(format!("the fund {code} {year} is in the ledger with a budget of {budget}, not {given}"))
            }
            (Some(given), Some((budget, row))) if given != budget => {
                Some(format!("{given} differs from the budget {budget} that row {row} gives the fund {code} {year}"))
            }
            _ => None,
        };
        if r.status.is_committed() {
            fund.adds = fund.adds + r.amount;
        }
        let outcome = if in_ledger { Outcome::Match } else { Outcome::Create };
        if let Some(message) = conflict {
            self.fail(r.row, "fund_budget", message);
        }
        outcome
    }

    /// The award's own rules: a reference not taken nor repeated, the dates every door checks,
    /// payments within the amount.
    fn award(&mut self, r: &ImportRow) {
        if let Some(reference) = &r.reference {
            if self.taken.contains(reference) {
                self.fail(r.row, "reference", format!("{reference} is already in the ledger"));
            } else if !self.seen_references.insert(reference.clone()) {
                self.fail(r.row, "reference", format!("{reference} appears twice in the import"));
            }
        }
        for problem in check_award_dates(r.start, r.end, r.year).err().unwrap_or_default() {
            self.fail(r.row, problem.field, problem.message);
        }
        let paid: Money = r.payments.iter().map(|p| p.amount).sum();
        if paid > r.amount {
            self.fail(r.row, "paid", format!("payments of {paid} exceed the amount {}", r.amount));
        }
    }

    /// The row's recipient: by org identifier, else by our own id, else by name; else planned.
    fn recipient(&mut self, r: &ImportRow) -> Outcome {
        let ledger = self.ledger;
        let (recipient, outcome) = match &r.recipient.org_identifier {
            Some(org) => match ledger.recipient_by_org.get(org) {
                Some((id, _)) => (*id, Outcome::Match),
                None => self.new_recipient(r, org.clone()),
            },
            None => match r.recipient.id.filter(|id| ledger.recipient_ids.contains(id)) {
                Some(id) => (id, Outcome::Match),
                None => match ledger.recipient_by_name.get(&r.recipient.name.to_lowercase()) {
                    Some(id) => (*id, Outcome::Match),
                    None => self.new_recipient(r, r.recipient.name.to_lowercase()),
                },
            },
        };
        self.plan.recipient_of_row.push(recipient);
        outcome
    }

    /// A recipient the import makes, once however many rows name it.
    fn new_recipient(&mut self, r: &ImportRow, key: String) -> (RecipientId, Outcome) {
        if let Some(id) = self.new_recipients.get(&key) {
            return (*id, Outcome::Create);
        }
        let planned = |id: &RecipientId| self.new_recipients.values().any(|n| n == id);
        let id = r
            .recipient
            .id
            .filter(|id| !self.ledger.recipient_ids.contains(id) && !planned(id))
            .unwrap_or_else(RecipientId::new);
        self.new_recipients.insert(key, id);
        self.plan.recipients.push(crate::recipients::store::NewRecipient {
            id,
            name: r.recipient.name.clone(),
            kind: RecipientKind::Other,
            org_identifier: r.recipient.org_identifier.clone(),
            district: None,
            contact_email: None,
            postcode: r.recipient.place.postcode.clone(),
            area_code: r.recipient.place.area.as_ref().map(|a| a.0.clone()),
            area_type: r.recipient.place.area.as_ref().map(|a| a.1.clone()),
            area_name: r.recipient.place.area.as_ref().and_then(|a| a.2.clone()),
        });
        (id, Outcome::Create)
    }

    /// The row's programme: by our own id or by name; else planned, when the row gives its
    /// category and a theme of the plan in force when the award began.
    fn programme(&mut self, conn: &mut PgConnection, r: &ImportRow) -> Result<Outcome, ApiError> {
        let ledger = self.ledger;
        let by_id = r.programme.id.filter(|id| ledger.programme_ids.contains_key(id));
        if let Some(id) = by_id.or_else(|| ledger.programme_by_name.get(&r.programme.name.to_lowercase()).copied()) {
            self.plan.programme_of_row.push((id, ledger.programme_ids[&id].1));
            return Ok(Outcome::Match);
        }
        let key = r.programme.name.to_lowercase();
        match (self.new_programmes.get(&key), r.programme.category, r.programme.theme.clone()) {
            (Some(planned), _, _) => self.plan.programme_of_row.push(*planned),
            (None, Some(category), Some(theme)) => {
                let plan_id = match crate::plans::theme_plan(conn, None, &theme, r.start) {
                    Ok(plan_id) => plan_id,
                    Err(ApiError::Validation(found)) => {
                        for e in found {
                            self.fail(r.row, "plan_theme", e.message);
                        }
                        None
                    }
                    Err(other) => return Err(other),
                };
                let planned = |id: &ProgrammeId| self.new_programmes.values().any(|(n, _)| n == id);
                let id = r
                    .programme
                    .id
                    .filter(|id| !ledger.programme_ids.contains_key(id) && !planned(id))
                    .unwrap_or_else(ProgrammeId::new);
                self.new_programmes.insert(key, (id, category));
                self.plan.programme_of_row.push((id, category));
                self.plan.programmes.push(crate::programmes::store::NewProgramme {
                    id,
                    name: r.programme.name.clone(),
                    category,
                    plan_theme: theme,
                    description: parse::NOT_RECORDED.to_string(),
                    plan_id,
                });
                self.plan.programme_dates.push(r.start);
            }
            (None, _, _) => {
                let message = format!(
                    "{:?} is not in the ledger: give its category and plan_theme to create it",
                    r.programme.name
                );
                self.fail(r.row, "programme", message);
                self.plan.programme_of_row.push((ProgrammeId::new(), Category::CommissionedService));
            }
        }
        Ok(Outcome::Create)
    }

    /// The row's decision, by reference: its date must agree with the ledger's, or with an
    /// earlier row's; one the ledger lacks is planned, dated as a decision may be.
    fn decision(&mut self, r: &ImportRow) -> Option<Outcome> {
        let (reference, day) = r.decision.as_ref()?;
        if let Some((_, recorded)) = self.ledger.decisions.get(reference) {
            if recorded != day {
                self.fail(r.row, "awarded_on", format!("the decision {reference} is dated {recorded}, not {day}"));
            }
            return Some(Outcome::Match);
        }
        match self.new_decisions.get(reference).copied() {
            Some(planned) if planned != *day => {
                let message = format!("the decision {reference} is dated {planned} in an earlier row");
                self.fail(r.row, "awarded_on", message);
            }
            Some(_) => {}
            None => {
                self.new_decisions.insert(reference.clone(), *day);
                match check_decided_on(*day, self.today) {
                    Ok(_) => self.plan.decisions.push(DecisionInput {
                        reference: reference.clone(),
                        title: reference.clone(),
                        decided_on: *day,
                        decided_by: "not recorded (imported)".into(),
                        url: None,
                        summary: String::new(),
                    }),
                    Err(m) => self.fail(r.row, "awarded_on", m.into()),
                }
            }
        }
        Some(Outcome::Create)
    }

    /// No payment or repayment dated before the award's decision.
    fn money_dates(&mut self, r: &ImportRow) {
        let Some((_, decided)) = &r.decision else { return };
        for day in r.payments.iter().filter_map(|p| p.paid_on.or(p.due_on)).filter(|day| day < decided) {
            self.fail(r.row, "paid", format!("a payment dated {day} is before the decision of {decided}"));
        }
        for day in r.repayments.iter().map(|p| p.received_on).filter(|day| day < decided) {
            self.fail(r.row, "repaid", format!("a repayment dated {day} is before the decision of {decided}"));
        }
    }

    /// What the import commits in each fund, against its headroom; a fund the ledger does not
    /// hold needs its budget from the rows (an import never invents one).
    fn budgets(&mut self) {
        let mut over = Vec::new();
        for fund in self.plan.funds.values() {
            match fund.budget {
                Some((budget, _)) if fund.committed + fund.adds > budget => {
                    let headroom = budget - fund.committed;
                    let message = format!(
                        "the import commits {} in {} {}, whose headroom is {headroom}",
                        fund.adds, fund.code, fund.year
                    );
                    over.push((fund.first_row, "amount", message));
                }
                Some(_) => {}
                None => over.push((
                    fund.first_row,
                    "fund_budget",
                    format!(
                        "the fund {} {} is not in the ledger: create it first (POST /api/v1/funds), or give its budget in a fund_budget column",
                        fund.code, fund.year
                    ),
                )),
            }
        }
        for (row, column, message) in over {
            self.fail(row, column, message);
        }
    }
}

/// Who writes a confirmed import: the person who staged it (who created its records) and the
/// approver confirming it (who approves them, records their decisions, and acts in every event).
pub struct Confirmation<'a> {
    pub importer: &'a str,
    pub confirmer: &'a Actor,
}

/// Writes a planned import inside the caller's transaction: the funds, recipients, programmes
/// and decisions it makes, then the awards with their payments, then the repayments.
fn apply(
    conn: &mut PgConnection,
    who: &Confirmation<'_>,
    rows: &[ImportRow],
    plan: &mut Plan,
) -> Result<Created, ApiError> {
    let actor = who.confirmer;
    let mut created = make_records(conn, actor, plan)?;
    let decision_ids: HashMap<String, DecisionId> =
        store::decisions(conn)?.into_iter().map(|(id, reference, _)| (reference, id)).collect();
    // References: imported ones keep theirs (and move the fund's numbering past them); the
    // rest are numbered after them.
    for r in rows {
        if let Some(number) = r.reference.as_deref().and_then(|rf| parse::reference_parts(rf, r.year)).map(|(_, n)| n) {
            store::bump_award_number(conn, plan.funds[&(r.fund_code.clone(), r.year)].id, number)?;
        }
    }
    let (awards, mut payments) = award_rows(conn, who, rows, plan, &decision_ids)?;
    // A payment id from the package that is already used (in the ledger, or twice in the
    // package) gets a new one.
    let ids: Vec<PaymentId> = payments.iter().map(|p| p.id).collect();
    let mut taken: HashSet<PaymentId> = crate::payments::store::existing_ids(conn, &ids)?.into_iter().collect();
    for p in payments.iter_mut().filter(|p| !taken.insert(p.id)) {
        p.id = PaymentId::new();
    }
    awards::store::insert_imported(conn, &awards)?;
    crate::payments::store::insert_many(conn, &payments)?;
    created.awards = awards.len();
    created.payments = payments.len();
    let ids: Vec<AwardId> = awards.iter().map(|a| a.id).collect();
    record_imported(conn, actor, &ids)?;
    created.repayments = repay(conn, actor, rows, &ids)?;
    Ok(created)
}

/// Makes the funds, recipients, programmes and decisions the plan needs, each with its event.
fn make_records(conn: &mut PgConnection, actor: &Actor, plan: &mut Plan) -> Result<Created, ApiError> {
    let mut created = Created::default();
    for fund in plan.funds.values().filter(|f| f.existing.is_none()) {
        let new = crate::funds::store::NewFund {
            id: fund.id,
            code: fund.code.clone(),
            name: format!("{} {} (imported)", fund.code, fund.year),
            financial_year: fund.year,
            budget: fund
                .budget
                .map(|(b, _)| b)
                .ok_or_else(|| ApiError::Internal("an imported fund without a budget".into()))?,
        };
        crate::funds::create(conn, actor, &new)?;
        created.funds += 1;
    }
    for recipient in &plan.recipients {
        crate::recipients::create(conn, actor, recipient)?;
        created.recipients += 1;
    }
    for (programme, when) in plan.programmes.iter().zip(&plan.programme_dates) {
        crate::programmes::create(conn, actor, programme, *when)?;
        created.programmes += 1;
    }
    for input in std::mem::take(&mut plan.decisions) {
        decisions::create(conn, actor, input)?;
        created.decisions += 1;
    }
    Ok(created)
}

/// Each row's award as it enters, in its final state, with its payments; the plan's rows learn
/// their award's id and reference.
fn award_rows(
    conn: &mut PgConnection,
    who: &Confirmation<'_>,
    rows: &[ImportRow],
    plan: &mut Plan,
    decision_ids: &HashMap<String, DecisionId>,
) -> Result<(Vec<ImportedAward>, Vec<NewPayment>), ApiError> {
    let now = audit::now_micros();
    // Each fund's numbers for the rows without a reference, taken in one update per fund (in id
    // order, as the funds were locked), then given out in row order.
    let mut unnumbered: BTreeMap<FundId, i32> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.reference.is_none()) {
        *unnumbered.entry(plan.funds[&(r.fund_code.clone(), r.year)].id).or_default() += 1;
    }
    let mut next_number: HashMap<FundId, i32> = HashMap::new();
    for (fund, count) in unnumbered {
        let first = crate::funds::store::take_award_numbers(conn, fund, count)?
            .ok_or_else(|| ApiError::Internal("import fund vanished".into()))?;
        next_number.insert(fund, first);
    }
    let mut awards = Vec::with_capacity(rows.len());
    let mut payments = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let fund = &plan.funds[&(r.fund_code.clone(), r.year)];
        let reference = match &r.reference {
            Some(reference) => reference.clone(),
            None => {
                let next =
                    next_number.get_mut(&fund.id).ok_or_else(|| ApiError::Internal("import numbering".into()))?;
                let number = *next;
                *next += 1;
                format!("{}-{}-{number:04}", fund.code, fund.year)
            }
        };
        let id = AwardId::new();
        let committed = r.status.is_committed();
        let decision = r
            .decision
            .as_ref()
            .filter(|_| committed)
            .map(|(reference, day)| (reference.clone(), decision_ids.get(reference).copied(), *day));
        let (programme, category) = plan.programme_of_row[i];
        awards.push(ImportedAward {
            id,
            reference: reference.clone(),
            fund_id: fund.id,
            financial_year: r.year,
            programme_id: programme,
            category,
            recipient_id: plan.recipient_of_row[i],
            title: r.title.clone(),
            purpose: r.purpose.clone(),
            conditions: r.conditions.clone(),
            crime_reduction_rationale: r.rationale.clone(),
            amount: r.amount,
            original_amount: r.original_amount,
            status: r.status,
            decision_ref: decision.as_ref().map(|d| d.0.clone()),
            decision_id: decision.as_ref().and_then(|d| d.1),
            awarded_on: decision.as_ref().map(|d| d.2),
            start_date: r.start,
            end_date: r.end,
            created_by: who.importer.to_string(),
            approved_by: committed.then(|| who.confirmer.sub.clone()),
            approved_at: committed.then_some(now),
            withdrawn_reason: (r.status == AwardStatus::Withdrawn).then(|| "imported as withdrawn".to_string()),
            amount_requested: r.amount_requested,
        });
        payments.extend(r.payments.iter().map(|p| NewPayment {
            id: p.id.unwrap_or_else(PaymentId::new),
            award_id: id,
            amount: p.amount,
            status: if p.paid_on.is_some() { PaymentStatus::Paid } else { PaymentStatus::Scheduled },
            due_on: p.due_on,
            paid_on: p.paid_on,
            reference: p.reference.clone(),
            paid_by: p.paid_on.map(|_| who.importer.to_string()),
            created_by: who.importer.to_string(),
        }));
        plan.rows[i].reference = Some(reference);
        plan.rows[i].award_id = Some(id);
    }
    Ok((awards, payments))
}

/// The trail of the awards just inserted, a thousand awards at a time (so that a 20,000-row
/// import never holds every award and event in memory at once): one event per award as
/// imported, then one per payment of those awards. Approved and closed awards keep the theme
/// their programme has now.
fn record_imported(conn: &mut PgConnection, actor: &Actor, ids: &[AwardId]) -> Result<(), ApiError> {
    for chunk in ids.chunks(1_000) {
        record_imported_chunk(conn, actor, chunk)?;
    }
    Ok(())
}

fn record_imported_chunk(conn: &mut PgConnection, actor: &Actor, ids: &[AwardId]) -> Result<(), ApiError> {
    let inserted = awards::store::find_many(conn, ids)?;
    awards::keep_themes(conn, &inserted.iter().filter(|a| a.status.is_committed()).collect::<Vec<_>>())?;
    let mut money = awards::store::money(conn, ids)?;
    let mut by_id: HashMap<AwardId, Award> = HashMap::new();
    for row in awards::store::find_many(conn, ids)? {
        let totals = money.remove(&row.id).unwrap_or_default();
        by_id.insert(row.id, Award::from_row(row, totals)?);
    }
    let in_order: Vec<Award> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    audit::record_all(conn, actor, Action::AwardImported, &in_order)?;
    let (mut paid, mut scheduled) = (Vec::new(), Vec::new());
    for row in crate::payments::store::for_awards(conn, ids)? {
        let payment = crate::payments::Payment::try_from(row)?;
        if payment.status == PaymentStatus::Paid { paid.push(payment) } else { scheduled.push(payment) }
    }
    audit::record_all(conn, actor, Action::PaymentPaid, &paid)?;
    audit::record_all(conn, actor, Action::PaymentScheduled, &scheduled)?;
    Ok(())
}

/// The rows' repayments, last, each checked against what its award has paid, with its own
/// event. An id from the package that is already used gets a new one. Returns how many.
fn repay(conn: &mut PgConnection, actor: &Actor, rows: &[ImportRow], ids: &[AwardId]) -> Result<usize, ApiError> {
    let planned: Vec<(AwardId, &parse::RepaymentPlan)> =
        rows.iter().zip(ids).flat_map(|(r, id)| r.repayments.iter().map(move |p| (*id, p))).collect();
    let wanted: Vec<RepaymentId> = planned.iter().filter_map(|(_, p)| p.id).collect();
    let mut taken: HashSet<RepaymentId> = crate::repayments::store::existing_ids(conn, &wanted)?.into_iter().collect();
    for (award_id, p) in &planned {
        let id = p.id.filter(|id| taken.insert(*id)).unwrap_or_else(RepaymentId::new);
        let input = crate::repayments::RepaymentInput {
            id,
            amount: p.amount,
            received_on: p.received_on,
            reference: p.reference.clone(),
            reason: parse::NOT_RECORDED.to_string(),
        };
        crate::repayments::add_repayment(conn, actor, *award_id, input)?;
    }
    Ok(planned.len())
}

/// The import's rows, read from the body as its content type says.
fn read_rows(
    mime: &str,
    body: &[u8],
    prefix: &str,
    fund_code: Option<&str>,
) -> Result<(Vec<ImportRow>, Vec<RowError>), ApiError> {
    let read = match mime {
        "text/csv" | "application/csv" => parse::csv_rows(body, fund_code),
        "application/json" => {
            let package: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::Malformed(format!("the request body is not valid JSON ({e})")))?;
            parse::giving_rows(&package, prefix, fund_code)
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "the request body must be text/csv or application/json (a 360Giving package)".into(),
            ));
        }
    };
    let (rows, errors) = read.map_err(|message| ApiError::field("body", message))?;
    if rows.len() + errors.len() > IMPORT_ROWS {
        return Err(ApiError::field("body", format!("an import takes at most {IMPORT_ROWS} rows")));
    }
    if rows.is_empty() && errors.is_empty() {
        return Err(ApiError::field("body", "the import has no rows"));
    }
    Ok((rows, errors))
}

fn planned_counts(plan: &Plan) -> Created {
    Created {
        funds: plan.funds.values().filter(|f| f.existing.is_none()).count(),
        recipients: plan.recipients.len(),
        programmes: plan.programmes.len(),
        decisions: plan.decisions.len(),
        awards: plan.rows.len(),
        payments: plan.rows.iter().map(|r| r.payments).sum(),
        repayments: plan.rows.iter().map(|r| r.repayments).sum(),
    }
}

/// An import as sent: its body, and how to read it (the publisher's 360Giving prefix, which
/// marks our own ids, and the fund code of rows whose reference names none).
pub struct ImportFile {
    pub body: BoundedBody,
    pub prefix: String,
    pub fund_code: Option<String>,
}

/// Reads and plans an import, and (given its confirmation) writes it, all or nothing, inside
/// the caller's transaction. A commit plans under the matched funds' row locks, so the budget
/// check it makes stays true until it writes.
pub fn run(
    conn: &mut PgConnection,
    file: &ImportFile,
    commit: Option<&Confirmation<'_>>,
) -> Result<ImportReport, ApiError> {
    let dry_run = commit.is_none();
    let (rows, mut errors) =
        read_rows(&file.body.media_type, &file.body.bytes, &file.prefix, file.fund_code.as_deref())?;
    let ledger = load_ledger(conn)?;
    if !dry_run {
        // The funds the rows name, locked in id order as every action that locks several does.
        let keys: BTreeSet<(String, FinancialYear)> = rows.iter().map(|r| (r.fund_code.clone(), r.year)).collect();
        let mut ids: Vec<FundId> = keys.iter().filter_map(|key| ledger.funds.get(key)).map(|(f, _)| f.id).collect();
        ids.sort();
        for id in ids {
            crate::funds::store::lock(conn, id)?;
        }
    }
    let ledger = if dry_run { ledger } else { load_ledger(conn)? };
    let mut plan = plan(conn, &ledger, &rows, &mut errors)?;
    errors.sort_by_key(|e| e.row);
    let ok = errors.is_empty();
    let created = match commit {
        Some(who) if ok => apply(conn, who, &rows, &mut plan)?,
        _ => planned_counts(&plan),
    };
    Ok(ImportReport { dry_run, committed: ok && !dry_run, batch: None, ok, rows: plan.rows, errors, created })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parse::{PaymentPlan, Place, ProgrammeRef, RecipientRef, RepaymentPlan};

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// An approved 2019-20 row decided on 2019-04-01, paying and repaying on the days given.
    fn row(paid_on: &str, repaid_on: &str) -> ImportRow {
        let money = Money::parse("100.00").unwrap();
        ImportRow {
            row: 1,
            reference: None,
            fund_code: "CDRG".into(),
            year: FinancialYear::parse("2019-20").unwrap(),
            status: AwardStatus::Approved,
            recipient: RecipientRef { name: "R".into(), org_identifier: None, id: None, place: Place::default() },
            programme: ProgrammeRef { name: "P".into(), id: None, category: None, theme: None },
            title: "T".into(),
            purpose: "T".into(),
            conditions: "T".into(),
            rationale: "T".into(),
            amount: money,
            original_amount: money,
            amount_requested: None,
            start: day("2019-04-01"),
            end: day("2020-03-31"),
            decision: Some(("D".into(), day("2019-04-01"))),
            payments: vec![PaymentPlan {
                id: None,
                amount: money,
                paid_on: Some(day(paid_on)),
                due_on: Some(day(paid_on)),
                reference: None,
            }],
            repayments: vec![RepaymentPlan {
                id: None,
                amount: money,
                received_on: day(repaid_on),
                reference: "R".into(),
            }],
            fund_budget: None,
        }
    }

    /// The columns `money_dates` names for `row`.
    fn named(row: &ImportRow) -> Vec<String> {
        let (ledger, mut errors) = (Ledger::default(), Vec::new());
        let mut planner = Planner {
            ledger: &ledger,
            errors: &mut errors,
            plan: Plan::default(),
            taken: HashSet::new(),
            seen_references: HashSet::new(),
            new_recipients: HashMap::new(),
            new_programmes: HashMap::new(),
            new_decisions: HashMap::new(),
            today: day("2026-01-01"),
        };
        planner.money_dates(row);
        errors.into_iter().map(|e| e.column).collect()
    }

    #[test]
    fn no_payment_or_repayment_is_dated_before_the_decision() {
        // Neither reader makes such a row today (a CSV's payments are dated on or after the
        // decision; a package's before its awardDate are refused as read): the plan holds the
        // rule for any reader.
        assert!(named(&row("2019-04-01", "2019-04-01")).is_empty(), "on the decision's day is fine");
        assert_eq!(named(&row("2019-03-31", "2019-04-02")), ["paid"]);
        assert_eq!(named(&row("2019-05-01", "2019-03-31")), ["repaid"]);
        assert_eq!(named(&row("2019-03-31", "2019-03-31")), ["paid", "repaid"]);
    }
}

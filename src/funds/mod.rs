//! Funds: the pot for one financial year (DESIGN §5).

pub mod carry;
pub mod http;
pub mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::decisions::{self, DecisionChoice};
use crate::domain::budget::check_headroom;
use crate::domain::ids::{DecisionId, FundId};
use crate::domain::{FinancialYear, FundCode, FundStatus, Money};
use crate::error::ApiError;
use crate::http::extract::IfMatch;
use store::{FundChanges, FundRow, FundTotals, NewFund};

/// A fund with its derived totals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Fund {
    pub id: FundId,
    /// Short code, unique within a financial year.
    #[schema(example = "CDRG")]
    pub code: String,
    #[schema(example = "Crime and disorder reduction grants")]
    pub name: String,
    pub financial_year: FinancialYear,
    pub budget: Money,
    /// The decision that set the current budget (every budget change names one); `null` while
    /// the budget is the one the fund was created with.
    #[schema(example = "PCC-DN-2020-031")]
    pub budget_decision_ref: Option<String>,
    /// The id of that decision (null for budget changes recorded before decisions were
    /// records).
    pub budget_decision_id: Option<DecisionId>,
    /// Current amounts of approved awards, and what closed awards paid (net of repayments).
    pub committed: Money,
    /// Payments made, net of repayments.
    pub paid: Money,
    /// Budget carried forward into this fund from earlier years.
    pub carried_in: Money,
    /// Budget carried forward from this fund to later years.
    pub carried_out: Money,
    /// `budget + carried_in - carried_out - committed`: what may still be committed.
    pub headroom: Money,
    pub status: FundStatus,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl audit::Audited for Fund {
    const ENTITY_TYPE: &'static str = "fund";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
}

impl Fund {
    /// Combines a stored fund with its totals.
    pub fn from_row(row: FundRow, totals: FundTotals) -> Result<Fund, ApiError> {
        let budget = row.budget;
        Ok(Fund {
            id: row.id,
            financial_year: row.financial_year,
            status: row.status,
            code: row.code,
            name: row.name,
            budget,
            budget_decision_ref: row.budget_decision_ref,
            budget_decision_id: row.budget_decision_id,
            committed: totals.committed,
            paid: totals.paid,
            carried_in: totals.carried_in,
            carried_out: totals.carried_out,
            headroom: budget - totals.used(),
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Reads a fund with its totals.
pub fn load(conn: &mut diesel::PgConnection, row: FundRow) -> Result<Fund, ApiError> {
    let totals = store::totals(conn, &[row.id])?.remove(&row.id).unwrap_or_default();
    Fund::from_row(row, totals)
}

/// A checked request for a new fund.
pub struct FundInput {
    pub code: FundCode,
    pub name: String,
    pub financial_year: FinancialYear,
    pub budget: Money,
}

/// Checked changes to a fund; `None` leaves a field as it is.
pub struct FundEdit {
    pub name: Option<String>,
    /// The new budget and the decision that sets it.
    pub budget: Option<(Money, DecisionChoice)>,
    pub status: Option<FundStatus>,
}

/// Changes a fund whose version is the client's `If-Match`: the budget never below what is
/// committed, checked under the fund's row lock, and only under a recorded decision that
/// someone other than the changer recorded.
pub fn update(
    conn: &mut diesel::PgConnection,
    actor: &Actor,
    id: FundId,
    if_match: &IfMatch,
    edit: FundEdit,
) -> Result<Fund, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("fund"))?;
    if_match.check(current.version)?;
    if let Some((budget, _)) = &edit.budget {
        let budget = *budget;
        let used = store::used(conn, id)?;
        check_headroom(budget, used, Money::ZERO).map_err(|_| {
            ApiError::BudgetExceeded(format!(
                "the budget cannot drop below the {used} already committed (with carry-forwards counted)"
            ))
        })?;
    }
    let (budget, decision) = match &edit.budget {
        Some((b, choice)) => {
            let decision = decisions::held(conn, choice)?;
            decisions::check_recorded_by_another(&decision, actor, "a budget change")?;
            (Some(*b), Some(decision))
        }
        None => (None, None),
    };
    let changes = FundChanges {
        name: edit.name,
        budget,
        budget_decision_id: decision.as_ref().map(|d| d.id),
        budget_decision_ref: decision.map(|d| d.reference),
        status: edit.status,
    };
    let row = store::update(conn, id, &changes)?;
    let fund = load(conn, row)?;
    audit::record(conn, actor, Action::FundUpdated, &fund)?;
    Ok(fund)
}

/// Inserts a fund inside the caller's transaction, with its audit event.
pub fn create(conn: &mut diesel::PgConnection, actor: &Actor, new: &NewFund) -> Result<Fund, ApiError> {
    let fund = Fund::from_row(store::insert(conn, new)?, FundTotals::default())?;
    audit::record(conn, actor, Action::FundCreated, &fund)?;
    Ok(fund)
}

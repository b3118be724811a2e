//! Awards: the grants themselves, from draft to approval, withdrawal or closure (DESIGN §5).
//!
//! `mod.rs` holds the award as the API shows it and how it is read; `actions` every write,
//! each one function run inside the caller's transaction; `http` the handlers; `store` the SQL;
//! `as_of` the award rebuilt from the audit trail.

pub mod actions;
pub mod as_of;
pub mod http;
pub mod store;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::{AwardId, DecisionId, FundId, PlanId, ProgrammeId, RecipientId};
use crate::domain::{AwardStatus, Category, FinancialYear, Money, PlanTheme};
use crate::error::ApiError;
use store::{AwardMoney, AwardRow};

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
        let amount = Money::from_decimal(row.amount);
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
            original_amount: Money::from_decimal(row.original_amount),
            scheduled: money.scheduled,
            paid: money.paid,
            repaid: money.repaid,
            released: if status == AwardStatus::Closed { amount - money.paid } else { Money::ZERO },
            decision_ref: row.decision_ref,
            decision_id: row.decision_id,
            awarded_on: row.awarded_on,
            previous_award_id: row.previous_award_id,
            change_reason: row.change_reason,
            amount_requested: row.amount_requested.map(Money::from_decimal),
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

//! Domain values and rules, with no I/O: a value that exists is valid.

pub mod area;
pub mod award_money;
pub mod award_status;
pub mod budget;
pub mod dates;
pub mod delivery;
pub mod document;
pub mod duration;
pub mod financial_year;
pub mod fund_code;
pub mod ids;
pub mod labels;
pub mod money;
pub mod org_identifier;
pub mod period;
pub mod plan_theme;
pub mod role;

pub use award_status::{AwardAction, AwardStatus};
pub use delivery::{Direction, LineStatus, ReturnStatus, RiskRating};
pub use financial_year::FinancialYear;
pub use fund_code::FundCode;
pub use ids::{
    ActivityId, AwardId, FundId, IndicatorId, MonitoringPlanId, PaymentId, PlanId, ProgrammeId, RecipientId,
    RepaymentId, ReturnId, VariationId,
};
pub use labels::{Category, FundStatus, ImportStatus, PaymentStatus, RecipientKind, VariationStatus};
pub use money::{Money, MoneyText};
pub use period::{Frequency, ReturnPeriod};
pub use plan_theme::PlanTheme;

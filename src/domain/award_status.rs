//! The award state machine: `draft → approved → closed`, and `draft | approved → withdrawn`.

use super::labels::label_enum;
use super::money::Money;

label_enum!(
    /// Where an award stands.
    AwardStatus {
        /// Being prepared by finance; may be edited; does not count against the budget.
        Draft => "draft",
        /// Approved with a decision reference; counts against the fund's budget.
        Approved => "approved",
        /// Finished: remaining scheduled payments cancelled; still counts as committed.
        Closed => "closed",
        /// Withdrawn before any money moved; counts for nothing.
        Withdrawn => "withdrawn",
    }
);

/// An action that moves an award between statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwardAction {
    /// Edit a draft.
    Edit,
    /// Approve a draft.
    Approve,
    /// Withdraw a draft, or an approved award with nothing paid or scheduled.
    Withdraw,
    /// Close an approved award.
    Close,
}

/// Why an award may not take an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransitionRefused(pub String);

impl AwardStatus {
    /// True for the statuses whose amount counts as committed against the budget.
    pub fn is_committed(self) -> bool {
        matches!(self, AwardStatus::Approved | AwardStatus::Closed)
    }

    /// The status after `action`, or why it is refused. `paid_or_scheduled` is what the award
    /// has paid plus what is still scheduled.
    pub fn after(self, action: AwardAction, paid_or_scheduled: Money) -> Result<AwardStatus, TransitionRefused> {
        use AwardAction as A;
        use AwardStatus as S;
        match (self, action) {
            (S::Draft, A::Edit) => Ok(S::Draft),
            (S::Draft, A::Approve) => Ok(S::Approved),
            (S::Draft, A::Withdraw) => Ok(S::Withdrawn),
            (S::Approved, A::Withdraw) if !paid_or_scheduled.is_positive() => Ok(S::Withdrawn),
            (S::Approved, A::Withdraw) => Err(TransitionRefused(format!(
                "an award with {paid_or_scheduled} paid or scheduled cannot be withdrawn; close it instead"
            ))),
            (S::Approved, A::Close) => Ok(S::Closed),
            (status, action) => Err(TransitionRefused(format!(
                "{} {status} award cannot be {}",
                if status.to_string().starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" },
                match action {
                    A::Edit => "edited",
                    A::Approve => "approved",
                    A::Withdraw => "withdrawn",
                    A::Close => "closed",
                }
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AwardAction as A;
    use AwardStatus as S;

    #[test]
    fn drafts_are_edited_approved_or_withdrawn() {
        assert_eq!(S::Draft.after(A::Edit, Money::ZERO), Ok(S::Draft));
        assert_eq!(S::Draft.after(A::Approve, Money::ZERO), Ok(S::Approved));
        assert_eq!(S::Draft.after(A::Withdraw, Money::ZERO), Ok(S::Withdrawn));
        assert!(S::Draft.after(A::Close, Money::ZERO).is_err());
    }

    #[test]
    fn approved_awards_close_or_withdraw_only_while_no_money_moved() {
        let some = Money::parse("10.00").unwrap();
        assert_eq!(S::Approved.after(A::Close, some), Ok(S::Closed));
        assert_eq!(S::Approved.after(A::Withdraw, Money::ZERO), Ok(S::Withdrawn));
        assert!(S::Approved.after(A::Withdraw, some).is_err());
        assert!(S::Approved.after(A::Edit, Money::ZERO).is_err());
        assert_eq!(
            S::Approved.after(A::Approve, Money::ZERO),
            Err(TransitionRefused("an approved award cannot be approved".into())),
            "in English"
        );
        assert_eq!(
            S::Closed.after(A::Close, Money::ZERO),
            Err(TransitionRefused("a closed award cannot be closed".into()))
        );
    }

    #[test]
    fn closed_and_withdrawn_awards_never_change() {
        for end in [S::Closed, S::Withdrawn] {
            for action in [A::Edit, A::Approve, A::Withdraw, A::Close] {
                assert!(end.after(action, Money::ZERO).is_err(), "{end} {action:?}");
            }
        }
    }

    #[test]
    fn only_approved_and_closed_awards_are_committed() {
        assert!(S::Approved.is_committed() && S::Closed.is_committed());
        assert!(!S::Draft.is_committed() && !S::Withdrawn.is_committed());
    }
}

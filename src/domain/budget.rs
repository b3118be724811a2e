//! The budget rule: a fund's committed total may never exceed its budget.

use super::money::Money;

/// Refusal to commit money beyond a fund's budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("committing {wanted} would exceed the fund's budget of {budget}: the headroom is {headroom}")]
pub struct BudgetExceeded {
    /// The amount that was to be committed.
    pub wanted: Money,
    /// The fund's budget.
    pub budget: Money,
    /// What is still uncommitted.
    pub headroom: Money,
}

/// Checks that committing `extra` more keeps `committed` within `budget`.
pub fn check_headroom(budget: Money, committed: Money, extra: Money) -> Result<(), BudgetExceeded> {
    if committed + extra > budget {
        return Err(BudgetExceeded { wanted: extra, budget, headroom: budget - committed });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn committing_exactly_the_headroom_is_allowed() {
        assert!(check_headroom(m("1300000"), m("1250000"), m("50000")).is_ok());
    }

    #[test]
    fn committing_a_penny_over_is_refused_and_states_the_headroom() {
        let err = check_headroom(m("1300000"), m("1250000"), m("50000.01")).unwrap_err();
        assert_eq!(err.headroom, m("50000"));
        assert!(err.to_string().contains("headroom is 50000.00"));
    }
}

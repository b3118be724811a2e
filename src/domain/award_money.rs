//! The rules on an award's money: payments never exceed the award, repayments never exceed
//! what was paid, a variation never cuts it below what is already paid or scheduled, and a
//! payment is never dated in the future.

use chrono::NaiveDate;

use super::money::Money;

/// Refusal of a payment that would take an award's payments past its amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{wanted} would take payments past the award's {amount}: {used} is already paid or scheduled, {remaining} remains"
)]
pub struct Overpayment {
    /// The payment asked for.
    pub wanted: Money,
    /// The award's current amount.
    pub amount: Money,
    /// Paid plus scheduled before this payment.
    pub used: Money,
    /// What may still be paid or scheduled.
    pub remaining: Money,
}

/// Checks that a payment of `wanted` keeps paid plus scheduled within the award's `amount`.
pub fn check_payment(amount: Money, paid: Money, scheduled: Money, wanted: Money) -> Result<(), Overpayment> {
    let used = paid + scheduled;
    if used + wanted > amount {
        return Err(Overpayment { wanted, amount, used, remaining: amount - used });
    }
    Ok(())
}

/// Refusal of a variation that would cut an award below its paid and scheduled money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the new amount {new_amount} is below the {used} already paid or scheduled")]
pub struct BelowFloor {
    /// The varied amount asked for.
    pub new_amount: Money,
    /// Paid plus scheduled.
    pub used: Money,
}

/// Checks that an award's new amount still covers what it has paid and scheduled.
pub fn check_variation_floor(new_amount: Money, paid: Money, scheduled: Money) -> Result<(), BelowFloor> {
    let used = paid + scheduled;
    if new_amount < used {
        return Err(BelowFloor { new_amount, used });
    }
    Ok(())
}

/// Refusal of a repayment larger than what the award has paid, net of earlier repayments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{wanted} is more than the {paid} the award has paid, net of earlier repayments")]
pub struct OverRepayment {
    /// The repayment asked for.
    pub wanted: Money,
    /// Paid payments less repayments before this one.
    pub paid: Money,
}

/// Checks that a repayment of `wanted` keeps the award's net paid at zero or more.
pub fn check_repayment(paid: Money, wanted: Money) -> Result<(), OverRepayment> {
    if wanted > paid {
        return Err(OverRepayment { wanted, paid });
    }
    Ok(())
}

/// Refusal of a payment dated after today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot be in the future")]
pub struct PaidInFuture;

/// Checks that a payment was made on or before `today`.
pub fn check_paid_on(paid_on: NaiveDate, today: NaiveDate) -> Result<NaiveDate, PaidInFuture> {
    if paid_on > today { Err(PaidInFuture) } else { Ok(paid_on) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn paying_exactly_what_remains_is_allowed_and_a_penny_more_is_not() {
        assert!(check_payment(m("300"), m("100"), m("150"), m("50")).is_ok());
        let err = check_payment(m("300"), m("100"), m("150"), m("50.01")).unwrap_err();
        assert_eq!((err.used, err.remaining), (m("250"), m("50")));
        assert!(err.to_string().contains("50.00 remains"), "{err}");
    }

    #[test]
    fn repaying_exactly_what_was_paid_is_allowed_and_a_penny_more_is_not() {
        assert!(check_repayment(m("500"), m("500")).is_ok());
        let err = check_repayment(m("500"), m("500.01")).unwrap_err();
        assert!(err.to_string().contains("the 500.00 the award has paid"), "{err}");
    }

    #[test]
    fn scheduled_money_counts_against_the_award_as_paid_money_does() {
        assert!(check_payment(m("300"), m("0"), m("300"), m("0.01")).is_err());
        assert!(check_payment(m("300"), m("300"), m("0"), m("0.01")).is_err());
    }

    #[test]
    fn the_floor_is_paid_plus_scheduled() {
        // Both present: the floor is their sum, not either alone.
        assert!(check_variation_floor(m("250"), m("100"), m("150")).is_ok());
        let err = check_variation_floor(m("249.99"), m("100"), m("150")).unwrap_err();
        assert_eq!(err.used, m("250"));
        assert!(check_variation_floor(m("149.99"), m("0"), m("150")).is_err());
        assert!(check_variation_floor(m("99.99"), m("100"), m("0")).is_err());
    }

    #[test]
    fn a_payment_may_be_dated_today_but_not_tomorrow() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(check_paid_on(today, today), Ok(today));
        assert_eq!(check_paid_on(today.succ_opt().unwrap(), today), Err(PaidInFuture));
    }
}

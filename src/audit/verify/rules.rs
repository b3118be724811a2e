//! Replaying the rules: the chain read in order, the ledger's money rules checked at every
//! point of its history, not only at the end. Whoever writes events with the database's
//! credentials can keep the chain well linked and every row matching its latest event; what
//! they cannot do is make the history obey the rules the service keeps. Each rule names the
//! first event that breaks it:
//! - `payment-on-unapproved`: money paid or scheduled on an award that is not approved or closed;
//! - `overpaid`: an award's paid and scheduled money, net of repayments, past its amount;
//! - `over-budget`: a fund's committed money plus what it carried out, less what it carried in,
//!   past its budget;
//! - `four-eyes`: an approval by the award's creator or by someone who changed it as a draft
//!   (or added its activities, indicators, plan or documents);
//! - `approval-without-decision`: an approval under a decision with no earlier
//!   `decision.recorded` event;
//! - `amount-without-variation`: an approved award's amount changed by anything but an approved
//!   variation (`award.varied`).

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;
use uuid::Uuid;

use diesel::prelude::*;

use super::Finding;
use crate::audit::{AWARD_EDITS, Action};
use crate::db::schema::audit_events;
use crate::domain::{AwardStatus, PaymentStatus};

/// What the replay reads of an event (not its time, which verification checks apart: an event
/// whose time cannot be read is named there, not a fault here).
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct AuditEvent {
    seq: i64,
    actor_sub: String,
    action: String,
    entity_type: String,
    entity_id: Uuid,
    award_id: Option<Uuid>,
    data: serde_json::Value,
}

/// An award as the replay knows it.
#[derive(Default)]
struct Award {
    status: Option<AwardStatus>,
    amount: Decimal,
    fund: Option<Uuid>,
    created_by: String,
    editors: HashSet<String>,
    /// Paid and scheduled payments, by payment.
    payments: HashMap<Uuid, Decimal>,
    repaid: Decimal,
    /// Repayments, by who recorded them.
    repaid_by: HashMap<String, Decimal>,
}

impl Award {
    fn used(&self) -> Decimal {
        self.payments.values().copied().sum::<Decimal>() - self.repaid
    }

    /// What it commits to its fund: its amount while approved, what it paid once closed.
    fn committed(&self) -> Decimal {
        match self.status {
            Some(AwardStatus::Approved) => self.amount,
            Some(AwardStatus::Closed) => self.payments.values().copied().sum::<Decimal>() - self.repaid,
            _ => Decimal::ZERO,
        }
    }
}

/// The replay's state, event by event.
#[derive(Default)]
struct Replay {
    awards: HashMap<Uuid, Award>,
    budgets: HashMap<Uuid, Decimal>,
    /// Each fund's committed money, kept as awards change.
    committed: HashMap<Uuid, Decimal>,
    carried: HashMap<Uuid, Decimal>,
    decisions: HashSet<Uuid>,
    broken: HashMap<&'static str, Finding>,
}

fn money(data: &serde_json::Value, field: &str) -> Decimal {
    data[field].as_str().and_then(|t| t.parse().ok()).unwrap_or_default()
}

fn id(data: &serde_json::Value, field: &str) -> Option<Uuid> {
    data[field].as_str().and_then(|t| t.parse().ok())
}

fn text(data: &serde_json::Value, field: &str) -> String {
    data[field].as_str().unwrap_or_default().to_string()
}

impl Replay {
    fn finding(&mut self, rule: &'static str, event: &AuditEvent, message: String) {
        self.broken.entry(rule).or_insert_with(|| Finding {
            kind: "rule".into(),
            checkpoint: None,
            seq: Some(event.seq),
            message: format!("{rule}: event {} ({}) {message}", event.seq, event.action),
        });
    }

    fn fund_used(&self, fund: Uuid) -> Decimal {
        self.committed.get(&fund).copied().unwrap_or_default() + self.carried.get(&fund).copied().unwrap_or_default()
    }

    /// Changes an award, keeping its fund's committed money in step.
    fn change_award(&mut self, award: Uuid, change: impl FnOnce(&mut Award)) {
        let a = self.awards.entry(award).or_default();
        let before = (a.fund, a.committed());
        change(a);
        let after = (a.fund, a.committed());
        if let Some(fund) = before.0 {
            *self.committed.entry(fund).or_default() -= before.1;
        }
        if let Some(fund) = after.0 {
            *self.committed.entry(fund).or_default() += after.1;
        }
    }

    fn check_fund(&mut self, fund: Option<Uuid>, event: &AuditEvent) {
        let Some(fund) = fund else { return };
        let Some(budget) = self.budgets.get(&fund).copied() else { return };
        let used = self.fund_used(fund);
        if used > budget {
            self.finding("over-budget", event, format!("leaves fund {fund} using {used} of a budget of {budget}"));
        }
    }

    fn check_award(&mut self, award: Uuid, event: &AuditEvent) {
        let Some(a) = self.awards.get(&award) else { return };
        let (used, amount, fund) = (a.used(), a.amount, a.fund);
        if !a.payments.is_empty() && !a.status.is_some_and(AwardStatus::is_committed) {
            let status = a.status.map_or("unknown", AwardStatus::as_str);
            self.finding("payment-on-unapproved", event, format!("puts money on award {award} while it is {status}"));
        }
        if used > amount {
            self.finding("overpaid", event, format!("leaves award {award} paid and scheduled {used} of {amount}"));
        }
        self.check_fund(fund, event);
    }

    fn apply(&mut self, event: &AuditEvent) {
        let data = &event.data;
        match event.entity_type.as_str() {
            "fund" => {
                self.budgets.insert(event.entity_id, money(data, "budget"));
                self.check_fund(Some(event.entity_id), event);
            }
            "decision" => {
                self.decisions.insert(event.entity_id);
            }
            "carry_forward" => {
                let amount = money(data, "amount");
                let (from, to) = (id(data, "from_fund_id"), id(data, "to_fund_id"));
                if let Some(from) = from {
                    *self.carried.entry(from).or_default() += amount;
                }
                if let Some(to) = to {
                    *self.carried.entry(to).or_default() -= amount;
                }
                self.check_fund(from, event);
            }
            "award" => {
                if event.action == Action::AwardApproved.as_str() {
                    self.check_approval(event);
                }
                // An approved award's amount changes only by an approved variation.
                let (status, amount) = (AwardStatus::parse(&text(data, "status")), money(data, "amount"));
                if let Some(a) = self.awards.get(&event.entity_id)
                    && a.status == Some(AwardStatus::Approved)
                    && status == Some(AwardStatus::Approved)
                    && a.amount != amount
                    && event.action != Action::AwardVaried.as_str()
                {
                    let from = a.amount;
                    self.finding(
                        "amount-without-variation",
                        event,
                        format!(
                            "changes approved award {} from {from} to {amount} without a variation",
                            event.entity_id
                        ),
                    );
                }
                self.change_award(event.entity_id, |a| {
                    a.status = AwardStatus::parse(&text(data, "status"));
                    a.amount = money(data, "amount");
                    a.fund = id(data, "fund_id");
                    if a.created_by.is_empty() {
                        a.created_by = text(data, "created_by");
                    }
                });
                self.check_award(event.entity_id, event);
            }
            "payment" => {
                let Some(award) = id(data, "award_id") else { return };
                let status = PaymentStatus::parse(&text(data, "status"));
                let amount = money(data, "amount");
                let live = matches!(status, Some(PaymentStatus::Scheduled | PaymentStatus::Paid));
                let new_money =
                    live && !self.awards.get(&award).is_some_and(|a| a.payments.contains_key(&event.entity_id));
                self.change_award(award, |a| {
                    if matches!(status, Some(PaymentStatus::Scheduled | PaymentStatus::Paid)) {
                        a.payments.insert(event.entity_id, amount);
                    } else {
                        a.payments.remove(&event.entity_id);
                    }
                });
                self.check_award(award, event);
                // Money returned is not paid out again by whoever recorded its return.
                if let Some(a) = self.awards.get(&award).filter(|_| new_money) {
                    let own = a.repaid_by.get(&event.actor_sub).copied().unwrap_or_default();
                    if own > Decimal::ZERO && a.used() + own > a.amount {
                        let message = format!(
                            "pays out again on award {award} money {} recorded as returned ({own})",
                            event.actor_sub
                        );
                        self.finding("repaid-paid-again", event, message);
                    }
                }
            }
            "repayment" => {
                let Some(award) = id(data, "award_id") else { return };
                let amount = money(data, "amount");
                self.change_award(award, |a| {
                    a.repaid += amount;
                    *a.repaid_by.entry(event.actor_sub.clone()).or_default() += amount;
                });
            }
            _ => {}
        }
        // Whoever shapes an award may not approve it.
        if let Some(award) = event.award_id
            && AWARD_EDITS.iter().any(|e| e.as_str() == event.action)
        {
            self.awards.entry(award).or_default().editors.insert(event.actor_sub.clone());
        }
    }

    fn check_approval(&mut self, event: &AuditEvent) {
        let approver = text(&event.data, "approved_by");
        let (creator, edited) = match self.awards.get(&event.entity_id) {
            Some(a) => (a.created_by.clone(), a.editors.contains(&approver)),
            None => (text(&event.data, "created_by"), false),
        };
        let creator = if creator.is_empty() { text(&event.data, "created_by") } else { creator };
        if approver == creator || edited {
            self.finding(
                "four-eyes",
                event,
                format!("approves award {} by {approver}, who shaped it", event.entity_id),
            );
        }
        if let Some(decision) = id(&event.data, "decision_id")
            && !self.decisions.contains(&decision)
        {
            self.finding(
                "approval-without-decision",
                event,
                format!("approves award {} under decision {decision}, never recorded before", event.entity_id),
            );
        }
    }
}

/// Replays the whole chain, in batches, and returns the first event that breaks each rule.
pub fn replay(conn: &mut PgConnection) -> diesel::QueryResult<Vec<Finding>> {
    let mut replay = Replay::default();
    let mut after = 0;
    loop {
        let batch: Vec<AuditEvent> = audit_events::table
            .select(AuditEvent::as_select())
            .filter(audit_events::seq.gt(after))
            .order(audit_events::seq.asc())
            .limit(5_000)
            .load(conn)?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for event in &batch {
            replay.apply(event);
        }
    }
    let mut findings: Vec<Finding> = replay.broken.into_values().collect();
    findings.sort_by_key(|f| f.seq);
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(
        seq: i64,
        actor: &str,
        action: &str,
        entity: Uuid,
        award: Option<Uuid>,
        data: serde_json::Value,
    ) -> AuditEvent {
        let entity_type = action.split('.').next().unwrap_or_default().to_string();
        AuditEvent {
            seq,
            actor_sub: actor.into(),
            action: action.into(),
            entity_type,
            entity_id: entity,
            award_id: award,
            data,
        }
    }

    /// Replays `events` and returns the rules broken, with the event that first broke each.
    fn broken(events: &[AuditEvent]) -> Vec<(String, i64)> {
        let mut replay = Replay::default();
        for e in events {
            replay.apply(e);
        }
        let mut out: Vec<(String, i64)> = replay
            .broken
            .into_values()
            .map(|f| (f.message.split(':').next().unwrap_or_default().to_string(), f.seq.unwrap_or_default()))
            .collect();
        out.sort();
        out
    }

    /// A fund of `budget`, a decision, and an award of `amount` drafted by fiona and approved by
    /// arthur under it.
    fn approved(budget: &str, amount: &str) -> (Vec<AuditEvent>, Uuid, Uuid) {
        let (fund, decision, award) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let a = |status: AwardStatus, by: Option<&str>| {
            let decision = by.map(|_| decision);
            let status = status.as_str();
            json!({"fund_id": fund, "status": status, "amount": amount, "created_by": "fiona", "approved_by": by, "decision_id": decision})
        };
        let events = vec![
            event(1, "fiona", "fund.created", fund, None, json!({"budget": budget})),
            event(2, "arthur", "decision.recorded", decision, None, json!({})),
            event(3, "fiona", "award.created", award, Some(award), a(AwardStatus::Draft, None)),
            event(4, "arthur", "award.approved", award, Some(award), a(AwardStatus::Approved, Some("arthur"))),
        ];
        (events, fund, award)
    }

    fn payment(seq: i64, award: Uuid, amount: &str, status: &str) -> AuditEvent {
        event(
            seq,
            "fiona",
            "payment.paid",
            Uuid::now_v7(),
            Some(award),
            json!({"award_id": award, "amount": amount, "status": status}),
        )
    }

    /// `amount` recorded as returned on `award` by fiona.
    fn repayment(seq: i64, award: Uuid, amount: &str) -> AuditEvent {
        let data = json!({"award_id": award, "amount": amount});
        event(seq, "fiona", "repayment.recorded", Uuid::now_v7(), Some(award), data)
    }

    #[test]
    fn a_history_that_keeps_the_rules_breaks_none() {
        let (mut events, _, award) = approved("1000.00", "300.00");
        events.push(payment(5, award, "300.00", "paid"));
        assert_eq!(broken(&events), Vec::<(String, i64)>::new());
    }

    #[test]
    fn each_rule_names_the_first_event_that_breaks_it() {
        // Paid past the amount, at the second payment.
        let (mut events, _, award) = approved("1000.00", "300.00");
        events.push(payment(5, award, "200.00", "paid"));
        events.push(payment(6, award, "100.01", "scheduled"));
        assert_eq!(broken(&events), [("overpaid".to_string(), 6)]);
        // Money on a draft.
        let (mut events, _, award) = approved("1000.00", "300.00");
        events.truncate(3);
        events.push(payment(4, award, "1.00", "paid"));
        assert_eq!(broken(&events), [("payment-on-unapproved".to_string(), 4)]);
        // Approved past the budget.
        let (events, _, _) = approved("299.99", "300.00");
        assert_eq!(broken(&events), [("over-budget".to_string(), 4)]);
        // Approved by its creator, under a decision never recorded.
        let (mut events, _, _) = approved("1000.00", "300.00");
        events.remove(1);
        events[2].data["approved_by"] = json!("fiona");
        events[2].actor_sub = "fiona".into();
        assert_eq!(broken(&events), [("approval-without-decision".to_string(), 4), ("four-eyes".to_string(), 4)]);
        // Approved by someone who added an activity to the draft.
        let (mut events, _, award) = approved("1000.00", "300.00");
        events.insert(3, event(30, "arthur", "activity.created", Uuid::now_v7(), Some(award), json!({})));
        assert_eq!(broken(&events), [("four-eyes".to_string(), 4)]);
        // An approved amount raised by a plain update; a variation may.
        let (mut events, _, award) = approved("1000.00", "300.00");
        let mut raised = events[3].data.clone();
        raised["amount"] = json!("400.00");
        events.push(event(5, "fiona", "award.varied", award, Some(award), raised.clone()));
        raised["amount"] = json!("500.00");
        events.push(event(6, "fiona", "award.updated", award, Some(award), raised));
        assert_eq!(broken(&events), [("amount-without-variation".to_string(), 6)]);
        // A carry-forward past the headroom.
        let (mut events, fund, _) = approved("1000.00", "300.00");
        let to = Uuid::now_v7();
        events.push(event(
            5,
            "fiona",
            "carry_forward.recorded",
            Uuid::now_v7(),
            None,
            json!({"from_fund_id": fund, "to_fund_id": to, "amount": "700.01"}),
        ));
        assert_eq!(broken(&events), [("over-budget".to_string(), 5)]);
        // Paid in full, 100.00 recorded as returned by fiona, then paid out again: by fiona it
        // breaks the rule, by a colleague it does not.
        for (payer, expected) in [("fiona", vec![("repaid-paid-again".to_string(), 7)]), ("fred", vec![])] {
            let (mut events, _, award) = approved("1000.00", "300.00");
            events.push(payment(5, award, "300.00", "paid"));
            events.push(repayment(6, award, "100.00"));
            let mut again = payment(7, award, "100.00", "paid");
            again.actor_sub = payer.into();
            events.push(again);
            assert_eq!(broken(&events), expected, "{payer}");
        }
        // Within what was never paid out, the recorder pays: 200.00 paid, 100.00 returned,
        // 100.00 paid by fiona leaves the award exactly at its amount counting her return.
        let (mut events, _, award) = approved("1000.00", "300.00");
        events.push(payment(5, award, "200.00", "paid"));
        events.push(repayment(6, award, "100.00"));
        events.push(payment(7, award, "100.00", "paid"));
        assert_eq!(broken(&events), Vec::<(String, i64)>::new());
        // A colleague schedules the returned money; the recorder marking it paid moves nothing
        // new (the colleague committed it).
        let (mut events, _, award) = approved("1000.00", "300.00");
        events.push(payment(5, award, "300.00", "paid"));
        events.push(repayment(6, award, "100.00"));
        let mut scheduled = payment(7, award, "100.00", "scheduled");
        scheduled.actor_sub = "fred".into();
        let mut paid = payment(8, award, "100.00", "paid");
        paid.entity_id = scheduled.entity_id;
        events.extend([scheduled, paid]);
        assert_eq!(broken(&events), Vec::<(String, i64)>::new());
    }
}

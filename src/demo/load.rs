//! The loader: it walks [`super::data`]'s tables through the same actions the API calls, as the
//! office's people would, in one transaction. 2019-20 is entered line by line and approved as
//! one schedule; 2020-21 is rolled forward from it (each changed amount with its reason); then
//! the partnerships' delivery returns, and the end of 2019-20 (end-of-grant reports, an
//! underspend returned and the award closed, budget carried forward).

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::pg::PgConnection;

use super::DemoSummary;
use super::data::{self, ILLUSTRATIVE};
use crate::audit::Actor;
use crate::awards::{self, Award, AwardInput};
use crate::domain::ids::{AwardId, FundId, PlanId, ProgrammeId, RecipientId};
use crate::domain::{FinancialYear, Money, PlanTheme};
use crate::error::ApiError;
use crate::funds::store::NewFund;
use crate::programmes::store::NewProgramme;
use crate::recipients::store::NewRecipient;
use crate::{funds, programmes, recipients};

/// The people the demo acts as: every subject starts `demo-`, which is how a later start knows
/// the data is the demo's.
struct People {
    finance: Actor,
    approver: Actor,
    admin: Actor,
}

fn actor(sub: &str, name: &str) -> Actor {
    Actor { sub: sub.into(), name: Some(name.into()) }
}

pub(super) fn money(text: &str) -> Result<Money, ApiError> {
    Money::parse_positive(text).map_err(|e| ApiError::Internal(format!("demo amount {text}: {e}")))
}

fn day((y, m, d): (i32, u32, u32)) -> Result<NaiveDate, ApiError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| ApiError::Internal(format!("demo date {y}-{m}-{d}")))
}

/// Loads every table, then the story, inside the caller's transaction.
pub(super) fn load(conn: &mut PgConnection) -> Result<DemoSummary, ApiError> {
    let people = People {
        finance: actor("demo-finance", "Demo finance officer"),
        approver: actor("demo-approver", "Demo approver"),
        admin: actor("demo-admin", "Demo administrator"),
    };
    let mut funds = Vec::new();
    for year in data::YEARS {
        let year = FinancialYear::parse(year).map_err(|e| ApiError::Internal(format!("demo year: {e}")))?;
        let new = NewFund {
            id: FundId::new(),
            code: "CDRG".into(),
            name: "Crime and disorder reduction grants".into(),
            financial_year: year,
            budget: money(data::BUDGET)?,
        };
        funds.push((year, funds::create(conn, &people.admin, &new)?.id));
    }
    let recipient_ids = load_recipients(conn, &people.admin)?;
    let plan = load_plan(conn, &people.admin)?;
    let programme_ids = load_programmes(conn, &people.admin, plan)?;
    let lines: Vec<(&data::Line, ProgrammeId, RecipientId)> =
        data::LINES.iter().map(|line| (line, programme_ids[line.programme], recipient_ids[line.recipient])).collect();
    let mut approved = Vec::new();
    for (index, (year, fund)) in funds.iter().enumerate() {
        approved.push(allocate(conn, &people, &lines, index, (*year, *fund), funds[0].1)?);
    }
    let (current_year, current_fund) = funds[1];
    pipeline(conn, &people.finance, current_year, current_fund, &programme_ids, &recipient_ids)?;
    // The 2020-21 allocations to partnerships report on their delivery.
    let csp_awards: Vec<(AwardId, RecipientId)> = approved[1]
        .iter()
        .zip(&lines)
        .filter(|(_, (line, ..))| line.programme == data::CSP_ALLOCATION)
        .map(|(award, (.., recipient))| (award.id, *recipient))
        .collect();
    delivery(conn, &people.finance, &csp_awards)?;
    let ended = |programme: &str| {
        approved[0]
            .iter()
            .zip(&lines)
            .find(|(_, (line, ..))| line.programme == programme)
            .map(|(award, (.., recipient))| (award.clone(), *recipient))
            .ok_or_else(|| ApiError::Internal(format!("the demo has no 2019-20 {programme}")))
    };
    let (outside_links, trailblazer) = (ended(data::OUTSIDE_LINKS)?, ended(data::TRAILBLAZER)?);
    year_end(conn, &people, outside_links, trailblazer, (funds[0].1, current_fund))?;
    let summary_award = approved[1]
        .iter()
        .zip(&lines)
        .find(|(_, (line, ..))| line.programme == data::OUTSIDE_LINKS)
        .map(|(award, _)| award.id)
        .ok_or_else(|| ApiError::Internal("the demo has no Outside Links award".into()))?;
    Ok(DemoSummary {
        csp_recipient: (data::TOKEN_CSP.to_string(), recipient_ids[data::TOKEN_CSP]),
        award_id: summary_award,
        fund_id: current_fund,
    })
}

/// Every recipient of [`data::RECIPIENTS`], by name.
fn load_recipients(conn: &mut PgConnection, admin: &Actor) -> Result<HashMap<&'static str, RecipientId>, ApiError> {
    let mut ids = HashMap::new();
    for r in data::RECIPIENTS {
        let (area_code, area_type, area_name) = r.area;
        let new = NewRecipient {
            id: RecipientId::new(),
            name: r.name.into(),
            kind: r.kind,
            org_identifier: r.org_identifier.map(str::to_string),
            district: r.district.map(str::to_string),
            contact_email: None,
            postcode: Some(r.postcode.into()),
            area_code: Some(area_code.into()),
            area_type: Some(area_type.into()),
            area_name: Some(area_name.into()),
        };
        ids.insert(r.name, recipients::create(conn, admin, &new)?.id);
    }
    Ok(ids)
}

/// The Police and Crime Plan 2017-20 and its themes.
fn load_plan(conn: &mut PgConnection, admin: &Actor) -> Result<(PlanId, NaiveDate), ApiError> {
    let (title, starts_on, ends_on) = data::PLAN;
    let themes = data::THEMES
        .into_iter()
        .map(|(code, title)| {
            let code = PlanTheme::parse(code).ok_or_else(|| ApiError::Internal(format!("demo theme {code}")))?;
            Ok(crate::plans::Theme { code, title: title.into() })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let input =
        crate::plans::PlanInput { title: title.into(), starts_on: day(starts_on)?, ends_on: day(ends_on)?, themes };
    let plan = crate::plans::create(conn, admin, input)?;
    Ok((plan.id, plan.starts_on))
}

/// Every programme of [`data::PROGRAMMES`], by name, under the plan's themes.
fn load_programmes(
    conn: &mut PgConnection,
    admin: &Actor,
    (plan_id, starts_on): (PlanId, NaiveDate),
) -> Result<HashMap<&'static str, ProgrammeId>, ApiError> {
    let mut ids = HashMap::new();
    for &(name, category, theme, description) in data::PROGRAMMES {
        let plan_theme = PlanTheme::parse(theme).ok_or_else(|| ApiError::Internal(format!("demo theme {theme}")))?;
        let new = NewProgramme {
            id: ProgrammeId::new(),
            name: name.into(),
            category,
            plan_theme,
            description: description.into(),
            plan_id: Some(plan_id),
        };
        ids.insert(name, programmes::create(conn, admin, &new, starts_on)?.id);
    }
    Ok(ids)
}

/// One year's allocation schedule, approved under one decision dated the year's first day, and
/// paid: the first year in full, the second half-way. The first year is entered line by line;
/// the second is rolled forward from the first (`first_fund`), each changed amount with its
/// reason. The approved awards, in the lines' order.
fn allocate(
    conn: &mut PgConnection,
    people: &People,
    lines: &[(&data::Line, ProgrammeId, RecipientId)],
    index: usize,
    (year, fund_id): (FinancialYear, FundId),
    first_fund: FundId,
) -> Result<Vec<Award>, ApiError> {
    let decision = crate::decisions::create(
        conn,
        &people.approver,
        crate::decisions::DecisionInput {
            reference: format!("PCC-DN-{}-014", year.start_year()),
            title: format!("Crime and disorder reduction grants {year}: allocation schedule"),
            decided_on: year.first_day(),
            decided_by: data::SCHEDULE_DECIDED_BY.into(),
            url: None,
            summary: data::SCHEDULE_SUMMARY.into(),
        },
    )?;
    let mut drafts = Vec::new();
    if index == 0 {
        for (line, programme_id, recipient_id) in lines {
            let input = AwardInput {
                fund_id,
                programme_id: *programme_id,
                recipient_id: *recipient_id,
                title: format!("{} {year}", line.title),
                purpose: format!("{}{}", line.purpose, if line.illustrative { ILLUSTRATIVE } else { "" }),
                conditions: data::CONDITIONS.into(),
                crime_reduction_rationale: data::RATIONALE.into(),
                amount: money(line.amounts[index])?,
                start_date: year.first_day(),
                end_date: year.last_day(),
                previous_award_id: None,
                change_reason: None,
                requested: awards::Requested::default(),
            };
            drafts.push(awards::create(conn, &people.finance, input)?);
        }
    } else {
        let rolled = awards::roll_forward(conn, &people.finance, fund_id, first_fund)?.created;
        for (draft, (line, ..)) in rolled.into_iter().zip(lines) {
            let amount = money(line.amounts[index])?;
            if amount == draft.amount {
                drafts.push(draft);
                continue;
            }
            let edit = awards::AwardEdit {
                amount: Some(amount),
                change_reason: Some(data::change_reason(line.programme)),
                ..awards::AwardEdit::default()
            };
            drafts.push(awards::update(conn, &people.finance, draft.id, &crate::http::extract::IfMatch::Any, edit)?);
        }
    }
    let ids: Vec<_> = drafts.iter().map(|d| d.id).collect();
    let approved = awards::approve_schedule(conn, &people.approver, &decision, &ids)?;
    for award in &approved {
        pay_quarters(conn, &people.finance, award, year, if index == 0 { 4 } else { 2 })?;
    }
    Ok(approved)
}

/// One draft in the current year, to show the pipeline: a Fenland pilot the partnership asked
/// more for.
fn pipeline(
    conn: &mut PgConnection,
    finance: &Actor,
    year: FinancialYear,
    fund_id: FundId,
    programmes: &HashMap<&'static str, ProgrammeId>,
    recipients: &HashMap<&'static str, RecipientId>,
) -> Result<Award, ApiError> {
    let input = AwardInput {
        fund_id,
        programme_id: programmes[data::CSP_ALLOCATION],
        recipient_id: recipients["Fenland Community Safety Partnership"],
        title: "Fenland rural crime pilot (draft)".into(),
        purpose: format!("A pilot of rural crime prevention work in Fenland.{ILLUSTRATIVE}"),
        conditions: "Quarterly monitoring returns.".into(),
        crime_reduction_rationale: "Targets theft from farms and rural burglary.".into(),
        amount: money("15000.00")?,
        start_date: NaiveDate::from_ymd_opt(year.start_year(), 10, 1).unwrap_or(year.first_day()),
        end_date: year.last_day(),
        previous_award_id: None,
        change_reason: None,
        requested: awards::Requested {
            amount: Some(money("18000.00")?),
            on: NaiveDate::from_ymd_opt(year.start_year(), 9, 1),
        },
    };
    awards::create(conn, finance, input)
}

/// Agreed activities for each 2020-21 CSP allocation, and returns in every state: accepted,
/// submitted, sent back and resubmitted, sent back and not yet resubmitted, and missing.
fn delivery(conn: &mut PgConnection, finance: &Actor, csp_awards: &[(AwardId, RecipientId)]) -> Result<(), ApiError> {
    use crate::delivery::activities::{ActivityInput, add_activity};
    use crate::delivery::returns::{ReturnInput, Submitter, review_in, submit};
    use crate::domain::ReturnPeriod;
    use crate::domain::delivery::Quantity;
    use crate::domain::{LineStatus, ReturnStatus};

    let quantity = |text: &str| Quantity::parse(text).map_err(|e| ApiError::Internal(format!("demo quantity: {e}")));
    let period = |text: &str| ReturnPeriod::parse(text).map_err(|e| ApiError::Internal(format!("demo period: {e}")));
    // Per partnership: the quarters it reported, and what finance did with each revision
    // (`None`: still awaiting review).
    type Plan<'a> = &'a [(&'a str, &'a [Option<ReturnStatus>])];
    let plans: [Plan<'_>; 6] = [
        &[
            ("2020-21-Q1", &[Some(ReturnStatus::Accepted)]),
            ("2020-21-Q2", &[Some(ReturnStatus::Accepted)]),
            ("2020-21-Q3", &[None]),
        ],
        &[("2020-21-Q1", &[Some(ReturnStatus::Accepted)]), ("2020-21-Q2", &[Some(ReturnStatus::Returned), None])],
        &[("2020-21-Q1", &[Some(ReturnStatus::Accepted)])],
        &[("2020-21-Q1", &[None])],
        &[("2020-21-Q1", &[Some(ReturnStatus::Accepted)]), ("2020-21-Q2", &[Some(ReturnStatus::Returned)])],
        &[],
    ];
    for (n, ((award_id, recipient_id), plan)) in csp_awards.iter().zip(plans).enumerate() {
        let mut activities = Vec::new();
        for (title, measure, target) in [
            ("Problem-solving groups for anti-social behaviour hot spots", "Cases closed", "40"),
            ("Domestic abuse awareness sessions in schools and workplaces", "Sessions delivered", "24"),
        ] {
            let input = ActivityInput {
                title: title.into(),
                description: format!("{title}. (Demo data: illustrative.)"),
                measure: measure.into(),
                target: Some(quantity(target)?),
            };
            activities.push(add_activity(conn, finance, *award_id, input)?.id);
        }
        let officer = Actor { sub: format!("demo-csp-{}", n + 1), name: Some("Demo CSP officer".into()) };
        for (q, (quarter, reviews)) in plan.iter().enumerate() {
            for review in reviews.iter() {
                let input = ReturnInput {
                    period: Ok(period(quarter)?),
                    spend_to_date: Ok(money(&format!("{}.00", 10_000 * (q + 1)))?),
                    narrative: Ok(format!("Quarter {} delivery as agreed. (Demo data: illustrative.)", q + 1)),
                    lines: activities
                        .iter()
                        .map(|a| {
                            Ok((
                                *a,
                                LineStatus::OnTrack,
                                Some(quantity(&format!("{}", 6 * (q + 1)))?),
                                "On plan".to_string(),
                            ))
                        })
                        .collect::<Result<_, ApiError>>()?,
                    results: Vec::new(),
                    risks: Vec::new(),
                    line_errors: Vec::new(),
                    received_on: None,
                };
                let submitted = submit(conn, &officer, Submitter::Recipient(*recipient_id), *award_id, input)?;
                match review {
                    Some(ReturnStatus::Returned) => {
                        review_in(
                            conn,
                            finance,
                            submitted.id,
                            ReturnStatus::Returned,
                            Some("Spend does not match the payments made".into()),
                        )?;
                    }
                    Some(to) => {
                        review_in(conn, finance, submitted.id, *to, None)?;
                    }
                    None => {}
                }
            }
        }
    }
    Ok(())
}

/// The end of 2019-20: Outside Links and the Trailblazer each make one end-of-grant report
/// against an outcome indicator, accepted by finance; the Trailblazer returns what it did not
/// spend and is closed; and part of the year's unspent budget is carried into 2020-21 under a
/// decision.
fn year_end(
    conn: &mut PgConnection,
    people: &People,
    outside_links: (Award, RecipientId),
    trailblazer: (Award, RecipientId),
    (from_fund, to_fund): (FundId, FundId),
) -> Result<(), ApiError> {
    use crate::delivery::monitoring::{IndicatorInput, add_indicator, set};
    use crate::delivery::returns::{ReturnInput, Submitter, review_in, submit};
    use crate::domain::delivery::Quantity;
    use crate::domain::{Direction, Frequency, ReturnPeriod, ReturnStatus};
    use crate::repayments::{RepaymentInput, add_repayment};

    let (finance, approver) = (&people.finance, &people.approver);
    let trailblazer_id = trailblazer.0.id;
    let quantity = |text: &str| Quantity::parse(text).map_err(|e| ApiError::Internal(format!("demo quantity: {e}")));
    let reports = [
        (
            outside_links,
            "Compliance with the conditions of out of court disposals",
            "% of people supported",
            ("52", "65", "68"),
            "30000.00",
            "68% of the people Outside Links supported complied with their conditions. (Demo data: the indicator's figures and target are illustrative.)",
        ),
        (
            trailblazer,
            "Households prevented from becoming homeless",
            "households",
            ("120", "150", "162"),
            "115750.00",
            "162 households kept their homes. (Demo data: illustrative.)",
        ),
    ];
    let period = ReturnPeriod::parse("2019-20-END").map_err(|e| ApiError::Internal(e.to_string()))?;
    for (n, ((award, recipient), title, unit, (baseline, target, actual), spend, narrative)) in
        reports.into_iter().enumerate()
    {
        set(conn, finance, award.id, &crate::http::extract::IfMatch::Any, Frequency::EndOfGrant, 60)?;
        let indicator = add_indicator(
            conn,
            finance,
            award.id,
            IndicatorInput {
                title: title.into(),
                unit: unit.into(),
                baseline: Some(quantity(baseline)?),
                target: Some(quantity(target)?),
                direction: Direction::Increase,
                period_targets: Vec::new(),
            },
        )?;
        let officer = Actor { sub: format!("demo-officer-{}", n + 1), name: Some("Demo recipient officer".into()) };
        let input = ReturnInput {
            period: Ok(period),
            spend_to_date: Ok(money(spend)?),
            narrative: Ok(narrative.to_string()),
            lines: Vec::new(),
            results: vec![(indicator.id, Some(quantity(actual)?), "Year-end figure".into())],
            risks: Vec::new(),
            line_errors: Vec::new(),
            received_on: None,
        };
        let report = submit(conn, &officer, Submitter::Recipient(recipient), award.id, input)?;
        review_in(conn, finance, report.id, ReturnStatus::Accepted, Some("Thank you".into()))?;
    }
    add_repayment(
        conn,
        finance,
        trailblazer_id,
        RepaymentInput {
            id: crate::domain::ids::RepaymentId::new(),
            amount: money("4250.00")?,
            received_on: day((2020, 5, 20))?,
            reference: "REC-2020-0042".into(),
            reason: format!("Unspent at the end of the grant.{ILLUSTRATIVE}"),
        },
    )?;
    let release = crate::decisions::create(
        conn,
        approver,
        crate::decisions::DecisionInput {
            reference: "PCC-DN-2020-030".into(),
            title: "Close the Homelessness Prevention Trailblazer 2019-20 grant".into(),
            decided_on: day((2020, 5, 27))?,
            decided_by: "Police and Crime Commissioner".into(),
            url: None,
            summary: format!("The grant is closed and what it did not spend is released.{ILLUSTRATIVE}"),
        },
    )?;
    let release = crate::decisions::DecisionChoice::Id(release.id);
    crate::payments::close_award(conn, finance, trailblazer_id, Some(&release))?;
    let decision = crate::decisions::create(
        conn,
        approver,
        crate::decisions::DecisionInput {
            reference: "PCC-DN-2020-031".into(),
            title: "Carry 2019-20 crime and disorder reduction underspend into 2020-21".into(),
            decided_on: day((2020, 5, 28))?,
            decided_by: "Police and Crime Commissioner".into(),
            url: None,
            summary: "Unspent 2019-20 budget is carried into 2020-21. (Demo data: the reference, date and amount are illustrative.)".into(),
        },
    )?;
    crate::funds::carry::carry_forward(
        conn,
        finance,
        from_fund,
        crate::funds::carry::CarryInput {
            to_fund_id: to_fund,
            amount: money("20000.00")?,
            decision: crate::decisions::DecisionChoice::Id(decision.id),
        },
    )?;
    Ok(())
}

/// Pays an award in equal quarterly instalments for its first `quarters` quarters and schedules
/// the rest, so the demo shows money paid and money still to pay.
fn pay_quarters(
    conn: &mut PgConnection,
    finance: &Actor,
    award: &Award,
    year: FinancialYear,
    quarters: usize,
) -> Result<(), ApiError> {
    use crate::domain::ReturnPeriod;
    use crate::payments::{PaymentInput, add_payment};
    let quarter = Money::from_decimal((award.amount.to_decimal() / rust_decimal::Decimal::from(4)).round_dp(2));
    let mut left = award.amount;
    for (i, period) in ReturnPeriod::quarters_of(year).into_iter().enumerate() {
        let amount = if i == 3 { left } else { quarter };
        left = left - amount;
        let date = period.first_day();
        let input = if i < quarters {
            PaymentInput {
                amount,
                due_on: Some(date),
                paid_on: Some(date),
                reference: Some(format!("BACS-{}-{}", award.reference, i + 1)),
            }
        } else {
            PaymentInput { amount, due_on: Some(date), paid_on: None, reference: None }
        };
        add_payment(conn, finance, award.id, input)?;
    }
    Ok(())
}

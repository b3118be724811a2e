//! Fills `DATABASE_URL` with a large synthetic ledger for measuring the reports: YEARS financial
//! years (ending 2020-21) of AWARDS approved awards each, every one with payments (the last
//! year's only half paid so far), an agreed activity and quarterly returns, all through the
//! library's own write paths (so the audit chain is real). Never point it at a real ledger.
//!
//! cargo run --release --example generate_ledger -- 10 1000

// A measuring tool, not the service: a failure stops it where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::Connection;
use grants::audit::Actor;
use grants::awards::{self, AwardInput};
use grants::delivery::activities::{ActivityInput, add_activity};
use grants::delivery::returns::{ReturnInput, review_in, submit};
use grants::domain::delivery::Quantity;
use grants::domain::{Category, FinancialYear, Money, PlanTheme, RecipientKind, ReturnPeriod};
use grants::domain::{LineStatus, ReturnStatus};
use grants::error::ApiError;
use grants::payments::{PaymentInput, add_payment};
use grants::{funds, programmes, recipients};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let (Some(Ok(years)), Some(Ok(per_year))) = (args.next(), args.next()) else {
        return Err("usage: generate_ledger <years> <awards per year>".into());
    };
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    grants::db::prepare(&url)?;
    let mut conn = diesel::PgConnection::establish(&url).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let fail = |e: ApiError| format!("{e:?}");
    let admin = Actor { sub: "gen-admin".into(), name: None };
    let finance = Actor { sub: "gen-finance".into(), name: None };
    let approver = Actor { sub: "gen-approver".into(), name: None };
    let (programme_ids, recipient_ids) = conn
        .transaction(|c| {
            let mut ps = Vec::new();
            for (i, (cat, theme)) in [
                (Category::StatutoryContribution, "offenders"),
                (Category::CspAllocation, "communities"),
                (Category::CommissionedService, "victims"),
                (Category::CommissionedService, "transformation"),
            ]
            .into_iter()
            .enumerate()
            {
                let new = programmes::store::NewProgramme {
                    id: grants::domain::ProgrammeId::new(),
                    name: format!("Programme {i}"),
                    category: cat,
                    plan_theme: PlanTheme::parse(theme).ok_or_else(|| ApiError::Internal(theme.into()))?,
                    description: String::new(),
                    plan_id: None,
                };
                ps.push(programmes::create(c, &admin, &new, chrono::NaiveDate::from_ymd_opt(2015, 4, 1).unwrap())?.id);
            }
            let mut rs = Vec::new();
            for i in 0..200 {
                let new = recipients::store::NewRecipient {
                    id: grants::domain::RecipientId::new(),
                    name: format!("Recipient {i:03}"),
                    kind: RecipientKind::CommunitySafetyPartnership,
                    org_identifier: None,
                    district: None,
                    contact_email: None,
                    postcode: None,
                    area_code: None,
                    area_type: None,
                    area_name: None,
                };
                rs.push(recipients::create(c, &admin, &new)?.id);
            }
            Ok::<_, ApiError>((ps, rs))
        })
        .map_err(fail)?;
    for y in 0..years {
        let year = FinancialYear::starting(2021 - years as i32 + y as i32);
        conn.transaction(|c| {
            let new = funds::store::NewFund {
                id: grants::domain::FundId::new(),
                code: "CDRG".into(),
                name: "Crime and disorder reduction grants".into(),
                financial_year: year,
                budget: Money::parse("999999999.00").map_err(|e| ApiError::Internal(e.to_string()))?,
            };
            let fund = funds::create(c, &admin, &new)?;
            let decision = grants::decisions::create(
                c,
                &approver,
                grants::decisions::DecisionInput {
                    reference: format!("SYN-{year}"),
                    title: format!("Synthetic allocations {year}"),
                    decided_on: year.first_day(),
                    decided_by: "Synthetic".into(),
                    url: None,
                    summary: String::new(),
                },
            )?;
            let decision = grants::decisions::DecisionChoice::Id(decision.id);
            for n in 0..per_year {
                let recipient = recipient_ids[n % recipient_ids.len()];
                let amount = Money::parse(&format!("{}.00", 10_000 + (n % 50) * 1_000))
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let award = awards::create(
                    c,
                    &finance,
                    AwardInput {
                        fund_id: fund.id,
                        programme_id: programme_ids[n % programme_ids.len()],
                        recipient_id: recipient,
                        title: format!("Synthetic award {n}"),
                        purpose: "Measuring the reports".into(),
                        conditions: "Quarterly returns".into(),
                        crime_reduction_rationale: "Synthetic".into(),
                        amount,
                        start_date: year.first_day(),
                        end_date: year.last_day(),
                        previous_award_id: None,
                        change_reason: None,
                        requested: grants::awards::Requested::default(),
                    },
                )?;
                awards::approve(c, &approver, award.id, &decision)?;
                let half = Money::from_decimal(amount.to_decimal() / rust_decimal::Decimal::from(2));
                // Earlier years are fully committed to payments (half paid, half scheduled); the
                // last year is in progress: half paid and the rest not yet scheduled, so
                // payments can still be recorded against it (bench/run.sh does).
                let instalments = if y + 1 == years { 1 } else { 2 };
                for (i, period) in ReturnPeriod::quarters_of(year).into_iter().take(instalments).enumerate() {
                    let paid = i == 0;
                    add_payment(
                        c,
                        &finance,
                        award.id,
                        PaymentInput {
                            amount: half,
                            due_on: Some(period.first_day()),
                            paid_on: paid.then(|| period.first_day()),
                            reference: paid.then(|| format!("SYN-{n}-{i}")),
                        },
                    )?;
                }
                let activity = add_activity(
                    c,
                    &finance,
                    award.id,
                    ActivityInput {
                        title: "Synthetic activity".into(),
                        description: String::new(),
                        measure: "Count".into(),
                        target: Quantity::parse("10").ok(),
                    },
                )?;
                for period in ReturnPeriod::quarters_of(year).into_iter().take(2) {
                    let r = submit(
                        c,
                        &Actor { sub: format!("gen-csp-{recipient}"), name: None },
                        grants::delivery::returns::Submitter::Recipient(recipient),
                        award.id,
                        ReturnInput {
                            period: Ok(period),
                            spend_to_date: Ok(half),
                            narrative: Ok("Synthetic".into()),
                            lines: vec![(activity.id, LineStatus::OnTrack, Quantity::parse("5").ok(), String::new())],
                            results: Vec::new(),
                            risks: Vec::new(),
                            line_errors: Vec::new(),
                            received_on: None,
                        },
                    )?;
                    review_in(c, &finance, r.id, ReturnStatus::Accepted, None)?;
                }
            }
            Ok::<_, ApiError>(())
        })
        .map_err(fail)?;
        eprintln!("{year}: {per_year} awards ({:.0?} so far)", started.elapsed());
    }
    Ok(())
}

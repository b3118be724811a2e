//! Demo data: the Cambridgeshire crime and disorder reduction grants pot for 2019-20 and
//! 2020-21. Outside Links (£30,000.00 then £45,000.00) and the £1,300,000.00 budgets are from
//! the Commissioner's board report; every other amount is illustrative, and says so.

use chrono::NaiveDate;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::audit::Actor;
use crate::awards::{self, AwardInput};
use crate::domain::ids::{AwardId, FundId, ProgrammeId, RecipientId};
use crate::domain::{Category, FinancialYear, Money, PlanTheme, RecipientKind};
use crate::error::ApiError;
use crate::funds::{self, store::NewFund};
use crate::programmes::{self, store::NewProgramme};
use crate::recipients::{self, store::NewRecipient};

/// What the demo loaded, for the start-up banner.
pub struct DemoSummary {
    /// The six CSPs' recipient ids, by name: a `csp` token needs one.
    pub csp_recipient: (String, RecipientId),
    /// An approved award to show in the `curl` tour.
    pub award_id: AwardId,
    /// A fund to show in the tour.
    pub fund_id: FundId,
}

const ILLUSTRATIVE: &str = " (Demo data: this amount is illustrative.)";

/// Loads the demo data in one transaction, unless the database already holds anything (any
/// audit event: every write appends one). Returns `None` when it was not empty.
pub fn load_if_empty(conn: &mut PgConnection) -> Result<Option<DemoSummary>, ApiError> {
    use crate::db::schema::audit_events as e;
    conn.transaction(|conn| {
        let existing: Option<i64> = e::table.select(e::seq).first(conn).optional()?;
        if existing.is_some() {
            return Ok(None);
        }
        load(conn).map(Some)
    })
}

/// True when every audit event was made by the demo: its loader and the tokens `serve --demo`
/// prints (subjects `demo-…`) and the service itself (`system:…`). A database anyone else has
/// written to is not a demo, and `serve --demo` prints no tokens for it.
pub fn holds_only_demo(conn: &mut PgConnection) -> Result<bool, ApiError> {
    use crate::db::schema::audit_events as e;
    let foreign: Option<i64> = e::table
        .filter(e::actor_sub.not_like("demo-%"))
        .filter(e::actor_sub.not_like("system:%"))
        .select(e::seq)
        .first(conn)
        .optional()?;
    Ok(foreign.is_none())
}

/// The demo partnership whose officer the banner's `csp` token acts for.
const TOKEN_CSP: &str = "Safer Peterborough Partnership";

/// What an earlier `serve --demo` loaded, found again on a restart (so the banner can print a
/// token for every role each time); `None` when the database holds other data.
pub fn find(conn: &mut PgConnection) -> Result<Option<DemoSummary>, ApiError> {
    use crate::db::schema::{awards as a, recipients as r};
    let csp: Option<RecipientId> = r::table.filter(r::name.eq(TOKEN_CSP)).select(r::id).first(conn).optional()?;
    let award: Option<(AwardId, FundId)> =
        a::table.filter(a::title.eq("Outside Links 2020-21")).select((a::id, a::fund_id)).first(conn).optional()?;
    Ok(csp.zip(award).map(|(csp, (award_id, fund_id))| DemoSummary {
        csp_recipient: (TOKEN_CSP.to_string(), csp),
        award_id,
        fund_id,
    }))
}

fn money(text: &str) -> Result<Money, ApiError> {
    Money::parse_positive(text).map_err(|e| ApiError::Internal(format!("demo amount {text}: {e}")))
}

/// The identifier and postcode of a demo recipient the documents name without them: all
/// illustrative, in the formats 360Giving's quality checks look for. Partnerships and services
/// hosted by a council carry that council's org-id.guide list code (`GB-LAE-…`) with a suffix;
/// the illustrative charities carry illustrative charity numbers; postcodes are in the right
/// towns but invented.
fn demo_identity(name: &str) -> (&'static str, &'static str) {
    match name {
        "Cambridgeshire Youth Offending Service" => ("GB-LAE-CAM-YOS", "PE28 4YE"),
        "Cambridgeshire and Peterborough Safeguarding Boards" => ("GB-LAE-CAM-SB", "PE28 4YE"),
        "Multi-Agency Public Protection Arrangements (MAPPA)" => ("GB-LAE-CAM-MAPPA", "PE28 4YE"),
        "Peterborough City Council" => ("GB-LAE-PTE", "PE1 1HF"),
        "Cambridge City Council" => ("GB-LAE-CAB", "CB2 1BY"),
        "Cambridge City Community Safety Partnership" => ("GB-LAE-CAB-CSP", "CB2 1BY"),
        "East Cambridgeshire Community Safety Partnership" => ("GB-LAE-ECA-CSP", "CB7 4EY"),
        "Fenland Community Safety Partnership" => ("GB-LAE-FEN-CSP", "PE15 8NQ"),
        "Huntingdonshire Community Safety Partnership" => ("GB-LAE-HUN-CSP", "PE29 3TN"),
        "Safer Peterborough Partnership" => ("GB-LAE-PTE-CSP", "PE1 1HF"),
        "South Cambridgeshire Community Safety Partnership" => ("GB-LAE-SCA-CSP", "CB23 6EA"),
        "Domestic Abuse Outreach Service (illustrative)" => ("GB-CHC-1990001", "CB1 2BD"),
        "Restorative Justice Hub (illustrative)" => ("GB-CHC-1990002", "PE1 1SB"),
        "Substance Misuse Diversion Service (illustrative)" => ("GB-CHC-1990003", "PE29 3PA"),
        "Rural Crime Action Team (illustrative)" => ("GB-COH-09990004", "PE15 8AE"),
        "Road Safety Partnership (illustrative)" => ("GB-CHC-1990005", "CB7 4HF"),
        _ => ("GB-CHC-1990006", "CB23 6HY"),
    }
}

/// The ONS code of the area a demo recipient serves (360Giving's beneficiaryLocation): its
/// district, where it has one (a Community Safety Partnership here covers one district, so the
/// district's code stands for it), else the county.
fn area_of(district: Option<&str>) -> (&'static str, &'static str, &'static str) {
    match district {
        Some("Cambridge" | "Cambridge City") => ("E07000008", "NMD", "Cambridge"),
        Some("East Cambridgeshire") => ("E07000009", "NMD", "East Cambridgeshire"),
        Some("Fenland") => ("E07000010", "NMD", "Fenland"),
        Some("Huntingdonshire") => ("E07000011", "NMD", "Huntingdonshire"),
        Some("South Cambridgeshire") => ("E07000012", "NMD", "South Cambridgeshire"),
        Some("Peterborough") => ("E06000031", "UA", "Peterborough"),
        _ => ("E10000003", "CTY", "Cambridgeshire"),
    }
}

fn load(conn: &mut PgConnection) -> Result<DemoSummary, ApiError> {
    let finance = Actor { sub: "demo-finance".into(), name: Some("Demo finance officer".into()) };
    let approver = Actor { sub: "demo-approver".into(), name: Some("Demo approver".into()) };
    let admin = Actor { sub: "demo-admin".into(), name: Some("Demo administrator".into()) };

    let mut fund_ids = Vec::new();
    for year in ["2019-20", "2020-21"] {
        let fund = funds::create(
            conn,
            &admin,
            &NewFund {
                id: FundId::new(),
                code: "CDRG".into(),
                name: "Crime and disorder reduction grants".into(),
                financial_year: FinancialYear::parse(year).map_err(|e| ApiError::Internal(e.to_string()))?,
                budget: money("1300000.00")?.to_decimal(),
            },
        )?;
        fund_ids.push((FinancialYear::parse(year).map_err(|_| ApiError::Internal("demo year".into()))?, fund.id));
    }

    let mut recipient = |name: &str, kind: RecipientKind, district: Option<&str>| -> Result<RecipientId, ApiError> {
        let (code, area_type, area_name) = area_of(district);
        let (identifier, postcode) = demo_identity(name);
        Ok(recipients::create(
            conn,
            &admin,
            &NewRecipient {
                id: RecipientId::new(),
                name: name.into(),
                kind,
                org_identifier: Some(identifier.to_string()),
                district: district.map(str::to_string),
                contact_email: None,
                postcode: Some(postcode.to_string()),
                area_code: Some(code.to_string()),
                area_type: Some(area_type.to_string()),
                area_name: Some(area_name.to_string()),
            },
        )?
        .id)
    };
    let yos = recipient("Cambridgeshire Youth Offending Service", RecipientKind::StatutoryPartnership, None)?;
    let safeguarding =
        recipient("Cambridgeshire and Peterborough Safeguarding Boards", RecipientKind::StatutoryPartnership, None)?;
    let mappa =
        recipient("Multi-Agency Public Protection Arrangements (MAPPA)", RecipientKind::StatutoryPartnership, None)?;
    let peterborough_council =
        recipient("Peterborough City Council", RecipientKind::LocalAuthority, Some("Peterborough"))?;
    let cambridge_council = recipient("Cambridge City Council", RecipientKind::LocalAuthority, Some("Cambridge"))?;
    let csp_names = [
        ("Cambridge City Community Safety Partnership", "Cambridge City", ["60000.00", "62000.00"]),
        ("East Cambridgeshire Community Safety Partnership", "East Cambridgeshire", ["40000.00", "41000.00"]),
        ("Fenland Community Safety Partnership", "Fenland", ["50000.00", "52000.00"]),
        ("Huntingdonshire Community Safety Partnership", "Huntingdonshire", ["55000.00", "56000.00"]),
        ("Safer Peterborough Partnership", "Peterborough", ["90000.00", "93000.00"]),
        ("South Cambridgeshire Community Safety Partnership", "South Cambridgeshire", ["45000.00", "46000.00"]),
    ];
    let mut csps = Vec::new();
    for (name, district, amounts) in csp_names {
        csps.push((name, recipient(name, RecipientKind::CommunitySafetyPartnership, Some(district))?, amounts));
    }
    // Commissioned services that bring the demo's years close to the reports' £1.3m. Their
    // names and amounts are invented, and say so.
    let services = [
        ("Domestic Abuse Outreach Service (illustrative)", ["150000.00", "152500.00"]),
        ("Restorative Justice Hub (illustrative)", ["110000.00", "110000.00"]),
        ("Substance Misuse Diversion Service (illustrative)", ["95000.00", "90000.00"]),
        ("Rural Crime Action Team (illustrative)", ["40000.00", "40000.00"]),
        ("Road Safety Partnership (illustrative)", ["60000.00", "50000.00"]),
        ("Community Safety Analysts (illustrative)", ["25000.00", "20000.00"]),
    ];
    let mut service_ids = Vec::new();
    for (name, _) in &services {
        service_ids.push(recipient(name, RecipientKind::Other, None)?);
    }

    // The Police and Crime Plan 2017-20 and its four themes; it ran until the May 2021
    // elections (the end date is illustrative).
    let plan = crate::plans::create(
        conn,
        &admin,
        crate::plans::PlanInput {
            title: "Police and Crime Plan 2017-20".into(),
            starts_on: NaiveDate::from_ymd_opt(2017, 4, 1).unwrap_or(NaiveDate::MIN),
            ends_on: NaiveDate::from_ymd_opt(2021, 5, 12).unwrap_or(NaiveDate::MIN),
            themes: [
                ("victims", "Victims"),
                ("offenders", "Offenders"),
                ("communities", "Communities"),
                ("transformation", "Transformation"),
            ]
            .into_iter()
            .map(|(code, title)| {
                let code = PlanTheme::parse(code).ok_or_else(|| ApiError::Internal(format!("demo theme {code}")))?;
                Ok(crate::plans::Theme { code, title: title.into() })
            })
            .collect::<Result<Vec<_>, ApiError>>()?,
        },
    )?;
    let mut programme =
        |name: &str, category: Category, theme: &str, description: &str| -> Result<ProgrammeId, ApiError> {
            let plan_theme =
                PlanTheme::parse(theme).ok_or_else(|| ApiError::Internal(format!("demo theme {theme}")))?;
            Ok(programmes::create(
                conn,
                &admin,
                &NewProgramme {
                    id: ProgrammeId::new(),
                    name: name.into(),
                    category,
                    plan_theme,
                    description: description.into(),
                    plan_id: Some(plan.id),
                },
                plan.starts_on,
            )?
            .id)
        };
    let p_yos = programme(
        "Youth Offending Service contribution",
        Category::StatutoryContribution,
        "offenders",
        "Contribution made on behalf of the Constabulary to the Youth Offending Service.",
    )?;
    let p_safeguarding = programme(
        "Safeguarding Boards contribution",
        Category::StatutoryContribution,
        "victims",
        "Contribution made on behalf of the Constabulary to the Safeguarding Boards.",
    )?;
    let p_mappa = programme(
        "MAPPA contribution",
        Category::StatutoryContribution,
        "offenders",
        "Contribution made on behalf of the Constabulary to the Multi-Agency Public Protection Arrangements.",
    )?;
    let p_csp = programme(
        "Community Safety Partnership allocation",
        Category::CspAllocation,
        "communities",
        "Funding to each Community Safety Partnership, linked to agreed delivery activities.",
    )?;
    let p_outside = programme(
        "Outside Links",
        Category::CommissionedService,
        "offenders",
        "Peterborough's Outside Links service: support for people given out of court disposals.",
    )?;
    let p_homeless = programme(
        "Homelessness Prevention Trailblazer",
        Category::CommissionedService,
        "offenders",
        "Early help to prevent homelessness (accommodation for offenders), a driver of offending and victimisation.",
    )?;
    let service_programmes = [
        ("Domestic abuse outreach", "victims"),
        ("Restorative justice", "victims"),
        ("Substance misuse diversion", "offenders"),
        ("Rural crime", "communities"),
        ("Road safety", "communities"),
        ("Community safety analysis", "transformation"),
    ];
    let mut service_programme_ids = Vec::new();
    for (name, theme) in service_programmes {
        service_programme_ids.push(programme(
            name,
            Category::CommissionedService,
            theme,
            "A commissioned service. (Demo data: this programme is illustrative.)",
        )?);
    }

    struct Line<'a> {
        programme: ProgrammeId,
        recipient: RecipientId,
        title: &'a str,
        purpose: String,
        amounts: [&'a str; 2],
    }
    let mut lines = vec![
        Line {
            programme: p_yos,
            recipient: yos,
            title: "Youth Offending Service contribution",
            purpose: format!("Statutory contribution to the Youth Offending Service.{ILLUSTRATIVE}"),
            amounts: ["205000.00", "210000.00"],
        },
        Line {
            programme: p_safeguarding,
            recipient: safeguarding,
            title: "Safeguarding Boards contribution",
            purpose: format!("Statutory contribution to the Safeguarding Boards.{ILLUSTRATIVE}"),
            amounts: ["72000.00", "74000.00"],
        },
        Line {
            programme: p_mappa,
            recipient: mappa,
            title: "MAPPA contribution",
            purpose: format!("Statutory contribution to MAPPA.{ILLUSTRATIVE}"),
            amounts: ["18000.00", "18500.00"],
        },
        Line {
            programme: p_outside,
            recipient: peterborough_council,
            title: "Outside Links",
            purpose: "Support for people given out of court disposals in Peterborough.".to_string(),
            amounts: ["30000.00", "45000.00"],
        },
        Line {
            programme: p_homeless,
            recipient: cambridge_council,
            title: "Homelessness Prevention Trailblazer",
            purpose: format!("Early help for people at risk of homelessness.{ILLUSTRATIVE}"),
            amounts: ["120000.00", "125000.00"],
        },
    ];
    for (name, id, amounts) in &csps {
        lines.push(Line {
            programme: p_csp,
            recipient: *id,
            title: name,
            purpose: format!("Agreed community safety delivery activities of the {name}.{ILLUSTRATIVE}"),
            amounts: *amounts,
        });
    }
    for (((name, amounts), recipient), programme) in services.iter().zip(&service_ids).zip(&service_programme_ids) {
        lines.push(Line {
            programme: *programme,
            recipient: *recipient,
            title: name.trim_end_matches(" (illustrative)"),
            purpose: format!("The commissioned service of the {name}.{ILLUSTRATIVE}"),
            amounts: *amounts,
        });
    }

    let mut summary_award = None;
    let mut csp_awards = Vec::new();
    let mut ended = Vec::new();
    for (index, (year, fund_id)) in fund_ids.iter().enumerate() {
        // The year's allocation schedule, approved under one decision dated the year's first day.
        let decision = crate::decisions::create(
            conn,
            &approver,
            crate::decisions::DecisionInput {
                reference: format!("PCC-DN-{}-014", year.start_year()),
                title: format!("Crime and disorder reduction grants {year}: allocation schedule"),
                decided_on: year.first_day(),
                decided_by: "Police and Crime Commissioner".into(),
                url: None,
                summary: "The year's allocations to statutory partners, CSPs and commissioned services. (Demo data: the reference and date are illustrative.)".into(),
            },
        )?;
        // 2019-20 is entered line by line; 2020-21 is rolled forward from it, and each line
        // whose amount changed says why.
        let drafts = if index == 0 {
            let mut drafts = Vec::new();
            for line in lines.iter() {
                drafts.push(awards::create(
                    conn,
                    &finance,
                    AwardInput {
                        fund_id: *fund_id,
                        programme_id: line.programme,
                        recipient_id: line.recipient,
                        title: format!("{} {year}", line.title),
                        purpose: line.purpose.clone(),
                        conditions: "Quarterly monitoring returns; the money is spent only on the agreed purpose; unspent money is returned.".into(),
                        crime_reduction_rationale: "Supports the Police and Crime Plan: fewer victims and less reoffending through partnership work.".into(),
                        amount: money(line.amounts[index])?,
                        start_date: year.first_day(),
                        end_date: year.last_day(),
                        previous_award_id: None,
                        change_reason: None,
                        requested: awards::Requested::default(),
                    },
                )?);
            }
            drafts
        } else {
            let rolled = awards::roll_forward(conn, &finance, *fund_id, fund_ids[0].1)?.created;
            let mut drafts = Vec::new();
            for (draft, line) in rolled.into_iter().zip(lines.iter()) {
                let amount = money(line.amounts[index])?;
                if amount == draft.amount {
                    drafts.push(draft);
                    continue;
                }
                let reason = if line.programme == p_outside {
                    "To reflect the increased capacity required".to_string()
                } else {
                    format!("In line with developing work.{ILLUSTRATIVE}")
                };
                let edit = awards::AwardEdit {
                    amount: Some(amount),
                    change_reason: Some(reason),
                    ..awards::AwardEdit::default()
                };
                drafts.push(awards::update(conn, &finance, draft.id, &crate::http::extract::IfMatch::Any, edit)?);
            }
            drafts
        };
        // The year's schedule is approved in one go under its decision.
        let ids: Vec<_> = drafts.iter().map(|d| d.id).collect();
        let approved_all = awards::approve_schedule(conn, &approver, &decision, &ids)?;
        for (approved, line) in approved_all.into_iter().zip(lines.iter()) {
            pay_quarters(conn, &finance, &approved, *year, if index == 0 { 4 } else { 2 })?;
            if line.programme == p_outside {
                summary_award = Some(approved.id);
            }
            if line.programme == p_csp && index == 1 {
                csp_awards.push((approved.id, line.recipient));
            }
            if (line.programme == p_outside || line.programme == p_homeless) && index == 0 {
                ended.push((approved, line.recipient));
            }
        }
    }
    // One draft in the current year, to show the pipeline.
    let (current_year, current_fund) = fund_ids[1];
    awards::create(
        conn,
        &finance,
        AwardInput {
            fund_id: current_fund,
            programme_id: p_csp,
            recipient_id: csps[2].1,
            title: "Fenland rural crime pilot (draft)".into(),
            purpose: format!("A pilot of rural crime prevention work in Fenland.{ILLUSTRATIVE}"),
            conditions: "Quarterly monitoring returns.".into(),
            crime_reduction_rationale: "Targets theft from farms and rural burglary.".into(),
            amount: money("15000.00")?,
            start_date: NaiveDate::from_ymd_opt(current_year.start_year(), 10, 1).unwrap_or(current_year.first_day()),
            end_date: current_year.last_day(),
            previous_award_id: None,
            change_reason: None,
            requested: awards::Requested {
                amount: Some(money("18000.00")?),
                on: NaiveDate::from_ymd_opt(current_year.start_year(), 9, 1),
            },
        },
    )?;
    delivery(conn, &finance, &csp_awards)?;
    let [outside_links, trailblazer] = <[_; 2]>::try_from(ended)
        .map_err(|_| ApiError::Internal("the demo has no 2019-20 Outside Links and Trailblazer".into()))?;
    year_end(conn, &finance, &approver, outside_links, trailblazer, (fund_ids[0].1, current_fund))?;
    Ok(DemoSummary {
        csp_recipient: (TOKEN_CSP.to_string(), csps[4].1),
        award_id: summary_award.ok_or_else(|| ApiError::Internal("the demo has no Outside Links award".into()))?,
        fund_id: current_fund,
    })
}

/// Agreed activities for each 2020-21 CSP allocation, and returns in every state: accepted,
/// submitted, sent back and resubmitted, sent back and not yet resubmitted, and missing.
fn delivery(conn: &mut PgConnection, finance: &Actor, csp_awards: &[(AwardId, RecipientId)]) -> Result<(), ApiError> {
    use crate::delivery::activities::{ActivityInput, add_activity};
    use crate::delivery::returns::{ReturnInput, review_in, submit};
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
                };
                let submitted = submit(conn, &officer, *recipient_id, *award_id, input)?;
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
    finance: &Actor,
    approver: &Actor,
    outside_links: (awards::Award, RecipientId),
    trailblazer: (awards::Award, RecipientId),
    (from_fund, to_fund): (FundId, FundId),
) -> Result<(), ApiError> {
    use crate::delivery::monitoring::{IndicatorInput, add_indicator, set};
    use crate::delivery::returns::{ReturnInput, review_in, submit};
    use crate::domain::delivery::Quantity;
    use crate::domain::{Direction, Frequency, ReturnPeriod, ReturnStatus};
    use crate::repayments::{RepaymentInput, add_repayment};

    let trailblazer_id = trailblazer.0.id;
    let quantity = |text: &str| Quantity::parse(text).map_err(|e| ApiError::Internal(format!("demo quantity: {e}")));
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| ApiError::Internal("demo date".into()));
    let reports = [
        (
            outside_links,
            "Compliance with the conditions of out of court disposals",
            "% of people supported",
            ("47", "70", "79"),
            "30000.00",
            "79% of the people Outside Links supported complied, against 47% before the service: the board report's figures. (Demo data: the indicator's wording and target are illustrative.)",
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
        };
        let report = submit(conn, &officer, recipient, award.id, input)?;
        review_in(conn, finance, report.id, ReturnStatus::Accepted, Some("Thank you".into()))?;
    }
    add_repayment(
        conn,
        finance,
        trailblazer_id,
        RepaymentInput {
            id: crate::domain::ids::RepaymentId::new(),
            amount: money("4250.00")?,
            received_on: day(2020, 5, 20)?,
            reference: "REC-2020-0042".into(),
            reason: format!("Unspent at the end of the grant.{ILLUSTRATIVE}"),
        },
    )?;
    crate::payments::close_award(conn, finance, trailblazer_id)?;
    let decision = crate::decisions::create(
        conn,
        approver,
        crate::decisions::DecisionInput {
            reference: "PCC-DN-2020-031".into(),
            title: "Carry 2019-20 crime and disorder reduction underspend into 2020-21".into(),
            decided_on: day(2020, 5, 28)?,
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
    award: &awards::Award,
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

//! Exports and publication: the 360Giving data package, a spreadsheet CSV, and the monthly
//! transparency list that needs no token (DESIGN §7).

pub mod feed;
pub mod http;
pub mod package;

use std::collections::HashMap;
use std::str::FromStr;

use diesel::PgConnection;

use crate::config::Publisher;
use crate::domain::{FinancialYear, Money, org_identifier};
use crate::error::ApiError;
use crate::reports::store::{self, AwardLine};
use package::Amount;

/// An exact amount as a JSON number (serde_json's arbitrary precision keeps every digit).
fn number(m: Money) -> Result<Amount, ApiError> {
    serde_json::Number::from_str(&m.to_string()).map(Amount).map_err(|e| ApiError::Internal(format!("number: {e}")))
}

/// An award's paid payments and its repayments.
type Moves<'a> = (Vec<&'a store::PaidPayment>, Vec<&'a store::Returned>);

/// One grant in 360Giving's shape.
fn grant(
    publisher: &Publisher,
    theme_titles: &[(String, String)],
    a: &AwardLine,
    moves: &Moves,
) -> Result<package::Grant, ApiError> {
    let (paid, returned) = moves;
    let recipient_id = a
        .recipient_org_identifier
        .clone()
        .unwrap_or_else(|| format!("{}-recipient-{}", publisher.prefix, a.recipient_id));
    let transactions = paid
        .iter()
        .map(|p| {
            Ok(package::Transaction {
                id: format!("{}-{}-payment-{}", publisher.prefix, a.reference, p.id),
                transaction_date: p.paid_on,
                value: number(p.amount)?,
                currency: "GBP".into(),
            })
        })
        .chain(returned.iter().map(|r| {
            // Money the recipient returned: a negative disbursement.
            Ok(package::Transaction {
                id: format!("{}-{}-repayment-{}", publisher.prefix, a.reference, r.id),
                transaction_date: r.received_on,
                value: number(Money::ZERO - r.amount)?,
                currency: "GBP".into(),
            })
        }))
        .collect::<Result<Vec<_>, ApiError>>()?;
    // Once anything was paid: the net disbursed (net of repayments, as the award's `paid` is)
    // and each movement.
    let (amount_disbursed, disbursement_transaction) =
        if transactions.is_empty() { (None, None) } else { (Some(number(a.paid)?), Some(transactions)) };
    let area = match (&a.recipient_area_code, &a.recipient_area_type) {
        (Some(code), Some(kind)) => Some(vec![package::Location {
            name: a.recipient_area_name.clone(),
            geo_code: code.clone(),
            geo_code_type: kind.clone(),
            country_code: "GB".into(),
        }]),
        _ => None,
    };
    let registered = a.recipient_org_identifier.as_deref();
    let classification = |vocabulary: &str, code: &str, title: String| package::Classification {
        vocabulary: vocabulary.into(),
        code: code.into(),
        title,
    };
    Ok(package::Grant {
        id: format!("{}-{}", publisher.prefix, a.reference),
        title: a.title.clone(),
        description: a.purpose.clone(),
        currency: "GBP".into(),
        amount_awarded: number(a.amount)?,
        amount_applied_for: a.amount_requested.map(number).transpose()?,
        amount_disbursed,
        award_date: a.awarded_on.unwrap_or(a.start_date),
        planned_dates: vec![package::PlannedDates { start_date: a.start_date, end_date: a.end_date }],
        recipient_organization: vec![package::Organisation {
            id: recipient_id,
            name: a.recipient.clone(),
            charity_number: registered.and_then(org_identifier::charity_number).map(str::to_string),
            company_number: registered.and_then(org_identifier::company_number).map(str::to_string),
            postal_code: a.recipient_postcode.clone(),
            location: area.clone(),
        }],
        funding_organization: vec![package::Organisation::named(
            publisher.funder_id.clone(),
            publisher.funder_name.clone(),
        )],
        grant_programme: vec![package::Programme { code: a.programme_id.to_string(), title: a.programme.clone() }],
        classifications: vec![
            classification("police-and-crime-plan-theme", a.plan_theme.as_str(), a.plan_theme.title_in(theme_titles)),
            classification(
                "crime-and-disorder-reduction-grant-category",
                a.category.as_str(),
                a.category.label().to_string(),
            ),
        ],
        beneficiary_location: area,
        data_source: publisher.data_source.clone(),
        disbursement_transaction,
        date_modified: a.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Whether a spreadsheet program could read `text` as a formula: it starts with `=`, `+`, `-`,
/// `@`, tab or carriage return, or a part of it does after a character some spreadsheet
/// programs split a CSV line on (`;` where the list separator is a semicolon, `,`, `|`, tab,
/// line breaks), as in `x;=1+1`.
pub fn formula_risk(text: &str) -> bool {
    let starts_formula = |part: &str| part.trim_start_matches(' ').starts_with(['=', '+', '-', '@', '\t', '\r']);
    starts_formula(text) || text.split([';', ',', '|', '\t', '\n', '\r']).skip(1).any(starts_formula)
}

/// Guards a spreadsheet cell against formula injection: a cell a spreadsheet program could read
/// as a formula ([`formula_risk`]) is written after a `'`, which makes it text.
fn cell(text: &str) -> String {
    if formula_risk(text) { format!("'{text}") } else { text.to_string() }
}

/// The 360Giving 1.4 data package of `year`'s approved and closed awards; 404 for a year
/// without one (a package holds at least one grant).
pub fn package_of(
    conn: &mut PgConnection,
    publisher: &Publisher,
    year: FinancialYear,
) -> Result<package::Package, ApiError> {
    let key = year.to_string();
    let awards = store::award_lines(conn, &key, true)?;
    if awards.is_empty() {
        return Err(ApiError::NotFound(format!("{year} has no approved or closed awards to publish")));
    }
    let payments = store::paid_payments(conn, &key)?;
    let repayments = store::repayments(conn, &key)?;
    let mut by_award: HashMap<crate::domain::AwardId, Moves> = HashMap::new();
    for p in &payments {
        by_award.entry(p.award_id).or_default().0.push(p);
    }
    for r in &repayments {
        by_award.entry(r.award_id).or_default().1.push(r);
    }
    let none = Moves::default();
    let theme_titles = store::year_themes(conn, year.first_day(), year.last_day())?;
    let grants = awards
        .iter()
        .map(|a| grant(publisher, &theme_titles, a, by_award.get(&a.id).unwrap_or(&none)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(package::Package {
        version: "1.4".into(),
        title: format!("{} crime and disorder reduction grants {year}", publisher.funder_name),
        grants,
    })
}

/// The year's awards, one row each, as CSV for spreadsheets: UTF-8 with a byte-order mark, so
/// that spreadsheet programs read the £ and accents right.
pub fn awards_csv(rows: Vec<AwardLine>) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let header = [
        "reference",
        "financial_year",
        "status",
        "recipient",
        "recipient_org_identifier",
        "programme",
        "category",
        "plan_theme",
        "title",
        "amount",
        "original_amount",
        "amount_requested",
        "paid",
        "scheduled",
        "start_date",
        "end_date",
        "decision_ref",
        "awarded_on",
        "approved_at",
    ];
    let fail = |e: csv::Error| ApiError::Internal(format!("csv: {e}"));
    writer.write_record(header).map_err(fail)?;
    for a in rows {
        writer
            .write_record([
                cell(&a.reference),
                a.financial_year.to_string(),
                a.status.to_string(),
                cell(&a.recipient),
                a.recipient_org_identifier.unwrap_or_default(),
                cell(&a.programme),
                a.category.to_string(),
                a.plan_theme.to_string(),
                cell(&a.title),
                a.amount.to_string(),
                a.original_amount.to_string(),
                a.amount_requested.map(|m| m.to_string()).unwrap_or_default(),
                a.paid.to_string(),
                a.scheduled.to_string(),
                a.start_date.to_string(),
                a.end_date.to_string(),
                cell(&a.decision_ref.unwrap_or_default()),
                a.awarded_on.map(|d| d.to_string()).unwrap_or_default(),
                a.approved_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default(),
            ])
            .map_err(fail)?;
    }
    writer.into_inner().map_err(|e| ApiError::Internal(format!("csv: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_a_spreadsheet_would_read_as_a_formula_is_made_text() {
        for risky in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "x;=1+1", "x; =1+1", "x,@A1", "x|-2", "a\n=b"] {
            assert_eq!(cell(risky), format!("'{risky}"), "{risky:?}");
        }
        for plain in ["Fenland CSP", "x;y", "a-b", "e-mail: x@y", "PCC-DN-2020-014", ""] {
            assert_eq!(cell(plain), plain, "{plain:?}");
        }
    }
}

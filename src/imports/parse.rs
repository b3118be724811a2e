//! Reading an import: a CSV in the shape of our own `awards.csv`, or a 360Giving data
//! package, into rows the ledger can take, each checked field by field. A row that fails says
//! which column and why; every row is read, whatever fails before it.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use serde_json::Value;

use crate::domain::ids::{PaymentId, ProgrammeId, RecipientId, RepaymentId};
use crate::domain::org_identifier::is_valid_org_identifier;
use crate::domain::{AwardStatus, Category, FinancialYear, Money, PlanTheme};

/// What the import may say about a row: its number (the first data row is 1), the column (or
/// 360Giving field) and what is wrong.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub row: usize,
    #[schema(example = "amount")]
    pub column: String,
    #[schema(example = "must be a positive amount with at most two decimals")]
    pub message: String,
}

/// The recipient a row names.
#[derive(Debug, Clone)]
pub struct RecipientRef {
    pub name: String,
    pub org_identifier: Option<String>,
    /// The id to give it if it must be made (from our own export), when free.
    pub id: Option<RecipientId>,
    /// Where it is, for a recipient the import makes (360Giving packages only).
    pub place: Place,
}

/// A recipient's postcode and area, as a 360Giving package gives them.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub postcode: Option<String>,
    /// (ONS code, geoCodeType, name).
    pub area: Option<(String, String, Option<String>)>,
}

/// The programme a row names.
#[derive(Debug, Clone)]
pub struct ProgrammeRef {
    pub name: String,
    pub id: Option<ProgrammeId>,
    pub category: Option<Category>,
    pub theme: Option<PlanTheme>,
}

/// A payment a row brings.
#[derive(Debug, Clone)]
pub struct PaymentPlan {
    pub id: Option<PaymentId>,
    pub amount: Money,
    /// Paid on this day; `None` for a scheduled payment.
    pub paid_on: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    pub reference: Option<String>,
}

/// Money the recipient returned, as a 360Giving package records it (a negative disbursement).
#[derive(Debug, Clone)]
pub struct RepaymentPlan {
    pub id: Option<RepaymentId>,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub reference: String,
}

/// One award to import, read and checked.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub row: usize,
    pub reference: Option<String>,
    pub fund_code: String,
    pub year: FinancialYear,
    pub status: AwardStatus,
    pub recipient: RecipientRef,
    pub programme: ProgrammeRef,
    pub title: String,
    pub purpose: String,
    pub conditions: String,
    pub rationale: String,
    pub amount: Money,
    pub original_amount: Money,
    pub amount_requested: Option<Money>,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The decision's reference and date; every approved or closed award has one.
    pub decision: Option<(String, NaiveDate)>,
    pub payments: Vec<PaymentPlan>,
    /// Repayments (from a 360Giving package's negative disbursements).
    pub repayments: Vec<RepaymentPlan>,
    /// The budget of the row's fund (a CSV's optional `fund_budget` column), for a fund the
    /// ledger does not hold yet: an import never invents one.
    pub fund_budget: Option<Money>,
}

/// What an import text leaves unsaid.
pub const NOT_RECORDED: &str = "Not recorded (imported)";

/// Collects one row's field errors.
struct Row<'a> {
    n: usize,
    errors: &'a mut Vec<RowError>,
}

impl Row<'_> {
    fn fail(&mut self, column: &str, message: impl Into<String>) {
        self.errors.push(RowError { row: self.n, column: column.to_string(), message: message.into() });
    }

    fn text(&mut self, column: &str, value: Option<&str>, max: usize) -> Option<String> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => {
                self.fail(column, "is required");
                None
            }
            Some(v) => self.checked_text(column, v, max),
        }
    }

    fn optional_text(&mut self, column: &str, value: Option<&str>, max: usize) -> Option<String> {
        value.map(str::trim).filter(|v| !v.is_empty()).and_then(|v| self.checked_text(column, v, max))
    }

    fn checked_text(&mut self, column: &str, value: &str, max: usize) -> Option<String> {
        match crate::http::input::text(column, value, 1, max) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(column, e.message);
                None
            }
        }
    }

    fn money(&mut self, column: &str, value: Option<&str>) -> Option<Money> {
        let text = self.text(column, value, 40)?;
        match Money::parse_positive(&text) {
            Ok(m) => Some(m),
            Err(e) => {
                self.fail(column, e.to_string());
                None
            }
        }
    }

    /// A non-negative amount; blank is zero.
    fn money_or_zero(&mut self, column: &str, value: Option<&str>) -> Option<Money> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Some(Money::ZERO),
            Some(text) => match Money::parse(text) {
                Ok(m) if m >= Money::ZERO => Some(m),
                Ok(_) => {
                    self.fail(column, "must not be negative");
                    None
                }
                Err(e) => {
                    self.fail(column, e.to_string());
                    None
                }
            },
        }
    }

    fn date(&mut self, column: &str, value: Option<&str>) -> Option<NaiveDate> {
        let text = self.text(column, value, 40)?;
        // A full timestamp (as 360Giving allows) is read for its date.
        let day = text.get(..10).unwrap_or(&text);
        match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(d) if crate::domain::dates::in_window(d) => Some(d),
            Ok(_) => {
                self.fail(column, crate::domain::dates::OUT_OF_WINDOW);
                None
            }
            Err(_) => {
                self.fail(column, "must be a date such as 2020-04-01");
                None
            }
        }
    }

    fn past_date(&mut self, column: &str, value: Option<&str>) -> Option<NaiveDate> {
        let day = self.date(column, value)?;
        if day > Utc::now().date_naive() {
            self.fail(column, "cannot be in the future");
            return None;
        }
        Some(day)
    }

    fn year(&mut self, column: &str, value: Option<&str>) -> Option<FinancialYear> {
        let text = self.text(column, value, 20)?;
        match FinancialYear::parse(&text) {
            Ok(y) => Some(y),
            Err(e) => {
                self.fail(column, e.to_string());
                None
            }
        }
    }
}

/// The fund code and number in a reference written `<code>-<year>-<number>`, if it is one.
pub fn reference_parts(reference: &str, year: FinancialYear) -> Option<(String, i32)> {
    let suffix = format!("-{year}-");
    let at = reference.rfind(&suffix)?;
    let number: i32 = reference[at + suffix.len()..].parse().ok()?;
    // A number the service could go on from (it keeps counting past it).
    (1..=999_999).contains(&number).then(|| (reference[..at].to_string(), number))
}

/// The financial year written inside a reference such as `CDRG-2020-21-0007`.
fn year_in_reference(reference: &str) -> Option<FinancialYear> {
    let parts: Vec<&str> = reference.split('-').collect();
    parts.windows(2).rev().find_map(|w| FinancialYear::parse(&format!("{}-{}", w[0], w[1])).ok())
}

/// Undoes the CSV export's guard against spreadsheet formulas (a leading `'` before a cell the
/// export would guard).
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if crate::exports::formula_risk(rest) => rest,
        _ => cell,
    }
}

/// Reads a CSV with a header row; `fund_code` names the fund of rows whose reference does not.
pub fn csv_rows(bytes: &[u8], fund_code: Option<&str>) -> Result<(Vec<ImportRow>, Vec<RowError>), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the CSV is not UTF-8".to_string())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the CSV header cannot be read: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let index: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h.as_str(), i)).collect();
    for required in ["financial_year", "recipient", "programme", "title", "amount", "start_date", "end_date"] {
        if !index.contains_key(required) {
            return Err(format!("the CSV has no {required} column"));
        }
    }
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let n = i + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError { row: n, column: "(row)".into(), message: format!("cannot be read: {e}") });
                continue;
            }
        };
        let get = |column: &str| index.get(column).and_then(|i| record.get(*i)).map(unguard);
        let before = errors.len();
        let row = csv_row(&mut Row { n, errors: &mut errors }, &get, fund_code);
        if errors.len() == before {
            rows.extend(row);
        }
    }
    Ok((rows, errors))
}

fn csv_row<'a>(r: &mut Row<'_>, get: &dyn Fn(&str) -> Option<&'a str>, fund_code: Option<&str>) -> Option<ImportRow> {
    let year = r.year("financial_year", get("financial_year"));
    let reference = r.optional_text("reference", get("reference"), 100);
    let status = match get("status").map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(AwardStatus::Approved),
        Some(s) => AwardStatus::parse(s).or_else(|| {
            r.fail("status", "must be draft, approved, closed or withdrawn");
            None
        }),
    };
    let recipient = r.text("recipient", get("recipient"), 200);
    let org_identifier = r.optional_text("recipient_org_identifier", get("recipient_org_identifier"), 100);
    if org_identifier.as_deref().is_some_and(|o| !is_valid_org_identifier(o)) {
        r.fail("recipient_org_identifier", "must be a 360Giving organisation identifier such as GB-CHC-1234567");
    }
    let programme = r.text("programme", get("programme"), 200);
    let category = label(r, "category", get("category"), Category::parse);
    let theme = label(r, "plan_theme", get("plan_theme"), PlanTheme::parse);
    let title = r.text("title", get("title"), 200);
    let purpose = r.optional_text("purpose", get("purpose"), 4000);
    let conditions = r.optional_text("conditions", get("conditions"), 4000);
    let rationale = r.optional_text("crime_reduction_rationale", get("crime_reduction_rationale"), 4000);
    let amount = r.money("amount", get("amount"));
    let original = match get("original_amount").map(str::trim).filter(|v| !v.is_empty()) {
        None => amount,
        Some(v) => r.money("original_amount", Some(v)),
    };
    let requested = match get("amount_requested").map(str::trim).filter(|v| !v.is_empty()) {
        None => Some(None),
        Some(v) => r.money("amount_requested", Some(v)).map(Some),
    };
    let fund_budget = match get("fund_budget").map(str::trim).filter(|v| !v.is_empty()) {
        None => Some(None),
        Some(v) => r.money("fund_budget", Some(v)).map(Some),
    };
    let paid = r.money_or_zero("paid", get("paid"));
    let scheduled = r.money_or_zero("scheduled", get("scheduled"));
    let start = r.date("start_date", get("start_date"));
    let end = r.date("end_date", get("end_date"));
    let committed = matches!(status, Some(AwardStatus::Approved | AwardStatus::Closed));
    let decision = if committed {
        let reference = r.text("decision_ref", get("decision_ref"), 100);
        let day = r.past_date("awarded_on", get("awarded_on"));
        reference.zip(day)
    } else {
        None
    };
    let (year, status, recipient, programme, title, amount, original, requested, paid, scheduled, start, end) = (
        year?, status?, recipient?, programme?, title?, amount?, original?, requested?, paid?, scheduled?, start?, end?,
    );
    let fund_budget = fund_budget?;
    let fund_code = match reference.as_deref().and_then(|rf| reference_parts(rf, year)) {
        Some((code, _)) => code,
        None => match fund_code {
            Some(code) => code.to_string(),
            None => {
                r.fail("reference", format!("names no fund (<code>-{year}-<number>); give ?fund_code= for such rows"));
                return None;
            }
        },
    };
    if committed && decision.is_none() {
        return None;
    }
    let mut payments = Vec::new();
    let awarded_on = decision.as_ref().map(|(_, d)| *d);
    if paid > Money::ZERO {
        if !committed {
            r.fail("paid", "only an approved or closed award can have been paid");
            return None;
        }
        // One payment for the total, dated the award's end (or today, or its decision).
        let day = end.min(Utc::now().date_naive()).max(awarded_on.unwrap_or(end));
        payments.push(PaymentPlan {
            id: None,
            amount: paid,
            paid_on: Some(day),
            due_on: Some(day),
            reference: Some("IMPORTED".into()),
        });
    }
    if scheduled > Money::ZERO && status == AwardStatus::Approved {
        let due = end.max(awarded_on.unwrap_or(end));
        payments.push(PaymentPlan { id: None, amount: scheduled, paid_on: None, due_on: Some(due), reference: None });
    }
    Some(ImportRow {
        row: r.n,
        reference,
        fund_code,
        year,
        status,
        recipient: RecipientRef { name: recipient, org_identifier, id: None, place: Place::default() },
        programme: ProgrammeRef { name: programme, id: None, category, theme },
        purpose: purpose.unwrap_or_else(|| title.clone()),
        title,
        conditions: conditions.unwrap_or_else(|| NOT_RECORDED.to_string()),
        rationale: rationale.unwrap_or_else(|| NOT_RECORDED.to_string()),
        amount,
        original_amount: original,
        amount_requested: requested,
        start,
        end,
        decision,
        payments,
        repayments: Vec::new(),
        fund_budget,
    })
}

fn label<T>(r: &mut Row<'_>, column: &str, value: Option<&str>, parse: fn(&str) -> Option<T>) -> Option<T> {
    let text = value.map(str::trim).filter(|v| !v.is_empty())?;
    let parsed = parse(text);
    if parsed.is_none() {
        r.fail(column, format!("{text:?} is not one of the known names"));
    }
    parsed
}

/// Reads a 360Giving data package. `prefix` is our own 360Giving prefix: grant ids
/// `<prefix>-<reference>` keep their reference, and recipients and programmes named by our
/// own ids keep them.
pub fn giving_rows(
    package: &Value,
    prefix: &str,
    fund_code: Option<&str>,
) -> Result<(Vec<ImportRow>, Vec<RowError>), String> {
    let grants = package.get("grants").and_then(Value::as_array).ok_or("the package has no grants array")?;
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (i, grant) in grants.iter().enumerate() {
        let before = errors.len();
        let row = giving_row(&mut Row { n: i + 1, errors: &mut errors }, grant, prefix, fund_code);
        if errors.len() == before {
            rows.extend(row);
        }
    }
    Ok((rows, errors))
}

/// The recipient's postcode (`recipientOrganization/0/postalCode`) and the area of the first
/// beneficiary location, as our own export writes them; a malformed one is a row error.
fn place_of(r: &mut Row, grant: &Value) -> Place {
    use crate::domain::area;
    let postcode = string_at(grant, "/recipientOrganization/0/postalCode").and_then(|text| {
        let code = area::postcode(text);
        if code.is_none() {
            r.fail("recipientOrganization/0/postalCode", "must be a UK postcode such as PE1 1HF");
        }
        code
    });
    let (code, kind) =
        (string_at(grant, "/beneficiaryLocation/0/geoCode"), string_at(grant, "/beneficiaryLocation/0/geoCodeType"));
    let area = match (code, kind) {
        (Some(code), Some(kind)) if area::is_area_code(code) && area::is_geo_code_type(kind) => {
            let name = string_at(grant, "/beneficiaryLocation/0/name")
                .and_then(|n| crate::http::input::text("name", n, 1, 200).ok());
            Some((code.to_string(), kind.to_string(), name))
        }
        (None, None) => None,
        _ => {
            r.fail(
                "beneficiaryLocation/0",
                "must give an ONS geoCode with its geoCodeType from the 360Giving codelist",
            );
            None
        }
    };
    Place { postcode, area }
}

fn string_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn number_at(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn giving_row(r: &mut Row<'_>, grant: &Value, prefix: &str, fund_code: Option<&str>) -> Option<ImportRow> {
    if let Some(currency) = string_at(grant, "/currency").filter(|c| *c != "GBP") {
        r.fail("currency", format!("{currency} is not GBP: this ledger keeps pounds"));
    }
    let id = r.text("id", string_at(grant, "/id"), 200);
    let title = r.text("title", string_at(grant, "/title"), 200);
    let description = r.optional_text("description", string_at(grant, "/description"), 4000);
    let amount = r.money("amountAwarded", number_at(grant, "/amountAwarded").as_deref());
    let requested = match number_at(grant, "/amountAppliedFor") {
        None => Some(None),
        Some(v) => r.money("amountAppliedFor", Some(&v)).map(Some),
    };
    let award_date = r.past_date("awardDate", string_at(grant, "/awardDate"));
    let start = r.date("plannedDates/0/startDate", string_at(grant, "/plannedDates/0/startDate"));
    let end = r.date("plannedDates/0/endDate", string_at(grant, "/plannedDates/0/endDate"));
    let recipient_name = r.text("recipientOrganization/0/name", string_at(grant, "/recipientOrganization/0/name"), 200);
    let recipient_id = string_at(grant, "/recipientOrganization/0/id").unwrap_or("").trim().to_string();
    let programme_name = r.text("grantProgramme/0/title", string_at(grant, "/grantProgramme/0/title"), 200);
    let programme_id = string_at(grant, "/grantProgramme/0/code").and_then(|c| c.parse().ok()).map(ProgrammeId);
    let mut category = None;
    let mut theme = None;
    for c in grant.get("classifications").and_then(Value::as_array).into_iter().flatten() {
        match (string_at(c, "/vocabulary"), string_at(c, "/code")) {
            (Some("police-and-crime-plan-theme"), Some(code)) => theme = PlanTheme::parse(code),
            (Some("crime-and-disorder-reduction-grant-category"), Some(code)) => category = Category::parse(code),
            _ => {}
        }
    }
    let (id, title, amount, requested, award_date, start, end, recipient_name, programme_name) =
        (id?, title?, amount?, requested?, award_date?, start?, end?, recipient_name?, programme_name?);
    let own = format!("{prefix}-");
    let reference = id.strip_prefix(&own).filter(|rest| !rest.starts_with("recipient-")).map(str::to_string);
    let year = reference.as_deref().and_then(year_in_reference).unwrap_or_else(|| FinancialYear::containing(start));
    let fund_code = match reference.as_deref().and_then(|rf| reference_parts(rf, year)) {
        Some((code, _)) => code,
        None => match fund_code {
            Some(code) => code.to_string(),
            None => {
                r.fail("id", format!("is not {own}<code>-{year}-<number>; give ?fund_code= for such grants"));
                return None;
            }
        },
    };
    let own_recipient = format!("{prefix}-recipient-");
    let (org_identifier, recipient_uuid) = match recipient_id.strip_prefix(&own_recipient) {
        Some(uuid) => (None, uuid.parse().ok().map(RecipientId)),
        None if recipient_id.is_empty() || recipient_id.starts_with("360G-") => (None, None),
        None if is_valid_org_identifier(&recipient_id) => (Some(recipient_id.clone()), None),
        None => {
            r.fail("recipientOrganization/0/id", "is neither an organisation identifier nor a 360G- identifier");
            return None;
        }
    };
    let place = place_of(r, grant);
    let mut payments = Vec::new();
    let mut repayments = Vec::new();
    let mut paid = Money::ZERO;
    let mut repaid = Money::ZERO;
    for (t, transaction) in
        grant.get("disbursementTransaction").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let column = format!("disbursementTransaction/{t}");
        let text = number_at(transaction, "/value");
        // Our own export writes a repayment as a negative disbursement.
        let returned = text.as_deref().and_then(|v| v.trim_start().strip_prefix('-')).map(str::to_string);
        let value = r.money(&format!("{column}/value"), returned.as_deref().or(text.as_deref()));
        let day = r.past_date(&format!("{column}/transactionDate"), string_at(transaction, "/transactionDate"));
        let tx_id = string_at(transaction, "/id").unwrap_or("");
        if let (Some(value), Some(day)) = (value, day) {
            if day < award_date {
                r.fail(&format!("{column}/transactionDate"), format!("is before the awardDate {award_date}"));
                continue;
            }
            // The transaction's id, as far as it makes a reference (its last 100 characters,
            // no control characters); else `IMPORTED`.
            let tail = tx_id.chars().rev().take(100).collect::<Vec<_>>().into_iter().rev().collect::<String>();
            let reference = crate::http::input::text("reference", &tail, 1, 100).unwrap_or_else(|_| "IMPORTED".into());
            if returned.is_some() {
                repaid = repaid + value;
                let id = tx_id.rsplit_once("-repayment-").and_then(|(_, u)| u.parse().ok()).map(RepaymentId);
                repayments.push(RepaymentPlan { id, amount: value, received_on: day, reference });
                continue;
            }
            paid = paid + value;
            let payment_uuid = tx_id.rsplit_once("-payment-").and_then(|(_, u)| u.parse().ok()).map(PaymentId);
            payments.push(PaymentPlan {
                id: payment_uuid,
                amount: value,
                paid_on: Some(day),
                due_on: Some(day),
                reference: Some(reference),
            });
        }
    }
    if paid > amount {
        r.fail("disbursementTransaction", format!("pays {paid}, more than the {amount} awarded"));
        return None;
    }
    if repaid > paid {
        r.fail("disbursementTransaction", format!("repays {repaid}, more than the {paid} paid"));
        return None;
    }
    Some(ImportRow {
        row: r.n,
        reference,
        fund_code,
        year,
        status: AwardStatus::Approved,
        recipient: RecipientRef { name: recipient_name, org_identifier, id: recipient_uuid, place },
        programme: ProgrammeRef { name: programme_name, id: programme_id, category, theme },
        purpose: description.unwrap_or_else(|| title.clone()),
        title,
        conditions: NOT_RECORDED.to_string(),
        rationale: NOT_RECORDED.to_string(),
        amount,
        original_amount: amount,
        amount_requested: requested,
        start,
        end,
        decision: Some((format!("IMPORTED-{award_date}"), award_date)),
        payments,
        repayments,
        // A 360Giving package carries no budget: its funds must be in the ledger first.
        fund_budget: None,
    })
}

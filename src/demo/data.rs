//! The demo's records, as data: who receives, under which programmes, and each funded line's
//! amounts in 2019-20 and 2020-21. The loader walks these tables in order (the order gives the
//! references, `CDRG-2019-20-0001` onwards). Outside Links' amounts and the £1,300,000.00
//! budgets are the board report's; every other figure and postcode is illustrative, and says
//! so. Only registered bodies carry an org identifier, their real one; a partnership or service
//! with none is published under the office's own prefix.

use crate::domain::{Category, RecipientKind};

/// Appended to every text whose figure the reports do not give.
pub const ILLUSTRATIVE: &str = " (Demo data: this amount is illustrative.)";

/// Each year's budget.
pub const BUDGET: &str = "1300000.00";

/// The demo's years, in order: the first is entered line by line, the second rolled forward.
pub const YEARS: [&str; 2] = ["2019-20", "2020-21"];

/// A recipient: its name, kind, org identifier and postcode (360Giving's quality checks look for
/// both), and the ONS area it serves (code, type, name): its district, or the county.
pub struct Recipient {
    pub name: &'static str,
    pub kind: RecipientKind,
    pub district: Option<&'static str>,
    /// The body's real identifier in a register, or none.
    pub org_identifier: Option<&'static str>,
    pub postcode: &'static str,
    pub area: (&'static str, &'static str, &'static str),
}

const COUNTY: (&str, &str, &str) = ("E10000003", "CTY", "Cambridgeshire");

const fn recipient(
    name: &'static str,
    kind: RecipientKind,
    district: Option<&'static str>,
    org_identifier: Option<&'static str>,
    postcode: &'static str,
    area: (&'static str, &'static str, &'static str),
) -> Recipient {
    Recipient { name, kind, district, org_identifier, postcode, area }
}

use RecipientKind::{CommunitySafetyPartnership as Csp, LocalAuthority, Other, StatutoryPartnership as Statutory};

/// Every recipient, in the order they are recorded. A council carries its code in the register
/// of local authorities in England (`GB-LAE-…`); the partnerships, boards and services are not
/// registered bodies and carry none (an invented one would be published as if it were real). A
/// Community Safety Partnership covers one district, so the district's area code stands for it.
#[rustfmt::skip]
pub const RECIPIENTS: &[Recipient] = &[
    recipient("Cambridgeshire Youth Offending Service", Statutory, None, None, "PE28 4YE", COUNTY),
    recipient("Cambridgeshire and Peterborough Safeguarding Boards", Statutory, None, None, "PE28 4YE", COUNTY),
    recipient("Multi-Agency Public Protection Arrangements (MAPPA)", Statutory, None, None, "PE28 4YE", COUNTY),
    recipient(OUTSIDE_LINKS_SERVICE, Other, Some("Peterborough"), None, "PE1 1HF", ("E06000031", "UA", "Peterborough")),
    recipient("Cambridge City Council", LocalAuthority, Some("Cambridge"), Some("GB-LAE-CAB"), "CB2 1BY", ("E07000008", "NMD", "Cambridge")),
    recipient("Cambridge City Community Safety Partnership", Csp, Some("Cambridge City"), None, "CB2 1BY", ("E07000008", "NMD", "Cambridge")),
    recipient("East Cambridgeshire Community Safety Partnership", Csp, Some("East Cambridgeshire"), None, "CB7 4EY", ("E07000009", "NMD", "East Cambridgeshire")),
    recipient("Fenland Community Safety Partnership", Csp, Some("Fenland"), None, "PE15 8NQ", ("E07000010", "NMD", "Fenland")),
    recipient("Huntingdonshire Community Safety Partnership", Csp, Some("Huntingdonshire"), None, "PE29 3TN", ("E07000011", "NMD", "Huntingdonshire")),
    recipient("Safer Peterborough Partnership", Csp, Some("Peterborough"), None, "PE1 1HF", ("E06000031", "UA", "Peterborough")),
    recipient("South Cambridgeshire Community Safety Partnership", Csp, Some("South Cambridgeshire"), None, "CB23 6EA", ("E07000012", "NMD", "South Cambridgeshire")),
    recipient("Domestic Abuse Outreach Service (illustrative)", Other, None, None, "CB1 2BD", COUNTY),
    recipient("Restorative Justice Hub (illustrative)", Other, None, None, "PE1 1SB", COUNTY),
    recipient("Substance Misuse Diversion Service (illustrative)", Other, None, None, "PE29 3PA", COUNTY),
    recipient("Rural Crime Action Team (illustrative)", Other, None, None, "PE15 8AE", COUNTY),
    recipient("Road Safety Partnership (illustrative)", Other, None, None, "CB7 4HF", COUNTY),
    recipient("Community Safety Analysts (illustrative)", Other, None, None, "CB23 6HY", COUNTY),
];

/// The partnership whose officer the banner's recipient token acts for.
pub const TOKEN_CSP: &str = "Safer Peterborough Partnership";

/// A day as (year, month, day).
pub type Ymd = (i32, u32, u32);

/// The Police and Crime Plan 2017-20: its title, first and last day. It ran until the May 2021
/// elections (the end date is illustrative).
pub const PLAN: (&str, Ymd, Ymd) = ("Police and Crime Plan 2017-20", (2017, 4, 1), (2021, 5, 12));
/// The plan's four themes: code and title.
pub const THEMES: [(&str, &str); 4] = [
    ("victims", "Victims"),
    ("offenders", "Offenders"),
    ("communities", "Communities"),
    ("transformation", "Transformation"),
];

/// A programme: name, category, plan theme, description.
pub type Programme = (&'static str, Category, &'static str, &'static str);

const SERVICE: &str = "A commissioned service. (Demo data: this programme is illustrative.)";

/// Every programme, in the order they are recorded.
#[rustfmt::skip]
pub const PROGRAMMES: &[Programme] = &[
    ("Youth Offending Service contribution", Category::StatutoryContribution, "offenders", "Contribution made on behalf of the Constabulary to the Youth Offending Service."),
    ("Safeguarding Boards contribution", Category::StatutoryContribution, "victims", "Contribution made on behalf of the Constabulary to the Safeguarding Boards."),
    ("MAPPA contribution", Category::StatutoryContribution, "offenders", "Contribution made on behalf of the Constabulary to the Multi-Agency Public Protection Arrangements."),
    (CSP_ALLOCATION, Category::CspAllocation, "communities", "Funding to each Community Safety Partnership, linked to agreed delivery activities."),
    (OUTSIDE_LINKS, Category::CommissionedService, "offenders", "Peterborough's Outside Links service: support for people given out of court disposals."),
    (TRAILBLAZER, Category::CommissionedService, "offenders", "Early help to prevent homelessness (accommodation for offenders), a driver of offending and victimisation."),
    ("Domestic abuse outreach", Category::CommissionedService, "victims", SERVICE),
    ("Restorative justice", Category::CommissionedService, "victims", SERVICE),
    ("Substance misuse diversion", Category::CommissionedService, "offenders", SERVICE),
    ("Rural crime", Category::CommissionedService, "communities", SERVICE),
    ("Road safety", Category::CommissionedService, "communities", SERVICE),
    ("Community safety analysis", Category::CommissionedService, "transformation", SERVICE),
];

/// The programmes the demo's story turns on.
pub const CSP_ALLOCATION: &str = "Community Safety Partnership allocation";
pub const OUTSIDE_LINKS: &str = "Outside Links";
/// The Outside Links recipient, as the board report names it.
pub const OUTSIDE_LINKS_SERVICE: &str = "Peterborough's Outside Links service";
pub const TRAILBLAZER: &str = "Homelessness Prevention Trailblazer";

/// A funded line, awarded in both years: its programme and recipient, title (the year is added),
/// purpose (with [`ILLUSTRATIVE`] when `illustrative`), and each year's amount.
pub struct Line {
    pub programme: &'static str,
    pub recipient: &'static str,
    pub title: &'static str,
    pub purpose: &'static str,
    pub illustrative: bool,
    pub amounts: [&'static str; 2],
}

const fn line(
    programme: &'static str,
    recipient: &'static str,
    title: &'static str,
    purpose: &'static str,
    amounts: [&'static str; 2],
) -> Line {
    Line { programme, recipient, title, purpose, illustrative: true, amounts }
}

/// Every line of the allocation schedule, in its order.
#[rustfmt::skip]
pub const LINES: &[Line] = &[
    line("Youth Offending Service contribution", "Cambridgeshire Youth Offending Service", "Youth Offending Service contribution", "Statutory contribution to the Youth Offending Service.", ["205000.00", "210000.00"]),
    line("Safeguarding Boards contribution", "Cambridgeshire and Peterborough Safeguarding Boards", "Safeguarding Boards contribution", "Statutory contribution to the Safeguarding Boards.", ["72000.00", "74000.00"]),
    line("MAPPA contribution", "Multi-Agency Public Protection Arrangements (MAPPA)", "MAPPA contribution", "Statutory contribution to MAPPA.", ["18000.00", "18500.00"]),
    // The board report's own figures.
    Line { illustrative: false, ..line(OUTSIDE_LINKS, OUTSIDE_LINKS_SERVICE, "Outside Links", "Support for people given out of court disposals in Peterborough.", ["30000.00", "45000.00"]) },
    line(TRAILBLAZER, "Cambridge City Council", TRAILBLAZER, "Early help for people at risk of homelessness.", ["120000.00", "125000.00"]),
    line(CSP_ALLOCATION, "Cambridge City Community Safety Partnership", "Cambridge City Community Safety Partnership", "Agreed community safety delivery activities of the Cambridge City Community Safety Partnership.", ["60000.00", "62000.00"]),
    line(CSP_ALLOCATION, "East Cambridgeshire Community Safety Partnership", "East Cambridgeshire Community Safety Partnership", "Agreed community safety delivery activities of the East Cambridgeshire Community Safety Partnership.", ["40000.00", "41000.00"]),
    line(CSP_ALLOCATION, "Fenland Community Safety Partnership", "Fenland Community Safety Partnership", "Agreed community safety delivery activities of the Fenland Community Safety Partnership.", ["50000.00", "52000.00"]),
    line(CSP_ALLOCATION, "Huntingdonshire Community Safety Partnership", "Huntingdonshire Community Safety Partnership", "Agreed community safety delivery activities of the Huntingdonshire Community Safety Partnership.", ["55000.00", "56000.00"]),
    line(CSP_ALLOCATION, "Safer Peterborough Partnership", "Safer Peterborough Partnership", "Agreed community safety delivery activities of the Safer Peterborough Partnership.", ["90000.00", "93000.00"]),
    line(CSP_ALLOCATION, "South Cambridgeshire Community Safety Partnership", "South Cambridgeshire Community Safety Partnership", "Agreed community safety delivery activities of the South Cambridgeshire Community Safety Partnership.", ["45000.00", "46000.00"]),
    // Commissioned services that bring each year close to the reports' £1.3m.
    line("Domestic abuse outreach", "Domestic Abuse Outreach Service (illustrative)", "Domestic Abuse Outreach Service", "The commissioned service of the Domestic Abuse Outreach Service (illustrative).", ["150000.00", "152500.00"]),
    line("Restorative justice", "Restorative Justice Hub (illustrative)", "Restorative Justice Hub", "The commissioned service of the Restorative Justice Hub (illustrative).", ["110000.00", "110000.00"]),
    line("Substance misuse diversion", "Substance Misuse Diversion Service (illustrative)", "Substance Misuse Diversion Service", "The commissioned service of the Substance Misuse Diversion Service (illustrative).", ["95000.00", "90000.00"]),
    line("Rural crime", "Rural Crime Action Team (illustrative)", "Rural Crime Action Team", "The commissioned service of the Rural Crime Action Team (illustrative).", ["40000.00", "40000.00"]),
    line("Road safety", "Road Safety Partnership (illustrative)", "Road Safety Partnership", "The commissioned service of the Road Safety Partnership (illustrative).", ["60000.00", "50000.00"]),
    line("Community safety analysis", "Community Safety Analysts (illustrative)", "Community Safety Analysts", "The commissioned service of the Community Safety Analysts (illustrative).", ["25000.00", "20000.00"]),
];

/// Why a line's 2020-21 amount differs from 2019-20's: the board report's words for Outside
/// Links, an illustrative reason for the rest.
pub fn change_reason(programme: &str) -> String {
    if programme == OUTSIDE_LINKS {
        "To reflect the increased capacity required".to_string()
    } else {
        format!("In line with developing work.{ILLUSTRATIVE}")
    }
}

/// The texts every line's award carries.
pub const CONDITIONS: &str =
    "Quarterly monitoring returns; the money is spent only on the agreed purpose; unspent money is returned.";
pub const RATIONALE: &str =
    "Supports the Police and Crime Plan: fewer victims and less reoffending through partnership work.";

/// Each year's allocation schedule is approved under one decision dated the year's first day.
pub const SCHEDULE_DECIDED_BY: &str = "Police and Crime Commissioner";
pub const SCHEDULE_SUMMARY: &str = "The year's allocations to statutory partners, CSPs and commissioned services. (Demo data: the reference and date are illustrative.)";

//! The 360Giving data package as typed values: what the export writes and what the OpenAPI
//! document describes are the same structs, so a generated client reaches `grants` with real
//! types. Field names and shapes follow the 360Giving Data Standard 1.4 (the official schema is
//! in `standards/360giving/`; the export is tested against it).

use serde::Serialize;
use utoipa::ToSchema;

/// A 360Giving 1.4 data package of one financial year's approved and closed awards.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GrantPackage)]
pub struct Package {
    /// The standard's version.
    #[schema(example = "1.4")]
    pub version: String,
    /// e.g. "Office of the Police and Crime Commissioner crime and disorder reduction grants 2020-21".
    pub title: String,
    /// At least one grant.
    pub grants: Vec<Grant>,
}

/// One grant in 360Giving's shape.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GrantPackageGrant)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// `<prefix>-<reference>`: the publisher's registered prefix, then the award's reference.
    #[schema(example = "360G-opcc-example-CDRG-2020-21-0004")]
    pub id: String,
    pub title: String,
    /// The award's purpose.
    pub description: String,
    /// Always `GBP`.
    #[schema(example = "GBP")]
    pub currency: String,
    pub amount_awarded: Amount,
    /// What the recipient asked for, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amount_applied_for: Option<Amount>,
    /// Paid, net of repayments; present once anything was paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amount_disbursed: Option<Amount>,
    /// The date of the decision that approved it (its start date for older awards).
    pub award_date: chrono::NaiveDate,
    pub planned_dates: Vec<PlannedDates>,
    pub recipient_organization: Vec<Organisation>,
    pub funding_organization: Vec<Organisation>,
    pub grant_programme: Vec<Programme>,
    /// The Police and Crime Plan theme and the grant's category.
    pub classifications: Vec<Classification>,
    /// Where the grant's beneficiaries are: the area the recipient serves, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub beneficiary_location: Option<Vec<Location>>,
    /// Where this data comes from (`GRANTS_360_DATA_SOURCE`), when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uri")]
    pub data_source: Option<String>,
    /// Each payment (positive) and repayment (negative); present once anything was paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub disbursement_transaction: Option<Vec<Transaction>>,
    /// When the award last changed (RFC 3339, whole seconds, UTC).
    #[schema(example = "2020-04-01T09:30:00Z")]
    pub date_modified: String,
}

/// A grant's planned start and end.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GrantPackagePlannedDates)]
#[serde(rename_all = "camelCase")]
pub struct PlannedDates {
    pub start_date: chrono::NaiveDate,
    pub end_date: chrono::NaiveDate,
}

/// An organisation: the recipient or the funder.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GrantPackageOrganisation)]
#[serde(rename_all = "camelCase")]
pub struct Organisation {
    /// An org-id.guide identifier where known (e.g. `GB-CHC-1234567`), else `<prefix>-recipient-<id>`.
    pub id: String,
    pub name: String,
    /// From a `GB-CHC-`, `GB-SC-` or `GB-NIC-` identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub charity_number: Option<String>,
    /// From a `GB-COH-` identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub company_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub postal_code: Option<String>,
    /// The area the organisation serves, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location: Option<Vec<Location>>,
}

impl Organisation {
    /// An organisation known only by its id and name (the funder).
    pub fn named(id: String, name: String) -> Organisation {
        Organisation { id, name, charity_number: None, company_number: None, postal_code: None, location: None }
    }
}

/// A place, by its ONS geography code.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = GrantPackageLocation)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "Fenland")]
    pub name: Option<String>,
    /// An ONS (GSS) code.
    #[schema(example = "E07000010")]
    pub geo_code: String,
    /// From 360Giving's geoCodeType codelist (`CSP`, `NMD`, `UA`, `CTY`, `PFA`…).
    #[schema(example = "NMD")]
    pub geo_code_type: String,
    /// Always `GB`.
    #[schema(example = "GB")]
    pub country_code: String,
}

/// The programme a grant belongs to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GrantPackageProgramme)]
pub struct Programme {
    /// The programme's id in this service.
    pub code: String,
    pub title: String,
}

/// A classification of the grant under a named vocabulary.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GrantPackageClassification)]
pub struct Classification {
    /// `police-and-crime-plan-theme` or `crime-and-disorder-reduction-grant-category`.
    pub vocabulary: String,
    pub code: String,
    pub title: String,
}

/// Money moved: a payment, or (negative) a repayment.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GrantPackageTransaction)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub id: String,
    pub transaction_date: chrono::NaiveDate,
    pub value: Amount,
    /// Always `GBP`.
    pub currency: String,
}

/// An exact amount as a JSON number: written from the decimal's own digits (serde_json's
/// arbitrary precision), never through a binary float.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Amount(pub serde_json::Number);

impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some("An exact amount in pounds, as a JSON number with at most two decimals."))
            .examples([serde_json::json!(45000.5)])
            .into()
    }
}

impl ToSchema for Amount {
    fn name() -> std::borrow::Cow<'static, str> {
        "GrantPackageAmount".into()
    }
}

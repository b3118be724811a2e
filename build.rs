//! Tells utoipa that the typed ids (`domain::ids`) are UUIDs on the wire, so the OpenAPI
//! document describes an `AwardId` field exactly as it describes a `Uuid` one.

fn main() {
    let mut config = utoipa_config::Config::new();
    for id in [
        "FundId",
        "RecipientId",
        "ProgrammeId",
        "AwardId",
        "VariationId",
        "PaymentId",
        "ActivityId",
        "ReturnId",
        "DecisionId",
        "PlanId",
        "RepaymentId",
        "CarryForwardId",
        "IndicatorId",
        "MonitoringPlanId",
        "DocumentId",
        "ImportBatchId",
        "ReleaseId",
    ] {
        config = config.alias_for(id, "Uuid");
    }
    config.write_to_file();
    println!("cargo::rerun-if-changed=build.rs");
    // A migration added is embedded (diesel_migrations reads the folder at compile time).
    println!("cargo::rerun-if-changed=migrations");
}

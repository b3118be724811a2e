//! Typed ids: each resource's UUID is its own type, so a swapped argument does not compile.
//! They are UUIDs in JSON (`serde(transparent)`), in PostgreSQL (`uuid` columns), in paths
//! and in the OpenAPI document (`build.rs` aliases them to `Uuid` for utoipa).

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        pub struct $name(pub Uuid);

        // No `Default`: a default (nil) id would name nothing.
        #[allow(clippy::new_without_default)]
        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> $name {
                $name(Uuid::now_v7())
            }

            /// The UUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> $name {
                $name(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<$name, uuid::Error> {
                text.parse().map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <Uuid as diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::to_sql(&self.0, out)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                <Uuid as diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::from_sql(bytes).map($name)
            }
        }
    };
}

id_type!(
    /// A fund's id.
    FundId
);
id_type!(
    /// A recipient's id.
    RecipientId
);
id_type!(
    /// A programme's id.
    ProgrammeId
);
id_type!(
    /// An award's id.
    AwardId
);
id_type!(
    /// A variation's id.
    VariationId
);
id_type!(
    /// A payment's id.
    PaymentId
);
id_type!(
    /// A delivery activity's id.
    ActivityId
);
id_type!(
    /// An outcome indicator's id.
    IndicatorId
);
id_type!(
    /// A monitoring plan's id.
    MonitoringPlanId
);
id_type!(
    /// A delivery return's id.
    ReturnId
);
id_type!(
    /// A decision's id.
    DecisionId
);
id_type!(
    /// A Police and Crime Plan's id.
    PlanId
);
id_type!(
    /// A repayment's id: money a recipient returned.
    RepaymentId
);
id_type!(
    /// A carry-forward's id: budget moved to a later year.
    CarryForwardId
);
id_type!(
    /// An evidence document's id.
    DocumentId
);
id_type!(
    /// A release's id: what a closed award had not paid, back to its fund.
    ReleaseId
);
id_type!(
    /// A staged import's id: a file finance sent, waiting for a second person to confirm it.
    ImportBatchId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_uuid_in_json() {
        let id = AwardId::new();
        assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(id.0.to_string()));
        let back: AwardId = serde_json::from_value(serde_json::json!(id.0.to_string())).unwrap();
        assert_eq!(back, id);
    }
}

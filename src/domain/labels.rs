//! The closed sets of names the ledger uses: kinds, categories, themes and statuses.

/// Declares a string enum stored as `text` and written in `snake_case` on the wire.
macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and written name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Reads a stored name.
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use label_enum;

label_enum!(
    /// What kind of organisation a recipient is.
    RecipientKind {
        LocalAuthority => "local_authority",
        CommunitySafetyPartnership => "community_safety_partnership",
        StatutoryPartnership => "statutory_partnership",
        VoluntarySector => "voluntary_sector",
        Health => "health",
        Other => "other",
    }
);

label_enum!(
    /// The three kinds of money in the crime and disorder reduction grants pot.
    Category {
        /// Contributions on behalf of the Constabulary (YOS, Safeguarding Boards, MAPPA).
        StatutoryContribution => "statutory_contribution",
        /// Funding to a Community Safety Partnership, linked to agreed delivery activities.
        CspAllocation => "csp_allocation",
        /// Services commissioned by the PCC (Outside Links, Homelessness Prevention Trailblazer).
        CommissionedService => "commissioned_service",
    }
);

label_enum!(
    /// The four themes of the Police and Crime Plan.
    PlanTheme {
        Victims => "victims",
        Offenders => "offenders",
        Communities => "communities",
        Transformation => "transformation",
    }
);

label_enum!(
    /// Whether a fund still takes awards.
    FundStatus {
        Open => "open",
        Closed => "closed",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(*c));
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.as_str()));
        }
        assert_eq!(RecipientKind::parse("charity"), None);
    }
}

//! The closed sets of names the ledger uses: kinds, categories, themes and statuses.

/// Makes a type that is written as text (its `Display`) a PostgreSQL `text` column value, so
/// rows carry the typed value and a stored name the type does not know fails the read. The type
/// also needs `#[derive(diesel::AsExpression, diesel::FromSqlRow)]` and
/// `#[diesel(sql_type = diesel::sql_types::Text)]`. This is the one place `domain/` meets diesel:
/// the traits must be implemented where the type is declared for rows to hold it.
macro_rules! stored_as_text {
    ($name:ty, $parse:expr) => {
        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                use std::io::Write;
                write!(out, "{self}")?;
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = std::str::from_utf8(bytes.as_bytes())?;
                let parse: fn(&str) -> Option<$name> = $parse;
                parse(text).ok_or_else(|| format!("a stored {} cannot be {text:?}", stringify!($name)).into())
            }
        }
    };
}
pub(crate) use stored_as_text;

/// Declares a string enum stored as `text` and written in `snake_case` on the wire.
macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize, utoipa::ToSchema,
                 diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        $crate::domain::labels::stored_as_text!($name, $name::parse);

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

/// Each category as the office writes it, one grant's and a heading's over several: the one
/// table every output (360Giving, the pack, the chart) reads.
const CATEGORY_LABELS: [(Category, &str, &str); 3] = [
    (Category::StatutoryContribution, "Statutory contribution", "Statutory contributions"),
    (Category::CspAllocation, "CSP allocation", "CSP allocations"),
    (Category::CommissionedService, "Commissioned service", "Commissioned services"),
];

impl Category {
    fn labels(self) -> (&'static str, &'static str) {
        CATEGORY_LABELS.iter().find(|(c, _, _)| *c == self).map(|(_, one, many)| (*one, *many)).unwrap_or(("", ""))
    }

    /// One grant's category as the office writes it: `CSP allocation`.
    pub fn label(self) -> &'static str {
        self.labels().0
    }

    /// The category as a board paper's heading over several: `CSP allocations`.
    pub fn title(self) -> &'static str {
        self.labels().1
    }
}

/// The words the office writes in capitals wherever a code becomes words.
const ACRONYMS: [&str; 9] = ["asb", "csp", "cdrp", "mappa", "nhs", "opcc", "pcc", "vawg", "yos"];

/// A code as words, as the office writes them, for a code no table names (a theme of a plan
/// that gives no title): the first word capitalised, acronyms kept (`csp_support` →
/// `CSP support`, `victims` → `Victims`).
pub fn words(code: &str) -> String {
    code.split('_')
        .filter(|w| !w.is_empty())
        .enumerate()
        .map(|(i, word)| {
            if ACRONYMS.contains(&word) {
                word.to_uppercase()
            } else if i == 0 {
                let mut chars = word.chars();
                chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

label_enum!(
    /// How an outcome indicator stands on its latest reported figure.
    Progress {
        /// In year: at or past the period's target (or, with none, moved the right way).
        OnTrack => "on_track",
        /// In year: short of the period's target (or, with none, not moved the right way).
        Behind => "behind",
        /// At the year's end: the year's target reached.
        Met => "met",
        /// At the year's end: the year's target not reached.
        NotMet => "not_met",
    }
);

label_enum!(
    /// Where a staged import stands.
    ImportStatus {
        /// Planned and kept; nothing of it written to the ledger.
        Staged => "staged",
        /// Confirmed by a second person; its records written.
        Confirmed => "confirmed",
    }
);

label_enum!(
    /// Whether a fund still takes awards.
    FundStatus {
        Open => "open",
        Closed => "closed",
    }
);

label_enum!(
    /// Where a payment stands.
    PaymentStatus {
        /// Due on a date, not yet made; counts against the award.
        Scheduled => "scheduled",
        /// Made; never edited or deleted.
        Paid => "paid",
        /// Will not be made; counts for nothing.
        Cancelled => "cancelled",
    }
);

label_enum!(
    /// Where a variation stands.
    VariationStatus {
        /// Awaiting an approver's decision; at most one per award.
        Proposed => "proposed",
        /// Approved: the award's amount is now the variation's amount.
        Approved => "approved",
        /// Rejected: the award is unchanged.
        Rejected => "rejected",
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

    #[test]
    fn each_category_has_one_label_and_one_heading_with_acronyms_kept() {
        let seen: Vec<_> = Category::ALL.iter().map(|c| (c.label(), c.title())).collect();
        assert_eq!(
            seen,
            [
                ("Statutory contribution", "Statutory contributions"),
                ("CSP allocation", "CSP allocations"),
                ("Commissioned service", "Commissioned services")
            ]
        );
    }

    #[test]
    fn a_code_becomes_words_with_its_acronyms_in_capitals() {
        for (code, words_of) in [
            ("victims", "Victims"),
            ("csp_allocation", "CSP allocation"),
            ("reducing_yos_and_mappa_caseloads", "Reducing YOS and MAPPA caseloads"),
            ("opcc", "OPCC"),
            ("a__b", "A b"),
            ("", ""),
        ] {
            assert_eq!(words(code), words_of, "{code}");
        }
    }
}

//! Themes of a Police and Crime Plan: data, not a fixed list. Each plan (a record) names its
//! own themes by code; a new plan follows each PCC election.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A theme's code within its plan, e.g. `victims`: 1–40 of a-z, 0-9 and `_`, starting with a
/// letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct PlanTheme(String);

/// The themes of the Police and Crime Plan 2017-20, which programmes made before plans were
/// records use, and which a programme may name while no recorded plan is in force.
pub const PLAN_2017_20: [&str; 4] = ["victims", "offenders", "communities", "transformation"];

/// Why a text is not a theme code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a theme code such as \"victims\": 1-40 of a-z, 0-9 and _, starting with a letter")]
pub struct PlanThemeError;

impl PlanTheme {
    /// Reads a code.
    pub fn parse(text: &str) -> Option<PlanTheme> {
        let ok = (1..=40).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        ok.then(|| PlanTheme(text.to_string()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The theme's title among `titles` (code, title: a year's plans' themes), else its code as
    /// words ([`super::labels::words`]): what every output shows for it.
    pub fn title_in(&self, titles: &[(String, String)]) -> String {
        match titles.iter().find(|(code, _)| code == &self.0) {
            Some((_, title)) => title.clone(),
            None => super::labels::words(&self.0),
        }
    }

    /// True for a theme of the Police and Crime Plan 2017-20.
    pub fn is_of_plan_2017_20(&self) -> bool {
        PLAN_2017_20.contains(&self.0.as_str())
    }
}

super::labels::stored_as_text!(PlanTheme, PlanTheme::parse);

impl fmt::Display for PlanTheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PlanTheme {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PlanTheme {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PlanTheme::parse(&text).ok_or_else(|| serde::de::Error::custom(PlanThemeError))
    }
}

impl utoipa::PartialSchema for PlanTheme {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[a-z][a-z0-9_]{0,39}$"))
            .description(Some("A theme of a Police and Crime Plan, by its code within the plan (`GET /plans`)."))
            .examples([serde_json::json!("offenders")])
            .into()
    }
}

impl utoipa::ToSchema for PlanTheme {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_lower_case_words() {
        for good in ["victims", "keeping_people_safe", "a1"] {
            assert_eq!(PlanTheme::parse(good).map(|t| t.to_string()).as_deref(), Some(good));
        }
        for bad in ["", "Victims", "1st", "_x", "a-b", "a b", &"x".repeat(41)] {
            assert_eq!(PlanTheme::parse(bad), None, "{bad}");
        }
        assert!(PlanTheme::parse("offenders").unwrap().is_of_plan_2017_20());
        assert!(!PlanTheme::parse("keeping_people_safe").unwrap().is_of_plan_2017_20());
    }
}

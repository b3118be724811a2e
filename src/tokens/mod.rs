//! Bearer tokens: which issuers are trusted (this service's own key, or the OpenID Connect
//! providers of [`oidc`]), and the rules every token meets before its claims are believed: no
//! `crit`, the required claims, a bounded lifetime, no control characters (401, never 500).
//! docs/CONFIGURATION.md lists them.

pub mod oidc;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::{JwtSettings, OidcIssuer};
use crate::domain::ids::RecipientId;
use crate::domain::role::Role;

/// The longest token accepted; anything longer is refused before it is parsed.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Seconds of clock difference allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY: u64 = 30;

/// Who a verified token speaks for.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The token's `sub`, after the issuer's `subject_prefix`.
    pub sub: String,
    /// The display name, if the token gives one.
    pub name: Option<String>,
    /// The roles this service knows, as the issuer's mapping grants them.
    pub roles: Vec<Role>,
    /// For a recipient's officer, their organisation's recipient record.
    pub recipient_id: Option<RecipientId>,
}

/// Why a token was refused: safe to show its bearer (it echoes nothing of the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl Refused {
    fn new(reason: impl Into<String>) -> Refused {
        Refused(reason.into())
    }
}

/// Checks tokens against this service's own key and its OpenID Connect providers.
pub struct Verifier {
    local: Option<JwtSettings>,
    providers: Vec<Arc<oidc::Provider>>,
    max_ttl: Duration,
}

/// What a check without network access concluded.
enum Checked {
    Done(Result<Identity, Refused>),
    /// The provider's keys must be fetched (an unknown `kid`, or keys past their lifetime).
    NeedsKeys(Arc<oidc::Provider>),
}

impl Verifier {
    /// A verifier trusting `local` (if any) and `issuers`, with tokens living at most `max_ttl`.
    pub fn new(local: Option<JwtSettings>, issuers: Vec<OidcIssuer>, max_ttl: Duration) -> Verifier {
        let providers = issuers.into_iter().map(|issuer| Arc::new(oidc::Provider::new(issuer))).collect();
        Verifier { local, providers, max_ttl }
    }

    /// True when some token could pass: a key or a provider is configured.
    pub fn is_configured(&self) -> bool {
        self.local.is_some() || !self.providers.is_empty()
    }

    /// Checks `token`, fetching a provider's keys first when it needs them (at most once per
    /// the provider's `min_refresh_secs`).
    pub async fn verify(&self, token: &str) -> Result<Identity, Refused> {
        match self.check(token, false) {
            Checked::Done(result) => result,
            Checked::NeedsKeys(provider) => {
                provider.refresh().await;
                match self.check(token, true) {
                    Checked::Done(result) => result,
                    Checked::NeedsKeys(_) => Err(Refused::new("the bearer token is not valid: unknown signing key")),
                }
            }
        }
    }

    /// Checks `token` with the keys at hand, fetching none (a token of a provider whose keys
    /// are not fetched yet is refused).
    pub fn verify_now(&self, token: &str) -> Result<Identity, Refused> {
        match self.check(token, true) {
            Checked::Done(result) => result,
            Checked::NeedsKeys(_) => Err(Refused::new("the bearer token is not valid: unknown signing key")),
        }
    }

    /// Checks `token` with the keys at hand. `stale_ok` accepts a provider's keys past their
    /// lifetime (after a refresh was tried: a provider that cannot be reached keeps its users
    /// signed in on the keys it last published).
    fn check(&self, token: &str, stale_ok: bool) -> Checked {
        if token.len() > MAX_TOKEN_LEN {
            return Checked::Done(Err(Refused::new("the bearer token is too long")));
        }
        let header = match jsonwebtoken::decode_header(token) {
            Ok(header) => header,
            Err(_) => return Checked::Done(Err(Refused::new("the bearer token is not valid: malformed token"))),
        };
        if header.crit.is_some() {
            return Checked::Done(Err(Refused::new(
                "the bearer token is not valid: it names critical header parameters (crit) this service does not understand",
            )));
        }
        let issuer = jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token)
            .ok()
            .and_then(|claims| claims.get("iss").and_then(Value::as_str).map(str::to_string));
        let provider = issuer.as_deref().and_then(|iss| self.providers.iter().find(|p| p.config.issuer == iss));
        if let Some(provider) = provider {
            let Some(kid) = header.kid.as_deref() else {
                return Checked::Done(Err(Refused::new(
                    "the bearer token is not valid: it names no signing key (kid)",
                )));
            };
            let key = match provider.key(kid, header.alg, stale_ok) {
                oidc::Lookup::Found(key) => key,
                oidc::Lookup::Refused(reason) => return Checked::Done(Err(Refused(reason))),
                oidc::Lookup::Fetch => return Checked::NeedsKeys(provider.clone()),
            };
            let result = self
                .decode(token, &key, header.alg, &provider.config.issuer, &provider.config.audience)
                .and_then(|claims| provider.identity(&claims));
            return Checked::Done(result);
        }
        let Some(local) = &self.local else {
            let reason = if self.providers.is_empty() {
                "this service has no token key configured"
            } else {
                "the bearer token is not valid: its issuer is not trusted"
            };
            return Checked::Done(Err(Refused::new(reason)));
        };
        let result = self
            .decode(token, &local.decoding_key, local.algorithm, &local.issuer, &local.audience)
            .and_then(|claims| local_identity(&claims));
        Checked::Done(result)
    }

    /// The token's claims once its signature, `exp`, `nbf`, `iss` and `aud` hold, and the
    /// rules every token meets (module docs).
    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithm: Algorithm,
        issuer: &str,
        audience: &str,
    ) -> Result<Map<String, Value>, Refused> {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| Refused(format!("the bearer token is not valid: {}", describe(&e))))?
            .claims;
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        lifetime_rules(&claims, now, self.max_ttl.as_secs())?;
        Ok(claims)
    }
}

/// `iat` not in the future, and no lifetime beyond `max_ttl` seconds from now or from `iat`.
fn lifetime_rules(claims: &Map<String, Value>, now: u64, max_ttl: u64) -> Result<(), Refused> {
    let exp = claims.get("exp").and_then(Value::as_u64).ok_or_else(|| Refused::new("the token's exp is not a time"))?;
    let iat = match claims.get("iat") {
        None => None,
        Some(value) => Some(value.as_u64().ok_or_else(|| Refused::new("the token's iat is not a time"))?),
    };
    if iat.is_some_and(|iat| iat > now.saturating_add(LEEWAY)) {
        return Err(Refused::new("the bearer token is not valid: it was issued in the future (iat)"));
    }
    let limit = max_ttl.saturating_add(LEEWAY);
    let too_long = exp.saturating_sub(now) > limit || iat.is_some_and(|iat| exp.saturating_sub(iat) > limit);
    if too_long {
        return Err(Refused(format!(
            "the bearer token is not valid: it lives longer than this service allows ({} s)",
            max_ttl
        )));
    }
    Ok(())
}

/// The claim `name` as text free of control and bidirectional-formatting characters; `None`
/// when absent or not a string.
pub fn clean_text(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, Refused> {
    match claims.get(name).and_then(Value::as_str) {
        None => Ok(None),
        Some(text) if text.chars().any(is_unsafe_char) => {
            Err(Refused(format!("the token's {name} holds control or formatting characters")))
        }
        Some(text) => Ok(Some(text.to_string())),
    }
}

/// Characters a claim may not hold: controls (NUL, newline, escape…) and the bidirectional
/// overrides and isolates that make text display other than it reads.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// `sub` checked: present, not blank, at most 200 characters, clean.
pub fn subject(claims: &Map<String, Value>, prefix: &str) -> Result<String, Refused> {
    let sub = clean_text(claims, "sub")?.ok_or_else(|| Refused::new("the token's sub is missing"))?;
    if sub.trim().is_empty() || sub.chars().count() > 200 {
        return Err(Refused::new("the token's sub is empty or too long"));
    }
    Ok(format!("{prefix}{sub}"))
}

/// A display name: blank is none, and at most 200 characters are kept.
pub fn display_name(name: Option<String>) -> Option<String> {
    name.filter(|n| !n.trim().is_empty()).map(|n| n.chars().take(200).collect())
}

/// The strings a claim holds: one string, or the strings of an array.
pub fn strings(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// A token of this service's own key: `roles`, `recipient_id`, `name` as DESIGN §4 names them.
fn local_identity(claims: &Map<String, Value>) -> Result<Identity, Refused> {
    let sub = subject(claims, "")?;
    let name = display_name(clean_text(claims, "name")?);
    let roles: Vec<Role> = strings(claims, "roles").iter().filter_map(|r| Role::from_claim(r)).collect();
    let recipient_id = match clean_text(claims, "recipient_id")? {
        None => None,
        Some(text) => Some(
            text.parse::<uuid::Uuid>()
                .map(RecipientId::from)
                .map_err(|_| Refused::new("the token's recipient_id is not a recipient id"))?,
        ),
    };
    finish(sub, name, roles, recipient_id)
}

/// The identity, once a recipient's officer is known to be bound to a recipient.
pub fn finish(
    sub: String,
    name: Option<String>,
    mut roles: Vec<Role>,
    recipient_id: Option<RecipientId>,
) -> Result<Identity, Refused> {
    roles.sort_by_key(|r| r.as_str());
    roles.dedup();
    if roles.contains(&Role::Recipient) && recipient_id.is_none() {
        return Err(Refused::new("a recipient token must carry recipient_id"));
    }
    Ok(Identity { sub, name, roles, recipient_id })
}

/// Says why a token failed without echoing any of it.
fn describe(error: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match error.kind() {
        K::ExpiredSignature => "it has expired",
        K::InvalidIssuer => "wrong issuer",
        K::InvalidAudience => "wrong audience",
        K::InvalidSignature => "bad signature",
        K::InvalidAlgorithm | K::InvalidAlgorithmName => "algorithm not allowed",
        K::MissingRequiredClaim(_) => "a required claim is missing",
        K::ImmatureSignature => "not valid yet (nbf)",
        K::InvalidClaimFormat(_) => "a claim has the wrong type",
        _ => "malformed token",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn local() -> Verifier {
        let jwt = JwtSettings::from_secret(b"0123456789abcdef0123456789abcdef", "grants".into(), "grants-api".into());
        Verifier::new(Some(jwt), Vec::new(), Duration::from_secs(12 * 3600))
    }

    /// A valid token exactly `len` characters long (its name padded; its `kid` shifts the
    /// length by the one character base64 cannot).
    fn token_of_length(len: usize) -> String {
        let key = jsonwebtoken::EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let now = chrono::Utc::now().timestamp();
        for kid in ["", "k", "kk", "kkk"] {
            for pad in 0..len {
                let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
                header.kid = (!kid.is_empty()).then(|| kid.to_string());
                let claims = serde_json::json!({"sub": "s", "iss": "grants", "aud": "grants-api", "exp": now + 600,
                                                "name": "n".repeat(pad), "roles": ["auditor"]});
                let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
                if token.len() == len {
                    return token;
                }
                if token.len() > len {
                    break;
                }
            }
        }
        panic!("no token of length {len}")
    }

    #[test]
    fn a_token_of_exactly_the_maximum_length_is_read_and_one_longer_is_not() {
        let verifier = local();
        let longest = token_of_length(MAX_TOKEN_LEN);
        assert_eq!(verifier.verify_now(&longest).map(|i| i.sub), Ok("s".to_string()));
        let over = token_of_length(MAX_TOKEN_LEN + 1);
        assert_eq!(verifier.verify_now(&over).unwrap_err().0, "the bearer token is too long");
        assert!(verifier.verify_now(&token_of_length(2000)).is_ok(), "a 2,000-character token is fine");
    }

    fn signed(claims: Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    #[test]
    fn refusals_say_why_without_echoing_the_token() {
        let verifier = local();
        let now = chrono::Utc::now().timestamp();
        let base = serde_json::json!({"sub": "s", "iss": "grants", "aud": "grants-api", "exp": now + 600});
        let with = |key: &str, value: Value| {
            let mut c = base.clone();
            c[key] = value;
            verifier.verify_now(&signed(c)).map(|i| i.sub).map_err(|e| e.0)
        };
        assert_eq!(with("exp", (now - 120).into()).unwrap_err(), "the bearer token is not valid: it has expired");
        assert_eq!(with("iss", "other".into()).unwrap_err(), "the bearer token is not valid: wrong issuer");
        assert_eq!(with("aud", "other".into()).unwrap_err(), "the bearer token is not valid: wrong audience");
        assert_eq!(with("nbf", (now + 600).into()).unwrap_err(), "the bearer token is not valid: not valid yet (nbf)");
        assert_eq!(
            with("exp", "soon".into()).unwrap_err(),
            "the bearer token is not valid: a required claim is missing"
        );
        assert_eq!(
            with("nbf", "soon".into()).unwrap_err(),
            "the bearer token is not valid: a claim has the wrong type"
        );
        let tampered = signed(base.clone()).replace('.', ".x");
        assert!(verifier.verify_now(&tampered).unwrap_err().0.starts_with("the bearer token is not valid: "));
        let other_key = jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-0123");
        let forged = jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &base, &other_key).unwrap();
        assert_eq!(verifier.verify_now(&forged).unwrap_err().0, "the bearer token is not valid: bad signature");
        let key = jsonwebtoken::EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let hs384 = jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS384), &base, &key).unwrap();
        assert_eq!(verifier.verify_now(&hs384).unwrap_err().0, "the bearer token is not valid: algorithm not allowed");
        // sub: present, not blank, at most 200 characters.
        assert_eq!(with("sub", "s".repeat(200).into()), Ok("s".repeat(200)));
        assert_eq!(with("sub", "é".repeat(200).into()), Ok("é".repeat(200)), "characters, not bytes");
        assert_eq!(with("sub", "s".repeat(201).into()).unwrap_err(), "the token's sub is empty or too long");
        assert_eq!(with("sub", "   ".into()).unwrap_err(), "the token's sub is empty or too long");
        assert_eq!(with("sub", "".into()).unwrap_err(), "the token's sub is empty or too long");
    }

    #[test]
    fn a_verifier_is_configured_by_a_key_or_a_provider_and_refuses_everything_without_either() {
        assert!(local().is_configured());
        let none = Verifier::new(None, Vec::new(), Duration::from_secs(3600));
        assert!(!none.is_configured());
        let token = token_of_length(400);
        assert_eq!(none.verify_now(&token).unwrap_err().0, "this service has no token key configured");
        let provider: OidcIssuer =
            serde_json::from_value(serde_json::json!({"issuer": "https://idp.example", "audience": "a"})).unwrap();
        let only_oidc = Verifier::new(None, vec![provider], Duration::from_secs(3600));
        assert!(only_oidc.is_configured());
        assert!(only_oidc.verify_now(&token).unwrap_err().0.contains("issuer is not trusted"));
    }

    #[test]
    fn lifetimes_beyond_the_maximum_and_future_iat_are_refused() {
        let now = 1_800_000_000;
        let ok = claims(serde_json::json!({"exp": now + 3600, "iat": now}));
        assert_eq!(lifetime_rules(&ok, now, 12 * 3600), Ok(()));
        let at_limit = claims(serde_json::json!({"exp": now + 12 * 3600 + LEEWAY}));
        assert_eq!(lifetime_rules(&at_limit, now, 12 * 3600), Ok(()));
        let long = claims(serde_json::json!({"exp": now + 12 * 3600 + LEEWAY + 1}));
        assert!(lifetime_rules(&long, now, 12 * 3600).is_err());
        let forever = claims(serde_json::json!({"exp": u64::MAX}));
        assert!(lifetime_rules(&forever, now, 12 * 3600).is_err());
        // Issued long ago with a long life, still inside the limit from now: its iat tells.
        let old = claims(serde_json::json!({"exp": now + 3600, "iat": now - 13 * 3600}));
        assert!(lifetime_rules(&old, now, 12 * 3600).is_err());
        let longest_from_iat = claims(serde_json::json!({"exp": now + 3600, "iat": now + 3600 - 12 * 3600 - LEEWAY}));
        assert_eq!(lifetime_rules(&longest_from_iat, now, 12 * 3600), Ok(()), "exactly the limit from iat");
        let future = claims(serde_json::json!({"exp": now + 3600, "iat": now + LEEWAY + 1}));
        assert!(lifetime_rules(&future, now, 12 * 3600).unwrap_err().0.contains("future"));
        let leeway = claims(serde_json::json!({"exp": now + 3600, "iat": now + LEEWAY}));
        assert_eq!(lifetime_rules(&leeway, now, 12 * 3600), Ok(()));
    }

    #[test]
    fn claims_with_control_or_bidi_characters_are_refused() {
        for bad in ["a\u{0}b", "line\nbreak", "\u{1b}[31mred", "evil\u{202E}txt.exe", "x\u{2066}y"] {
            let c = claims(serde_json::json!({ "name": bad }));
            assert!(clean_text(&c, "name").is_err(), "{bad:?}");
        }
        let c = claims(serde_json::json!({ "name": "Zoë O'Brien <script>" }));
        assert_eq!(clean_text(&c, "name").unwrap().as_deref(), Some("Zoë O'Brien <script>"));
    }

    #[test]
    fn a_claim_is_read_as_a_string_or_an_array() {
        let c = claims(serde_json::json!({ "a": "finance", "b": ["finance", 3, "auditor"], "c": 1 }));
        assert_eq!(strings(&c, "a"), vec!["finance"]);
        assert_eq!(strings(&c, "b"), vec!["finance", "auditor"]);
        assert!(strings(&c, "c").is_empty() && strings(&c, "missing").is_empty());
    }
}

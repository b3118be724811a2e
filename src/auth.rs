//! Bearer JWT verification, roles, and the authenticated-user extractor.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::JwtSettings;
use crate::domain::ids::RecipientId;
use crate::domain::labels::label_enum;
use crate::error::ApiError;
use crate::state::AppState;

label_enum!(
    /// What a token's holder may do (DESIGN §4).
    Role {
        /// Manages funds, recipients and programmes; reads everything.
        Admin => "admin",
        /// Records awards, variations and payments; reviews returns; reads everything.
        Finance => "finance",
        /// Approves awards and variations, never their own; reads everything.
        Approver => "approver",
        /// A funded organisation's officer (a CSP, a council, a charity): their own recipient's
        /// data only. Tokens may still say `csp`, the name this role had first.
        Recipient => "recipient",
        /// Reads everything, including the audit trail; writes nothing.
        Auditor => "auditor",
    }
);

impl Role {
    /// Reads a role as a token or the command line names it: the label, or `csp`, the first
    /// name of [`Role::Recipient`].
    pub fn from_claim(name: &str) -> Option<Role> {
        match name {
            "csp" => Some(Role::Recipient),
            other => Role::parse(other),
        }
    }
}

/// The claims this service reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's display name, for the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role names; names this service does not know are ignored.
    #[serde(default)]
    pub roles: Vec<String>,
    /// For `recipient` (or `csp`): the recipient record of the user's organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<RecipientId>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

/// Who is making a request: a verified token's subject and roles.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The token's `sub`.
    pub sub: String,
    /// The token's `name`, if any.
    pub name: Option<String>,
    /// The roles this service knows.
    pub roles: Vec<Role>,
    /// For a CSP officer, their partnership's recipient id.
    pub recipient_id: Option<RecipientId>,
}

/// The longest token accepted; anything longer is refused before it is parsed.
const MAX_TOKEN_LEN: usize = 8 * 1024;

impl AuthUser {
    /// True when the user holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// `Ok` when the user holds one of `roles`, else 403.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!("this needs one of the roles: {}", names.join(", "))))
        }
    }

    /// True for roles that read every record (all but `recipient`).
    pub fn reads_everything(&self) -> bool {
        self.roles.iter().any(|r| *r != Role::Recipient)
    }

    /// The recipient a CSP officer is confined to; `None` for users who read everything.
    /// Errs with 403 for a user with no role that reads.
    pub fn read_scope(&self) -> Result<Option<RecipientId>, ApiError> {
        if self.reads_everything() {
            Ok(None)
        } else if let (true, Some(id)) = (self.has(Role::Recipient), self.recipient_id) {
            Ok(Some(id))
        } else {
            Err(ApiError::Forbidden("this token has no role that may read this".to_string()))
        }
    }

    /// Checks a token and returns its user.
    pub fn verify(token: &str, jwt: &JwtSettings) -> Result<AuthUser, ApiError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(ApiError::Unauthorized("the bearer token is too long".to_string()));
        }
        let mut validation = Validation::new(jwt.algorithm);
        validation.leeway = 30;
        validation.set_issuer(&[&jwt.issuer]);
        validation.set_audience(&[&jwt.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &jwt.decoding_key, &validation)
            .map_err(|e| ApiError::Unauthorized(format!("the bearer token is not valid: {}", describe(&e))))?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() || claims.sub.len() > 200 {
            return Err(ApiError::Unauthorized("the token's sub is empty or too long".to_string()));
        }
        let roles: Vec<Role> = claims.roles.iter().filter_map(|r| Role::from_claim(r)).collect();
        if roles.contains(&Role::Recipient) && claims.recipient_id.is_none() {
            return Err(ApiError::Unauthorized("a recipient token must carry recipient_id".to_string()));
        }
        Ok(AuthUser {
            sub: claims.sub,
            name: claims.name.filter(|n| !n.trim().is_empty()).map(|n| n.chars().take(200).collect()),
            roles,
            recipient_id: claims.recipient_id,
        })
    }
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
        K::ImmatureSignature => "not valid yet",
        _ => "malformed token",
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthUser, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    // The rate limiter has already verified this request's token.
    if let Some(user) = req.extensions().get::<AuthUser>() {
        return Ok(user.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".to_string()))?;
    let jwt = state
        .jwt
        .as_ref()
        .ok_or_else(|| ApiError::Unauthorized("this service has no token key configured".to_string()))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("this needs an Authorization: Bearer token".to_string()))?;
    let value =
        value.to_str().map_err(|_| ApiError::Unauthorized("the Authorization header is not readable".to_string()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be Bearer <token>".to_string()))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized("the Authorization header must be Bearer <token>".to_string()));
    }
    AuthUser::verify(token.trim(), jwt)
}

/// What a new token says.
pub struct TokenRequest<'a> {
    /// The user id.
    pub sub: &'a str,
    /// The display name.
    pub name: Option<&'a str>,
    /// The roles.
    pub roles: &'a [Role],
    /// For `csp`, the recipient.
    pub recipient_id: Option<RecipientId>,
    /// How long it lasts.
    pub ttl: std::time::Duration,
}

/// Signs a token with the configured shared secret.
pub fn mint(jwt: &JwtSettings, request: &TokenRequest<'_>) -> Result<String, String> {
    let key = jwt.encoding_key.as_ref().ok_or("tokens can only be minted with GRANTS_JWT_SECRET (HS256)")?;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let claims = Claims {
        sub: request.sub.to_string(),
        name: request.name.map(str::to_string),
        roles: request.roles.iter().map(|r| r.as_str().to_string()).collect(),
        recipient_id: request.recipient_id,
        exp: now + request.ttl.as_secs(),
        iss: jwt.issuer.clone(),
        aud: jwt.audience.clone(),
    };
    jsonwebtoken::encode(&Header::new(jwt.algorithm), &claims, key).map_err(|e| format!("cannot sign the token: {e}"))
}

/// Reads a duration such as `8h`, `30m`, `45s` or `7d`.
pub fn parse_ttl(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 8h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{text:?} is not a duration such as 8h")),
    };
    Ok(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> JwtSettings {
        JwtSettings::from_secret(b"0123456789abcdef0123456789abcdef", "grants".into(), "grants-api".into())
    }

    #[test]
    fn a_minted_token_verifies_and_keeps_its_claims() {
        let jwt = settings();
        let rid = RecipientId::new();
        let token = mint(
            &jwt,
            &TokenRequest {
                sub: "carol",
                name: Some("Carol"),
                roles: &[Role::Recipient],
                recipient_id: Some(rid),
                ttl: parse_ttl("1h").unwrap(),
            },
        )
        .unwrap();
        let user = AuthUser::verify(&token, &jwt).unwrap();
        assert_eq!(user.sub, "carol");
        assert_eq!(user.roles, vec![Role::Recipient]);
        assert_eq!(user.read_scope().unwrap(), Some(rid));
    }

    #[test]
    fn durations_read_units() {
        assert_eq!(parse_ttl("8h").unwrap().as_secs(), 8 * 3600);
        assert_eq!(parse_ttl("90").unwrap().as_secs(), 90);
        assert!(parse_ttl("8 hours").is_err());
    }
}

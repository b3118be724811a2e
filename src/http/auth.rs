//! Bearer JWT verification, roles, and the authenticated-user extractor.

use std::future::ready;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::Header;

use crate::config::JwtSettings;
use crate::domain::ids::RecipientId;
pub use crate::domain::role::Role;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::{Identity, Refused};

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

    /// Checks a token with this service's key alone (no OpenID Connect provider) and returns
    /// its user: for tools and tests that mint their own tokens.
    pub fn verify(token: &str, jwt: &JwtSettings) -> Result<AuthUser, ApiError> {
        let verifier = crate::tokens::Verifier::new(Some(jwt.clone()), Vec::new(), MAX_MINTED_TTL);
        verifier.verify_now(token).map(AuthUser::from).map_err(refused)
    }
}

impl From<Identity> for AuthUser {
    fn from(identity: Identity) -> AuthUser {
        AuthUser { sub: identity.sub, name: identity.name, roles: identity.roles, recipient_id: identity.recipient_id }
    }
}

/// A refused token as the 401 its bearer sees.
pub fn refused(refusal: Refused) -> ApiError {
    ApiError::Unauthorized(refusal.0)
}

/// The longest lifetime `verify` (for tools and tests) accepts.
const MAX_MINTED_TTL: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

/// The bearer token of a request, if it carries one.
pub fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
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
    Ok(token.trim())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<AuthUser, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The rate limiter has already verified this request's token.
        if let Some(user) = req.extensions().get::<AuthUser>() {
            return Box::pin(ready(Ok(user.clone())));
        }
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// The request's user, from its bearer token.
pub async fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".to_string()))?;
    if !state.tokens.is_configured() {
        return Err(ApiError::Unauthorized("this service has no token key configured".to_string()));
    }
    let token = bearer(req)?;
    state.tokens.verify(token).await.map(AuthUser::from).map_err(refused)
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
    let mut claims = serde_json::json!({
        "sub": request.sub,
        "roles": request.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "iat": now,
        "exp": now + request.ttl.as_secs(),
        "iss": jwt.issuer,
        "aud": jwt.audience,
    });
    if let Some(name) = request.name {
        claims["name"] = name.into();
    }
    if let Some(id) = request.recipient_id {
        claims["recipient_id"] = id.to_string().into();
    }
    jsonwebtoken::encode(&Header::new(jwt.algorithm), &claims, key).map_err(|e| format!("cannot sign the token: {e}"))
}

/// Reads a duration such as `8h`, `30m`, `45s` or `7d`.
pub fn parse_ttl(text: &str) -> Result<std::time::Duration, String> {
    crate::domain::duration::parse(text)
}

/// Whether two secrets are equal (a metrics token, a form's CSRF token). Their SHA-256 digests
/// are compared, so the time taken says nothing about how much of the secret a guess got right.
pub fn same_secret(sent: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(sent.as_bytes()) == Sha256::digest(expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd") && !same_secret("abc", "ab") && !same_secret("", "a"));
    }

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

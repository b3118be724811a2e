//! OpenID Connect providers: discovery, their signing keys (JWKS) fetched, cached and refreshed
//! at most once per `min_refresh_secs`, and their claims mapped onto this service's users.
//! Only RSA and P-256 keys are taken from a JWKS. docs/OIDC.md has the rules.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::{Identity, Refused, clean_text, display_name, finish, strings, subject};
use crate::config::OidcIssuer;
use crate::domain::ids::RecipientId;
use crate::domain::role::Role;

/// The roles a provider without a `role_map` may grant: its claim values are taken as role
/// names, and a claim any of its users might set (a self-service group, a profile attribute)
/// must not make anyone `admin`, nor an officer of whichever recipient they name. `admin` and
/// `recipient` are granted only through a `role_map` entry the operator wrote.
const UNMAPPED_ROLES: [Role; 3] = [Role::Finance, Role::Approver, Role::Auditor];

/// How long keys are kept when the provider's response does not say.
const DEFAULT_KEY_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest keys are kept without asking again.
const MAX_KEY_LIFETIME: Duration = Duration::from_secs(86_400);
/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery document or JWKS read.
const MAX_DOCUMENT: usize = 512 * 1024;

/// A key the provider publishes, with the algorithms it may verify.
#[derive(Clone)]
pub struct Key {
    key: DecodingKey,
    algorithms: &'static [Algorithm],
    declared: Option<Algorithm>,
}

impl Key {
    /// The key, when `alg` is one it may verify.
    fn for_algorithm(&self, alg: Algorithm) -> Option<DecodingKey> {
        let fits = self.algorithms.contains(&alg) && self.declared.is_none_or(|d| d == alg);
        fits.then(|| self.key.clone())
    }
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Key>,
    /// When the keys were last fetched; `None` before the first fetch.
    fetched: Option<Instant>,
    lifetime: Duration,
}

/// What the cache says about a `kid`.
pub enum Lookup {
    Found(DecodingKey),
    /// Fetch the keys, then look again.
    Fetch,
    Refused(String),
}

/// One trusted provider and its cached keys.
pub struct Provider {
    /// How it is configured.
    pub config: OidcIssuer,
    keys: RwLock<Keys>,
    /// Held while fetching, so concurrent requests wait for one fetch instead of making many.
    fetching: tokio::sync::Mutex<()>,
    /// When a fetch was last tried (rate limit).
    last_try: Mutex<Option<Instant>>,
}

impl Provider {
    /// A provider whose keys are not fetched yet.
    pub fn new(config: OidcIssuer) -> Provider {
        Provider {
            config,
            keys: RwLock::new(Keys::default()),
            fetching: tokio::sync::Mutex::new(()),
            last_try: Mutex::new(None),
        }
    }

    fn min_refresh(&self) -> Duration {
        Duration::from_secs(self.config.min_refresh_secs.max(1))
    }

    /// The key `kid` for a token signed with `alg`. `stale_ok`: after a fetch was tried, keys
    /// past their lifetime still count.
    pub fn key(&self, kid: &str, alg: Algorithm, stale_ok: bool) -> Lookup {
        if !matches!(alg, Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256) {
            return Lookup::Refused("the bearer token is not valid: algorithm not allowed".to_string());
        }
        let keys = self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let fresh = keys.fetched.is_some_and(|at| at.elapsed() < keys.lifetime);
        match keys.by_kid.get(kid) {
            Some(key) if fresh || stale_ok => match key.for_algorithm(alg) {
                Some(key) => Lookup::Found(key),
                None => Lookup::Refused("the bearer token is not valid: algorithm not allowed".to_string()),
            },
            // Under `stale_ok` a fetch was just tried: the caller refuses the unknown key.
            _ => Lookup::Fetch,
        }
    }

    /// Fetches the provider's keys, unless another request just did (or is doing it now) or
    /// the last try was less than `min_refresh_secs` ago.
    pub async fn refresh(&self) {
        let _one_at_a_time = self.fetching.lock().await;
        {
            let mut last = crate::locked(&self.last_try);
            if last.is_some_and(|at| at.elapsed() < self.min_refresh()) {
                return;
            }
            *last = Some(Instant::now());
        }
        match self.fetch().await {
            Ok((by_kid, lifetime)) => {
                log::info!("OIDC {}: {} signing keys fetched", self.config.issuer, by_kid.len());
                let mut keys = self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner());
                *keys = Keys { by_kid, fetched: Some(Instant::now()), lifetime };
            }
            Err(e) => log::warn!("OIDC {}: cannot fetch signing keys ({e}); keeping the last ones", self.config.issuer),
        }
    }

    /// Discovery, then the JWKS it names.
    async fn fetch(&self) -> Result<(HashMap<String, Key>, Duration), String> {
        let discovery_url = format!("{}/.well-known/openid-configuration", self.config.issuer.trim_end_matches('/'));
        let (discovery, _) = get_json(&discovery_url).await?;
        if discovery.get("issuer").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err("the discovery document names another issuer".to_string());
        }
        let jwks_uri =
            discovery.get("jwks_uri").and_then(Value::as_str).ok_or("the discovery document has no jwks_uri")?;
        let parsed = url::Url::parse(jwks_uri).map_err(|e| format!("jwks_uri is not a URL ({e})"))?;
        if !crate::config::is_trusted_transport(&parsed) {
            return Err("jwks_uri must be https:// (http:// only on a loopback address)".to_string());
        }
        if !self.config.may_publish_keys_at(&parsed) {
            return Err(format!(
                "jwks_uri {jwks_uri} is not on the issuer's host (list its host in jwks_hosts if the provider \
                 really publishes its keys there)"
            ));
        }
        let (jwks, max_age) = get_json(jwks_uri).await?;
        let set: JwkSet = serde_json::from_value(jwks).map_err(|e| format!("the JWKS cannot be read ({e})"))?;
        let lifetime = max_age.unwrap_or(DEFAULT_KEY_LIFETIME).clamp(self.min_refresh(), MAX_KEY_LIFETIME);
        Ok((usable_keys(&set), lifetime))
    }

    /// The user a verified token of this provider speaks for, through its claim mapping.
    pub fn identity(&self, claims: &Map<String, Value>) -> Result<Identity, Refused> {
        let config = &self.config;
        let sub = subject(claims, &config.subject_prefix)?;
        let mut name = None;
        for claim in &config.name_claims {
            if let Some(found) = display_name(clean_text(claims, claim)?) {
                name = Some(found);
                break;
            }
        }
        let roles: Vec<Role> = strings(claims, &config.roles_claim)
            .iter()
            .filter_map(|value| match config.role_map.is_empty() {
                true => Role::from_claim(value).filter(|role| UNMAPPED_ROLES.contains(role)),
                false => config.role_map.get(value).and_then(|r| Role::from_claim(r)),
            })
            .filter(|role| {
                config
                    .allowed_roles
                    .as_ref()
                    .is_none_or(|allowed| allowed.iter().any(|a| Role::from_claim(a) == Some(*role)))
            })
            .collect();
        let recipient_id = match clean_text(claims, &config.recipient_claim)? {
            None => None,
            Some(value) if !config.recipient_map.is_empty() => {
                config.recipient_map.get(&value).copied().map(RecipientId::from)
            }
            Some(value) => Some(
                value
                    .parse::<uuid::Uuid>()
                    .map(RecipientId::from)
                    .map_err(|_| Refused(format!("the token's {} is not a recipient id", config.recipient_claim)))?,
            ),
        };
        finish(sub, name, roles, recipient_id)
    }
}

/// The signing keys of `set` this service will use, by `kid`.
fn usable_keys(set: &JwkSet) -> HashMap<String, Key> {
    const RSA: &[Algorithm] = &[Algorithm::RS256, Algorithm::PS256];
    const EC: &[Algorithm] = &[Algorithm::ES256];
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else { continue };
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        let algorithms = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => RSA,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => EC,
            _ => continue,
        };
        let declared = match jwk.common.key_algorithm {
            None => None,
            Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
            Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
            Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
            Some(_) => continue,
        };
        if declared.is_some_and(|d| !algorithms.contains(&d)) {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            keys.insert(kid, Key { key, algorithms, declared });
        }
    }
    keys
}

/// GETs `url` as JSON, with the response's `Cache-Control: max-age`, if any. Each GET has a
/// connection of its own (`Connection: close`), never one a server may have closed since;
/// a request that fails short of a timeout (a connection the server closed, or refused, before
/// answering) is tried once more, on a new connection.
async fn get_json(url: &str) -> Result<(Value, Option<Duration>), String> {
    let send = || {
        awc::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .disable_redirects()
            .finish()
            .get(url)
            .insert_header(("Accept", "application/json"))
            .force_close()
            .send()
    };
    let mut response = match send().await {
        Err(awc::error::SendRequestError::Timeout) => return Err(format!("GET {url}: timed out")),
        Err(first) => {
            log::info!("GET {url}: {first}; trying once more on a new connection");
            send().await.map_err(|e| format!("GET {url}: {e}"))?
        }
        Ok(response) => response,
    };
    if !response.status().is_success() {
        return Err(format!("GET {url}: {}", response.status()));
    }
    let max_age = response.headers().get("cache-control").and_then(|v| v.to_str().ok()).and_then(max_age);
    let body = response.body().limit(MAX_DOCUMENT).await.map_err(|e| format!("GET {url}: {e}"))?;
    let value = serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON ({e})"))?;
    Ok((value, max_age))
}

/// `max-age` from a `Cache-Control` header value.
fn max_age(header: &str) -> Option<Duration> {
    header
        .split(',')
        .find_map(|part| {
            let (name, value) = part.trim().split_once('=')?;
            name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse().ok()).flatten()
        })
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner() -> Provider {
        Provider::new(
            serde_json::from_value(serde_json::json!({
                "issuer": "https://idp.example/realms/fenland", "audience": "grants",
                "roles_claim": "groups",
                "role_map": {"/officers": "recipient", "/finance": "finance"},
                "allowed_roles": ["recipient"],
                "recipient_claim": "org",
                "recipient_map": {"fenland": "0191e3a0-0000-7000-8000-000000000001"},
                "subject_prefix": "fenland:"
            }))
            .unwrap(),
        )
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_providers_claims_map_onto_a_prefixed_user_with_only_the_roles_it_may_grant() {
        let user = partner()
            .identity(&claims(serde_json::json!({
                "sub": "42", "preferred_username": "sam@fenland.example",
                "groups": ["/officers", "/finance", "/unknown"], "org": "fenland"
            })))
            .unwrap();
        assert_eq!(user.sub, "fenland:42");
        assert_eq!(user.name.as_deref(), Some("sam@fenland.example"), "name falls back to preferred_username");
        assert_eq!(user.roles, vec![Role::Recipient], "finance is not this provider's to grant");
        assert_eq!(user.recipient_id.map(|r| r.to_string()).as_deref(), Some("0191e3a0-0000-7000-8000-000000000001"));
        let named = partner()
            .identity(&claims(serde_json::json!({
                "sub": "42", "name": "Sam", "preferred_username": "sam@x", "groups": "/officers", "org": "fenland"
            })))
            .unwrap();
        assert_eq!(named.name.as_deref(), Some("Sam"), "name comes first");
        let unlisted =
            partner().identity(&claims(serde_json::json!({"sub": "42", "groups": ["/officers"], "org": "elsewhere"})));
        assert!(unlisted.is_err(), "an officer of an unlisted organisation has no recipient");
        let no_roles = partner().identity(&claims(serde_json::json!({"sub": "42", "groups": ["/finance"]}))).unwrap();
        assert!(no_roles.roles.is_empty());
    }

    #[test]
    fn without_a_role_map_a_provider_grants_neither_admin_nor_a_recipient() {
        let plain: Provider = Provider::new(
            serde_json::from_value(serde_json::json!({"issuer": "https://idp.example", "audience": "grants"})).unwrap(),
        );
        let user = plain
            .identity(&claims(serde_json::json!({
                "sub": "7", "roles": ["admin", "finance", "approver", "auditor", "recipient"],
                "recipient_id": "0191e3a0-0000-7000-8000-000000000001"
            })))
            .unwrap();
        assert_eq!(user.roles, vec![Role::Approver, Role::Auditor, Role::Finance]);
        let mapped: Provider = Provider::new(
            serde_json::from_value(serde_json::json!({
                "issuer": "https://idp.example", "audience": "grants",
                "role_map": {"grants-admins": "admin", "officers": "recipient"}
            }))
            .unwrap(),
        );
        let user = mapped
            .identity(&claims(serde_json::json!({
                "sub": "7", "roles": ["grants-admins", "officers", "finance"],
                "recipient_id": "0191e3a0-0000-7000-8000-000000000001"
            })))
            .unwrap();
        assert_eq!(user.roles, vec![Role::Admin, Role::Recipient], "a map grants what it names, and only that");
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=3600"), Some(Duration::from_secs(3600)));
        assert_eq!(max_age("max-age=\"60\", must-revalidate"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn symmetric_and_encryption_keys_in_a_jwks_are_skipped() {
        let set: JwkSet = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
            {"kty": "EC", "kid": "enc", "use": "enc", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "sig", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "declared-rs", "alg": "RS256", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]}))
        .unwrap();
        let keys = usable_keys(&set);
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["sig"]);
        assert!(keys["sig"].for_algorithm(Algorithm::ES256).is_some());
        assert!(keys["sig"].for_algorithm(Algorithm::RS256).is_none());
    }
}

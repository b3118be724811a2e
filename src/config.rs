//! Settings, read once from the environment. `.env.example` lists every variable.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// Everything the service reads from its environment.
pub struct Settings {
    /// `DATABASE_URL`: the PostgreSQL database, as the role that owns its tables (it creates
    /// the database if missing, migrates it and grants the serving role its privileges).
    /// Default `postgres://postgres@localhost:5432/grants`.
    pub database_url: String,
    /// Whether `DATABASE_URL` was set (rather than defaulted): with `GRANTS_APP_DATABASE_URL`
    /// alone the service does not migrate, it only checks the schema is current.
    pub database_url_given: bool,
    /// `GRANTS_APP_DATABASE_URL`: the role the service serves through, for operators who
    /// create it themselves. Unset, `serve` creates `GRANTS_APP_ROLE` with the owner's URL and
    /// serves through it.
    pub app_database_url: Option<String>,
    /// `GRANTS_APP_ROLE`: the serving role `serve` creates when `GRANTS_APP_DATABASE_URL` is
    /// unset. Default `grants_app`.
    pub app_role: String,
    /// `GRANTS_BIND`: the address to listen on. Default `127.0.0.1:8080`.
    pub bind: String,
    /// `GRANTS_DB_POOL_SIZE`: database connections kept open. Default: two per core, at least
    /// four (BENCHMARKS.md: more connections than that on a small machine only lengthen the tail).
    pub db_pool_size: u32,
    /// `GRANTS_DB_TIMEOUT_SECS`: how long a request waits for a database connection before it
    /// gets 503 `unavailable`. Default 3.
    pub db_timeout: Duration,
    /// `GRANTS_DB_START_SECS`: how long `serve` and `migrate` keep retrying, with backoff, a
    /// PostgreSQL that is not reachable yet at start (a container starting beside it). Default 60.
    pub db_start_patience: Duration,
    /// `GRANTS_WORKERS`: HTTP worker threads. Default: one per core.
    pub workers: Option<usize>,
    /// `GRANTS_RATE_LIMIT_PER_SEC` and `GRANTS_RATE_LIMIT_BURST`: requests a second per token
    /// subject (per address without a token), with bursts up to the second number. Defaults 20
    /// and 100; a rate of 0 turns limiting off.
    pub rate_limit: (u32, u32),
    /// `GRANTS_RATE_LIMIT_STORE`: `database` (default) keeps each bucket in PostgreSQL too, so
    /// the limit holds in total across every instance serving the database; `memory` keeps it
    /// in each process only (one instance, or a limit that may be multiplied by the instances).
    pub rate_limit_store: crate::ratelimit::Store,
    /// `GRANTS_TRUSTED_PROXIES`: the proxies (addresses or CIDR networks, comma-separated) whose
    /// `X-Forwarded-For` names the client whose per-address limit applies. Default: none (the
    /// peer's own address is the client's).
    pub trusted_proxies: crate::client_address::TrustedProxies,
    /// `GRANTS_METRICS_TOKEN`: the bearer token a Prometheus scraper sends to `GET /metrics`
    /// (at least 32 characters). Unset: `/metrics` is 404.
    pub metrics_token: Option<String>,
    /// `GRANTS_RETURN_DUE_DAYS`: days after a quarter's end that its CSP return falls due.
    /// Default 30.
    pub return_due_days: u32,
    /// `GRANTS_DOCUMENT_QUOTA_MIB`: the most one award's documents (its own and its returns')
    /// may hold together, in bytes. Default 100 MiB.
    pub document_quota: i64,
    /// Whether the screens offer the demo's sign-in page (its people, no password): set by
    /// `serve --demo` only, never by the environment.
    pub demo_sign_in: bool,
    /// How bearer tokens are checked; `None` when no key is configured.
    pub jwt: Option<JwtSettings>,
    /// `GRANTS_OIDC_ISSUERS`: the OpenID Connect providers whose tokens are trusted (a JSON
    /// array, inline or in the file it names; docs/OIDC.md). Empty: none.
    pub oidc: Vec<OidcIssuer>,
    /// `GRANTS_JWT_MAX_TTL`: the longest lifetime a token may have (`exp` beyond now, or beyond
    /// its `iat`), e.g. `12h` (the default).
    pub jwt_max_ttl: Duration,
    /// `GRANTS_360_PREFIX`, `GRANTS_FUNDER_ID`, `GRANTS_FUNDER_NAME`: the publisher of the
    /// 360Giving data. The defaults are placeholders: set your registered prefix and identifier.
    pub publisher: Publisher,
    /// `GRANTS_AUDIT_KEY_FILE`: the Ed25519 private key (PKCS#8 PEM, from `grants audit keygen`)
    /// that signs the audit chain's checkpoints. Kept outside the database; `serve` refuses to
    /// start without one (`serve --demo` makes one under `GRANTS_DATA_DIR`).
    pub audit_key: Option<ed25519_dalek::SigningKey>,
    /// Where the signer remembers every checkpoint it signed, outside the database: beside its
    /// key, `<GRANTS_AUDIT_KEY_FILE>.signed`, appended to and never rewritten.
    pub audit_record: Option<std::path::PathBuf>,
    /// `GRANTS_AUDIT_RETIRED_KEYS_FILE`: public keys (hex, one per line; `#` starts a comment)
    /// of earlier signing keys, pinned outside the database: with the current key's public
    /// half, the only keys whose checkpoints are trusted.
    pub retired_keys: Vec<String>,
    /// `GRANTS_AUDIT_PUBLIC_KEY_FILE`: the signing key's public half (hex), for `grants
    /// migrate` to register it as the owner without holding the private key
    /// (`grants audit keygen --public-out`).
    pub audit_public_key: Option<String>,
    /// `GRANTS_CHECKPOINT_SECS`: how often a checkpoint is signed while the chain grows.
    /// Default 60.
    pub checkpoint_every: Duration,
    /// Whether the server stops on SIGTERM/SIGINT (draining requests in flight). Always on for
    /// `grants serve`; the tests, which run many servers in one process, turn it off.
    pub handle_signals: bool,
    /// `GRANTS_REMINDER_DAYS`: how many days before a return's due date its reminder goes, and
    /// for how many days after it an overdue reminder still goes. Default 7.
    pub reminder_days: u32,
    /// Reminders by e-mail, when `GRANTS_SMTP_URL` is set.
    pub mail: Option<MailSettings>,
    /// `GRANTS_LONG_READ_POOL_SIZE`: connections for long reads (reports, exports, the public
    /// feed), apart from the request pool: at most this many run at once. Default 2.
    pub long_read_pool_size: u32,
    /// `GRANTS_LONG_READ_TIMEOUT_SECS`: how long one statement of a long read may run before
    /// PostgreSQL cancels it (503 `timed-out`), and how long a long read waits for a connection.
    /// Default 30.
    pub long_read_timeout: Duration,
    /// `GRANTS_READ_DATABASE_URL`: a streaming replica of the database (as a role that may read
    /// it: the serving role's, say). Reports, exports, the public feed, histories and
    /// verification read from it; writes and everything else stay on the primary. While it
    /// cannot be reached those reads go to the primary.
    pub read_database_url: Option<String>,
    /// `GRANTS_IDEMPOTENCY_TTL`: how long an `Idempotency-Key` replays its first response (e.g.
    /// `7d`, the default; at least a minute). Older keys are purged by the running service.
    pub idempotency_ttl: Duration,
}

/// Where reminders are sent from: `GRANTS_SMTP_URL` (e.g. `smtp://127.0.0.1:25` for a local
/// relay, `smtps://user:password@mail.example.org` or `smtp://…?tls=required` for STARTTLS),
/// `GRANTS_SMTP_FROM` (default `grants@localhost`) and `GRANTS_REMINDER_SECS`, how often the
/// service looks for reminders to send (default 3600).
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: String,
    pub from: String,
    pub every: Duration,
}

/// Who publishes the data: from `GRANTS_360_PREFIX`, `GRANTS_FUNDER_ID`, `GRANTS_FUNDER_NAME`.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// The funder's registered 360Giving prefix, e.g. `360G-cambspcc`.
    pub prefix: String,
    /// The funder's organisation identifier, e.g. `GB-GOR-PC000123`.
    pub funder_id: String,
    /// The funder's name.
    pub funder_name: String,
    /// `GRANTS_360_DATA_SOURCE`: a web page where the data is published (each grant's
    /// `dataSource`), e.g. the office's grants page. Unset: no `dataSource`.
    pub data_source: Option<String>,
}

/// The placeholder 360Giving prefix and funder identifier, the defaults when unset.
pub const PLACEHOLDER_PREFIX: &str = "360G-opcc-example";
pub const PLACEHOLDER_FUNDER_ID: &str = "GB-GOR-PC000000";

impl Publisher {
    /// Why this publisher may not publish outside the demo: it still carries a placeholder
    /// (unless `GRANTS_360_PLACEHOLDERS=allow`). `None` when it may.
    pub fn placeholder_problem(&self, allowed: bool) -> Option<String> {
        let mut placeholders = Vec::new();
        if self.prefix == PLACEHOLDER_PREFIX {
            placeholders.push(format!("GRANTS_360_PREFIX (the placeholder {PLACEHOLDER_PREFIX})"));
        }
        if self.funder_id == PLACEHOLDER_FUNDER_ID {
            placeholders.push(format!("GRANTS_FUNDER_ID (the placeholder {PLACEHOLDER_FUNDER_ID})"));
        }
        (!placeholders.is_empty() && !allowed).then(|| {
            format!(
                "the 360Giving export would publish placeholders: set {} to your registered values \
                 (or GRANTS_360_PLACEHOLDERS=allow to publish them anyway, e.g. for a trial)",
                placeholders.join(" and ")
            )
        })
    }
}

/// `GRANTS_360_PLACEHOLDERS=allow`: serve even with the placeholder prefix or funder id.
pub fn placeholders_allowed() -> Result<bool, ConfigError> {
    match var("GRANTS_360_PLACEHOLDERS").as_deref() {
        None => Ok(false),
        Some("allow") => Ok(true),
        Some(_) => Err(ConfigError { variable: "GRANTS_360_PLACEHOLDERS", message: "must be `allow` or unset".into() }),
    }
}

/// A `dataSource`: an absolute http(s) URL without spaces or control characters.
fn data_source(text: String) -> Result<String, ConfigError> {
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control()) => Ok(text),
        _ => Err(ConfigError {
            variable: "GRANTS_360_DATA_SOURCE",
            message: "must be an http(s) URL such as https://www.example-pcc.gov.uk/grants".into(),
        }),
    }
}

/// How bearer tokens are verified (and, with a shared secret, minted).
#[derive(Clone)]
pub struct JwtSettings {
    /// The one algorithm accepted.
    pub algorithm: Algorithm,
    /// The key that checks signatures.
    pub decoding_key: DecodingKey,
    /// The key that signs tokens: only with `GRANTS_JWT_SECRET`.
    pub encoding_key: Option<EncodingKey>,
    /// `GRANTS_JWT_ISSUER`: the required `iss`. Default `grants`.
    pub issuer: String,
    /// `GRANTS_JWT_AUDIENCE`: the required `aud`. Default `grants-api`.
    pub audience: String,
}

/// One OpenID Connect provider this service trusts, and how its tokens' claims map onto this
/// service's users (docs/OIDC.md has worked examples for Entra ID and Keycloak).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcIssuer {
    /// The issuer URL, exactly as its tokens' `iss` and its discovery document say it.
    /// `https://`, or `http://` on a loopback address only.
    pub issuer: String,
    /// The audience its tokens must carry (in `aud`, a string or an array).
    pub audience: String,
    /// The claim holding the user's roles or groups (a string or an array). Default `roles`.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Claim value → role (`admin`, `finance`, `approver`, `recipient`, `auditor`), e.g. an Entra
    /// group id or app role. Empty: the values are this service's role names themselves.
    #[serde(default)]
    pub role_map: std::collections::BTreeMap<String, String>,
    /// The roles this provider may grant at all (a partner's provider: `["recipient"]`).
    /// Unset: every role.
    #[serde(default)]
    pub allowed_roles: Option<Vec<String>>,
    /// The claim naming the recipient an officer works for. Default `recipient_id`.
    #[serde(default = "default_recipient_claim")]
    pub recipient_claim: String,
    /// Claim value → recipient id. Empty: the claim holds the recipient's id itself.
    #[serde(default)]
    pub recipient_map: std::collections::BTreeMap<String, uuid::Uuid>,
    /// The claims tried, in order, for the display name. Default `name`, `preferred_username`.
    #[serde(default = "default_name_claims")]
    pub name_claims: Vec<String>,
    /// Put before every `sub` of this provider in the audit trail (e.g. `fenland:`), so that
    /// two providers' users can never share an id. Default none.
    #[serde(default)]
    pub subject_prefix: String,
    /// The fewest seconds between two fetches of its keys (an unknown `kid` asks for one).
    /// Default 10.
    #[serde(default = "default_min_refresh_secs")]
    pub min_refresh_secs: u64,
    /// Hosts (`host` or `host:port`) besides the issuer's own that its discovery document may
    /// name as `jwks_uri` (Google publishes its keys on another host). Default none: the keys
    /// must come from the issuer's host and port.
    #[serde(default)]
    pub jwks_hosts: Vec<String>,
}

fn default_roles_claim() -> String {
    "roles".to_string()
}

fn default_recipient_claim() -> String {
    "recipient_id".to_string()
}

fn default_name_claims() -> Vec<String> {
    vec!["name".to_string(), "preferred_username".to_string()]
}

fn default_min_refresh_secs() -> u64 {
    10
}

impl OidcIssuer {
    /// Whether `jwks_uri` may be trusted for this provider's keys: on the issuer's host and
    /// port, or on one of `jwks_hosts`.
    pub fn may_publish_keys_at(&self, jwks_uri: &url::Url) -> bool {
        let origin = |url: &url::Url| (url.host_str().map(str::to_ascii_lowercase), url.port_or_known_default());
        let (host, port) = origin(jwks_uri);
        let Some(host) = host else { return false };
        let own = url::Url::parse(&self.issuer).is_ok_and(|issuer| origin(&issuer) == (Some(host.clone()), port));
        own || self.jwks_hosts.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            allowed == host || port.is_some_and(|p| allowed == format!("{host}:{p}"))
        })
    }

    /// Checks what can be checked before any request: the issuer's URL and the role names.
    pub fn check(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.issuer).map_err(|e| format!("issuer {:?} is not a URL ({e})", self.issuer))?;
        if !is_trusted_transport(&url) {
            return Err(format!("issuer {:?} must be https:// (http:// only on a loopback address)", self.issuer));
        }
        if self.audience.trim().is_empty() {
            return Err(format!("issuer {:?} needs an audience", self.issuer));
        }
        if let Some(bad) = self.jwks_hosts.iter().find(|h| h.is_empty() || h.contains(['/', '@', ' '])) {
            return Err(format!("issuer {:?}: jwks_hosts holds {bad:?}; write a host, or host:port", self.issuer));
        }
        let roles = self.role_map.values().chain(self.allowed_roles.iter().flatten());
        for role in roles {
            if crate::domain::role::Role::from_claim(role).is_none() {
                return Err(format!(
                    "issuer {:?}: unknown role {role:?} (use admin, finance, approver, recipient or auditor)",
                    self.issuer
                ));
            }
        }
        Ok(())
    }
}

/// True for `https://` URLs, and for `http://` ones on a loopback address (a provider run
/// beside the service, or in tests).
pub fn is_trusted_transport(url: &url::Url) -> bool {
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Domain(name))) => name == "localhost",
        _ => false,
    }
}

/// Reads `GRANTS_OIDC_ISSUERS`: a JSON array, inline or in the file it names.
fn oidc_from_env() -> Result<Vec<OidcIssuer>, ConfigError> {
    let error = |message: String| ConfigError { variable: "GRANTS_OIDC_ISSUERS", message };
    let Some(value) = var("GRANTS_OIDC_ISSUERS") else {
        return Ok(Vec::new());
    };
    let text = if value.trim_start().starts_with('[') {
        value
    } else {
        std::fs::read_to_string(value.trim()).map_err(|e| error(format!("cannot read {}: {e}", value.trim())))?
    };
    let issuers: Vec<OidcIssuer> =
        serde_json::from_str(&text).map_err(|e| error(format!("is not a JSON array of issuers ({e})")))?;
    for issuer in &issuers {
        issuer.check().map_err(error)?;
    }
    Ok(issuers)
}

/// The secret `.env.example` shows, which must never sign a real token.
pub const PLACEHOLDER_SECRET: &str = "change-me-to-32-or-more-random-characters";

/// Why `secret` cannot be an HS256 key, if it cannot: shorter than 32 bytes, the documented
/// placeholder, too few distinct characters (fewer than 10: `aaaa…`, `abab…`), words (letters
/// and separators only: a passphrase), or one short pattern repeated.
pub fn weak_secret(secret: &str) -> Option<&'static str> {
    let bytes = secret.as_bytes();
    if bytes.len() < 32 {
        return Some("must be at least 32 characters");
    }
    if secret == PLACEHOLDER_SECRET || secret.contains("change-me") {
        return Some("is the placeholder from .env.example: generate one, e.g. `openssl rand -base64 48`");
    }
    let distinct: std::collections::BTreeSet<u8> = bytes.iter().copied().collect();
    if distinct.len() < 10 {
        return Some("has fewer than 10 different characters: use random material, e.g. `openssl rand -base64 48`");
    }
    // Words (a passphrase such as "correct horse battery staple…") fall to a dictionary
    // attack whatever their length; random material (hex, base64) holds digits too.
    if secret.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '_' | '.' | ',')) {
        return Some(
            "is words, which a dictionary attack tries first: use random material, e.g. `openssl rand -base64 48`",
        );
    }
    let repeats = (1..=bytes.len() / 2)
        .any(|n| bytes.len().is_multiple_of(n) && bytes.chunks(n).all(|chunk| chunk == &bytes[..n]));
    if repeats {
        return Some("is one pattern repeated: use random material, e.g. `openssl rand -base64 48`");
    }
    None
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Settings that had another name before, as (name, former name): a deployment that still sets
/// only the former is read as before.
pub const RENAMED: &[(&str, &str)] = &[
    ("GRANTS_LONG_READ_POOL_SIZE", "GRANTS_HEAVY_POOL_SIZE"),
    ("GRANTS_LONG_READ_TIMEOUT_SECS", "GRANTS_HEAVY_TIMEOUT_SECS"),
];

/// `name`, or its former name when only that is set.
fn renamed(name: &'static str) -> &'static str {
    match RENAMED.iter().find(|(new, _)| *new == name) {
        Some((_, former)) if var(name).is_none() && var(former).is_some() => former,
        _ => name,
    }
}

fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| ConfigError { variable: name, message: format!("must be a whole number, not {text:?}") }),
    }
}

impl JwtSettings {
    /// HS256 with a shared secret, which can also mint tokens.
    pub fn from_secret(secret: &[u8], issuer: String, audience: String) -> JwtSettings {
        JwtSettings {
            algorithm: Algorithm::HS256,
            decoding_key: DecodingKey::from_secret(secret),
            encoding_key: Some(EncodingKey::from_secret(secret)),
            issuer,
            audience,
        }
    }

    /// RS256 or ES256 with an identity provider's public key in PEM; the key's type picks the
    /// algorithm.
    pub fn from_public_key_pem(pem: &[u8], issuer: String, audience: String) -> Result<JwtSettings, String> {
        let (algorithm, decoding_key) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            (Algorithm::RS256, key)
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            (Algorithm::ES256, key)
        } else {
            return Err("is not an RSA or EC (P-256) public key in PEM".to_string());
        };
        Ok(JwtSettings { algorithm, decoding_key, encoding_key: None, issuer, audience })
    }

    /// Reads `GRANTS_JWT_SECRET` or `GRANTS_JWT_PUBLIC_KEY_FILE` (not both), or `None`.
    pub fn from_env() -> Result<Option<JwtSettings>, ConfigError> {
        let issuer = var("GRANTS_JWT_ISSUER").unwrap_or_else(|| "grants".to_string());
        let audience = var("GRANTS_JWT_AUDIENCE").unwrap_or_else(|| "grants-api".to_string());
        match (var("GRANTS_JWT_SECRET"), var("GRANTS_JWT_PUBLIC_KEY_FILE")) {
            (Some(_), Some(_)) => Err(ConfigError {
                variable: "GRANTS_JWT_SECRET",
                message: "set either GRANTS_JWT_SECRET or GRANTS_JWT_PUBLIC_KEY_FILE, not both".to_string(),
            }),
            (Some(secret), None) => {
                if let Some(message) = weak_secret(&secret) {
                    return Err(ConfigError { variable: "GRANTS_JWT_SECRET", message: message.to_string() });
                }
                Ok(Some(JwtSettings::from_secret(secret.as_bytes(), issuer, audience)))
            }
            (None, Some(path)) => {
                let pem = std::fs::read(&path).map_err(|e| ConfigError {
                    variable: "GRANTS_JWT_PUBLIC_KEY_FILE",
                    message: format!("cannot read {path}: {e}"),
                })?;
                JwtSettings::from_public_key_pem(&pem, issuer, audience)
                    .map(Some)
                    .map_err(|message| ConfigError { variable: "GRANTS_JWT_PUBLIC_KEY_FILE", message })
            }
            (None, None) => Ok(None),
        }
    }
}

impl Settings {
    /// Reads every setting from the environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Ok(Settings {
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@localhost:5432/grants".to_string()),
            database_url_given: var("DATABASE_URL").is_some(),
            app_database_url: var("GRANTS_APP_DATABASE_URL"),
            app_role: {
                let role = var("GRANTS_APP_ROLE").unwrap_or_else(|| crate::db::roles::DEFAULT_SERVING_ROLE.to_string());
                crate::db::roles::check_role_name(&role)
                    .map_err(|message| ConfigError { variable: "GRANTS_APP_ROLE", message })?;
                role
            },
            bind: var("GRANTS_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_string()),
            db_pool_size: number("GRANTS_DB_POOL_SIZE", default_pool_size())?.max(1),
            db_timeout: Duration::from_secs(number("GRANTS_DB_TIMEOUT_SECS", 3)?),
            db_start_patience: Duration::from_secs(number("GRANTS_DB_START_SECS", 60)?),
            workers: var("GRANTS_WORKERS").map(|_| number("GRANTS_WORKERS", 2)).transpose()?,
            return_due_days: number("GRANTS_RETURN_DUE_DAYS", 30)?,
            document_quota: i64::from(number::<u32>("GRANTS_DOCUMENT_QUOTA_MIB", 100)?) * 1024 * 1024,
            demo_sign_in: false,
            rate_limit: (number("GRANTS_RATE_LIMIT_PER_SEC", 20)?, number("GRANTS_RATE_LIMIT_BURST", 100)?),
            rate_limit_store: var("GRANTS_RATE_LIMIT_STORE")
                .map(|v| v.parse())
                .transpose()
                .map_err(|message| ConfigError { variable: "GRANTS_RATE_LIMIT_STORE", message })?
                .unwrap_or(crate::ratelimit::Store::Database),
            trusted_proxies: crate::client_address::TrustedProxies::parse(
                &var("GRANTS_TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|message| ConfigError { variable: "GRANTS_TRUSTED_PROXIES", message })?,
            metrics_token: match var("GRANTS_METRICS_TOKEN") {
                Some(token) if token.len() < 32 || token.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                    return Err(ConfigError {
                        variable: "GRANTS_METRICS_TOKEN",
                        message: "must be at least 32 characters with no spaces (e.g. openssl rand -hex 32)".into(),
                    });
                }
                token => token,
            },
            jwt: JwtSettings::from_env()?,
            oidc: oidc_from_env()?,
            jwt_max_ttl: match var("GRANTS_JWT_MAX_TTL") {
                None => Duration::from_secs(12 * 3600),
                Some(text) => crate::domain::duration::parse(&text)
                    .map_err(|message| ConfigError { variable: "GRANTS_JWT_MAX_TTL", message })?,
            },
            publisher: Publisher {
                prefix: var("GRANTS_360_PREFIX").unwrap_or_else(|| PLACEHOLDER_PREFIX.to_string()),
                funder_id: var("GRANTS_FUNDER_ID").unwrap_or_else(|| PLACEHOLDER_FUNDER_ID.to_string()),
                funder_name: var("GRANTS_FUNDER_NAME")
                    .unwrap_or_else(|| "Office of the Police and Crime Commissioner".to_string()),
                data_source: var("GRANTS_360_DATA_SOURCE").map(data_source).transpose()?,
            },
            audit_key: var("GRANTS_AUDIT_KEY_FILE")
                .map(|path| read_signing_key(std::path::Path::new(&path)))
                .transpose()
                .map_err(|message| ConfigError { variable: "GRANTS_AUDIT_KEY_FILE", message })?,
            audit_record: var("GRANTS_AUDIT_KEY_FILE").map(|path| record_beside(std::path::Path::new(&path))),
            retired_keys: var("GRANTS_AUDIT_RETIRED_KEYS_FILE")
                .map(|path| read_public_keys(std::path::Path::new(&path)))
                .transpose()
                .map_err(|message| ConfigError { variable: "GRANTS_AUDIT_RETIRED_KEYS_FILE", message })?
                .unwrap_or_default(),
            audit_public_key: var("GRANTS_AUDIT_PUBLIC_KEY_FILE")
                .map(|path| {
                    read_public_keys(std::path::Path::new(&path))?
                        .into_iter()
                        .next()
                        .ok_or_else(|| format!("{path} holds no public key"))
                })
                .transpose()
                .map_err(|message| ConfigError { variable: "GRANTS_AUDIT_PUBLIC_KEY_FILE", message })?,
            checkpoint_every: Duration::from_secs(number("GRANTS_CHECKPOINT_SECS", 60)?.max(1)),
            handle_signals: true,
            reminder_days: number("GRANTS_REMINDER_DAYS", 7)?.min(366),
            long_read_pool_size: number(renamed("GRANTS_LONG_READ_POOL_SIZE"), 2)?.max(1),
            long_read_timeout: Duration::from_secs(number(renamed("GRANTS_LONG_READ_TIMEOUT_SECS"), 30)?.max(1)),
            read_database_url: var("GRANTS_READ_DATABASE_URL"),
            idempotency_ttl: match var("GRANTS_IDEMPOTENCY_TTL") {
                None => Duration::from_secs(7 * 86_400),
                Some(text) => crate::domain::duration::parse(&text)
                    .map_err(|message| ConfigError { variable: "GRANTS_IDEMPOTENCY_TTL", message })?
                    .max(Duration::from_secs(60)),
            },
            mail: match var("GRANTS_SMTP_URL") {
                None => None,
                Some(smtp_url) => {
                    let from = var("GRANTS_SMTP_FROM").unwrap_or_else(|| "grants@localhost".to_string());
                    from.parse::<lettre::message::Mailbox>().map_err(|e| ConfigError {
                        variable: "GRANTS_SMTP_FROM",
                        message: format!("is not an e-mail address ({e})"),
                    })?;
                    lettre::SmtpTransport::from_url(&smtp_url).map_err(|e| ConfigError {
                        variable: "GRANTS_SMTP_URL",
                        message: format!("is not an SMTP URL ({e})"),
                    })?;
                    let every = Duration::from_secs(number("GRANTS_REMINDER_SECS", 3600)?.max(1));
                    Some(MailSettings { smtp_url, from, every })
                }
            },
        })
    }
}

impl Settings {
    /// The URL requests are served through: `GRANTS_APP_DATABASE_URL` when set (or as `serve`
    /// set it after creating its serving role), else `DATABASE_URL`.
    pub fn serving_url(&self) -> &str {
        self.app_database_url.as_deref().unwrap_or(&self.database_url)
    }
}

/// Two connections per core, at least four.
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 2).unwrap_or(u32::MAX).max(4)
}

/// `GRANTS_DATA_DIR`: where `serve --demo` keeps what must survive a restart (its audit key).
/// Default `grants-data` in the working directory.
pub fn data_dir() -> std::path::PathBuf {
    var("GRANTS_DATA_DIR").unwrap_or_else(|| "grants-data".to_string()).into()
}

/// The random secret the serving role's password is derived from when `DATABASE_URL` holds no
/// password (`GRANTS_DATA_DIR/serving-role-secret`, readable by its owner only), made on first
/// use. Instances that share a database and an owner URL without a password must share this
/// file, or be given `GRANTS_APP_DATABASE_URL`.
pub fn kept_serving_secret() -> Result<String, String> {
    let path = data_dir().join("serving-role-secret");
    let (secret, made) = kept_secret(&path, true)?.ok_or_else(|| format!("no secret in {}", path.display()))?;
    if made {
        log::info!("the serving role's password is derived from a new secret kept in {}", path.display());
    }
    if secret.len() < 32 {
        return Err(format!("{} holds fewer than 32 characters: delete it to make a new one", path.display()));
    }
    Ok(secret)
}

/// A secret kept in a file: read (trimmed), or — when the file does not exist and `create` —
/// made (48 random letters and digits) and written readable by its owner only; with whether it
/// was made now. `None` when there is no file and none was to be made.
fn kept_secret(path: &std::path::Path, create: bool) -> Result<Option<(String, bool)>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some((text.trim().to_string(), false))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let secret: String = {
                use rand::Rng;
                rand::rng().sample_iter(rand::distr::Alphanumeric).take(48).map(char::from).collect()
            };
            write_private(path, format!("{secret}\n").as_bytes())?;
            Ok(Some((secret, true)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The file in the data directory where `serve --demo` keeps its token secret, so tokens
/// survive a restart and `grants token` can mint more.
pub fn demo_secret_file() -> std::path::PathBuf {
    data_dir().join("jwt-secret")
}

/// The demo's HS256 settings from `path`, made (48 random characters, readable by its owner
/// only) when the file does not exist yet.
pub fn demo_jwt(path: &std::path::Path, create: bool) -> Result<Option<JwtSettings>, String> {
    let issuer = var("GRANTS_JWT_ISSUER").unwrap_or_else(|| "grants".to_string());
    let audience = var("GRANTS_JWT_AUDIENCE").unwrap_or_else(|| "grants-api".to_string());
    let Some((secret, _)) = kept_secret(path, create)? else { return Ok(None) };
    if let Some(problem) = weak_secret(&secret) {
        return Err(format!("{} {problem}: delete it to make a new secret", path.display()));
    }
    Ok(Some(JwtSettings::from_secret(secret.as_bytes(), issuer, audience)))
}

/// Writes `bytes` to a new file at `path` (creating its folder) that only its owner can read;
/// never overwrites one.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads an Ed25519 private key in PKCS#8 PEM.
/// The signer's record beside its key file: the key's name with `.signed` added.
pub fn record_beside(key_file: &std::path::Path) -> std::path::PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".signed");
    name.into()
}

/// Ed25519 public keys, hex, one per line (blank lines and `#` comments skipped).
pub fn read_public_keys(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(|key| {
            let ok = key.len() == 64 && key.chars().all(|c| c.is_ascii_hexdigit());
            if ok { Ok(key.to_ascii_lowercase()) } else { Err(format!("{key:?} is not a 32-byte public key in hex")) }
        })
        .collect()
}

pub fn read_signing_key(path: &std::path::Path) -> Result<ed25519_dalek::SigningKey, String> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ed25519_dalek::SigningKey::from_pkcs8_pem(&text)
        .map_err(|e| format!("{} is not an Ed25519 private key in PKCS#8 PEM: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("grants-config-{}-{name}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn a_data_source_is_an_http_url_with_a_host_and_no_spaces_or_controls() {
        for good in ["https://www.example-pcc.gov.uk/grants", "http://127.0.0.1:8080/api/v1/transparency/grants"] {
            assert_eq!(data_source(good.to_string()).map_err(|e| e.message), Ok(good.to_string()));
        }
        for bad in [
            "https://",
            "http://",
            "ftp://x.example/",
            "www.example.org",
            "https://a b.example/",
            "https://x.example/\u{7}",
        ] {
            let refused = data_source(bad.to_string()).unwrap_err();
            assert_eq!(refused.variable, "GRANTS_360_DATA_SOURCE", "{bad}");
        }
    }

    #[test]
    fn the_demo_secret_is_made_once_then_read_back() {
        let path = scratch("secret");
        assert!(demo_jwt(&path, false).unwrap().is_none(), "no file, not asked to make one");
        assert!(!path.exists());
        demo_jwt(&path, true).unwrap().expect("made");
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.trim().len(), 48);
        demo_jwt(&path, true).unwrap().expect("read back");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), written, "never replaced");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_demo_secret_that_cannot_be_read_is_an_error_not_a_missing_file() {
        let dir = scratch("dir");
        std::fs::create_dir_all(&dir).unwrap();
        for create in [false, true] {
            let error = demo_jwt(&dir, create).err().expect("a folder is no secret");
            assert!(error.starts_with("cannot read"), "{error}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn weak_secrets_are_refused_and_random_ones_kept() {
        assert!(weak_secret(PLACEHOLDER_SECRET).unwrap().contains("placeholder"));
        assert!(weak_secret("please-change-me-before-you-go-live-ok").unwrap().contains("placeholder"));
        assert!(weak_secret(&"0123456789".repeat(4)).unwrap().contains("repeated"));
        assert!(weak_secret(&"ab".repeat(20)).unwrap().contains("different characters"));
        assert!(weak_secret("0123456789abcdefghijklmnopqrstu").unwrap().contains("at least 32"));
        for words in [
            "correct horse battery staple mountain river",
            "Correct-Horse-Battery-Staple-Mountain",
            "correcthorsebatterystaplemountainriver",
        ] {
            assert!(weak_secret(words).unwrap().contains("words"), "{words}");
        }
        // `openssl rand -hex 32` and `openssl rand -base64 48` outputs.
        assert_eq!(weak_secret("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), None);
        assert_eq!(weak_secret("q3N0x8bqk5Jd0yQm3v7rE1oQ9u2VtZ4cXhL6aP8sWnGfR0eTkY1iB5uD7jC9mH2"), None);
    }

    #[test]
    fn a_demo_secret_shorter_than_32_characters_is_refused() {
        let path = scratch("short");
        std::fs::write(&path, format!("{}\n", "a".repeat(31))).unwrap();
        let error = demo_jwt(&path, true).err().expect("31 characters are too few");
        assert!(error.contains("at least 32 characters"), "{error}");
        std::fs::write(&path, "0123456789abcdefghijklmnopqrstuv").unwrap();
        assert!(demo_jwt(&path, true).unwrap().is_some(), "32 random-looking characters are enough");
        std::fs::write(&path, "a".repeat(32)).unwrap();
        let error = demo_jwt(&path, true).err().expect("one character repeated is no secret");
        assert!(error.contains("fewer than 10 different characters"), "{error}");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    #[allow(unsafe_code)] // the environment is this test's alone (below)
    fn a_renamed_setting_is_read_by_its_former_name_until_the_new_one_is_set() {
        // nextest runs each test in a process of its own, so the environment is this test's.
        let (new, former) = ("GRANTS_LONG_READ_POOL_SIZE", "GRANTS_HEAVY_POOL_SIZE");
        unsafe { std::env::remove_var(new) };
        unsafe { std::env::remove_var(former) };
        assert_eq!(renamed(new), new, "neither set: the new name");
        unsafe { std::env::set_var(former, "5") };
        assert_eq!(renamed(new), former);
        assert_eq!(number::<u32>(renamed(new), 2).unwrap(), 5);
        unsafe { std::env::set_var(new, "3") };
        assert_eq!(number::<u32>(renamed(new), 2).unwrap(), 3, "the new name wins");
        unsafe { std::env::remove_var(new) };
        unsafe { std::env::remove_var(former) };
    }
}

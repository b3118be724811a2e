//! Builds the application once, for `grants serve` and the tests alike: [`Application::build`]
//! makes the state from [`Settings`], binds the listener and starts the server; [`app`] is the
//! actix `App` (routes, middleware, docs) around that state.

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::config::Settings;
use crate::error::ApiError;
use crate::ratelimit::RateLimiter;
use crate::state::AppState;

/// The service, bound and ready to run.
pub struct Application {
    address: std::net::SocketAddr,
    server: Server,
    signer: web::Data<AppState>,
    audit_signer: Option<web::Data<crate::audit::checkpoint::Signer>>,
    checkpoint_every: std::time::Duration,
    mail: Option<crate::config::MailSettings>,
}

impl Application {
    /// Builds the state from `settings` (the pool, the tokens' keys, the limiter, the
    /// publisher), binds `settings.bind` (port 0 picks a free one) and prepares the server. The
    /// database must already exist and be migrated (`db::prepare`).
    pub fn build(settings: Settings) -> Result<Application, String> {
        let verify_url = settings.serving_url().to_string();
        // The metrics registry, before the first request records anything.
        crate::telemetry::handle();
        let state = web::Data::new(AppState {
            pool: crate::db::pool(settings.serving_url(), settings.db_pool_size, settings.db_timeout),
            long_read_pool: crate::db::long_read_pool(
                settings.serving_url(),
                settings.long_read_pool_size,
                settings.long_read_timeout,
                settings.long_read_timeout,
            ),
            replica: settings.read_database_url.as_deref().map(|url| {
                crate::state::Replica::new(
                    url,
                    settings.db_pool_size.max(settings.long_read_pool_size),
                    settings.long_read_timeout,
                )
            }),
            tokens: crate::tokens::Verifier::new(settings.jwt, settings.oidc, settings.jwt_max_ttl),
            return_due_days: settings.return_due_days,
            document_quota: settings.document_quota,
            demo_sign_in: settings.demo_sign_in,
            reminder_days: settings.reminder_days,
            openapi_json: crate::openapi::spec_json(),
            publisher: settings.publisher,
            rate_limiter: match settings.rate_limit {
                (0, _) => None,
                (rate, burst) => Some(RateLimiter::with_store(rate, burst, settings.rate_limit_store)),
            },
            trusted_proxies: settings.trusted_proxies,
            metrics_token: settings.metrics_token,
            verify_url,
            audit_key: settings.audit_key.clone(),
            verifying: std::sync::atomic::AtomicBool::new(false),
            idempotency_ttl: settings.idempotency_ttl,
        });
        // The signer: the key, the keys pinned outside the database, and its memory of what it
        // signed; none without a key.
        let audit_signer = match &settings.audit_key {
            Some(key) => Some(web::Data::new(crate::audit::checkpoint::Signer::new(
                crate::audit::checkpoint::AuditKey::from(key.clone()),
                settings.retired_keys.clone(),
                settings.audit_record.as_deref().map(crate::audit::record::SignedRecord::at),
            )?)),
            None => None,
        };
        let signer = state.clone();
        let checkpoint_every = settings.checkpoint_every;
        let mail = settings.mail;
        let listener =
            TcpListener::bind(&settings.bind).map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        let address = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
        // The first signing round, before anything is served: the record checked, the head sealed.
        if let Some(signer) = &audit_signer {
            match state.pool.get() {
                Ok(mut conn) => crate::audit::checkpoint::round(&mut conn, signer, true),
                Err(e) => log::warn!("no first signing round: {e}"),
            }
        }
        let served_signer = audit_signer.clone();
        let mut server = HttpServer::new(move || app(state.clone(), served_signer.clone()));
        if let Some(n) = settings.workers {
            server = server.workers(n.max(1));
        }
        if !settings.handle_signals {
            server = server.disable_signals();
        }
        let server = server.listen(listener).map_err(|e| format!("cannot listen on {address}: {e}"))?.run();
        Ok(Application { address, server, signer, audit_signer, checkpoint_every, mail })
    }

    /// The address it listens on.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    /// A handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (or, when signals are handled, SIGTERM/SIGINT).
    /// Signs checkpoints in the background meanwhile, when it holds an audit key.
    pub async fn run(self) -> std::io::Result<()> {
        let reminders = self.mail.map(|mail| {
            actix_web::rt::spawn(crate::delivery::returns::reminders::keep_sending(self.signer.clone(), mail))
        });
        let purger = actix_web::rt::spawn(crate::http::idempotency::keep_purging(self.signer.clone()));
        let sweeper = actix_web::rt::spawn(keep_sweeping_buckets(self.signer.clone()));
        let signer = actix_web::rt::spawn(crate::audit::checkpoint::keep_sealing(
            self.signer,
            self.audit_signer,
            self.checkpoint_every,
        ));
        let outcome = self.server.await;
        signer.abort();
        purger.abort();
        sweeper.abort();
        if let Some(r) = reminders {
            r.abort();
        }
        outcome
    }
}

/// Deletes, every minute, the shared rate-limit buckets idle long enough to be full again, so
/// the table holds only the subjects and addresses of the last moments.
async fn keep_sweeping_buckets(state: web::Data<AppState>) {
    if !state.rate_limiter.as_ref().is_some_and(|l| l.store == crate::ratelimit::Store::Database) {
        return;
    }
    loop {
        let sweeper = state.clone();
        let swept =
            state.db(move |conn| Ok(sweeper.rate_limiter.as_ref().map_or(Ok(0), |l| l.sweep_shared(conn))?)).await;
        if let Err(e) = swept {
            log::warn!("sweeping idle rate-limit buckets: {e}");
        }
        actix_web::rt::time::sleep(std::time::Duration::from_secs(60)).await;
    }
}

/// Builds the application around `state` (and the audit signer, when there is one).
pub fn app(
    state: web::Data<AppState>,
    signer: Option<web::Data<crate::audit::checkpoint::Signer>>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut app = App::new().app_data(state);
    if let Some(signer) = signer {
        app = app.app_data(signer);
    }
    let (app, _) = app
        .into_utoipa_app()
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::Malformed(format!("the query string cannot be read: {e}")).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found("resource").into()))
        .configure(crate::routes::configure)
        .split_for_parts();
    app.configure(crate::web::routes)
        .service(web::redirect("/docs", "/docs/"))
        .route("/metrics", web::get().to(crate::routes::metrics))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(Config::new(["/openapi.json"]).validator_url("none").try_it_out_enabled(true)),
        )
        .default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(crate::openapi::refuse_undeclared_query_parameters))
        .wrap(actix_web::middleware::from_fn(crate::http::middleware::reject_control_characters))
        .wrap(actix_web::middleware::from_fn(crate::http::middleware::limit))
        .wrap(actix_web::middleware::from_fn(crate::http::middleware::security_headers))
        .wrap(actix_web::middleware::from_fn(crate::http::middleware::request_id))
}

/// What a request that no route took gets: 405 with `Allow` when the path exists under
/// other methods, else 404.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match crate::openapi::allowed_methods(req.path()) {
        Some(allow) => Err(ApiError::MethodNotAllowed(allow)),
        None => Err(ApiError::NotFound(format!("there is no route {} {}", req.method(), req.path()))),
    }
}

/// The status of `GET /readyz` from a service at `address` (`host:port`), over plain HTTP/1.0
/// with `timeout` for each step: what `grants health` asks.
pub fn ready_status(address: &str, timeout: std::time::Duration) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let target = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no such address"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&target, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET /readyz HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    // "HTTP/1.x NNN"
    std::str::from_utf8(&head[9..12])
        .ok()
        .filter(|_| head.starts_with(b"HTTP/1."))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

/// `grants health`: asks a running service whether it is ready; `Ok` when `/readyz` answers 200.
/// `address` defaults to `GRANTS_BIND` (`0.0.0.0` asked on `127.0.0.1`).
pub fn health(address: Option<String>) -> Result<(), String> {
    let address = address
        .or_else(|| std::env::var("GRANTS_BIND").ok())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string())
        .replace("0.0.0.0", "127.0.0.1");
    let status = ready_status(&address, std::time::Duration::from_secs(3)).map_err(|e| format!("{address}: {e}"))?;
    if status != 200 {
        return Err(format!("{address}: /readyz answered {status}"));
    }
    crate::say("ready\n")
}

/// Registers the configured audit key's public half, as the tables' owner (the serving role may
/// not insert keys).
fn register_key(settings: &Settings) -> Result<Option<String>, String> {
    use crate::audit::checkpoint::{key_id_of, public_key_of_hex, register_public};
    use diesel::Connection;
    let public = match (&settings.audit_key, &settings.audit_public_key) {
        (Some(key), _) => hex::encode(key.verifying_key().to_bytes()),
        (None, Some(public)) => public.clone(),
        (None, None) => return Ok(None),
    };
    let key_id = key_id_of(&public_key_of_hex(&public).ok_or("the audit public key is not an Ed25519 key in hex")?);
    let mut conn = diesel::PgConnection::establish(&settings.database_url)
        .map_err(|e| format!("cannot connect as the owner to register the audit key: {e}"))?;
    register_public(&mut conn, &public, &key_id).map_err(|e| format!("cannot register the audit key: {e}"))?;
    Ok(Some(key_id))
}

/// `grants migrate`: creates the database if missing and applies the migrations, waiting for a
/// server that is still starting. Given `GRANTS_APP_DATABASE_URL` too, it grants that role
/// exactly the serving role's privileges, so `serve` can run with that URL alone and never hold
/// the owner's credentials (the compose file's `migrate` job).
pub fn migrate(settings: &Settings) -> Result<(), String> {
    crate::db::wait_for_server(&settings.database_url, true, settings.db_start_patience)?;
    match settings.app_database_url.as_deref() {
        Some(app) => {
            crate::db::prepare_serving(&settings.database_url, Some(app), &settings.app_role, None)?;
            crate::say(format!("database ready; {} may serve it\n", crate::db::roles::url_user(app)?))?;
        }
        None => {
            crate::db::prepare(&settings.database_url)?;
            crate::say("database ready\n")?;
        }
    }
    if let Some(key_id) = register_key(settings)? {
        crate::say(format!("audit key {key_id} registered\n"))?;
    }
    Ok(())
}

/// What `grants token` is asked for.
pub struct TokenArgs {
    pub sub: String,
    pub name: Option<String>,
    /// Role names as the claim writes them.
    pub roles: Vec<String>,
    pub recipient_id: Option<uuid::Uuid>,
    /// `30m`, `8h`, `7d`.
    pub ttl: String,
}

/// `grants token`: a token signed with `GRANTS_JWT_SECRET`, or with the secret `serve --demo`
/// keeps; never one the service would refuse for living too long.
pub fn token(settings: &Settings, args: &TokenArgs) -> Result<String, String> {
    use crate::http::auth::{Role, TokenRequest, mint, parse_ttl};
    let demo_secret = crate::config::demo_secret_file();
    let jwt = match &settings.jwt {
        Some(jwt) => jwt.clone(),
        None => crate::config::demo_jwt(&demo_secret, false)?.ok_or_else(|| {
            format!(
                "set GRANTS_JWT_SECRET to mint tokens (or run `grants serve --demo` once: it keeps its secret in {})",
                demo_secret.display()
            )
        })?,
    };
    let roles = args
        .roles
        .iter()
        .map(|r| {
            Role::from_claim(r).ok_or_else(|| {
                format!("unknown role {r:?}: use admin, finance, approver, recipient (or csp) or auditor")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if roles.contains(&Role::Recipient) && args.recipient_id.is_none() {
        return Err("--role recipient needs --recipient-id".into());
    }
    let ttl = parse_ttl(&args.ttl)?;
    if ttl > settings.jwt_max_ttl {
        return Err(format!(
            "--ttl {} is longer than GRANTS_JWT_MAX_TTL ({} s): the service would refuse the token",
            ttl.as_secs(),
            settings.jwt_max_ttl.as_secs()
        ));
    }
    let request = TokenRequest {
        sub: &args.sub,
        name: args.name.as_deref(),
        roles: &roles,
        recipient_id: args.recipient_id.map(crate::domain::RecipientId::from),
        ttl,
    };
    mint(&jwt, &request)
}

/// How `grants serve` was asked to run.
pub struct ServeOptions {
    /// `--demo`: load the demo into an empty database and print a token per role.
    pub demo: bool,
    /// `--allow-superuser`: serve even through a role that can lift the trail's guards.
    pub allow_superuser: bool,
    /// `--public`: let the demo listen beyond loopback.
    pub public: bool,
}

/// `grants serve`: checks the settings before anything starts (the preflight), readies the
/// database and the serving role, loads and announces the demo when asked, then serves until
/// stopped.
pub fn serve(mut settings: Settings, options: ServeOptions) -> Result<(), String> {
    preflight(&mut settings, &options)?;
    settings.app_database_url = Some(serving_role(&settings, options.allow_superuser)?);
    if options.demo {
        crate::demo::welcome(&settings)?;
    }
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(settings)?;
        let address = application.address();
        log::info!("listening on http://{address} (API docs at http://{address}/docs/)");
        application.run().await.map_err(|e| format!("server failed: {e}"))
    })
}

/// What `serve` refuses to start without, and what the demo supplies for itself: a loopback
/// address for the demo (unless `--public`), the publisher's own 360Giving prefix and funder
/// id, a token key and an audit key.
fn preflight(settings: &mut Settings, options: &ServeOptions) -> Result<(), String> {
    if options.demo && !options.public && !binds_loopback_only(&settings.bind) {
        return Err(format!(
            "serve --demo listens on loopback only, and GRANTS_BIND={} is not: the demo prints working tokens \
             to its log. Add --public to serve it beyond this machine (behind a firewall you trust)",
            settings.bind
        ));
    }
    settings.demo_sign_in = options.demo;
    if !options.demo {
        let allowed = crate::config::placeholders_allowed().map_err(|e| e.to_string())?;
        if let Some(problem) = settings.publisher.placeholder_problem(allowed) {
            return Err(problem);
        }
    } else if settings.publisher.data_source.is_none() {
        // The demo's data is published by the demo itself: its public transparency feed.
        settings.publisher.data_source = Some(format!("http://{}/api/v1/transparency/grants", settings.bind));
    }
    if settings.jwt.is_none() {
        if !options.demo {
            return Err(
                "no token key configured: set GRANTS_JWT_SECRET (HS256) or GRANTS_JWT_PUBLIC_KEY_FILE (RS256/ES256)"
                    .into(),
            );
        }
        let path = crate::config::demo_secret_file();
        settings.jwt = crate::config::demo_jwt(&path, true)?;
        log::info!("demo: tokens are signed with the secret kept in {}", path.display());
    }
    if settings.audit_key.is_none() {
        if !options.demo {
            return Err("no audit key: run `grants audit keygen --out FILE` and set GRANTS_AUDIT_KEY_FILE=FILE \
                 (it signs the audit trail's checkpoints; keep it outside the database)"
                .into());
        }
        let path = crate::config::data_dir().join("audit-key.pem");
        let key = crate::audit::checkpoint::AuditKey::read_or_create(&path)?;
        log::info!("demo: checkpoints are signed with key {} from {}", key.key_id(), path.display());
        settings.audit_key = Some(key.signing_key().clone());
        settings.audit_record = Some(crate::config::record_beside(&path));
    }
    Ok(())
}

/// The URL of the role to serve through. The owner (when its URL is given) migrates and readies
/// the serving role; given only the serving role's URL, the database must already be current.
/// A superuser or the tables' owner is refused unless `allow_superuser`.
fn serving_role(settings: &Settings, allow_superuser: bool) -> Result<String, String> {
    use crate::db;
    let owner_migrates = settings.database_url_given || settings.app_database_url.is_none();
    let serving_url = if owner_migrates {
        db::wait_for_server(&settings.database_url, true, settings.db_start_patience)?;
        // An owner URL without a password gives nothing secret to derive the serving role's
        // password from: a random one is kept beside the service instead.
        let kept = match (db::roles::holds_password(&settings.database_url), &settings.app_database_url) {
            (false, None) => Some(crate::config::kept_serving_secret()?),
            _ => None,
        };
        db::prepare_serving(
            &settings.database_url,
            settings.app_database_url.as_deref(),
            &settings.app_role,
            kept.as_deref(),
        )?
    } else {
        let url = settings.app_database_url.clone().unwrap_or_default();
        db::wait_for_server(&url, false, settings.db_start_patience)?;
        db::check_current(&url)?;
        url
    };
    if owner_migrates {
        register_key(settings)?;
    }
    let identity = db::roles::identify(&serving_url)?;
    db::roles::refuse_powerful(&identity, allow_superuser)?;
    log::info!("serving as database role {}", identity.user);
    Ok(serving_url)
}

/// True when `bind` (`host:port`) listens on loopback addresses only.
fn binds_loopback_only(bind: &str) -> bool {
    use std::net::ToSocketAddrs;
    match bind.to_socket_addrs() {
        Ok(addresses) => {
            let addresses: Vec<_> = addresses.collect();
            !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

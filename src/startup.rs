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
            heavy_pool: crate::db::heavy_pool(
                settings.serving_url(),
                settings.heavy_pool_size,
                settings.heavy_timeout,
                settings.heavy_timeout,
            ),
            replica: settings.read_database_url.as_deref().map(|url| {
                crate::state::Replica::new(
                    url,
                    settings.db_pool_size.max(settings.heavy_pool_size),
                    settings.heavy_timeout,
                )
            }),
            tokens: crate::tokens::Verifier::new(settings.jwt, settings.oidc, settings.jwt_max_ttl),
            return_due_days: settings.return_due_days,
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
            audit_key: settings.audit_key,
            verifying: std::sync::atomic::AtomicBool::new(false),
            idempotency_ttl: settings.idempotency_ttl,
        });
        let signer = state.clone();
        let checkpoint_every = settings.checkpoint_every;
        let mail = settings.mail;
        let listener =
            TcpListener::bind(&settings.bind).map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        let address = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
        let mut server = HttpServer::new(move || app(state.clone()));
        if let Some(n) = settings.workers {
            server = server.workers(n.max(1));
        }
        if !settings.handle_signals {
            server = server.disable_signals();
        }
        let server = server.listen(listener).map_err(|e| format!("cannot listen on {address}: {e}"))?.run();
        Ok(Application { address, server, signer, checkpoint_every, mail })
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
        let signer = actix_web::rt::spawn(crate::audit::checkpoint::keep_sealing(self.signer, self.checkpoint_every));
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

/// Builds the application around `state`.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, _) = App::new()
        .into_utoipa_app()
        .app_data(state)
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::Malformed(format!("the query string cannot be read: {e}")).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found("resource").into()))
        .configure(crate::routes::configure)
        .split_for_parts();
    app.service(web::redirect("/docs", "/docs/"))
        .route("/metrics", web::get().to(crate::routes::metrics))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(Config::new(["/openapi.json"]).validator_url("none").try_it_out_enabled(true)),
        )
        .default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(crate::http::middleware::reject_control_characters))
        .wrap(actix_web::middleware::from_fn(crate::http::middleware::limit))
        .wrap(actix_web::middleware::from_fn(crate::http::middleware::security_headers))
        .wrap(actix_web::middleware::from_fn(crate::http::middleware::request_id))
}

/// What a request that no route took gets: 405 with `Allow` when the path exists under
/// other methods, else 404.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match allowed_methods(req.path()) {
        Some(allow) => Err(ApiError::MethodNotAllowed(allow)),
        None => Err(ApiError::NotFound(format!("there is no route {} {}", req.method(), req.path()))),
    }
}

/// The methods the spec declares for a concrete path, e.g. `GET, PATCH` for `/api/v1/funds/<id>`.
fn allowed_methods(path: &str) -> Option<String> {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, String)>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let spec = crate::openapi::document();
        spec.paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("PUT", item.put.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (template.split('/').map(str::to_string).collect(), methods.join(", "))
            })
            .collect()
    });
    let segments: Vec<&str> = path.split('/').collect();
    routes
        .iter()
        .find(|(template, _)| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })
        .map(|(_, allow)| allow.clone())
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

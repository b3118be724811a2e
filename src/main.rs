//! The `grants` command line: it parses arguments and calls the library, nothing more.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use grants::config::Settings;
use grants::http::auth::{Role, TokenRequest, mint, parse_ttl};
use grants::startup::Application;
use grants::{db, demo, openapi};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "grants", version, about = "The crime and disorder reduction grants ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (creates and migrates the database first).
    Serve {
        /// Load the demo data into an empty database and print a token per role.
        #[arg(long)]
        demo: bool,
        /// Serve even through a superuser or the tables' owner, which can lift every guard of
        /// the audit trail (refused without this).
        #[arg(long)]
        allow_superuser: bool,
        /// With --demo: listen on an address beyond loopback (GRANTS_BIND), which the demo,
        /// printing working tokens to its log, otherwise refuses.
        #[arg(long, requires = "demo")]
        public: bool,
    },
    /// Create the database if missing and apply the migrations.
    Migrate,
    /// Load the demo data into an empty database.
    Seed,
    /// Print a signed token (needs GRANTS_JWT_SECRET).
    Token {
        #[arg(long)]
        sub: String,
        #[arg(long)]
        name: Option<String>,
        /// A role: admin, finance, approver, recipient (or csp), auditor. Repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The officer's recipient id (required with --role recipient).
        #[arg(long)]
        recipient_id: Option<Uuid>,
        /// How long it lasts: 30m, 8h, 7d.
        #[arg(long, default_value = "8h")]
        ttl: String,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Ask a running service whether it is ready (`GET /readyz`): exit status 0 when it
    /// answers 200, 1 otherwise. For container health checks (the image has no curl).
    Health {
        /// The service's address; default GRANTS_BIND (0.0.0.0 asked on 127.0.0.1).
        #[arg(long, value_name = "HOST:PORT")]
        address: Option<String>,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the whole hash chain, check every signed checkpoint (and a saved one), and
    /// reconcile every ledger row with its latest event; exit status 0 when all holds, 1 when not.
    Verify {
        /// A checkpoint saved earlier (JSON as `GET /audit/checkpoints` or the transparency
        /// feed gives it): the chain must still pass through it.
        #[arg(long, value_name = "FILE")]
        against: Option<std::path::PathBuf>,
    },
    /// Write a new Ed25519 signing key for checkpoints (PKCS#8 PEM, readable by its owner only)
    /// and print its id and public key. Never overwrites a file.
    Keygen {
        /// Where to write it; point GRANTS_AUDIT_KEY_FILE at it.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
        /// When FILE already holds a key, print its id and succeed instead of refusing (for a
        /// container's first start).
        #[arg(long)]
        if_missing: bool,
    },
}

fn main() -> ExitCode {
    // Settings in a `.env` file of the working directory; the real environment wins.
    match dotenvy::from_path(".env") {
        Ok(()) => {}
        Err(e) if e.not_found() => {}
        Err(e) => {
            eprintln!("grants: cannot read .env: {e}");
            return ExitCode::FAILURE;
        }
    }
    match grants::logs::Format::parse(std::env::var("GRANTS_LOG_FORMAT").ok().as_deref()) {
        Ok(format) => grants::logs::init(format),
        Err(message) => {
            eprintln!("grants: {message}");
            return ExitCode::FAILURE;
        }
    }
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("grants: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Openapi => {
            print!("{}", openapi::spec_json());
            Ok(())
        }
        Command::Migrate => {
            let settings = Settings::from_env().map_err(|e| e.to_string())?;
            db::wait_for_server(&settings.database_url, true, settings.db_start_patience)?;
            db::prepare(&settings.database_url)?;
            println!("database ready");
            Ok(())
        }
        Command::Seed => {
            let settings = Settings::from_env().map_err(|e| e.to_string())?;
            seed(&settings.database_url).map(|loaded| {
                println!(
                    "{}",
                    if loaded.is_some() {
                        "demo data loaded"
                    } else {
                        "the database already holds data: nothing loaded"
                    }
                )
            })
        }
        Command::Token { sub, name, roles, recipient_id, ttl } => {
            let settings = Settings::from_env().map_err(|e| e.to_string())?;
            let demo_secret = grants::config::demo_secret_file();
            let jwt = match settings.jwt {
                Some(jwt) => jwt,
                None => grants::config::demo_jwt(&demo_secret, false)?.ok_or_else(|| {
                    format!(
                        "set GRANTS_JWT_SECRET to mint tokens (or run `grants serve --demo` once: it keeps its secret in {})",
                        demo_secret.display()
                    )
                })?,
            };
            let roles = roles
                .iter()
                .map(|r| {
                    Role::from_claim(r).ok_or_else(|| {
                        format!("unknown role {r:?}: use admin, finance, approver, recipient (or csp) or auditor")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if roles.contains(&Role::Recipient) && recipient_id.is_none() {
                return Err("--role recipient needs --recipient-id".into());
            }
            let token = mint(
                &jwt,
                &TokenRequest {
                    sub: &sub,
                    name: name.as_deref(),
                    roles: &roles,
                    recipient_id: recipient_id.map(grants::domain::RecipientId::from),
                    ttl: {
                        let ttl = parse_ttl(&ttl)?;
                        if ttl > settings.jwt_max_ttl {
                            return Err(format!(
                                "--ttl {} is longer than GRANTS_JWT_MAX_TTL ({} s): the service would refuse the token",
                                ttl.as_secs(),
                                settings.jwt_max_ttl.as_secs()
                            ));
                        }
                        ttl
                    },
                },
            )?;
            println!("{token}");
            Ok(())
        }
        Command::Serve { demo, allow_superuser, public } => serve(demo, allow_superuser, public),
        Command::Audit { action: AuditCommand::Keygen { out, if_missing } } => {
            use grants::audit::checkpoint::AuditKey;
            if if_missing && out.exists() {
                let key = AuditKey::read(&out)?;
                println!("kept {}\nkey_id {}\npublic_key {}", out.display(), key.key_id(), key.public_hex());
                return Ok(());
            }
            let key = AuditKey::generate();
            key.write_new(&out)?;
            println!("wrote {}\nkey_id {}\npublic_key {}", out.display(), key.key_id(), key.public_hex());
            Ok(())
        }
        Command::Health { address } => {
            let address = address
                .or_else(|| std::env::var("GRANTS_BIND").ok())
                .unwrap_or_else(|| "127.0.0.1:8080".to_string())
                .replace("0.0.0.0", "127.0.0.1");
            let status = grants::startup::ready_status(&address, std::time::Duration::from_secs(3))
                .map_err(|e| format!("{address}: {e}"))?;
            if status == 200 {
                println!("ready");
                Ok(())
            } else {
                Err(format!("{address}: /readyz answered {status}"))
            }
        }
        Command::Audit { action: AuditCommand::Verify { against } } => {
            use diesel::Connection;
            let settings = Settings::from_env().map_err(|e| e.to_string())?;
            let against = against
                .map(|path| {
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    serde_json::from_str::<grants::audit::verify::SavedCheckpoint>(&text).map_err(|e| {
                        format!("{} is not a saved checkpoint (JSON with seq and head_hash): {e}", path.display())
                    })
                })
                .transpose()?;
            let connect =
                || diesel::PgConnection::establish(settings.serving_url()).map_err(|e| format!("cannot connect: {e}"));
            let (mut conn, mut other) = (connect()?, connect()?);
            let started = std::time::Instant::now();
            let result =
                grants::audit::verify::verify_all(&mut conn, &mut other, &grants::audit::verify::Options { against })
                    .map_err(|e| format!("cannot read the trail: {e}"))?;
            println!("{}", serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?);
            eprintln!(
                "verified {} events, {} checkpoints and every ledger row in {:.2?}; {} events unsealed",
                result.events_checked,
                result.checkpoints_checked,
                started.elapsed(),
                result.unsealed_events
            );
            if result.ok {
                return Ok(());
            }
            let mut reasons = Vec::new();
            if let Some(seq) = result.first_bad_seq {
                reasons.push(format!("the chain breaks at seq {seq}"));
            }
            reasons.extend(result.findings.iter().map(|f| f.message.clone()));
            if result.unreconciled_total > 0 {
                reasons.push(format!("{} ledger values differ from their latest events", result.unreconciled_total));
            }
            Err(reasons.join("; "))
        }
    }
}

fn seed(database_url: &str) -> Result<Option<demo::DemoSummary>, String> {
    db::prepare(database_url)?;
    load_demo(database_url)
}

fn load_demo(database_url: &str) -> Result<Option<demo::DemoSummary>, String> {
    use diesel::Connection;
    let mut conn = diesel::PgConnection::establish(database_url).map_err(|e| format!("cannot connect: {e}"))?;
    demo::load_if_empty(&mut conn).map_err(|e| format!("demo data: {e}"))
}

fn serve(with_demo: bool, allow_superuser: bool, public: bool) -> Result<(), String> {
    let mut settings = Settings::from_env().map_err(|e| e.to_string())?;
    if with_demo && !public && !binds_loopback_only(&settings.bind) {
        return Err(format!(
            "serve --demo listens on loopback only, and GRANTS_BIND={} is not: the demo prints working tokens \
             to its log. Add --public to serve it beyond this machine (behind a firewall you trust)",
            settings.bind
        ));
    }
    if !with_demo {
        let allowed = grants::config::placeholders_allowed().map_err(|e| e.to_string())?;
        if let Some(problem) = settings.publisher.placeholder_problem(allowed) {
            return Err(problem);
        }
    } else if settings.publisher.data_source.is_none() {
        // The demo's data is published by the demo itself: its public transparency feed.
        settings.publisher.data_source = Some(format!("http://{}/api/v1/transparency/grants", settings.bind));
    }
    if settings.jwt.is_none() {
        if !with_demo {
            return Err(
                "no token key configured: set GRANTS_JWT_SECRET (HS256) or GRANTS_JWT_PUBLIC_KEY_FILE (RS256/ES256)"
                    .into(),
            );
        }
        let path = grants::config::demo_secret_file();
        settings.jwt = grants::config::demo_jwt(&path, true)?;
        log::info!("demo: tokens are signed with the secret kept in {}", path.display());
    }
    if settings.audit_key.is_none() {
        if !with_demo {
            return Err("no audit key: run `grants audit keygen --out FILE` and set GRANTS_AUDIT_KEY_FILE=FILE \
                 (it signs the audit trail's checkpoints; keep it outside the database)"
                .into());
        }
        let path = grants::config::data_dir().join("audit-key.pem");
        let key = grants::audit::checkpoint::AuditKey::read_or_create(&path)?;
        log::info!("demo: checkpoints are signed with key {} from {}", key.key_id(), path.display());
        settings.audit_key = Some(key.signing_key().clone());
    }
    // The owner migrates and readies the serving role; requests go through the serving role.
    let owner_migrates = settings.database_url_given || settings.app_database_url.is_none();
    if owner_migrates {
        db::wait_for_server(&settings.database_url, true, settings.db_start_patience)?;
    } else if let Some(url) = &settings.app_database_url {
        db::wait_for_server(url, false, settings.db_start_patience)?;
    }
    let serving_url = if owner_migrates {
        db::prepare_serving(&settings.database_url, settings.app_database_url.as_deref(), &settings.app_role)?
    } else {
        let url = settings.app_database_url.clone().unwrap_or_default();
        db::check_current(&url)?;
        url
    };
    let identity = db::roles::identify(&serving_url)?;
    db::roles::refuse_powerful(&identity, allow_superuser)?;
    log::info!("serving as database role {}", identity.user);
    settings.app_database_url = Some(serving_url);
    if with_demo {
        let loaded = load_demo(settings.serving_url())?;
        let fresh = loaded.is_some();
        use diesel::Connection;
        let mut conn =
            diesel::PgConnection::establish(settings.serving_url()).map_err(|e| format!("cannot connect: {e}"))?;
        let summary = match loaded {
            Some(summary) => Some(summary),
            None => demo::find(&mut conn).map_err(|e| format!("demo data: {e}"))?,
        };
        // Tokens only for a database that holds nothing but the demo's own making.
        let only_demo = fresh || demo::holds_only_demo(&mut conn).map_err(|e| format!("demo data: {e}"))?;
        drop(conn);
        if only_demo {
            print_demo_banner(&settings, summary.as_ref(), fresh)?;
        } else {
            log::warn!(
                "demo: this database holds data the demo did not make, so no tokens are printed; \
                 mint them with `grants token` if you hold the secret"
            );
        }
    }
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(settings)?;
        let address = application.address();
        log::info!("listening on http://{address} (API docs at http://{address}/docs/)");
        application.run().await.map_err(|e| format!("server failed: {e}"))
    })
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

fn print_demo_banner(settings: &Settings, summary: Option<&demo::DemoSummary>, loaded: bool) -> Result<(), String> {
    let jwt = settings.jwt.as_ref().ok_or("no token key")?;
    let base = format!("http://{}", settings.bind);
    println!("\nDemo tokens (valid 8 hours):");
    let csp = summary.map(|s| s.csp_recipient.clone());
    let mut tokens = Vec::new();
    // Every demo subject starts `demo-`, which is how a later start knows the data is the demo's.
    for (role, sub, name) in [
        (Role::Admin, "demo-admin", "Demo admin"),
        (Role::Finance, "demo-finance", "Demo finance officer"),
        (Role::Approver, "demo-approver", "Demo approver"),
        (Role::Auditor, "demo-auditor", "Demo auditor"),
        (Role::Recipient, "demo-csp", "Demo CSP officer (recipient role)"),
    ] {
        let recipient_id = if role == Role::Recipient {
            match &csp {
                Some((_, id)) => Some(*id),
                None => continue,
            }
        } else {
            None
        };
        let token = mint(
            jwt,
            &TokenRequest {
                sub,
                name: Some(name),
                roles: &[role],
                recipient_id,
                ttl: std::time::Duration::from_secs(8 * 3600),
            },
        )?;
        println!("  export {}_TOKEN={token}", role.as_str().to_uppercase());
        tokens.push(role);
    }
    if let Some((name, _)) = &csp {
        println!("  (the recipient token belongs to {name})");
    }
    println!("\nTry:");
    println!("  curl -s -H \"Authorization: Bearer $FINANCE_TOKEN\" '{base}/api/v1/funds?financial_year=2020-21'");
    println!(
        "  curl -s -H \"Authorization: Bearer $FINANCE_TOKEN\" '{base}/api/v1/awards?financial_year=2020-21&status=draft'"
    );
    if let Some(s) = summary {
        println!("  curl -s -H \"Authorization: Bearer $AUDITOR_TOKEN\" {base}/api/v1/awards/{}", s.award_id);
        println!("  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" {base}/api/v1/funds/{}", s.fund_id);
    }
    if csp.is_some() {
        println!("  curl -s -H \"Authorization: Bearer $RECIPIENT_TOKEN\" {base}/api/v1/awards");
    }
    println!("  open {base}/docs/ for the interactive API documentation\n");
    match (summary, loaded) {
        (_, true) => println!(
            "(demo data loaded; the tokens stay valid across restarts: the secret is kept in {})\n",
            grants::config::demo_secret_file().display()
        ),
        (Some(_), false) => println!("(the demo data was already loaded; tokens from earlier starts still work)\n"),
        (None, false) => println!(
            "(the database holds other data, so no demo data was loaded and there is no recipient token: mint one with\n \
             `grants token --sub officer --role recipient --recipient-id <id>`)\n"
        ),
    }
    Ok(())
}

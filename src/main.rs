//! The `grants` command line: it parses arguments and calls the library, nothing more.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use grants::config::Settings;
use grants::startup::{self, ServeOptions, TokenArgs};
use grants::{audit, demo, openapi};
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
        /// Also write the public half (hex) here, for `grants migrate` to register
        /// (GRANTS_AUDIT_PUBLIC_KEY_FILE) without holding the private key.
        #[arg(long, value_name = "FILE")]
        public_out: Option<std::path::PathBuf>,
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
    let settings = || Settings::from_env().map_err(|e| e.to_string());
    match command {
        Command::Serve { demo, allow_superuser, public } => {
            startup::serve(settings()?, ServeOptions { demo, allow_superuser, public })
        }
        Command::Migrate => startup::migrate(&settings()?),
        Command::Seed => demo::seed(&settings()?),
        Command::Token { sub, name, roles, recipient_id, ttl } => {
            let token = startup::token(&settings()?, &TokenArgs { sub, name, roles, recipient_id, ttl })?;
            grants::say(format!("{token}\n"))?;
            Ok(())
        }
        Command::Openapi => {
            grants::say(openapi::spec_json())?;
            Ok(())
        }
        Command::Health { address } => startup::health(address),
        Command::Audit { action: AuditCommand::Verify { against } } => {
            audit::verify::report(&settings()?, against.as_deref())
        }
        Command::Audit { action: AuditCommand::Keygen { out, if_missing, public_out } } => {
            audit::checkpoint::keygen(&out, if_missing, public_out.as_deref())
        }
    }
}

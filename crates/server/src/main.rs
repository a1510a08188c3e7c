//! The `harbour-server` command: `init`, `serve`, `backup`.
//!
//! Output to a closed pipe (`harbour-server init ... | head -1`) ends quietly with status 0.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use harbour_server::api::Limits;
use harbour_server::connections::{self, ConnectionLimits};
use harbour_server::quota::Quota;
use harbour_server::serve::{MetricsOptions, TlsFiles, serve};
use harbour_server::store::{self, StoreError};
use harbour_server::token::Token;

#[derive(Parser)]
#[command(name = "harbour-server", version, about = "The ministry's Harbour sync server")]
struct Cli {
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text", env = "HARBOUR_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create the store and print the one-time bootstrap token for the first administrator.
    Init {
        /// `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`.
        #[arg(long, env = "HARBOUR_DB")]
        db: String,
        /// Print `{"bootstrap_token": ...}` instead of a sentence.
        #[arg(long)]
        json: bool,
    },
    /// Serve the sync API until SIGTERM or SIGINT.
    Serve {
        #[arg(long, env = "HARBOUR_DB")]
        db: String,
        /// Address to listen on; port 0 picks a free port (printed on stdout).
        #[arg(long, env = "HARBOUR_LISTEN", default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// PEM certificate chain; with --tls-key, serve HTTPS.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of the certificate.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Largest request body accepted, after decompression.
        #[arg(long, default_value_t = 16 * 1024 * 1024)]
        max_body_bytes: usize,
        /// Seconds a request may take before it is abandoned.
        #[arg(long, default_value_t = 30)]
        request_timeout_secs: u64,
        /// Events one device may push per minute (0: no limit); over it, 429 with Retry-After.
        #[arg(long, env = "HARBOUR_QUOTA_EVENTS_PER_MINUTE", default_value_t = Quota::default().events_per_minute)]
        quota_events_per_minute: u32,
        /// Bytes of sealed events one device may push per day (0: no limit).
        #[arg(long, env = "HARBOUR_QUOTA_BYTES_PER_DAY", default_value_t = Quota::default().bytes_per_day)]
        quota_bytes_per_day: u64,
        /// Serve /metrics on the public listener to requests with `Authorization: Bearer TOKEN`.
        #[arg(long, env = "HARBOUR_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
        /// Serve /metrics, without a token, on this loopback address of its own (127.0.0.1:PORT).
        #[arg(long, env = "HARBOUR_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        /// Open connections at most. At the cap the longest-waiting connection is closed to
        /// make room; when every connection is busy a new one gets 503 with Retry-After.
        /// Lowered to fit the open-files limit (LimitNOFILE) if that is smaller.
        #[arg(long, env = "HARBOUR_MAX_CONNECTIONS", default_value_t = ConnectionLimits::default().max_connections)]
        max_connections: usize,
        /// Seconds a client has to send a request's headers (from the connection's opening or
        /// the request's first byte); then the connection is closed.
        #[arg(long, default_value_t = ConnectionLimits::default().header_timeout.as_secs())]
        header_timeout_secs: u64,
        /// Seconds a connection may stay open without a request after its last response.
        #[arg(long, default_value_t = ConnectionLimits::default().idle_timeout.as_secs())]
        idle_timeout_secs: u64,
    },
    /// Copy a live SQLite store to FILE (online backup; the server may keep running).
    Backup {
        #[arg(long, env = "HARBOUR_DB")]
        db: String,
        #[arg(long)]
        to: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = tokio::runtime::Runtime::new()
        .context("could not start the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli.command)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader of stdout went away (`| head`): not a failure, as with ripgrep.
        Err(error) if is_broken_pipe(&error) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// One line on stdout; an error (a closed pipe) is returned, never a panic.
fn say(line: impl std::fmt::Display) -> anyhow::Result<()> {
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init { db, json } => {
            let store = store::open(&db).await.context("could not open the database")?;
            let token = Token::generate();
            match store.initialize(&token.hash()).await {
                Ok(()) => {}
                Err(StoreError::AlreadyInitialized) => {
                    bail!("This database is already initialized; its bootstrap token was shown when it was created.")
                }
                Err(error) => return Err(error).context("could not initialize the database"),
            }
            if json {
                say(serde_json::json!({ "bootstrap_token": token.as_str() }))
            } else {
                say("Bootstrap token (shown once; give it to the first administrator):")?;
                say(token.as_str())
            }
        }
        Command::Serve {
            db,
            listen,
            tls_cert,
            tls_key,
            max_body_bytes,
            request_timeout_secs,
            quota_events_per_minute,
            quota_bytes_per_day,
            metrics_token,
            metrics_listen,
            max_connections,
            header_timeout_secs,
            idle_timeout_secs,
        } => {
            if max_connections == 0 || header_timeout_secs == 0 || idle_timeout_secs == 0 {
                bail!("--max-connections, --header-timeout-secs and --idle-timeout-secs must be at least 1");
            }
            // A write waits for the lock at most half the request's time, so it fails with a
            // sentence (503) before the request times out.
            let busy_timeout =
                harbour_server::sqlite::DEFAULT_BUSY_TIMEOUT.min(Duration::from_secs(request_timeout_secs) / 2);
            let store =
                store::open_with_busy_timeout(&db, busy_timeout).await.context("could not open the database")?;
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                _ => None,
            };
            let limits = Limits {
                max_body_bytes,
                request_timeout: Duration::from_secs(request_timeout_secs),
                quota: Quota { events_per_minute: quota_events_per_minute, bytes_per_day: quota_bytes_per_day },
            };
            if metrics_token.as_deref().is_some_and(|token| token.trim().len() < 16) {
                bail!("--metrics-token must be at least 16 characters: make one with `openssl rand -hex 32`");
            }
            let metrics = MetricsOptions { token: metrics_token, listen: metrics_listen };
            let connections = ConnectionLimits {
                max_connections: fit_open_files(max_connections),
                header_timeout: Duration::from_secs(header_timeout_secs),
                idle_timeout: Duration::from_secs(idle_timeout_secs),
            };
            serve(store, listen, tls, limits, metrics, connections).await
        }
        Command::Backup { db, to } => {
            let Some(path) = db.strip_prefix("sqlite:") else {
                bail!("backup works for sqlite:PATH stores; back up PostgreSQL with pg_dump");
            };
            let store = harbour_server::sqlite::SqliteStore::open(std::path::Path::new(path))
                .await
                .context("could not open the database")?;
            store.backup_to(&to).await.context("the backup failed")?;
            say(format_args!("Backed up {} to {}", path, to.display()))
        }
    }
}

/// The connection cap, lowered so that every connection (and a reserve for the database and
/// logs) has a file descriptor: past that limit the operating system would refuse connections
/// silently.
fn fit_open_files(max_connections: usize) -> usize {
    let Some(limit) = connections::open_files_limit() else { return max_connections };
    let room = limit.saturating_sub(connections::RESERVED_FDS).max(1);
    if (max_connections as u64) <= room {
        return max_connections;
    }
    tracing::warn!(
        max_connections,
        open_files_limit = limit,
        lowered_to = room,
        "the open-files limit is too low for --max-connections: the cap is lowered (raise LimitNOFILE \
         in the systemd unit, or ulimit -n)"
    );
    room as usize
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARBOUR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // At debug level tokio_postgres logs every statement's parameters (sealed payloads,
        // token hashes, the directory's team names): never below info, whatever HARBOUR_LOG says.
        .add_directive("tokio_postgres=info".parse().expect("a valid directive"));
    // Colour escape codes only for a person at a terminal, never in a file or a journal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

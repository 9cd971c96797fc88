//! The callsheet command line: parse arguments, call the library, print the result.

use std::process::ExitCode;

/// A million-row import allocates and frees millions of small strings across the
/// parsing and storing threads; mimalloc handles that far better than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use callsheet::api::{self, AppState, ServeOptions};
use callsheet::config::{self, Limits};
use callsheet::domain::ids::{AccountId, IdKind, KeySid};
use callsheet::domain::phone::Region;
use callsheet::domain::{account::parse_name, now_secs, token};
use callsheet::store;
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(name = "callsheet", version, about = "Contact lists for outbound call campaigns")]
struct Cli {
    /// Database URL: sqlite://PATH or postgres://...
    #[arg(long, global = true, env = "CALLSHEET_DATABASE_URL", default_value = config::DEFAULT_DATABASE)]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "CALLSHEET_LISTEN", default_value = config::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// Largest request body (uploads included), in bytes.
        #[arg(long, env = "CALLSHEET_MAX_UPLOAD_BYTES", default_value_t = Limits::default().upload_bytes)]
        max_upload_bytes: usize,
        /// Largest JSON or urlencoded body, and the most text the non-file fields of
        /// a multipart body may hold, in bytes.
        #[arg(long, env = "CALLSHEET_MAX_JSON_BYTES", default_value_t = Limits::default().json_bytes)]
        max_json_bytes: usize,
        /// Most entries in one listcontacts (or add-by-phones phones).
        #[arg(long, env = "CALLSHEET_MAX_LISTCONTACTS", default_value_t = Limits::default().listcontacts)]
        max_listcontacts: usize,
        /// Most data rows in one uploaded file.
        #[arg(long, env = "CALLSHEET_MAX_FILE_ROWS", default_value_t = Limits::default().file_rows)]
        max_file_rows: usize,
        /// Most bytes an uploaded .xlsx may unpack to.
        #[arg(long, env = "CALLSHEET_MAX_UNPACKED_BYTES", default_value_t = Limits::default().unpacked_bytes)]
        max_unpacked_bytes: u64,
        /// Seconds a connection has to send a request's head (and an idle keep-alive
        /// connection its next one) before it is closed.
        #[arg(long, env = "CALLSHEET_HEADER_READ_TIMEOUT", default_value_t = ServeOptions::default().header_read_timeout.as_secs_f64())]
        header_read_timeout: f64,
        /// Connections served at once; more wait until one closes.
        #[arg(long, env = "CALLSHEET_MAX_CONNECTIONS", default_value_t = ServeOptions::default().max_connections)]
        max_connections: usize,
    },
    /// Manage accounts (tenants).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Print a REST token for an API key.
    Token {
        #[arg(long)]
        key_sid: String,
        #[arg(long)]
        key_secret: String,
        /// Seconds the token stays valid.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account with a default portal; prints its id.
    Create {
        name: String,
        /// Default country for phone numbers (ISO 3166 alpha-2).
        #[arg(long, default_value = "VN")]
        region: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key; the secret is printed only here.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable an API key.
    Revoke { sid: String },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line: clap's first line names the problem.
            let text = e.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            max_upload_bytes,
            max_json_bytes,
            max_listcontacts,
            max_file_rows,
            max_unpacked_bytes,
            header_read_timeout,
            max_connections,
        } => {
            let limits = Limits {
                upload_bytes: max_upload_bytes,
                json_bytes: max_json_bytes,
                listcontacts: max_listcontacts,
                file_rows: max_file_rows,
                unpacked_bytes: max_unpacked_bytes,
            };
            if !(header_read_timeout > 0.0 && header_read_timeout <= 3600.0) {
                anyhow::bail!("--header-read-timeout must be between 0 and 3600 seconds");
            }
            if max_connections == 0 {
                anyhow::bail!("--max-connections must be at least 1");
            }
            let options = ServeOptions {
                header_read_timeout: std::time::Duration::from_secs_f64(header_read_timeout),
                max_connections,
            };
            serve(&cli.database, listen, limits, options).await
        }
        Command::Account { command: AccountCommand::Create { name, region, json } } => {
            let name = parse_name("account name", &name).map_err(anyhow::Error::msg)?;
            let region = Region::parse(&region).map_err(anyhow::Error::msg)?;
            let store = store::open(&cli.database).await?;
            let (account, portal) = store.create_account(name, region.code.clone()).await?;
            if json {
                println!(
                    "{}",
                    json!({"account": account.id, "name": account.name, "region": account.region, "portal": portal.id})
                );
            } else {
                println!("{}", account.id);
            }
            Ok(())
        }
        Command::Key { command: KeyCommand::Create { account, json } } => {
            let store = store::open(&cli.database).await?;
            let account = AccountId::parse(&account).map_err(anyhow::Error::msg)?;
            let key = store.create_key(account).await?;
            if json {
                println!("{}", json!({"account": key.account_id, "key_sid": key.sid, "key_secret": key.secret}));
            } else {
                println!("key_sid: {}\nkey_secret: {}", key.sid, key.secret);
            }
            Ok(())
        }
        Command::Key { command: KeyCommand::Revoke { sid } } => {
            let store = store::open(&cli.database).await?;
            if !store.revoke_key(KeySid::parse(&sid).map_err(anyhow::Error::msg)?).await? {
                anyhow::bail!("no API key '{sid}'");
            }
            println!("revoked {sid}");
            Ok(())
        }
        Command::Token { key_sid, key_secret, ttl } => {
            if !IdKind::KeySid.matches(&key_sid) {
                anyhow::bail!("--key-sid '{key_sid}' is not a key sid (SK and 30 letters or digits)");
            }
            if key_secret.is_empty() {
                anyhow::bail!("--key-secret must not be empty");
            }
            if !(1..=366 * 24 * 3600).contains(&ttl) {
                anyhow::bail!("--ttl must be between 1 second and 366 days");
            }
            println!("{}", token::mint(&key_sid, &key_secret, now_secs(), ttl));
            Ok(())
        }
    }
}

async fn serve(
    database: &str,
    listen: std::net::SocketAddr,
    limits: Limits,
    options: ServeOptions,
) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    // Signals are caught from here on, before anything can be served.
    let shutdown = shutdown_signal()?;
    let store = store::open_serving(database).await?;
    store::spawn_sweeper(&store);
    let app = api::app(AppState::new(store, limits), Default::default());
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let listen = listener.local_addr()?;
    tracing::info!(%listen, database = %store::redact_url(database), "callsheet serving");
    api::serve_with(listener, app, shutdown, options).await?;
    tracing::info!("callsheet stopped");
    Ok(())
}

/// Registers SIGINT and SIGTERM handlers; the future resolves on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

//! The callsheet command line: parse arguments, call the library, print the result.

use std::process::ExitCode;

mod client;

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
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use serde_json::json;

/// A bad argument found after parsing (a value out of its range, a key sid of the
/// wrong shape): reported as clap reports its own, `… (see --help)`, exit 2.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A refused argument as a [`Usage`] error (exit status 2).
fn bad_argument(reason: String) -> anyhow::Error {
    anyhow::Error::new(Usage(reason))
}

/// Fails with a [`Usage`] error.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new(Usage(format!($($arg)*))))
    };
}

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
        /// Uploads of at least this many bytes run as jobs unless they send async=0
        /// (0: only those that send async=1).
        #[arg(long, env = "CALLSHEET_ASYNC_UPLOAD_BYTES", default_value_t = Limits::default().async_upload_bytes)]
        async_upload_bytes: usize,
        /// Seconds a connection has to send a request's head (and an idle keep-alive
        /// connection its next one) before it is closed.
        #[arg(long, env = "CALLSHEET_HEADER_READ_TIMEOUT", default_value_t = ServeOptions::default().header_read_timeout.as_secs_f64())]
        header_read_timeout: f64,
        /// Connections served at once; more wait until one closes.
        #[arg(long, env = "CALLSHEET_MAX_CONNECTIONS", default_value_t = ServeOptions::default().max_connections)]
        max_connections: usize,
        /// Log lines as text, or as one JSON object per line.
        #[arg(long, env = "CALLSHEET_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
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
    /// Print a REST token for an API key (checked against the database when it can be opened).
    Token {
        #[command(flatten)]
        key: KeyArgs,
        /// Seconds the token stays valid.
        #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
        ttl: i64,
    },
    /// Upload a spreadsheet (.xlsx or .csv) to a campaign on a running server, with progress.
    Import {
        /// The file to upload.
        file: std::path::PathBuf,
        /// The campaign to add its rows to.
        #[arg(long)]
        campaign: String,
        #[command(flatten)]
        server: ServerArgs,
        /// Print the server's whole answer (data and summary) as JSON.
        #[arg(long)]
        json: bool,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Download a campaign's customers from a running server as .csv or .xlsx.
    Export {
        /// The campaign to export.
        #[arg(long)]
        campaign: String,
        /// The file's format; without it, xlsx for an output named *.xlsx, else csv.
        #[arg(long, value_enum)]
        format: Option<ExportFormat>,
        /// Only customers of these statuses (a number, or a comma list).
        #[arg(long)]
        status: Option<String>,
        /// The file to write; standard output when absent.
        #[arg(short = 'o', long = "output")]
        output: Option<std::path::PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csv,
    Xlsx,
}

/// An API key: the sid, and its secret from the flag, the environment, or stdin.
#[derive(Args)]
struct KeyArgs {
    /// The API key's sid (SK…).
    #[arg(long, env = "CALLSHEET_KEY_SID")]
    key_sid: Option<String>,
    /// The key's secret; `-` reads it from standard input. Prefer CALLSHEET_KEY_SECRET
    /// or stdin: a flag shows in the shell's history and in `ps`.
    #[arg(long, env = "CALLSHEET_KEY_SECRET", hide_env_values = true)]
    key_secret: Option<String>,
}

impl KeyArgs {
    /// The sid and secret, checked for shape.
    fn read(self) -> anyhow::Result<(String, String)> {
        let KeyArgs { key_sid, key_secret } = self;
        let Some(key_sid) = key_sid else {
            usage!("the key sid is missing: pass --key-sid or set CALLSHEET_KEY_SID");
        };
        if !IdKind::KeySid.matches(&key_sid) {
            usage!("--key-sid '{key_sid}' is not a key sid (SK and 30 letters or digits)");
        }
        let secret = match key_secret.as_deref() {
            Some("-") => secret_line().context("cannot read the key secret from standard input")?.trim().to_string(),
            Some(s) => s.to_string(),
            None => usage!(
                "the key secret is missing: pass --key-secret, set CALLSHEET_KEY_SECRET, or pass --key-secret - and write it to standard input"
            ),
        };
        if secret.is_empty() {
            usage!("--key-secret must not be empty");
        }
        Ok((key_sid, secret))
    }
}

/// One line of standard input. Typed at a terminal, it is not echoed: a secret on
/// the screen is as exposed as one on the command line.
fn secret_line() -> std::io::Result<String> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let mut line = String::new();
    if !stdin.is_terminal() {
        stdin.read_line(&mut line)?;
        return Ok(line);
    }
    eprint!("key secret (not shown): ");
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data, filled in by tcgetattr before it is read.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is this process's standard input and term a valid termios.
    if unsafe { libc::tcgetattr(fd, &mut term) } != 0 {
        stdin.read_line(&mut line)?;
        return Ok(line);
    }
    let shown = term;
    term.c_lflag &= !libc::ECHO;
    term.c_lflag |= libc::ECHONL;
    // SAFETY: as above; the settings read are put back below whatever the read gives.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    let read = stdin.read_line(&mut line);
    // SAFETY: as above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &shown) };
    read?;
    Ok(line)
}

/// A running server and the key to sign in with.
#[derive(Args)]
struct ServerArgs {
    /// The server's base URL (http only: reach a TLS server through its proxy's plain port or an SSH tunnel).
    #[arg(long, env = "CALLSHEET_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    #[command(flatten)]
    key: KeyArgs,
}

impl ServerArgs {
    fn connect(self) -> anyhow::Result<client::Server> {
        let (sid, secret) = self.key.read()?;
        if !self.server.starts_with("http://") {
            usage!("--server '{}' must be an http:// URL", self.server);
        }
        Ok(client::Server { url: self.server, token: token::mint(&sid, &secret, now_secs(), 3600) })
    }
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account with a default portal; prints its id.
    Create {
        name: String,
        /// Default country for phone numbers (ISO 3166 alpha-2).
        #[arg(long, default_value = "VN")]
        region: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List every account.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key; the secret is printed only here.
    Create {
        /// The account the key signs in to.
        #[arg(long)]
        account: String,
        /// Print JSON instead of text.
        #[arg(long, conflicts_with = "env")]
        json: bool,
        /// Print `export CALLSHEET_KEY_SID=…` and `export CALLSHEET_KEY_SECRET=…`, for
        /// `eval "$(callsheet key create --account ID --env)"`.
        #[arg(long)]
        env: bool,
    },
    /// Disable an API key.
    Revoke { sid: String },
    /// List API keys (never their secrets).
    List {
        /// Only this account's keys.
        #[arg(long)]
        account: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // `callsheet` (or `callsheet key`) alone: one line naming the commands.
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    | clap::error::ErrorKind::MissingSubcommand
            ) =>
        {
            eprintln!("{}", missing_command());
            return ExitCode::from(2);
        }
        Err(e) => {
            // One line (CONTRACT §1): clap's statement of the problem, and where help is.
            // Its statement runs to the first blank line (a missing argument's name is
            // on the line after), before the tips and the usage.
            let text = e.render().to_string();
            let lines: Vec<&str> =
                text.lines().map(str::trim).skip_while(|l| l.is_empty()).take_while(|l| !l.is_empty()).collect();
            eprintln!("{} (see --help)", lines.join(" "));
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
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            eprintln!("error: {e} (see --help)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// The one line for a command line that stops short of a command: which commands
/// the words given so far lead to.
fn missing_command() -> String {
    let mut command = Cli::command();
    let mut path = vec![command.get_name().to_string()];
    for word in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
        // Options' values are passed over; a command's name leads on.
        if let Some(sub) = command.find_subcommand(&word).cloned() {
            path.push(word);
            command = sub;
        }
    }
    let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).filter(|n| *n != "help").collect();
    format!("error: {} needs a command: {} (see --help)", path.join(" "), names.join(", "))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // A URL of no database the server knows is a bad argument, whatever the command.
    store::check_url(&cli.database).map_err(|e| bad_argument(format!("{e:#}")))?;
    match cli.command {
        Command::Serve {
            listen,
            max_upload_bytes,
            max_json_bytes,
            max_listcontacts,
            max_file_rows,
            max_unpacked_bytes,
            async_upload_bytes,
            header_read_timeout,
            max_connections,
            log_format,
        } => {
            let limits = Limits {
                upload_bytes: max_upload_bytes,
                json_bytes: max_json_bytes,
                listcontacts: max_listcontacts,
                file_rows: max_file_rows,
                unpacked_bytes: max_unpacked_bytes,
                async_upload_bytes,
            };
            if !(header_read_timeout > 0.0 && header_read_timeout <= 3600.0) {
                usage!("--header-read-timeout must be more than 0 and at most 3600 seconds");
            }
            if max_connections == 0 {
                usage!("--max-connections must be at least 1");
            }
            let options = ServeOptions {
                header_read_timeout: std::time::Duration::from_secs_f64(header_read_timeout),
                max_connections,
            };
            serve(&cli.database, listen, limits, options, log_format).await
        }
        Command::Account { command: AccountCommand::Create { name, region, json } } => {
            let name = parse_name("account name", &name).map_err(bad_argument)?;
            // One line per account in `account list`: no control characters.
            if name.chars().any(char::is_control) {
                usage!("the account name must not hold control characters (tabs, line breaks)");
            }
            let region = Region::parse(&region).map_err(bad_argument)?;
            let store = open(&cli.database).await?;
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
        Command::Account { command: AccountCommand::List { json } } => {
            let store = open_existing(&cli.database).await?;
            let accounts = store.accounts().await?;
            if json {
                println!("{}", serde_json::to_string(&accounts)?);
            } else {
                for a in accounts {
                    println!("{}\t{}\t{}\t{}", a.id, a.region, when(a.created), a.name);
                }
            }
            Ok(())
        }
        Command::Key { command: KeyCommand::List { account, json } } => {
            let account = account.map(|a| AccountId::parse(&a)).transpose().map_err(bad_argument)?;
            let store = open_existing(&cli.database).await?;
            if let Some(a) = &account
                && store.account(a.clone()).await?.is_none()
            {
                anyhow::bail!("account '{a}' not found");
            }
            let keys = store.keys(account).await?;
            if json {
                println!("{}", serde_json::to_string(&keys)?);
            } else {
                for k in keys {
                    let state = k.revoked.map(|t| format!("revoked {}", when(t))).unwrap_or_else(|| "active".into());
                    println!("{}\t{}\t{}\t{state}", k.sid, k.account, when(k.created));
                }
            }
            Ok(())
        }
        Command::Key { command: KeyCommand::Create { account, json, env } } => {
            let account = AccountId::parse(&account).map_err(bad_argument)?;
            let store = open_existing(&cli.database).await?;
            let key = store.create_key(account).await?;
            if json {
                println!("{}", json!({"account": key.account_id, "key_sid": key.sid, "key_secret": key.secret}));
            } else if env {
                // Sids and secrets are letters and digits: nothing to quote.
                println!("export CALLSHEET_KEY_SID={}\nexport CALLSHEET_KEY_SECRET={}", key.sid, key.secret);
            } else {
                println!("key_sid: {}\nkey_secret: {}", key.sid, key.secret);
            }
            Ok(())
        }
        Command::Key { command: KeyCommand::Revoke { sid } } => {
            if !IdKind::KeySid.matches(&sid) {
                usage!("'{sid}' is not a key sid (SK and 30 letters or digits)");
            }
            let key = KeySid::parse(&sid).map_err(bad_argument)?;
            let store = open_existing(&cli.database).await?;
            if !store.revoke_key(key).await? {
                anyhow::bail!("no API key '{sid}'");
            }
            println!("revoked {sid}");
            Ok(())
        }
        Command::Token { key, ttl } => {
            if !(1..=366 * 24 * 3600).contains(&ttl) {
                usage!("--ttl must be between 1 second and 366 days (in seconds)");
            }
            let (key_sid, key_secret) = key.read()?;
            check_key(&cli.database, &key_sid, &key_secret).await?;
            println!("{}", token::mint(&key_sid, &key_secret, now_secs(), ttl));
            Ok(())
        }
        Command::Import { file, campaign, server, json, quiet } => {
            let server = server.connect()?;
            let result = client::import(&server, &file, &campaign, quiet).await?;
            if json {
                println!("{}", serde_json::to_string(&result)?);
            } else {
                println!("{}", client::describe(&result));
            }
            Ok(())
        }
        Command::Export { campaign, format, status, output, server } => {
            if let Some(s) = &status
                && !s.split(',').all(|part| matches!(part.trim(), "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8"))
            {
                usage!("--status '{s}' must be a status number 0 to 8, or a comma list of them");
            }
            let server = server.connect()?;
            let named_xlsx =
                output.as_deref().and_then(|p| p.extension()).is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
            let format = match format {
                Some(ExportFormat::Csv) => "csv",
                Some(ExportFormat::Xlsx) => "xlsx",
                None if named_xlsx => "xlsx",
                None => "csv",
            };
            let bytes = client::export(&server, &campaign, format, status.as_deref(), output.as_deref()).await?;
            if let Some(path) = output {
                eprintln!("callsheet: wrote {} ({bytes} bytes)", path.display());
            }
            Ok(())
        }
    }
}

/// Opens the database, saying on stderr which one: a command run from another
/// directory, or without the server's CALLSHEET_DATABASE_URL, would otherwise
/// silently use another file.
async fn open(database: &str) -> anyhow::Result<store::DynStore> {
    // A relative SQLite path is also given whole: it is the current directory's.
    let whole = sqlite_path(database)
        .filter(|p| p.is_relative())
        .and_then(|p| std::env::current_dir().ok().map(|dir| dir.join(p)))
        .map(|p| format!(" ({})", p.display()))
        .unwrap_or_default();
    eprintln!("callsheet: database {}{whole}", store::redact_url(database));
    store::open(database).await
}

/// Opens a database that must exist already: a command that reads or changes what
/// `account create` made refuses to make an empty SQLite file instead.
async fn open_existing(database: &str) -> anyhow::Result<store::DynStore> {
    if let Some(path) = sqlite_path(database).filter(|p| !p.exists()) {
        anyhow::bail!(
            "database {} does not exist ({}): `callsheet account create` makes it",
            store::redact_url(database),
            path.display()
        );
    }
    open(database).await
}

/// The file a sqlite:// URL names, if it is one.
fn sqlite_path(database: &str) -> Option<std::path::PathBuf> {
    let rest = database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:"))?;
    Some(std::path::PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

/// Checks a key against the database when there is one to open: an unknown sid, a
/// revoked key or a wrong secret fail here rather than at the server later.
async fn check_key(database: &str, sid: &str, secret: &str) -> anyhow::Result<()> {
    // A URL of no database is a mistake, not a database that is not there.
    store::check_url(database)?;
    if sqlite_path(database).is_some_and(|p| !p.exists()) {
        eprintln!("callsheet: database {} does not exist; the key was not checked", store::redact_url(database));
        return Ok(());
    }
    let store = match open(database).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("callsheet: the key was not checked: {}", format!("{e:#}").replace('\n', " "));
            return Ok(());
        }
    };
    match store.key(KeySid::parse(sid).map_err(anyhow::Error::msg)?).await? {
        None => anyhow::bail!("no API key '{sid}' in {}", store::redact_url(database)),
        Some(key) if key.revoked => anyhow::bail!("API key '{sid}' is revoked"),
        Some(key) if key.secret != secret => anyhow::bail!("the secret does not match API key '{sid}'"),
        Some(_) => Ok(()),
    }
}

/// An epoch time as UTC text.
fn when(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()).unwrap_or_default()
}

/// Keeps each log entry on one line of text: a line break or another control
/// character inside it (a value a client sent, quoted in a reason) is written as an
/// escape, so no request can start a line that looks like the server's own. The
/// text format writes each entry whole, its line break last; escape sequences pass
/// only when colours go to a terminal.
struct OneLine<W> {
    out: W,
    ansi: bool,
}

impl<W: std::io::Write> std::io::Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let body = buf.strip_suffix(b"\n").unwrap_or(buf);
        let ansi = self.ansi;
        let plain = |b: u8| !(b.is_ascii_control() && b != b'\t' && !(ansi && b == 0x1b));
        if body.iter().all(|&b| plain(b)) {
            self.out.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut line = Vec::with_capacity(buf.len() + 16);
        for &b in body {
            match b {
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                b if plain(b) => line.push(b),
                b => line.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        line.extend_from_slice(&buf[body.len()..]);
        self.out.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

async fn serve(
    database: &str,
    listen: std::net::SocketAddr,
    limits: Limits,
    options: ServeOptions,
    log_format: LogFormat,
) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    match log_format {
        LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(ansi)
                .with_writer(move || OneLine { out: std::io::stdout(), ansi })
                .init()
        }
        // One object per line, the request's span (route, request id) on each.
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(true).init(),
    }
    // A panic inside the workbook reader is a hostile file, caught and answered as
    // unreadable: one warning line, not a crash report.
    let crash_report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if callsheet::import::reading_a_workbook() {
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            tracing::warn!(at, "the workbook reader failed on a malformed file; it was answered as unreadable");
        } else {
            crash_report(info);
        }
    }));
    // Signals are caught from here on, before anything can be served.
    let shutdown = shutdown_signal()?;
    let store = store::open_serving(database).await?;
    match store.fail_interrupted_jobs().await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(jobs = n, "jobs cut short by a restart were marked failed; nothing of them was written")
        }
        Err(e) => tracing::warn!("cannot check for interrupted jobs: {e:#}"),
    }
    store::spawn_sweeper(&store);
    let state = AppState::new(store, limits);
    let jobs = state.jobs.clone();
    let app = api::app(state, Default::default());
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let listen = listener.local_addr()?;
    tracing::info!(%listen, database = %store::redact_url(database), "callsheet serving");
    api::serve_with(listener, app, shutdown, options).await?;
    // Imports running as jobs finish too, as a request in flight would.
    if jobs.running() > 0 {
        tracing::info!(jobs = jobs.running(), "waiting for running jobs to finish");
        if !jobs.wait_idle(std::time::Duration::from_secs(300)).await {
            tracing::warn!(
                jobs = jobs.running(),
                "jobs still running after 5 minutes are cut short; the next start marks them failed and nothing of them is written"
            );
        }
    }
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

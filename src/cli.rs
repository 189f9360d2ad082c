//! Command line: `serve`, `check-config`, `user add|del|list`, `cert issue`, `translate`.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use jid::BareJid;
use tandem_xmpp::sasl::{PasswordRecord, DEFAULT_ITERATIONS};

use crate::config::Config;
use crate::server::RunningServer;
use crate::storage::{Storage, StorageError};

#[derive(Parser)]
#[command(name = "tandem", version, about = "Jingle/SIP gateway and XMPP server")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded defaults when no config file is given).
    Serve(Location),
    /// Validate a configuration file and explain what it sets up.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
    },
    /// Manage local accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Certificates for SASL EXTERNAL (XEP-0178) logins.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Translate an SDP or a Jingle element (detected) and print what tandem would send.
    Translate {
        /// What to print.
        #[arg(long, value_enum)]
        to: crate::translate::Target,
        /// The Jingle role of whoever wrote the input (directions are relative to it).
        #[arg(long, value_enum, default_value = "initiator")]
        role: crate::translate::RoleArg,
        /// The Jingle action to produce from an SDP.
        #[arg(long, default_value = "session-initiate", value_parser = crate::translate::parse_action)]
        action: tandem_translations::jingle::Action,
        /// Input file; standard input when absent or `-`.
        input: Option<PathBuf>,
    },
    /// Replay SIP traces (pcap, pcapng or text) through the call engine and compare what
    /// tandem does with each trace's fixture.
    Replay {
        /// Trace files.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
        /// Where fixtures (NAME.toml) and expected outputs (NAME.expected) are; beside each
        /// trace by default.
        #[arg(long)]
        fixtures: Option<PathBuf>,
        /// Write what tandem produced as the expected output.
        #[arg(long)]
        update: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::replay::Format,
        /// Send the trace to a running tandem at HOST:PORT instead of replaying in-process.
        #[arg(long)]
        live: Option<String>,
        /// Print each trace's SIP messages in the text format instead of replaying.
        #[arg(long)]
        export_text: bool,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Issue a client certificate carrying JID as an xmppAddr, signed by a CA.
    Issue {
        jid: String,
        /// The CA certificate (PEM).
        #[arg(long)]
        ca_cert: PathBuf,
        /// The CA private key (PEM).
        #[arg(long)]
        ca_key: PathBuf,
        /// Output prefix: writes PREFIX.pem and PREFIX.key.
        #[arg(long)]
        out: PathBuf,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
}

/// Where configuration and data are.
#[derive(Args, Clone)]
struct Location {
    /// TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (certificate, database); overrides `server.data_dir`.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from a prompt, or stdin when not a terminal.
    Add {
        jid: String,
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        location: Location,
    },
    /// Delete an account and everything stored for it.
    Del {
        jid: String,
        #[command(flatten)]
        location: Location,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        location: Location,
    },
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Serve(location) => {
            let config = load_config(&location)?;
            init_logging(&config.log.level);
            runtime()?.block_on(serve(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cert {
            command:
                CertCommand::Issue {
                    jid,
                    ca_cert,
                    ca_key,
                    out,
                    days,
                },
        } => {
            let (cert, key) = crate::cert::issue(&jid, &ca_cert, &ca_key, &out, days)?;
            println!(
                "certificate: {}\nprivate key: {}",
                cert.display(),
                key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Translate {
            to,
            role,
            action,
            input,
        } => crate::translate::run(to, role, action, input),
        Command::Replay {
            traces,
            fixtures,
            update,
            format,
            live,
            export_text,
        } => {
            init_logging("error");
            crate::replay::run(crate::replay::Args {
                traces,
                fixtures,
                update,
                format,
                live,
                export_text,
            })
        }
        Command::User { command } => {
            init_logging("warn");
            runtime()?.block_on(user_command(command))
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn load_config(location: &Location) -> Result<Config> {
    let config = match &location.config {
        Some(path) => Config::from_file(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Config::default(),
    };
    Ok(config.with_data_dir_override(location.data_dir.clone()))
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TANDEM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn check_config(file: &Path) -> Result<ExitCode> {
    match Config::from_file(file) {
        Ok(config) => {
            println!("{}: OK", file.display());
            println!("{}", config.explain());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn serve(config: Config) -> Result<()> {
    let server = RunningServer::start(&config).await?;
    tracing::info!(domain = %config.server.domain, data_dir = %config.server.data_dir.display(), "tandem is running");
    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

async fn open_storage(location: &Location) -> Result<(Config, Storage)> {
    let config = load_config(location)?;
    std::fs::create_dir_all(&config.server.data_dir)
        .with_context(|| format!("creating data dir {}", config.server.data_dir.display()))?;
    let storage = Storage::open(&config.storage().connection_url())
        .await
        .with_context(|| format!("opening {}", config.storage()))?;
    Ok((config, storage))
}

/// The localpart of a JID of our domain; a bare name is taken as one of our users.
fn local_username(jid: &str, domain: &str) -> Result<String> {
    let full = if jid.contains('@') {
        jid.to_string()
    } else {
        format!("{jid}@{domain}")
    };
    let bare = BareJid::new(&full).with_context(|| format!("{jid:?} is not a valid JID"))?;
    if bare.domain().as_str() != domain {
        bail!("{bare} is not on this server's domain {domain}");
    }
    match bare.node() {
        Some(node) => Ok(node.as_str().to_owned()),
        None => bail!("{jid:?} has no user part"),
    }
}

async fn user_command(command: UserCommand) -> Result<ExitCode> {
    match command {
        UserCommand::Add {
            jid,
            password,
            location,
        } => {
            let (config, storage) = open_storage(&location).await?;
            let username = local_username(&jid, &config.server.domain)?;
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            if password.is_empty() {
                bail!("the password is empty");
            }
            let record = PasswordRecord::derive(
                &username,
                &config.server.domain,
                &password,
                DEFAULT_ITERATIONS,
            )
            .map_err(|e| anyhow::anyhow!("password not usable: {}", e.reason()))?;
            match storage.add_user(&username, &record).await {
                Ok(()) => println!("added {username}@{}", config.server.domain),
                Err(StorageError::UserExists(_)) => {
                    storage.close().await;
                    bail!("{username}@{} already exists", config.server.domain);
                }
                Err(e) => return Err(e.into()),
            }
            storage.close().await;
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Del { jid, location } => {
            let (config, storage) = open_storage(&location).await?;
            let username = local_username(&jid, &config.server.domain)?;
            let deleted = storage.delete_user(&username).await?;
            storage.close().await;
            if !deleted {
                bail!("{username}@{} does not exist", config.server.domain);
            }
            println!("deleted {username}@{}", config.server.domain);
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::List { location } => {
            let (config, storage) = open_storage(&location).await?;
            for user in storage.list_users().await? {
                println!("{user}@{}", config.server.domain);
            }
            storage.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let second = rpassword::prompt_password("Again: ").context("reading the password")?;
        if first != second {
            bail!("the passwords differ");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

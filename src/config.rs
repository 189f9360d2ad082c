//! TOML configuration: loading, defaults and validation.
//!
//! Every section and key is optional; `Config::default()` is exactly what
//! `tandem serve` runs with when no file is given. Loading walks the parsed TOML
//! by hand (instead of `#[derive(Deserialize)]`) so that *all* problems are
//! reported at once, each with file:line:column and the dotted key.

pub mod cluster;
mod error;
mod load;
pub mod sip;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use cluster::ClusterConfig;
pub use error::{ConfigError, Problem, ProblemKind};
pub use sip::{SipConfig, SipListen, SipTransport, TrustedPeer};

/// The whole configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server: ServerConfig,
    pub xmpp: XmppConfig,
    pub tls: TlsConfig,
    pub storage: StorageConfig,
    pub log: LogConfig,
    pub sip: SipConfig,
    pub gateway: GatewayConfig,
    pub metrics: MetricsConfig,
    /// `[cluster]`: global distribution; `None` runs one cluster with in-memory routes.
    pub cluster: Option<ClusterConfig>,
}

/// `[metrics]`: where Prometheus scrapes `GET /metrics`; off when `listen` is absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsConfig {
    pub listen: Option<SocketAddr>,
}

/// `[gateway]`: the SIP <-> Jingle bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// The XMPP domain whose JIDs are SIP addresses (`+15551234@sip.example.test`); `None`
    /// leaves the bridge off.
    pub sip_domain: Option<String>,
    /// Seconds a callee may ring before the call ends unanswered (480 / timeout).
    pub ring_timeout: usize,
    /// Milliseconds trickled candidates are gathered before the INVITE or 200 goes out.
    pub trickle_wait_ms: usize,
    /// Seconds an answered call may last before tandem hangs up both legs.
    pub max_call_duration: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            sip_domain: None,
            ring_timeout: 60,
            trickle_wait_ms: 500,
            max_call_duration: 4 * 3600,
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The XMPP domain we serve, already lowercased.
    pub domain: String,
    /// Where state lives; relative cert/key paths and the default database are under it.
    pub data_dir: PathBuf,
}

/// `[xmpp]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmppConfig {
    /// c2s listeners that offer STARTTLS. Empty turns them off.
    pub listen: Vec<SocketAddr>,
    /// c2s listeners that speak TLS from the first byte (XEP-0368). Empty turns them off.
    pub tls_listen: Vec<SocketAddr>,
    /// Largest stanza accepted, in bytes.
    pub max_stanza_size: usize,
    /// Refuse SASL until the stream is encrypted.
    pub require_encryption: bool,
    /// XML nesting depth limit (guards the parser against deeply nested input).
    pub max_depth: usize,
    /// `[xmpp.sasl_external]`: certificate logins (XEP-0178), active with `tls.client_ca`.
    pub sasl_external: SaslExternalConfig,
}

/// `[xmpp.sasl_external]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslExternalConfig {
    /// Identity sources in order of preference: "standard" (xmppAddr SANs), "common_name".
    pub modes: Vec<String>,
    /// Create the account on first certificate login instead of refusing it.
    pub auto_create: bool,
}

/// `[tls]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// As written; use [`Config::cert_path`] for the path to open.
    pub cert: PathBuf,
    /// As written; use [`Config::key_path`] for the path to open.
    pub key: PathBuf,
    /// CA bundle for client certificates (XEP-0178); certificates are asked for, not required.
    pub client_ca: Option<PathBuf>,
    /// Certificate revocation lists (PEM) checked against client certificates.
    pub crl: Vec<PathBuf>,
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    pub url: StorageUrl,
    /// True when `url` came from the file. When false the url is derived from
    /// `data_dir` and follows `--data-dir`.
    pub explicit: bool,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing_subscriber::EnvFilter` directive string, checked to parse.
    pub level: String,
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// An SQLite file. `sqlite::memory:` is represented by the path `:memory:`
    /// (SQLite's own spelling), see [`StorageUrl::is_memory`]. Relative paths
    /// are relative to the working directory, as in sqlx URLs.
    Sqlite(PathBuf),
    /// A PostgreSQL URL, kept verbatim for the driver (it may carry a password, so it is
    /// never displayed as is; see [`StorageUrl::connection_url`]).
    Postgres(String),
}

impl StorageUrl {
    /// The path SQLite uses for an in-memory database.
    pub const MEMORY: &'static str = ":memory:";

    /// True for `sqlite::memory:`.
    pub fn is_memory(&self) -> bool {
        match self {
            StorageUrl::Sqlite(path) => path.as_os_str() == Self::MEMORY,
            StorageUrl::Postgres(_) => false,
        }
    }

    /// The URL to hand to the database driver, secrets included.
    pub fn connection_url(&self) -> String {
        match self {
            StorageUrl::Postgres(url) => url.clone(),
            StorageUrl::Sqlite(_) => self.to_string(),
        }
    }

    /// Parses the `storage.url` forms we accept. The error is the explanation
    /// shown to the operator.
    pub(crate) fn parse(url: &str) -> Result<StorageUrl, String> {
        const EXPECTED: &str =
            "expected \"sqlite:///absolute/path.db\", \"sqlite://relative/path.db\", \"sqlite::memory:\" or \"postgres://user:password@host/database\"";
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(format!("\"{url}\" is not a storage URL ({EXPECTED})"));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {}
            "postgres" | "postgresql" => {
                let authority = rest
                    .strip_prefix("//")
                    .and_then(|r| r.split(['/', '?']).next());
                let host = authority.map(|a| a.rsplit('@').next().unwrap_or(a));
                return match host {
                    Some(host) if !host.is_empty() => Ok(StorageUrl::Postgres(url.to_string())),
                    _ => Err(format!("\"{url}\" names no PostgreSQL host ({EXPECTED})")),
                };
            }
            other => {
                return Err(format!(
                    "unsupported storage scheme `{other}:` ({EXPECTED})"
                ));
            }
        }
        if rest == Self::MEMORY {
            return Ok(StorageUrl::Sqlite(PathBuf::from(Self::MEMORY)));
        }
        // `sqlite://x` and sqlx's short `sqlite:x` both name the file `x`;
        // `sqlite:///abs` leaves the leading slash on, giving an absolute path.
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(format!("\"{url}\" names no database file ({EXPECTED})"));
        }
        // The storage layer picks its own connection options; silently
        // dropping or mis-parsing `?mode=...` would be worse than refusing it.
        if path.contains('?') {
            return Err(format!(
                "\"{url}\": URL query parameters are not supported ({EXPECTED})"
            ));
        }
        Ok(StorageUrl::Sqlite(PathBuf::from(path)))
    }

    /// The default database under a data directory.
    fn default_for(data_dir: &Path) -> StorageUrl {
        StorageUrl::Sqlite(data_dir.join("tandem.db"))
    }
}

impl fmt::Display for StorageUrl {
    /// An sqlx-compatible URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageUrl::Sqlite(_) if self.is_memory() => f.write_str("sqlite::memory:"),
            StorageUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StorageUrl::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, for logs and messages.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

pub(crate) const DEFAULT_DOMAIN: &str = "localhost";
pub(crate) const DEFAULT_DATA_DIR: &str = "./tandem-data";
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:5222";
pub(crate) const DEFAULT_TLS_LISTEN: &str = "127.0.0.1:5223";
pub(crate) const DEFAULT_MAX_STANZA_SIZE: usize = 262_144;
pub(crate) const DEFAULT_MAX_DEPTH: usize = 64;
pub(crate) const DEFAULT_LOG_LEVEL: &str = "info";
/// Below this, ordinary roster pushes and disco results no longer fit.
pub(crate) const MIN_STANZA_SIZE: usize = 10_000;
/// Above this one client could make us buffer an unreasonable amount per stanza.
pub(crate) const MAX_STANZA_SIZE: usize = 16 * 1024 * 1024;
pub(crate) const MIN_DEPTH: usize = 8;
pub(crate) const MAX_DEPTH: usize = 1024;

impl Default for Config {
    fn default() -> Self {
        let data_dir = PathBuf::from(DEFAULT_DATA_DIR);
        Config {
            server: ServerConfig {
                domain: DEFAULT_DOMAIN.into(),
                data_dir: data_dir.clone(),
            },
            xmpp: XmppConfig {
                listen: vec![DEFAULT_LISTEN.parse().expect("valid default")],
                tls_listen: vec![DEFAULT_TLS_LISTEN.parse().expect("valid default")],
                max_stanza_size: DEFAULT_MAX_STANZA_SIZE,
                require_encryption: true,
                max_depth: DEFAULT_MAX_DEPTH,
                sasl_external: SaslExternalConfig {
                    modes: vec!["standard".into()],
                    auto_create: false,
                },
            },
            tls: TlsConfig {
                cert: "cert.pem".into(),
                key: "key.pem".into(),
                client_ca: None,
                crl: Vec::new(),
            },
            storage: StorageConfig {
                url: StorageUrl::default_for(&data_dir),
                explicit: false,
            },
            log: LogConfig {
                level: DEFAULT_LOG_LEVEL.into(),
            },
            sip: SipConfig::default(),
            gateway: GatewayConfig::default(),
            metrics: MetricsConfig::default(),
            cluster: None,
        }
    }
}

impl Config {
    /// Reads and validates a file; messages name the file as `path` was given.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|reason| ConfigError::Read {
            path: path.to_owned(),
            reason,
        })?;
        let origin = path.display().to_string();
        match std::str::from_utf8(&bytes) {
            Ok(text) => Config::from_str(text, &origin),
            Err(e) => {
                // Point at the offending byte rather than failing with a bare io error.
                let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
                let (line, column) = error::line_col(valid, valid.len());
                Err(ConfigError::Invalid {
                    problems: vec![Problem {
                        file: origin,
                        line,
                        column,
                        key: None,
                        kind: ProblemKind::Syntax,
                        message: "the file is not valid UTF-8".into(),
                    }],
                })
            }
        }
    }

    /// Parses and validates configuration text; `origin` names it in messages.
    #[allow(clippy::should_implement_trait)] // needs `origin`, so not `FromStr`
    pub fn from_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        load::load(text, origin)
    }

    /// Applies `--data-dir`, which wins over the file. Defaults derived from the
    /// data dir (storage url when not set explicitly; relative cert/key, which are
    /// resolved lazily) follow the new directory.
    pub fn with_data_dir_override(mut self, dir: Option<PathBuf>) -> Config {
        if let Some(dir) = dir {
            if !self.storage.explicit {
                self.storage.url = StorageUrl::default_for(&dir);
            }
            self.server.data_dir = dir;
        }
        self
    }

    /// The certificate file to load (or generate), relative paths under data_dir.
    pub fn cert_path(&self) -> PathBuf {
        self.server.data_dir.join(&self.tls.cert)
    }

    /// The private key file to load (or generate), relative paths under data_dir.
    pub fn key_path(&self) -> PathBuf {
        self.server.data_dir.join(&self.tls.key)
    }

    /// The parsed storage location.
    pub fn storage(&self) -> &StorageUrl {
        &self.storage.url
    }

    /// Human summary for `tandem check-config`.
    /// A TLS path as configured, resolved against the data dir when relative.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.server.data_dir.join(path)
        }
    }

    /// The SIP domain: `sip.domain`, or the server domain.
    pub fn sip_domain(&self) -> &str {
        self.sip.domain.as_deref().unwrap_or(&self.server.domain)
    }

    pub fn explain(&self) -> String {
        use fmt::Write as _;
        fn listeners(list: &[SocketAddr]) -> String {
            if list.is_empty() {
                "off".into()
            } else {
                list.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
        // Tells the operator up front whether startup will generate a self-signed pair.
        fn presence(path: &Path) -> &'static str {
            if path.exists() {
                "present"
            } else {
                "absent; a self-signed one will be generated"
            }
        }
        let x = &self.xmpp;
        let mut out = String::new();
        let _ = writeln!(out, "domain:            {}", self.server.domain);
        let _ = writeln!(out, "data dir:          {}", self.server.data_dir.display());
        let _ = writeln!(out, "c2s (STARTTLS):    {}", listeners(&x.listen));
        let _ = writeln!(out, "c2s (direct TLS):  {}", listeners(&x.tls_listen));
        let _ = writeln!(
            out,
            "encryption:        {}",
            if x.require_encryption {
                "required before authentication"
            } else {
                "optional (passwords may cross the network in clear)"
            }
        );
        let _ = writeln!(
            out,
            "stanza limits:     {} bytes, nesting depth {}",
            x.max_stanza_size, x.max_depth
        );
        let cert = self.cert_path();
        let key = self.key_path();
        let _ = writeln!(
            out,
            "tls certificate:   {} ({})",
            cert.display(),
            presence(&cert)
        );
        let _ = writeln!(
            out,
            "tls key:           {} ({})",
            key.display(),
            presence(&key)
        );
        let _ = writeln!(out, "storage:           {}", self.storage.url);
        let sip_listen: Vec<String> = self.sip.listen.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "sip:               {} (domain {})",
            if sip_listen.is_empty() {
                "off".to_string()
            } else {
                sip_listen.join(", ")
            },
            self.sip_domain()
        );
        let _ = writeln!(
            out,
            "sip next hop:      {}",
            self.sip
                .outbound_proxy
                .as_deref()
                .unwrap_or("none (calls to non-local SIP destinations are refused)")
        );
        let peers: Vec<String> = self
            .sip
            .trusted_peers
            .iter()
            .map(|p| match p {
                TrustedPeer::Addr(a) => a.to_string(),
                TrustedPeer::Ip(ip) => format!("{ip} (any port)"),
            })
            .collect();
        let _ = writeln!(
            out,
            "sip trusted peers: {}",
            if peers.is_empty() {
                "none (every request needs digest)".to_string()
            } else {
                peers.join(", ")
            }
        );
        if !self.sip.trusted_certs.is_empty() {
            let _ = writeln!(
                out,
                "sip trusted certs: {} (TLS peers with a certificate from tls.client_ca)",
                self.sip.trusted_certs.join(", ")
            );
        }
        match &self.cluster {
            None => {
                let _ = writeln!(
                    out,
                    "cluster:           off (one cluster, routes in memory)"
                );
            }
            Some(c) => {
                let redis: Vec<String> = c.redis.iter().map(|u| cluster::redact(u)).collect();
                let _ = writeln!(
                    out,
                    "cluster:           {} (links on {}, advertised as {})",
                    c.name, c.listen, c.advertise
                );
                let _ = writeln!(
                    out,
                    "cluster routes:    {} ({}), locations live {} s, at most {} hops",
                    redis.join(", "),
                    if redis.len() > 1 {
                        "Redis Cluster"
                    } else {
                        "one Redis node"
                    },
                    c.location_ttl,
                    c.max_hops
                );
                let _ = writeln!(
                    out,
                    "cluster tls:       cert {}, key {}, ca {}",
                    self.resolve(&c.cert).display(),
                    self.resolve(&c.key).display(),
                    self.resolve(&c.ca).display()
                );
            }
        }
        let _ = write!(out, "log filter:        {}", self.log.level);
        out
    }
}

//! `[cluster]`: global distribution. Several tandem clusters serve one domain; a Redis table
//! says where each user is, and TLS links between clusters carry what must cross.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `[cluster]`, present only when global distribution is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// This cluster's name, unique among the clusters of the domain.
    pub name: String,
    /// One URL for a single Redis node; several for the seed nodes of a Redis Cluster.
    pub redis: Vec<String>,
    /// Where other clusters' links connect to.
    pub listen: SocketAddr,
    /// What other clusters are told to connect to (`host:port`); `listen` by default.
    pub advertise: String,
    /// CA bundle that both ends of a link must chain to.
    pub ca: PathBuf,
    /// This cluster's link certificate (client and server), and its key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Seconds a location lives in Redis unless refreshed.
    pub location_ttl: u64,
    /// A stanza forwarded this many times between clusters is dropped, not looped.
    pub max_hops: u8,
}

pub const DEFAULT_LOCATION_TTL: u64 = 30;
pub const DEFAULT_MAX_HOPS: u8 = 4;

/// Cluster names go into Redis keys and log lines: keep them to a plain token.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a cluster name (expected 1 to 64 letters, digits, '-', '_' or '.', e.g. \"eu-1\")"
        ))
    }
}

/// `redis://[user:password@]host[:port][/db]`. TLS to Redis (`rediss://`) is not built in:
/// say so instead of failing at startup.
pub fn check_redis_url(url: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected e.g. \"redis://127.0.0.1:6379\"";
    if url.starts_with("rediss://") {
        return Err(format!(
            "\"{}\": TLS to Redis is not supported; use redis:// over a private network ({EXPECTED})",
            redact(url)
        ));
    }
    let Some(rest) = url.strip_prefix("redis://") else {
        return Err(format!(
            "\"{}\" is not a redis:// URL ({EXPECTED})",
            redact(url)
        ));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Err(format!("\"{}\" names no host ({EXPECTED})", redact(url)));
    }
    let port = host_port.rsplit_once("]:").map(|(_, p)| p).or_else(|| {
        (!host_port.starts_with('['))
            .then(|| host_port.split_once(':').map(|(_, p)| p))
            .flatten()
    });
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("\"{}\": bad port ({EXPECTED})", redact(url)));
        }
    }
    Ok(())
}

/// `host:port`, where host may be a name (it is resolved when a link connects).
pub fn check_advertise(s: &str) -> Result<(), String> {
    if s.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    match s.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && !host.contains(['[', ']', ' ', '/'])
                && port.parse::<u16>().is_ok_and(|p| p != 0) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "\"{s}\" is not host:port (expected e.g. \"eu-1.example.net:5280\" or \"192.0.2.10:5280\")"
        )),
    }
}

/// `redis://user:secret@host` -> `redis://user:***@host`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_string(),
    }
}

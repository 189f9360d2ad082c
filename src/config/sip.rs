//! `[sip]`: listeners with their transport, the SIP domain, the outbound proxy and trusted
//! peers.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A SIP transport (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipTransport {
    Udp,
    Tcp,
    Tls,
}

impl SipTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            SipTransport::Udp => "udp",
            SipTransport::Tcp => "tcp",
            SipTransport::Tls => "tls",
        }
    }
}

/// One `transport:ip:port` listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipListen {
    pub transport: SipTransport,
    pub addr: SocketAddr,
}

impl fmt::Display for SipListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.as_str(), self.addr)
    }
}

/// A source whose requests need no digest: one address, or any port of an IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedPeer {
    Addr(SocketAddr),
    Ip(IpAddr),
}

impl TrustedPeer {
    pub fn matches(&self, source: SocketAddr) -> bool {
        match self {
            TrustedPeer::Addr(a) => *a == source,
            TrustedPeer::Ip(ip) => *ip == source.ip(),
        }
    }
}

/// `[sip]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipConfig {
    pub listen: Vec<SipListen>,
    /// `None`: the server domain.
    pub domain: Option<String>,
    /// Next hop for requests to SIP destinations that are not local, as a SIP URI.
    pub outbound_proxy: Option<String>,
    /// Digest credentials tandem answers a trunk's 401/407 with (both or neither).
    pub outbound_username: Option<String>,
    pub outbound_password: Option<String>,
    pub trusted_peers: Vec<TrustedPeer>,
    /// DNS names (or `sip:` URI hosts) whose verified TLS client certificate makes a peer a
    /// trusted trunk, lower-cased; verified against `[tls] client_ca`.
    pub trusted_certs: Vec<String>,
    /// Digest algorithms challenged with, most preferred first: "MD5", "SHA-256" (RFC 8760).
    pub digest_algorithms: Vec<String>,
}

/// MD5 alone by default: phones such as baresip 1.0 reject a whole 401 when any of its
/// challenges uses an algorithm they lack, so SHA-256 is opt-in.
pub(crate) const DEFAULT_DIGEST_ALGORITHMS: [&str; 1] = ["MD5"];
pub(crate) const DIGEST_ALGORITHMS: [&str; 2] = ["MD5", "SHA-256"];

pub(crate) const DEFAULT_SIP_LISTEN: [&str; 2] = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"];

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: DEFAULT_SIP_LISTEN
                .iter()
                .map(|s| parse_listen(s).expect("valid default"))
                .collect(),
            domain: None,
            outbound_proxy: None,
            outbound_username: None,
            outbound_password: None,
            trusted_peers: Vec::new(),
            trusted_certs: Vec::new(),
            digest_algorithms: DEFAULT_DIGEST_ALGORITHMS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

pub(crate) const LISTEN_EXPECTED: &str =
    "(expected \"udp:127.0.0.1:5060\", \"tcp:[::1]:5060\" or \"tls:0.0.0.0:5061\")";

/// `udp:127.0.0.1:5060`, `tcp:[::1]:5060`, `tls:0.0.0.0:5061`.
pub(crate) fn parse_listen(s: &str) -> Result<SipListen, String> {
    let Some((transport, addr)) = s.split_once(':') else {
        return Err(format!("\"{s}\" has no transport {LISTEN_EXPECTED}"));
    };
    let transport = match transport.to_ascii_lowercase().as_str() {
        "udp" => SipTransport::Udp,
        "tcp" => SipTransport::Tcp,
        "tls" => SipTransport::Tls,
        other => return Err(format!("unknown SIP transport `{other}` {LISTEN_EXPECTED}")),
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| format!("\"{addr}\" is not an address:port {LISTEN_EXPECTED}"))?;
    Ok(SipListen { transport, addr })
}

/// `127.0.0.1:5070` (that source only) or `127.0.0.1` (any port).
/// A certificate identity as RFC 5922 §7.1 reads it: a host name, no wildcard.
pub(crate) fn parse_trusted_cert(s: &str) -> Result<String, String> {
    let name = s.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || name.contains('*') || name.contains(['@', ':', '/', ' ']) {
        return Err(format!(
            "\"{s}\" is not a host name (expected e.g. \"trunk.example.net\"; wildcards are not SIP identities)"
        ));
    }
    Ok(name)
}

pub(crate) fn parse_trusted_peer(s: &str) -> Result<TrustedPeer, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(TrustedPeer::Addr(addr));
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(TrustedPeer::Ip)
        .map_err(|_| format!("\"{s}\" is neither an IP address nor an address:port (expected e.g. \"127.0.0.1:5070\" or \"10.0.0.5\")"))
}

/// A SIP or SIPS URI with a host: `sip:127.0.0.1:5070`, `sip:trunk.example.net;transport=tcp`.
pub(crate) fn check_proxy_uri(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("sip:")
        .or_else(|| s.strip_prefix("sips:"))
        .ok_or_else(|| {
            format!("\"{s}\" is not a SIP URI (expected e.g. \"sip:127.0.0.1:5070\")")
        })?;
    let host = rest
        .rsplit('@')
        .next()
        .unwrap_or(rest)
        .split([';', '?'])
        .next()
        .unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!(
            "\"{s}\" names no host (expected e.g. \"sip:127.0.0.1:5070\")"
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_peers_and_proxies() {
        assert_eq!(
            parse_listen("TCP:[::1]:5060").unwrap(),
            SipListen {
                transport: SipTransport::Tcp,
                addr: "[::1]:5060".parse().unwrap()
            }
        );
        assert!(parse_listen("sctp:127.0.0.1:5060")
            .unwrap_err()
            .contains("unknown SIP transport"));
        assert!(parse_listen("127.0.0.1:5060").is_err());
        assert!(parse_trusted_peer("10.0.0.5")
            .unwrap()
            .matches("10.0.0.5:1234".parse().unwrap()));
        assert!(!parse_trusted_peer("10.0.0.5:5070")
            .unwrap()
            .matches("10.0.0.5:5071".parse().unwrap()));
        assert!(parse_trusted_peer("trunk.example").is_err());
        assert!(check_proxy_uri("sip:127.0.0.1:5070").is_ok());
        assert!(check_proxy_uri("sips:user@trunk.example;transport=tls").is_ok());
        assert!(check_proxy_uri("127.0.0.1:5070").is_err());
        assert!(check_proxy_uri("sip:").is_err());
    }
}

//! Via values (RFC 3261 §20.42, §18.2.1; RFC 3581 `rport`).

use std::fmt;

use super::syntax::{is_ws, scan_one_param, scan_token, skip_ws, trim_ws, Params};
use super::uri::parse_port;

/// The RFC 3261 branch prefix (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// The transport of a Via (`SIP/2.0/UDP`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP
    Udp,
    /// TCP
    Tcp,
    /// TLS
    Tls,
    /// SCTP
    Sctp,
    /// WebSocket (RFC 7118)
    Ws,
    /// Secure WebSocket (RFC 7118)
    Wss,
    /// Anything else, as written.
    Other(String),
}

impl Transport {
    fn parse(s: &str) -> Transport {
        const KNOWN: [(&str, Transport); 6] = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        for (name, t) in KNOWN {
            if s.eq_ignore_ascii_case(name) {
                return t;
            }
        }
        Transport::Other(s.to_owned())
    }

    /// The canonical (upper-case) name.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }

    /// True for transports that deliver a byte stream or reliable messages (§17: no
    /// retransmission timers).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `rport` parameter (RFC 3581).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rport {
    /// `;rport` without a value: the client asks for the source port in the response.
    Requested,
    /// `;rport=N`, as filled in by the server.
    Value(u16),
}

/// One Via value, borrowing its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'a> {
    raw: &'a str,
    protocol: &'a str,
    version: &'a str,
    transport: Transport,
    sent_by: &'a str,
    host: &'a str,
    port: Option<u16>,
    params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one comma-free Via element:
    /// `protocol-name SLASH protocol-version SLASH transport LWS sent-by *( SEMI via-params )`
    /// with optional whitespace around the slashes, colon and parameters.
    pub fn parse(s: &'a str) -> Option<Via<'a>> {
        let s = trim_ws(s);
        let b = s.as_bytes();
        let p0 = 0;
        let p1 = scan_token(b, p0);
        let i = skip_ws(b, p1);
        if p1 == p0 || b.get(i) != Some(&b'/') {
            return None;
        }
        let v0 = skip_ws(b, i + 1);
        let v1 = scan_token(b, v0);
        let i = skip_ws(b, v1);
        if v1 == v0 || b.get(i) != Some(&b'/') {
            return None;
        }
        let t0 = skip_ws(b, i + 1);
        let t1 = scan_token(b, t0);
        if t1 == t0 || t1 >= b.len() || !is_ws(b[t1]) {
            return None;
        }
        // sent-by = host [ COLON port ]
        let h0 = skip_ws(b, t1);
        let h1 = if b.get(h0) == Some(&b'[') {
            h0 + s[h0..].find(']')? + 1
        } else {
            let mut e = h0;
            while e < b.len()
                && (b[e].is_ascii_alphanumeric() || matches!(b[e], b'-' | b'.' | b'_'))
            {
                e += 1;
            }
            e
        };
        if h1 == h0 {
            return None;
        }
        let mut sent_by_end = h1;
        let mut port = None;
        let k = skip_ws(b, h1);
        if b.get(k) == Some(&b':') {
            let q0 = skip_ws(b, k + 1);
            let mut q1 = q0;
            while q1 < b.len() && b[q1].is_ascii_digit() {
                q1 += 1;
            }
            port = Some(parse_port(&s[q0..q1])?);
            sent_by_end = q1;
        }
        // *( SEMI via-params ); a `received` or `rport` that is present must be well-formed.
        let mut end = sent_by_end;
        loop {
            let j = skip_ws(b, end);
            if j >= b.len() || b[j] != b';' {
                break;
            }
            let ((ns, ne), value, next) = scan_one_param(b, j + 1)?;
            let name = &s[ns..ne];
            if name.eq_ignore_ascii_case("rport") {
                if let Some((vs, ve)) = value {
                    parse_port(&s[vs..ve])?;
                }
            } else if name.eq_ignore_ascii_case("received") {
                value?;
            }
            end = next;
        }
        if skip_ws(b, end) != b.len() {
            return None;
        }
        let via = Via {
            raw: s,
            protocol: &s[p0..p1],
            version: &s[v0..v1],
            transport: Transport::parse(&s[t0..t1]),
            sent_by: &s[h0..sent_by_end],
            host: &s[h0..h1],
            port,
            params: Params::new(&s[sent_by_end..]),
        };
        Some(via)
    }

    /// The whole value as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// `SIP` in `SIP/2.0/UDP`.
    pub fn protocol(&self) -> &'a str {
        self.protocol
    }

    /// `2.0` in `SIP/2.0/UDP`.
    pub fn version(&self) -> &'a str {
        self.version
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// `host[:port]` as written (whitespace around the colon kept).
    pub fn sent_by(&self) -> &'a str {
        self.sent_by
    }

    /// The sent-by host (name, IPv4, or bracketed IPv6).
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The sent-by port, if given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// All Via parameters.
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The `branch` parameter as written.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.get("branch").and_then(|p| p.raw_value)
    }

    /// True if the branch starts with the RFC 3261 cookie *and* has something after it; a
    /// bare `z9hG4bK` (RFC 4475 badbranch) is not a usable transaction id.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > BRANCH_COOKIE.len() && b.starts_with(BRANCH_COOKIE))
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<&'a str> {
        self.params.get("received").and_then(|p| p.raw_value)
    }

    /// The `rport` parameter (RFC 3581).
    pub fn rport(&self) -> Option<Rport> {
        let p = self.params.get("rport")?;
        Some(match p.raw_value.and_then(parse_port) {
            Some(port) => Rport::Value(port),
            None => Rport::Requested,
        })
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.get("maddr").and_then(|p| p.raw_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_whitespace_everywhere() {
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(v.transport(), &Transport::Tcp);
        assert_eq!(v.host(), "spindle.example.com");
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1 : 5070 ;rport;received=2001:db8::9").unwrap();
        assert_eq!(v.port(), Some(5070));
        assert_eq!(v.sent_by(), "192.0.2.1 : 5070");
        assert_eq!(v.rport(), Some(Rport::Requested));
        assert_eq!(v.received(), Some("2001:db8::9"));
        let v = Via::parse("SIP/2.0/WSS [2001:db8::1]:443;branch=z9hG4bK;rport=1234").unwrap();
        assert_eq!(v.host(), "[2001:db8::1]");
        assert_eq!(v.transport(), &Transport::Wss);
        assert_eq!(v.rport(), Some(Rport::Value(1234)));
        assert!(!v.has_rfc3261_branch());
        assert_eq!(
            Via::parse("SIP/2.0/UNKNOWN t4.example.com")
                .unwrap()
                .transport(),
            &Transport::Other("UNKNOWN".into())
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP192.0.2.1",
            "SIP/2.0 192.0.2.1",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP host;rport=x",
            "SIP/2.0/UDP host;received",
            "SIP/2.0/UDP host junk",
            "",
        ] {
            assert!(Via::parse(bad).is_none(), "{bad}");
        }
    }
}

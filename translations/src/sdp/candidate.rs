//! `a=candidate` (RFC 8839 §5.1):
//! `<foundation> <component> <transport> <priority> <address> <port> typ <type>
//!  [raddr <addr>] [rport <port>] *(<ext-name> <ext-value>)`.

use std::fmt;

use super::attributes::num;
use super::error::AttributeError;

/// An ICE candidate. `tcptype` and `generation` are typed; every other extension
/// (`network-id`, `network-cost`, `ufrag`, ...) is kept in order in `extensions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// 1-32 ice-chars; a string, not a number (XEP-0176 types it xs:string).
    pub foundation: String,
    pub component: u16,
    /// As written (`udp`, `UDP`, `tcp`, ...).
    pub transport: String,
    pub priority: u32,
    pub address: String,
    pub port: u16,
    /// host, srflx, prflx, relay, or another token.
    pub typ: String,
    pub raddr: Option<String>,
    pub rport: Option<u16>,
    /// RFC 6544: active, passive, so.
    pub tcptype: Option<String>,
    /// Non-standard but universal (Chrome, XEP-0176 @generation).
    pub generation: Option<u32>,
    pub extensions: Vec<(String, String)>,
}

fn is_ice_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

impl Candidate {
    /// Parse the value after `a=candidate:` (a leading `candidate:` is tolerated, as trickled
    /// WebRTC candidates carry it).
    pub fn parse(v: &str) -> Result<Self, AttributeError> {
        let v = v.trim();
        let v = v.strip_prefix("candidate:").unwrap_or(v);
        // Every field is a token, an address or a non-whitespace value: none holds a control
        // character, and one that slipped into Jingle would be refused on the way back.
        if v.chars().any(char::is_control) {
            return Err(AttributeError::BadValue("candidate"));
        }
        let mut it = v.split_ascii_whitespace();
        let mut next = |f: &'static str| it.next().ok_or(AttributeError::MissingField(f));
        let foundation = next("foundation")?;
        if foundation.len() > 32 || !foundation.chars().all(is_ice_char) {
            return Err(AttributeError::BadValue("foundation"));
        }
        let component = num(next("component-id")?, "component-id")?;
        let transport = next("transport")?.to_string();
        let priority: u32 = num(next("priority")?, "priority")?;
        // RFC 8839 §5.1: 1 to 2^31-1.
        if priority == 0 || priority >= 1 << 31 {
            return Err(AttributeError::BadValue("priority"));
        }
        let address = next("connection-address")?.to_string();
        let port = num(next("port")?, "port")?;
        if next("typ")? != "typ" {
            return Err(AttributeError::MissingField("typ"));
        }
        let typ = next("cand-type")?.to_string();
        let mut c = Candidate {
            foundation: foundation.to_string(),
            component,
            transport,
            priority,
            address,
            port,
            typ,
            raddr: None,
            rport: None,
            tcptype: None,
            generation: None,
            extensions: Vec::new(),
        };
        while let Some(name) = it.next() {
            let value = it
                .next()
                .ok_or(AttributeError::MissingField("extension value"))?;
            match name {
                "raddr" if c.raddr.is_none() => c.raddr = Some(value.to_string()),
                "rport" if c.rport.is_none() => c.rport = Some(num(value, "rport")?),
                "tcptype" if c.tcptype.is_none() => c.tcptype = Some(value.to_string()),
                "generation" if c.generation.is_none() => {
                    c.generation = Some(num(value, "generation")?)
                }
                _ => c.extensions.push((name.to_string(), value.to_string())),
            }
        }
        Ok(c)
    }
}

impl fmt::Display for Candidate {
    /// The value after `a=candidate:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.address,
            self.port,
            self.typ
        )?;
        if let Some(a) = &self.raddr {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.rport {
            write!(f, " rport {p}")?;
        }
        if let Some(t) = &self.tcptype {
            write!(f, " tcptype {t}")?;
        }
        if let Some(g) = self.generation {
            write!(f, " generation {g}")?;
        }
        for (n, v) in &self.extensions {
            write!(f, " {n} {v}")?;
        }
        Ok(())
    }
}

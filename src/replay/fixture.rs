//! A trace's fixture: what the XMPP side does while the trace plays (the trace holds only
//! SIP), where tandem was in the capture, and the expected output beside it.
//!
//! `NAME.toml` next to `NAME.txt` / `NAME.pcap` / `NAME.pcapng` (or in `--fixtures DIR`):
//!
//! ```toml
//! description = "a phone calls alice, who answers after 1 s; the phone hangs up"
//! tandem = "192.0.2.20:5060"      # tandem's address in the trace (default: where the
//!                                 # first request went)
//! domain = "example.test"         # the XMPP domain (default "localhost")
//! sip_domain = "sip.example.test" # the gateway domain (default "sip.<domain>")
//! ring_timeout = 60               # [gateway] ring_timeout, seconds
//! outbound_proxy = "192.0.2.30:5060" # [sip] outbound_proxy (default: the peer of
//!                                 # tandem's first request, when [[call]]s are placed)
//!
//! outbound_username = "tandem"    # credentials for a trunk's 401/407
//! outbound_password = "secret"
//!
//! [[user]]                        # a local account and how its client behaves
//! name = "alice"
//! resources = ["laptop"]          # available resources (default ["phone"]; [] = offline)
//! jmi = false                     # they advertise XEP-0353
//! ringing = true                  # session-info ringing at once on a session-initiate
//! answer = "accept"               # accept | busy | decline | ignore
//! answer_after = 1.0              # seconds after the session-initiate (or propose)
//! hangup_after = 5.0              # seconds after answering: session-terminate
//!
//! [[call]]                        # a call the XMPP side places towards SIP
//! from = "alice/laptop"
//! to = "+15551234"                # the user part at the gateway domain
//! at = 0.0                        # seconds from the first message of the trace
//! hangup_after = 3.0              # seconds after the session-accept
//! ```
//!
//! The expected output is `NAME.expected`; `tandem replay --update` writes it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub description: String,
    pub tandem: Option<SocketAddr>,
    #[serde(default = "default_domain")]
    pub domain: String,
    pub sip_domain: Option<String>,
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout: u32,
    pub outbound_proxy: Option<SocketAddr>,
    /// `[sip] outbound_username` / `outbound_password`, for a trunk that challenges.
    pub outbound_username: Option<String>,
    pub outbound_password: Option<String>,
    #[serde(default, rename = "user")]
    pub users: Vec<User>,
    #[serde(default, rename = "call")]
    pub calls: Vec<OutgoingCall>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    #[serde(default = "default_resources")]
    pub resources: Vec<String>,
    #[serde(default)]
    pub jmi: bool,
    /// The client says it rings (session-info ringing) as soon as a session-initiate comes.
    #[serde(default)]
    pub ringing: bool,
    #[serde(default)]
    pub answer: Answer,
    #[serde(default)]
    pub answer_after: f64,
    pub hangup_after: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    #[default]
    Accept,
    Busy,
    Decline,
    /// Never answers: the ring timeout or the caller ends the call.
    Ignore,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutgoingCall {
    /// `user/resource` of a [`User`].
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub at: f64,
    pub hangup_after: Option<f64>,
}

fn default_domain() -> String {
    "localhost".into()
}

fn default_ring_timeout() -> u32 {
    60
}

fn default_resources() -> Vec<String> {
    vec!["phone".into()]
}

impl Fixture {
    pub fn load(path: &Path) -> Result<Fixture> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the fixture {}", path.display()))?;
        let fixture: Fixture =
            toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        fixture.check()?;
        Ok(fixture)
    }

    pub fn sip_domain(&self) -> String {
        self.sip_domain
            .clone()
            .unwrap_or_else(|| format!("sip.{}", self.domain))
    }

    fn check(&self) -> Result<()> {
        let seconds = |what: &str, v: f64| -> Result<()> {
            if !(0.0..=86_400.0).contains(&v) {
                bail!("{what} = {v}: seconds from 0 to 86400");
            }
            Ok(())
        };
        for u in &self.users {
            seconds("answer_after", u.answer_after)?;
            if let Some(h) = u.hangup_after {
                seconds("hangup_after", h)?;
            }
        }
        for c in &self.calls {
            seconds("at", c.at)?;
            if let Some(h) = c.hangup_after {
                seconds("hangup_after", h)?;
            }
            let Some((user, resource)) = c.from.split_once('/') else {
                bail!("call from {:?}: write user/resource", c.from);
            };
            let known = self
                .users
                .iter()
                .any(|u| u.name == user && u.resources.iter().any(|r| r == resource));
            if !known {
                bail!("call from {:?}: no such [[user]] resource", c.from);
            }
        }
        Ok(())
    }
}

/// Where a trace's fixture and expected output are: beside it, or in `dir`.
pub fn paths(trace: &Path, dir: Option<&Path>) -> (PathBuf, PathBuf) {
    let stem = trace.file_stem().map(|s| s.to_owned()).unwrap_or_default();
    let base = match dir {
        Some(dir) => dir.join(&stem),
        None => trace.with_file_name(&stem),
    };
    (base.with_extension("toml"), base.with_extension("expected"))
}

//! `tandem translate`: shows what tandem sends for an SDP or a Jingle element, so operators
//! can check a peer's offer before a call ever happens. The input kind is detected (XML
//! starts with `<`, SDP with `v=`, anything else is a trickle-ice sdpfrag, which becomes a
//! transport-info and back); `--to sdp` takes exactly what `--to jingle` prints.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use tandem_translations::jingle::{self, Action, JinglePayload};
use tandem_translations::mapping::{
    jingle_to_sdp, sdp_to_jingle_typed, sdpfrag_from_transport_info, transport_info_from_sdpfrag,
    Role,
};
use tandem_translations::sdp::{SdpFragment, SessionDescription};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Target {
    Jingle,
    Sdp,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Initiator,
    Responder,
}

/// A Jingle action name as XEP-0166 spells it.
pub fn parse_action(s: &str) -> Result<Action, String> {
    s.parse().map_err(|()| {
        format!("unknown Jingle action {s:?} (e.g. session-initiate, session-accept)")
    })
}

/// Runs the translation; bad input prints its error and exits 1.
pub fn run(to: Target, role: RoleArg, action: Action, input: Option<PathBuf>) -> Result<ExitCode> {
    let text = read_input(input.as_ref())?;
    let role = match role {
        RoleArg::Initiator => Role::Initiator,
        RoleArg::Responder => Role::Responder,
    };
    match translate(&text, to, role, action) {
        Ok(out) => {
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("tandem translate: {message}");
            Ok(ExitCode::from(1))
        }
    }
}

fn read_input(input: Option<&PathBuf>) -> Result<String> {
    let mut text = String::new();
    match input {
        Some(path) if path.as_os_str() != "-" => {
            text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?
        }
        _ => {
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
        }
    }
    Ok(text)
}

fn translate(text: &str, to: Target, role: Role, action: Action) -> Result<String, String> {
    let is_xml = text.trim_start().starts_with('<');
    let jingle = if is_xml {
        match jingle::parse(text.trim()).map_err(|e| e.to_string())? {
            JinglePayload::Jingle(j) => j,
            JinglePayload::Message(_) => {
                return Err(
                    "a Jingle Message Initiation element carries no session description".into(),
                )
            }
        }
    } else if !text.trim_start().starts_with("v=") {
        let fragment = SdpFragment::parse(text).map_err(|e| format!("sdpfrag: {e}"))?;
        if fragment.media.is_empty() {
            return Err(
                "neither SDP (v= first), a trickle-ice sdpfrag (m= sections) nor XML".into(),
            );
        }
        transport_info_from_sdpfrag(&fragment, None, "sdpfrag", 0).map_err(|e| e.to_string())?
    } else {
        let (sdp, typed) = SessionDescription::parse_typed(text).map_err(|e| e.to_string())?;
        // The sid is derived from o= so the same SDP always gives the same element.
        let sid = format!("sdp-{}", sdp.origin.session_id);
        let translated =
            sdp_to_jingle_typed(&sdp, &typed, role, action, &sid, 0).map_err(|e| e.to_string())?;
        for name in &translated.rejected {
            eprintln!("tandem translate: m-line {name:?} has port 0 (rejected), no content for it");
        }
        translated.jingle
    };
    match to {
        Target::Jingle => Ok(format!("{}\n", jingle.to_xml())),
        Target::Sdp if jingle.action == Action::TransportInfo => {
            sdpfrag_from_transport_info(&jingle, None)
                .map(|f| f.to_string())
                .map_err(|e| e.to_string())
        }
        Target::Sdp => jingle_to_sdp(&jingle, role, 1)
            .map(|sdp| sdp.to_string())
            .map_err(|e| e.to_string()),
    }
}

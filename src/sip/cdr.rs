//! Call detail records: one JSON line per call in `<data_dir>/cdr.jsonl`, written when the
//! call ends, for billing and for operators answering "what happened to that call".

use std::io::Write;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tandem_translations::call::{CallRecord, Origin};

/// One line of the CDR file.
#[derive(Debug, Serialize)]
pub struct CdrLine<'a> {
    pub caller: &'a str,
    pub callee: &'a str,
    /// `sip-to-xmpp` or `xmpp-to-sip`.
    pub direction: &'static str,
    pub jingle_sid: &'a str,
    pub sip_call_id: &'a str,
    pub setup: String,
    pub ringing: Option<String>,
    pub answer: Option<String>,
    pub end: String,
    /// The Jingle reason the call ended with (`success`, `busy`, `timeout`, ...).
    pub reason: &'a str,
    /// The SIP status that ended it (200 for a hang-up after answer).
    pub status: u16,
}

/// When the call started, on both clocks: the call's instants become wall-clock times.
#[derive(Debug, Clone, Copy)]
pub struct CallClock {
    wall: SystemTime,
    monotonic: Instant,
}

impl CallClock {
    pub fn now() -> CallClock {
        CallClock {
            wall: super::clock::system_now(),
            monotonic: super::clock::now(),
        }
    }

    /// Time since the call started.
    pub fn elapsed(&self) -> std::time::Duration {
        super::clock::now().saturating_duration_since(self.monotonic)
    }

    fn wall(&self, at: Instant) -> String {
        rfc3339_millis(self.wall + at.saturating_duration_since(self.monotonic))
    }
}

/// Builds the line for a finished call.
pub fn line<'a>(
    record: &'a CallRecord,
    clock: &CallClock,
    caller: &'a str,
    callee: &'a str,
    sip_call_id: &'a str,
) -> CdrLine<'a> {
    CdrLine {
        caller,
        callee,
        direction: match record.origin {
            Origin::Sip => "sip-to-xmpp",
            Origin::Jingle => "xmpp-to-sip",
        },
        jingle_sid: &record.sid,
        sip_call_id,
        setup: clock.wall(record.setup),
        ringing: record.ringing.map(|t| clock.wall(t)),
        answer: record.answer.map(|t| clock.wall(t)),
        end: clock.wall(record.end),
        reason: record.reason.as_str(),
        status: record.status,
    }
}

/// Appends lines to the CDR file; a failure is logged, never fatal to the call.
#[derive(Debug, Clone)]
pub struct CdrWriter {
    path: PathBuf,
}

impl CdrWriter {
    pub fn new(data_dir: &std::path::Path) -> CdrWriter {
        CdrWriter {
            path: data_dir.join("cdr.jsonl"),
        }
    }

    pub fn write(&self, line: &CdrLine<'_>) {
        let result = serde_json::to_string(line)
            .map_err(std::io::Error::other)
            .and_then(|json| {
                // One write per line, in append mode: lines from concurrent calls never interleave.
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?
                    .write_all(format!("{json}\n").as_bytes())
            });
        if let Err(e) = result {
            tracing::error!(path = %self.path.display(), error = %e, "writing the CDR failed");
        }
    }
}

/// `YYYY-MM-DDThh:mm:ss.mmmZ`.
fn rfc3339_millis(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = crate::im::time::xep0082(since.as_secs() as i64);
    format!("{}.{:03}Z", &seconds[..19], since.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tandem_translations::jingle::ReasonCondition;

    #[test]
    fn a_record_becomes_one_json_line_with_wall_clock_times() {
        let clock = CallClock::now();
        let t0 = clock.monotonic;
        let record = CallRecord {
            origin: Origin::Sip,
            sid: "s1".into(),
            setup: t0,
            ringing: Some(t0 + Duration::from_millis(250)),
            answer: None,
            end: t0 + Duration::from_secs(3),
            reason: ReasonCondition::Busy,
            status: 486,
        };
        let l = line(
            &record,
            &clock,
            "sip:bob@x",
            "alice@example.test/laptop",
            "c1",
        );
        let json: serde_json::Value = serde_json::to_value(&l).unwrap();
        assert_eq!(json["direction"], "sip-to-xmpp");
        assert_eq!(json["reason"], "busy");
        assert_eq!(json["status"], 486);
        assert!(json["answer"].is_null());
        let setup = json["setup"].as_str().unwrap();
        assert_eq!(setup.len(), "2026-11-25T10:00:00.000Z".len(), "{setup}");
        let dir = tempfile::tempdir().unwrap();
        let writer = CdrWriter::new(dir.path());
        writer.write(&l);
        writer.write(&l);
        let text = std::fs::read_to_string(dir.path().join("cdr.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 2);
    }
}

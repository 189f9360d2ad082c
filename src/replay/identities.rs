//! Carrying tandem's live identifiers into the trace. A capture holds what tandem said
//! then (its tags, branches, Call-IDs); the replayed tandem picks new ones. Each message
//! tandem sends now is paired with the one it sent in the capture (same method, or same
//! status to the same method, in order), and the remote side's messages are rewritten
//! from then-values to now-values before they are fed in.

use std::collections::VecDeque;

use super::tokens::{find, rewrite, BoundedMap, Kind};

/// How far ahead in tandem's live output a capture message's counterpart is looked for
/// (retransmissions and timing make the two sequences differ a little).
const LOOKAHEAD: usize = 6;
/// Messages waiting for their counterpart, at most (a trace without tandem's side, or a
/// replay that says nothing, must not grow without end).
const QUEUED: usize = 1024;

#[derive(Debug, Default)]
pub struct Identities {
    map: BoundedMap<(Kind, String), String>,
    then: VecDeque<String>,
    now: VecDeque<String>,
}

impl Identities {
    /// A message tandem sent in the capture.
    pub fn sent_then(&mut self, text: String) {
        self.then.push_back(text);
        if self.then.len() > QUEUED {
            self.then.pop_front();
        }
        self.pair();
    }

    /// A message the replayed tandem sent.
    pub fn sent_now(&mut self, text: String) {
        self.now.push_back(text);
        if self.now.len() > QUEUED {
            self.now.pop_front();
        }
        self.pair();
    }

    /// The remote side's message with tandem's identifiers as they are now.
    pub fn rewrite(&self, text: &str) -> String {
        let (head, body) = match text.find("\r\n\r\n") {
            Some(at) => text.split_at(at),
            None => (text, ""),
        };
        let head = rewrite(head, |kind, value| {
            self.map.get(&(kind, value.to_owned())).cloned()
        });
        format!("{head}{body}")
    }

    fn pair(&mut self) {
        while let Some(then) = self.then.front() {
            let wanted = shape(then);
            let Some(at) = self
                .now
                .iter()
                .take(LOOKAHEAD)
                .position(|m| shape(m) == wanted)
            else {
                if self.now.len() >= LOOKAHEAD {
                    // Tandem does not say this now: nothing to learn from it.
                    self.then.pop_front();
                    continue;
                }
                return;
            };
            let now = self.now.remove(at).expect("found above");
            self.now.drain(..at);
            let then = self.then.pop_front().expect("front above");
            self.learn(&then, &now);
        }
    }

    fn learn(&mut self, then: &str, now: &str) {
        let values = |text: &str| -> Vec<(Kind, String)> {
            let head = text.split("\r\n\r\n").next().unwrap_or("");
            find(head)
                .into_iter()
                .filter(|(k, _)| matches!(k, Kind::Tag | Kind::Branch | Kind::CallId))
                .map(|(k, r)| (k, head[r].to_owned()))
                .collect()
        };
        for ((kind_then, value_then), (kind_now, value_now)) in
            values(then).into_iter().zip(values(now))
        {
            if kind_then == kind_now && value_then != value_now {
                self.map.insert((kind_then, value_then), value_now);
            }
        }
    }
}

/// A message's shape: its method, or its status and the method it answers.
fn shape(text: &str) -> String {
    let first = text.lines().next().unwrap_or("");
    if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
        let status = rest.split(' ').next().unwrap_or("");
        let cseq_method = text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("CSeq")
                    .then(|| value.split_whitespace().nth(1).unwrap_or("").to_owned())
            })
            .unwrap_or_default();
        format!("{status} {cseq_method}")
    } else {
        first.split(' ').next().unwrap_or("").to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(to_tag: &str) -> String {
        format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKremote\r\nFrom: <sip:p@x>;tag=ptag\r\n\
             To: <sip:alice@x>;tag={to_tag}\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\r\n"
        )
    }

    #[test]
    fn the_remote_side_speaks_to_the_tandem_of_now() {
        let mut ids = Identities::default();
        ids.sent_then("SIP/2.0 100 Trying\r\nCSeq: 1 INVITE\r\n\r\n".into());
        ids.sent_then(ok("then-tag"));
        // Live: a 100 and a 180 the capture did not have, then the 200.
        ids.sent_now("SIP/2.0 100 Trying\r\nCSeq: 1 INVITE\r\n\r\n".into());
        ids.sent_now(
            "SIP/2.0 180 Ringing\r\nCSeq: 1 INVITE\r\nTo: <sip:alice@x>;tag=now-tag\r\n\r\n".into(),
        );
        ids.sent_now(ok("now-tag"));
        let bye = "BYE sip:alice@x SIP/2.0\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKbye\r\nFrom: <sip:p@x>;tag=ptag\r\n\
                   To: <sip:alice@x>;tag=then-tag\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\n\r\nbody;tag=then-tag";
        let rewritten = ids.rewrite(bye);
        assert!(
            rewritten.contains("To: <sip:alice@x>;tag=now-tag\r\n"),
            "{rewritten}"
        );
        assert!(
            rewritten.contains("From: <sip:p@x>;tag=ptag"),
            "the phone's own tag stays"
        );
        assert!(
            rewritten.ends_with("body;tag=then-tag"),
            "bodies are not touched"
        );
    }

    #[test]
    fn shapes() {
        assert_eq!(shape(&ok("t")), "200 INVITE");
        assert_eq!(shape("ACK sip:x SIP/2.0\r\n"), "ACK");
    }
}

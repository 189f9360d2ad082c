//! A SIP re-offer describes the whole session again; Jingle changes a session one action
//! at a time (XEP-0166 §7.2, XEP-0167, XEP-0176). This turns the difference between the
//! session's current contents and a re-offer's translation into those actions.

use super::Role;
use crate::jingle::{Action, Content, Creator, Jingle, Senders, Transport};

/// The Jingle actions that take a session from `current` to `next` (both full descriptions
/// as [`super::sdp_to_jingle`] gives them), written by `author`:
/// - content-remove for contents `next` no longer has (port 0 leaves them out of it),
/// - content-modify (senders only) where the direction changed (XEP-0166 §7.2.5),
/// - description-info where the payload types or other description parameters changed,
/// - transport-replace where the transport kind changed (ICE <-> Raw UDP, XEP-0176 §fallback),
///   transport-info where it kept its kind but changed (new candidates, an ICE restart),
/// - content-add for new contents, created by the author (XEP-0166 §7.2.2).
///
/// An unchanged session gives no actions.
pub fn jingle_changes(current: &Jingle, next: &Jingle, author: Role) -> Vec<Jingle> {
    let action = |a: Action| Jingle::new(a, current.sid.clone());
    let mut remove = action(Action::ContentRemove);
    let mut modify = Vec::new();
    let mut describe = action(Action::DescriptionInfo);
    let mut replace = action(Action::TransportReplace);
    let mut transport_info = action(Action::TransportInfo);
    let mut add = action(Action::ContentAdd);
    for old in &current.contents {
        let Some(new) = next.contents.iter().find(|c| c.name == old.name) else {
            // Rejected with port 0 (RFC 3264 §8.2), or gone from the description.
            remove
                .contents
                .push(Content::new(old.creator, old.name.clone()));
            continue;
        };
        if direction(old) != direction(new) {
            let mut c = Content::new(old.creator, old.name.clone());
            c.senders = new.senders;
            let mut m = action(Action::ContentModify);
            m.contents.push(c);
            modify.push(m);
        }
        if old.description != new.description {
            let mut c = Content::new(old.creator, old.name.clone());
            c.description = new.description.clone();
            describe.contents.push(c);
        }
        if old.transport != new.transport {
            let mut c = Content::new(old.creator, old.name.clone());
            c.transport = new.transport.clone();
            if same_kind(&old.transport, &new.transport) {
                transport_info.contents.push(c);
            } else {
                replace.contents.push(c);
            }
        }
    }
    let creator = match author {
        Role::Initiator => Creator::Initiator,
        Role::Responder => Creator::Responder,
    };
    for new in &next.contents {
        if !current.contents.iter().any(|c| c.name == new.name) {
            let mut c = new.clone();
            c.creator = creator;
            add.contents.push(c);
        }
    }
    let mut out = Vec::new();
    out.extend(Some(remove).filter(|j| !j.contents.is_empty()));
    out.extend(modify);
    for j in [describe, transport_info, replace, add] {
        if !j.contents.is_empty() {
            out.push(j);
        }
    }
    out
}

fn direction(c: &Content) -> Senders {
    c.senders.unwrap_or(Senders::Both)
}

fn same_kind(a: &Option<Transport>, b: &Option<Transport>) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
        && match (a, b) {
            (Some(x), Some(y)) => std::mem::discriminant(x) == std::mem::discriminant(y),
            _ => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::sdp_to_jingle;
    use crate::mapping::test_support::session;

    fn jingle(body: &str) -> (Jingle, Vec<String>) {
        let t = sdp_to_jingle(
            &session(body),
            Role::Responder,
            Action::SessionAccept,
            "s",
            0,
        )
        .unwrap();
        (t.jingle, t.rejected)
    }

    const TWO: &str = "m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 101\r\n\
                       a=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";

    #[test]
    fn a_hold_is_a_content_modify_with_senders_only() {
        let (current, _) = jingle(TWO);
        let (next, _) = jingle(&TWO.replacen("RTP/AVP 0\r\n", "RTP/AVP 0\r\na=sendonly\r\n", 1));
        let changes = jingle_changes(&current, &next, Role::Responder);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].action, Action::ContentModify);
        let c = &changes[0].contents[0];
        assert_eq!(
            (c.name.as_str(), c.senders),
            ("audio", Some(Senders::Responder))
        );
        assert!(c.description.is_none() && c.transport.is_none());
    }

    #[test]
    fn a_new_m_line_is_a_content_add_by_its_author_and_port_zero_a_remove() {
        let (current, _) = jingle("m=audio 4000 RTP/AVP 0\r\n");
        let (next, _) = jingle(TWO);
        let changes = jingle_changes(&current, &next, Role::Responder);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].action, Action::ContentAdd);
        assert_eq!(changes[0].contents[0].name, "audio-2");
        assert_eq!(changes[0].contents[0].creator, Creator::Responder);

        let (removed, _) = jingle(&TWO.replace("4002", "0"));
        let changes = jingle_changes(&next, &removed, Role::Initiator);
        assert_eq!(changes[0].action, Action::ContentRemove);
        assert_eq!(changes[0].contents[0].name, "audio-2");
    }

    #[test]
    fn codec_and_address_changes_are_description_and_transport_info() {
        let (current, _) = jingle("m=audio 4000 RTP/AVP 0\r\n");
        let (next, _) = jingle("m=audio 5000 RTP/AVP 8\r\n");
        let actions: Vec<_> = jingle_changes(&current, &next, Role::Initiator)
            .iter()
            .map(|j| j.action)
            .collect();
        assert_eq!(actions, [Action::DescriptionInfo, Action::TransportInfo]);
        let (ice, _) = jingle(
            "m=audio 5000 RTP/AVP 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n",
        );
        let actions: Vec<_> = jingle_changes(&current, &ice, Role::Initiator)
            .iter()
            .map(|j| j.action)
            .collect();
        assert_eq!(actions, [Action::TransportReplace]);
        assert!(jingle_changes(&current, &current, Role::Initiator).is_empty());
    }
}

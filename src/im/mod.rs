//! Instant messaging on top of bound sessions (RFC 6121): message, presence and iq routing,
//! rosters and subscriptions, offline storage. Pure rules live in `tandem_xmpp::roster`; this
//! module applies them against storage and the route table.

mod delivery;
mod iq;
mod message;
mod presence;
mod roster;
mod time;

use std::collections::HashSet;

use jid::{BareJid, FullJid, Jid};
use tandem_xmpp::c2s::Session;
use tandem_xmpp::stanza::StanzaKind;
use tandem_xmpp::Element;

use crate::server::{SessionHandle, Shared};

/// IM state of one bound session.
pub struct ImSession {
    pub jid: FullJid,
    pub bare: BareJid,
    /// The local username (the JID's localpart), the key of everything stored for the user.
    pub username: String,
    pub available: bool,
    /// Entities that got directed presence and must hear when we go offline (RFC 6121 §4.6).
    pub directed: HashSet<Jid>,
    /// Offline messages written to the connection, deleted once the write succeeded.
    pub offline_written: Vec<i64>,
}

impl ImSession {
    pub fn new(jid: FullJid) -> Self {
        let bare = jid.to_bare();
        let username = bare
            .node()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        ImSession {
            jid,
            bare,
            username,
            available: false,
            directed: HashSet::new(),
            offline_written: Vec::new(),
        }
    }
}

/// A stanza from a bound client, `from` stamped by the c2s core.
pub async fn handle_stanza(
    shared: &Shared,
    im: &mut ImSession,
    session: &mut Session,
    stanza: Element,
) {
    match StanzaKind::of(&stanza) {
        Some(StanzaKind::Message) => message::route(shared, stanza).await,
        Some(StanzaKind::Presence) => presence::handle_outbound(shared, im, session, stanza).await,
        Some(StanzaKind::Iq) => iq::handle_outbound(shared, im, session, stanza).await,
        None => {}
    }
}

/// Called after the session's output reached the socket.
pub async fn after_flush(shared: &Shared, im: &mut ImSession) {
    if im.offline_written.is_empty() {
        return;
    }
    let ids = std::mem::take(&mut im.offline_written);
    if let Err(e) = shared.storage.delete_offline(&im.username, &ids).await {
        // They will be delivered again next time: duplicates beat losses.
        tracing::error!(user = %im.username, error = %e, "could not delete delivered offline messages");
    }
}

/// The session is gone: unbind it and tell whoever saw it online.
pub async fn session_ended(shared: &Shared, im: &mut ImSession, handle: &SessionHandle) {
    let id = handle.id;
    let still_ours = shared
        .routes
        .unbind(&im.jid, &|h: &SessionHandle| h.id == id);
    // A session replaced by a newer one for the same full JID must not announce that JID as
    // offline nor clear the newcomer's presence: the resource lives on.
    if still_ours && im.available {
        presence::broadcast_unavailable(shared, im, None).await;
    }
}

/// A stanza queued for a session that closed before writing it: route it again so messages
/// reach another resource or offline storage instead of vanishing.
pub async fn redeliver_after_close(shared: &Shared, stanza: Element) {
    if StanzaKind::of(&stanza) == Some(StanzaKind::Message) {
        message::route(shared, stanza).await;
    }
}

/// The `to` of a stanza as a JID; `None` when absent (addressed to the sender's account).
fn to_jid(stanza: &Element) -> Option<Jid> {
    stanza.attr("to").and_then(|t| Jid::new(t).ok())
}

fn from_jid(stanza: &Element) -> Option<Jid> {
    stanza.attr("from").and_then(|t| Jid::new(t).ok())
}

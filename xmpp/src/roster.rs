//! Roster items and the subscription state machine of RFC 6121 §3 and Appendix A, pure.

use jid::BareJid;

use crate::element::Element;

pub const ROSTER_NS: &str = "jabber:iq:roster";

/// The `subscription` attribute of a roster item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    None,
    /// The user receives the contact's presence.
    To,
    /// The contact receives the user's presence.
    From,
    Both,
}

impl Subscription {
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Subscription> {
        Some(match s {
            "none" => Subscription::None,
            "to" => Subscription::To,
            "from" => Subscription::From,
            "both" => Subscription::Both,
            _ => return None,
        })
    }

    /// The user receives the contact's presence.
    pub fn has_to(self) -> bool {
        matches!(self, Subscription::To | Subscription::Both)
    }

    /// The contact receives the user's presence.
    pub fn has_from(self) -> bool {
        matches!(self, Subscription::From | Subscription::Both)
    }

    fn with(to: bool, from: bool) -> Subscription {
        match (to, from) {
            (false, false) => Subscription::None,
            (true, false) => Subscription::To,
            (false, true) => Subscription::From,
            (true, true) => Subscription::Both,
        }
    }
}

/// One contact in a user's roster, with the server-side subscription state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterItem {
    pub jid: BareJid,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub subscription: Subscription,
    /// "Pending Out": the user asked to subscribe and awaits the contact's answer.
    pub ask: bool,
    /// "Pending In": the contact asked to subscribe and awaits the user's answer.
    pub pending_in: bool,
    /// The user put this contact in the roster (roster set), as opposed to an item kept only
    /// to remember an unanswered inbound request.
    pub listed: bool,
}

impl RosterItem {
    pub fn new(jid: BareJid) -> Self {
        RosterItem {
            jid,
            name: None,
            groups: Vec::new(),
            subscription: Subscription::None,
            ask: false,
            pending_in: false,
            listed: false,
        }
    }

    /// RFC 6121 §3.1.3: an unanswered inbound request alone does not put a contact in the
    /// user's roster.
    pub fn is_visible(&self) -> bool {
        self.listed || self.subscription != Subscription::None || self.ask
    }

    /// True when nothing is left worth storing.
    pub fn is_empty(&self) -> bool {
        !self.is_visible() && !self.pending_in
    }

    /// The `<item/>` element as sent in roster results and pushes.
    pub fn to_element(&self) -> Element {
        let mut item = Element::new("item", ROSTER_NS)
            .with_attr("jid", self.jid.to_string())
            .with_attr("subscription", self.subscription.as_str());
        if let Some(name) = &self.name {
            item.set_attr("name", name.clone());
        }
        if self.ask {
            item.set_attr("ask", "subscribe");
        }
        for group in &self.groups {
            item.push_child(Element::new("group", ROSTER_NS).with_text(group.clone()));
        }
        item
    }
}

/// A client's roster set request for one item (RFC 6121 §2.3, §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterSet {
    Update {
        jid: BareJid,
        name: Option<String>,
        groups: Vec<String>,
    },
    Remove {
        jid: BareJid,
    },
}

/// Why a roster set is refused, with the stanza error it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterSetError {
    /// bad-request: not exactly one item, no jid, or a repeated group (RFC 6121 §2.3.3).
    #[error("bad-request: {0}")]
    BadRequest(&'static str),
    /// jid-malformed.
    #[error("jid-malformed")]
    JidMalformed,
    /// not-acceptable: empty group or over-long name.
    #[error("not-acceptable: {0}")]
    NotAcceptable(&'static str),
}

const MAX_TEXT: usize = 1023;

/// Parses the `<query/>` of a roster set.
pub fn parse_roster_set(query: &Element) -> Result<RosterSet, RosterSetError> {
    let mut items = query.children().filter(|c| c.is("item", ROSTER_NS));
    let item = items.next().ok_or(RosterSetError::BadRequest("no item"))?;
    if items.next().is_some() {
        return Err(RosterSetError::BadRequest("more than one item"));
    }
    let jid = item
        .attr("jid")
        .ok_or(RosterSetError::BadRequest("item without jid"))?;
    let jid = BareJid::new(jid).map_err(|_| RosterSetError::JidMalformed)?;
    if item.attr("subscription") == Some("remove") {
        return Ok(RosterSet::Remove { jid });
    }
    let name = item
        .attr("name")
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if name.as_ref().is_some_and(|n| n.len() > MAX_TEXT) {
        return Err(RosterSetError::NotAcceptable("name too long"));
    }
    let mut groups: Vec<String> = Vec::new();
    for group in item.children().filter(|c| c.is("group", ROSTER_NS)) {
        let text = group.text();
        if text.is_empty() {
            return Err(RosterSetError::NotAcceptable("empty group name"));
        }
        if text.len() > MAX_TEXT {
            return Err(RosterSetError::NotAcceptable("group name too long"));
        }
        if groups.contains(&text) {
            return Err(RosterSetError::BadRequest("duplicate group"));
        }
        groups.push(text);
    }
    Ok(RosterSet::Update { jid, name, groups })
}

/// What the server must do after a subscription state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The item changed: store it and push it to interested resources.
    pub changed: bool,
    /// Route/deliver the stanza onwards (to the contact, or to the user's resources).
    pub forward: bool,
}

/// The four subscription presence types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionAction {
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
}

impl SubscriptionAction {
    pub fn parse(presence_type: &str) -> Option<Self> {
        Some(match presence_type {
            "subscribe" => SubscriptionAction::Subscribe,
            "subscribed" => SubscriptionAction::Subscribed,
            "unsubscribe" => SubscriptionAction::Unsubscribe,
            "unsubscribed" => SubscriptionAction::Unsubscribed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionAction::Subscribe => "subscribe",
            SubscriptionAction::Subscribed => "subscribed",
            SubscriptionAction::Unsubscribe => "unsubscribe",
            SubscriptionAction::Unsubscribed => "unsubscribed",
        }
    }
}

/// The user sent `action` to the contact: update the user's item for that contact
/// (RFC 6121 §3.1.2, §3.2.2, §3.3.2, §3.4.2; Appendix A.2).
pub fn apply_outbound(item: &mut RosterItem, action: SubscriptionAction) -> Outcome {
    let before = item.clone();
    let forward = match action {
        SubscriptionAction::Subscribe => {
            if !item.subscription.has_to() {
                item.ask = true;
            }
            item.listed = true;
            true
        }
        SubscriptionAction::Subscribed => {
            // Approving is only meaningful for a pending request; pre-approval is not offered.
            if item.pending_in {
                item.pending_in = false;
                item.listed = true;
                item.subscription = Subscription::with(item.subscription.has_to(), true);
                true
            } else {
                false
            }
        }
        // RFC 6121 §3.3.2, §3.2.2: routed whatever the local state, the contact's server decides.
        SubscriptionAction::Unsubscribe => {
            item.ask = false;
            item.subscription = Subscription::with(false, item.subscription.has_from());
            true
        }
        SubscriptionAction::Unsubscribed => {
            item.pending_in = false;
            item.subscription = Subscription::with(item.subscription.has_to(), false);
            true
        }
    };
    Outcome {
        changed: *item != before,
        forward,
    }
}

/// The contact sent `action` to the user: update the user's item for that contact
/// (RFC 6121 §3.1.3, §3.2.3, §3.3.3, §3.4.3; Appendix A.3). For `Subscribe`, `forward` means
/// "present it to the user"; when the contact already has a subscription the caller must
/// auto-reply `subscribed` instead (reported by [`inbound_subscribe_is_redundant`]).
pub fn apply_inbound(item: &mut RosterItem, action: SubscriptionAction) -> Outcome {
    let before = item.clone();
    let forward = match action {
        SubscriptionAction::Subscribe => {
            if item.subscription.has_from() {
                false
            } else {
                item.pending_in = true;
                true
            }
        }
        SubscriptionAction::Subscribed => {
            if item.ask {
                item.ask = false;
                item.subscription = Subscription::with(true, item.subscription.has_from());
                true
            } else {
                false
            }
        }
        SubscriptionAction::Unsubscribe => {
            let had = item.subscription.has_from() || item.pending_in;
            item.pending_in = false;
            item.subscription = Subscription::with(item.subscription.has_to(), false);
            had
        }
        SubscriptionAction::Unsubscribed => {
            let had = item.subscription.has_to() || item.ask;
            item.ask = false;
            item.subscription = Subscription::with(false, item.subscription.has_from());
            had
        }
    };
    Outcome {
        changed: *item != before,
        forward,
    }
}

/// RFC 6121 §3.1.3: a subscribe from a contact who already receives the user's presence is
/// answered by the server with `subscribed`, without bothering the user.
pub fn inbound_subscribe_is_redundant(item: &RosterItem) -> bool {
    item.subscription.has_from()
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubscriptionAction::*;

    fn item() -> RosterItem {
        RosterItem::new(BareJid::new("c@x").unwrap())
    }

    #[test]
    fn full_handshake_reaches_both() {
        // user u subscribes to contact c, c approves; then c subscribes to u, u approves.
        let mut u_item = item();
        let mut c_item = RosterItem::new(BareJid::new("u@x").unwrap());
        assert!(apply_outbound(&mut u_item, Subscribe).forward);
        assert!(u_item.ask);
        assert!(apply_inbound(&mut c_item, Subscribe).forward);
        assert!(c_item.pending_in);
        assert!(apply_outbound(&mut c_item, Subscribed).forward);
        assert_eq!(c_item.subscription, Subscription::From);
        assert!(apply_inbound(&mut u_item, Subscribed).forward);
        assert_eq!(u_item.subscription, Subscription::To);
        assert!(!u_item.ask);

        apply_outbound(&mut c_item, Subscribe);
        apply_inbound(&mut u_item, Subscribe);
        apply_outbound(&mut u_item, Subscribed);
        apply_inbound(&mut c_item, Subscribed);
        assert_eq!(u_item.subscription, Subscription::Both);
        assert_eq!(c_item.subscription, Subscription::Both);
    }

    #[test]
    fn unsolicited_subscribed_is_ignored() {
        let mut u_item = item();
        let out = apply_inbound(&mut u_item, Subscribed);
        assert_eq!(
            out,
            Outcome {
                changed: false,
                forward: false
            }
        );
        assert_eq!(u_item.subscription, Subscription::None);
        let mut c_item = item();
        assert!(!apply_outbound(&mut c_item, Subscribed).forward);
    }

    #[test]
    fn unsubscribe_and_cancel() {
        let mut it = item();
        it.subscription = Subscription::Both;
        apply_outbound(&mut it, Unsubscribe);
        assert_eq!(it.subscription, Subscription::From);
        apply_outbound(&mut it, Unsubscribed);
        assert_eq!(it.subscription, Subscription::None);
        let mut it = item();
        it.subscription = Subscription::Both;
        apply_inbound(&mut it, Unsubscribe);
        assert_eq!(it.subscription, Subscription::To);
        apply_inbound(&mut it, Unsubscribed);
        assert_eq!(it.subscription, Subscription::None);
    }

    #[test]
    fn redundant_subscribe_is_auto_approved() {
        let mut it = item();
        it.subscription = Subscription::From;
        assert!(inbound_subscribe_is_redundant(&it));
        assert!(!apply_inbound(&mut it, Subscribe).forward);
    }

    #[test]
    fn roster_set_validation() {
        let q = |item: Element| Element::new("query", ROSTER_NS).with_child(item);
        let ok = q(Element::new("item", ROSTER_NS)
            .with_attr("jid", "Bob@X")
            .with_attr("name", "Bob")
            .with_child(Element::new("group", ROSTER_NS).with_text("Friends")));
        assert_eq!(
            parse_roster_set(&ok).unwrap(),
            RosterSet::Update {
                jid: BareJid::new("bob@x").unwrap(),
                name: Some("Bob".into()),
                groups: vec!["Friends".into()]
            }
        );
        let dup = q(Element::new("item", ROSTER_NS)
            .with_attr("jid", "b@x")
            .with_child(Element::new("group", ROSTER_NS).with_text("G"))
            .with_child(Element::new("group", ROSTER_NS).with_text("G")));
        assert!(matches!(
            parse_roster_set(&dup),
            Err(RosterSetError::BadRequest(_))
        ));
        let empty_group = q(Element::new("item", ROSTER_NS)
            .with_attr("jid", "b@x")
            .with_child(Element::new("group", ROSTER_NS)));
        assert!(matches!(
            parse_roster_set(&empty_group),
            Err(RosterSetError::NotAcceptable(_))
        ));
        let bad_jid = q(Element::new("item", ROSTER_NS).with_attr("jid", "@@"));
        assert_eq!(
            parse_roster_set(&bad_jid),
            Err(RosterSetError::JidMalformed)
        );
        let remove = q(Element::new("item", ROSTER_NS)
            .with_attr("jid", "b@x")
            .with_attr("subscription", "remove"));
        assert_eq!(
            parse_roster_set(&remove).unwrap(),
            RosterSet::Remove {
                jid: BareJid::new("b@x").unwrap()
            }
        );
        assert!(matches!(
            parse_roster_set(&Element::new("query", ROSTER_NS)),
            Err(RosterSetError::BadRequest(_))
        ));
    }
}

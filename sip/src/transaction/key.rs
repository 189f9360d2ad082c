//! Which transaction a message belongs to (RFC 3261 §17.1.3, §17.2.3, §9.2).

/// The RFC 3261 branch prefix; a branch that carries it is globally unique (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Identifies a server transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerKey {
    /// §17.2.3: branch, sent-by of the top Via, and method (ACK matches INVITE).
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: String,
    },
    /// Peers without the magic cookie (RFC 2543), or with nothing but the cookie: matched on
    /// Request-URI, From tag, Call-ID, CSeq number, top Via and method (ACK matches INVITE).
    Rfc2543 {
        request_uri: String,
        from_tag: String,
        call_id: String,
        cseq: u32,
        top_via: String,
        method: String,
    },
}

/// The header fields matching needs, taken from a request by the caller.
#[derive(Debug, Clone, Copy)]
pub struct RequestIds<'a> {
    pub method: &'a str,
    /// The `branch` parameter of the top Via, if any.
    pub branch: Option<&'a str>,
    /// The top Via's sent-by (`host[:port]`).
    pub sent_by: &'a str,
    /// The whole top Via value, for RFC 2543 matching.
    pub top_via: &'a str,
    pub request_uri: &'a str,
    pub from_tag: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
}

impl ServerKey {
    /// The key of the server transaction `request` belongs to. ACK maps to its INVITE's
    /// transaction (§17.2.3); CANCEL has a transaction of its own.
    pub fn for_request(ids: &RequestIds<'_>) -> ServerKey {
        Self::with_method(ids, &transaction_method(ids.method))
    }

    /// The key of the INVITE transaction a CANCEL targets (§9.2): same as the CANCEL's but
    /// with method INVITE.
    pub fn cancelled_invite(cancel: &RequestIds<'_>) -> ServerKey {
        Self::with_method(cancel, "INVITE")
    }

    fn with_method(ids: &RequestIds<'_>, method: &str) -> ServerKey {
        match ids.branch.filter(|b| is_rfc3261_branch(b)) {
            Some(branch) => ServerKey::Rfc3261 {
                branch: branch.to_owned(),
                sent_by: ids.sent_by.to_ascii_lowercase(),
                method: method.to_owned(),
            },
            None => ServerKey::Rfc2543 {
                request_uri: ids.request_uri.to_owned(),
                from_tag: ids.from_tag.to_owned(),
                call_id: ids.call_id.to_owned(),
                cseq: ids.cseq,
                top_via: ids.top_via.to_owned(),
                method: method.to_owned(),
            },
        }
    }
}

/// Identifies a client transaction: our own branch and the method (§17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey {
    pub branch: String,
    pub method: String,
}

impl ClientKey {
    /// For a response: the branch of its top Via and the method of its CSeq.
    pub fn for_response(branch: &str, cseq_method: &str) -> ClientKey {
        ClientKey {
            branch: branch.to_owned(),
            method: transaction_method(cseq_method),
        }
    }
}

/// A branch is RFC 3261-unique only with the cookie *and* something after it: RFC 4475
/// §3.2.1 (badbranch) has a branch that is exactly the cookie and must not be matched as one.
pub fn is_rfc3261_branch(branch: &str) -> bool {
    branch.len() > MAGIC_COOKIE.len() && branch.starts_with(MAGIC_COOKIE)
}

fn transaction_method(method: &str) -> String {
    let upper = method.to_ascii_uppercase();
    if upper == "ACK" {
        "INVITE".into()
    } else {
        upper
    }
}

/// A fresh RFC 3261 branch from caller-supplied random bytes (the core reads no RNG).
pub fn new_branch(random: [u8; 12]) -> String {
    let mut branch = String::with_capacity(MAGIC_COOKIE.len() + 24);
    branch.push_str(MAGIC_COOKIE);
    for b in random {
        branch.push_str(&format!("{b:02x}"));
    }
    branch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids<'a>(method: &'a str, branch: Option<&'a str>) -> RequestIds<'a> {
        RequestIds {
            method,
            branch,
            sent_by: "Host.Example:5060",
            top_via: "SIP/2.0/UDP host.example:5060",
            request_uri: "sip:bob@example.test",
            from_tag: "a1",
            call_id: "c1",
            cseq: 7,
        }
    }

    #[test]
    fn ack_matches_its_invite_and_cancel_has_its_own_transaction() {
        let invite = ServerKey::for_request(&ids("INVITE", Some("z9hG4bK776")));
        assert_eq!(
            ServerKey::for_request(&ids("ACK", Some("z9hG4bK776"))),
            invite
        );
        let cancel = ids("CANCEL", Some("z9hG4bK776"));
        assert_ne!(ServerKey::for_request(&cancel), invite);
        assert_eq!(ServerKey::cancelled_invite(&cancel), invite);
    }

    #[test]
    fn bare_cookie_and_missing_cookie_fall_back_to_rfc2543_matching() {
        for branch in [Some("z9hG4bK"), Some("1234"), None] {
            let key = ServerKey::for_request(&ids("INVITE", branch));
            assert!(matches!(key, ServerKey::Rfc2543 { .. }), "{branch:?}");
            assert_eq!(ServerKey::for_request(&ids("ACK", branch)), key);
        }
        let mut other = ids("INVITE", Some("z9hG4bK"));
        other.cseq = 8;
        assert_ne!(
            ServerKey::for_request(&other),
            ServerKey::for_request(&ids("INVITE", Some("z9hG4bK")))
        );
    }

    #[test]
    fn sent_by_is_case_insensitive() {
        let mut a = ids("BYE", Some("z9hG4bKx"));
        a.sent_by = "HOST.example:5060";
        assert_eq!(
            ServerKey::for_request(&a),
            ServerKey::for_request(&ids("BYE", Some("z9hG4bKx")))
        );
    }

    #[test]
    fn new_branches_carry_the_cookie() {
        let b = new_branch([0xab; 12]);
        assert!(is_rfc3261_branch(&b));
        assert_eq!(b.len(), 7 + 24);
    }
}

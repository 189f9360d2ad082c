//! Dialogs (RFC 3261 §12), pure: creation on either side, route sets, CSeq rules and target
//! refresh. Messages stay outside: the caller passes the header values the rules need and
//! builds in-dialog requests from what [`Dialog::next_request`] returns.

/// Call-ID plus both tags (§12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response with a To tag.
    Early,
    Confirmed,
    Terminated,
}

/// The header values that create a dialog, from the request and the response that make it.
#[derive(Debug, Clone)]
pub struct DialogSeed<'a> {
    pub call_id: &'a str,
    /// The From tag of the request.
    pub from_tag: &'a str,
    /// The To tag of the response.
    pub to_tag: &'a str,
    pub from_uri: &'a str,
    pub to_uri: &'a str,
    /// CSeq number of the request.
    pub cseq: u32,
    /// The Contact of the remote side: of the request for a UAS, of the response for a UAC.
    pub remote_contact: &'a str,
    /// Record-Route values in message order (the request's for a UAS, the response's for a UAC).
    pub record_route: &'a [String],
    /// Status of the response that creates the dialog.
    pub status: u16,
    /// Request over TLS with a SIPS Request-URI (§12.1.1).
    pub secure: bool,
}

/// One dialog, from our side.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// Last CSeq we used; `None` until we send something (§12.1.1).
    pub local_seq: Option<u32>,
    /// Last CSeq the peer used; `None` until it sends something (§12.1.2).
    pub remote_seq: Option<u32>,
    pub local_uri: String,
    pub remote_uri: String,
    /// Where in-dialog requests go (the peer's Contact), refreshed by target refresh requests.
    pub remote_target: String,
    /// Route set, in the order our requests must carry it.
    pub route_set: Vec<String>,
    pub secure: bool,
}

/// What an in-dialog request must carry (§12.2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTarget {
    pub request_uri: String,
    /// Route header values, in order.
    pub route: Vec<String>,
    pub cseq: u32,
}

/// An in-dialog request the dialog refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// §12.2.2: a CSeq lower than the last one is answered with 500.
    #[error("500 CSeq out of order")]
    CseqOutOfOrder,
    /// Requests after the dialog ended are answered with 481 (§12.2.2).
    #[error("481 dialog terminated")]
    Terminated,
}

fn state_for(status: u16) -> DialogState {
    if (200..300).contains(&status) {
        DialogState::Confirmed
    } else {
        DialogState::Early
    }
}

impl Dialog {
    /// We answered a dialog-creating request (§12.1.1): route set in Record-Route order.
    pub fn uas(seed: &DialogSeed<'_>) -> Dialog {
        Dialog {
            id: DialogId {
                call_id: seed.call_id.into(),
                local_tag: seed.to_tag.into(),
                remote_tag: seed.from_tag.into(),
            },
            state: state_for(seed.status),
            local_seq: None,
            remote_seq: Some(seed.cseq),
            local_uri: seed.to_uri.into(),
            remote_uri: seed.from_uri.into(),
            remote_target: seed.remote_contact.into(),
            route_set: seed.record_route.to_vec(),
            secure: seed.secure,
        }
    }

    /// A response to our request creates the dialog (§12.1.2): route set is the response's
    /// Record-Route reversed.
    pub fn uac(seed: &DialogSeed<'_>) -> Dialog {
        Dialog {
            id: DialogId {
                call_id: seed.call_id.into(),
                local_tag: seed.from_tag.into(),
                remote_tag: seed.to_tag.into(),
            },
            state: state_for(seed.status),
            local_seq: Some(seed.cseq),
            remote_seq: None,
            local_uri: seed.from_uri.into(),
            remote_uri: seed.to_uri.into(),
            remote_target: seed.remote_contact.into(),
            route_set: seed.record_route.iter().rev().cloned().collect(),
            secure: seed.secure,
        }
    }

    /// A 2xx arrived for an early dialog (§12.1.2: the route set is not recomputed for the
    /// UAS side; for a UAC the 2xx's Record-Route and Contact replace the early ones, §13.2.2.4).
    pub fn confirm(&mut self, remote_contact: Option<&str>, record_route: Option<&[String]>) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
            if let Some(contact) = remote_contact {
                self.remote_target = contact.into();
            }
            if let Some(rr) = record_route {
                self.route_set = rr.iter().rev().cloned().collect();
            }
        }
    }

    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// Addressing for a new in-dialog request (§12.2.1.1). ACK and CANCEL reuse the CSeq of
    /// the request they belong to, so they do not take a new number.
    pub fn next_request(&mut self, method: &str) -> RequestTarget {
        let cseq = if method.eq_ignore_ascii_case("ACK") || method.eq_ignore_ascii_case("CANCEL") {
            self.local_seq.unwrap_or(1)
        } else {
            // An empty local sequence starts anywhere below 2^31 (§8.1.1.5); 1 is fine.
            let next = self.local_seq.map_or(1, |s| s.wrapping_add(1));
            self.local_seq = Some(next);
            next
        };
        match self.route_set.first() {
            // Strict routing (RFC 2543 proxies): the first route becomes the Request-URI and
            // the remote target goes last.
            Some(first) if !is_loose_route(first) => {
                let mut route: Vec<String> = self.route_set[1..].to_vec();
                route.push(format!("<{}>", strip_angle(&self.remote_target)));
                RequestTarget {
                    request_uri: strip_angle(first).to_string(),
                    route,
                    cseq,
                }
            }
            _ => RequestTarget {
                request_uri: strip_angle(&self.remote_target).to_string(),
                route: self.route_set.clone(),
                cseq,
            },
        }
    }

    /// An in-dialog request from the peer (§12.2.2): CSeq must not go backwards; target
    /// refresh requests (re-INVITE, UPDATE) replace the remote target with their Contact.
    pub fn handle_remote_request(
        &mut self,
        method: &str,
        cseq: u32,
        contact: Option<&str>,
    ) -> Result<(), DialogError> {
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let is_ack = method.eq_ignore_ascii_case("ACK") || method.eq_ignore_ascii_case("CANCEL");
        match self.remote_seq {
            Some(last) if cseq < last && !is_ack => return Err(DialogError::CseqOutOfOrder),
            _ => {}
        }
        if !is_ack {
            self.remote_seq = Some(cseq);
        }
        let target_refresh =
            method.eq_ignore_ascii_case("INVITE") || method.eq_ignore_ascii_case("UPDATE");
        if let (true, Some(contact)) = (target_refresh, contact) {
            self.remote_target = contact.into();
        }
        Ok(())
    }
}

fn strip_angle(uri: &str) -> &str {
    let uri = uri.trim();
    match (uri.find('<'), uri.rfind('>')) {
        (Some(a), Some(b)) if a < b => &uri[a + 1..b],
        _ => uri,
    }
}

/// A Route value is loose (RFC 3261 §16.12) when its URI carries the `lr` parameter.
fn is_loose_route(route: &str) -> bool {
    strip_angle(route).split(';').skip(1).any(|p| {
        let name = p.split('=').next().unwrap_or("").trim();
        name.eq_ignore_ascii_case("lr")
    })
}

#[cfg(test)]
mod tests;

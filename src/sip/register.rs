//! REGISTER (RFC 3261 §10.3): digest, then the registrar rules, then storage. A registered
//! phone is another device of the local user with the same name.

use tandem_sip::message::{Contact, Request, Response};
use tandem_sip::registrar::{self, ContactEntry, Contacts, Register};

use super::core::{unix_now, DigestOutcome, Endpoint};
use super::transport::Destination;

pub async fn handle(
    endpoint: &mut Endpoint,
    request: &Request,
    from: &Destination,
) -> (u16, Option<Response>) {
    let source = from.addr;
    // Step 1: only our domain's bindings live here.
    if !request.uri().host().eq_ignore_ascii_case(&endpoint.domain) {
        return (404, None);
    }
    let to = request.to();
    let to_uri = to.uri();
    let Some(user) = to_uri.user().map(str::to_owned) else {
        return (404, None);
    };
    if !to_uri.host().eq_ignore_ascii_case(&endpoint.domain) {
        return (404, None);
    }
    // Steps 2-5: a user may only change their own bindings.
    let header = request.headers().get("Authorization").map(str::to_owned);
    match endpoint.check_digest(request, header.as_deref()).await {
        DigestOutcome::Authenticated(authenticated) if authenticated == user => {}
        DigestOutcome::Authenticated(authenticated) => {
            tracing::info!(%source, %authenticated, aor = %user, "REGISTER for someone else's address refused");
            return (403, None);
        }
        DigestOutcome::Challenge { stale } => {
            return (401, endpoint.challenge(request, 401, stale))
        }
        DigestOutcome::Refused(reason) => {
            tracing::info!(%source, %reason, "REGISTER refused");
            return (403, None);
        }
    }
    let contacts: Vec<Contact<'_>> = request.contacts().collect();
    let contacts = if contacts.is_empty() {
        Contacts::Query
    } else if contacts.iter().any(|c| matches!(c, Contact::Wildcard)) {
        if contacts.len() > 1 {
            return (400, endpoint.response(request, 400));
        }
        Contacts::Wildcard
    } else {
        Contacts::List(
            contacts
                .iter()
                .filter_map(|c| match c {
                    Contact::Address(addr) => Some(ContactEntry {
                        uri: addr.uri().as_str().to_owned(),
                        expires: addr.expires(),
                        q: addr.params().value("q").and_then(|q| q.parse().ok()),
                        instance: addr.params().value("+sip.instance").map(|v| v.into_owned()),
                    }),
                    Contact::Wildcard => None,
                })
                .collect(),
        )
    };
    // The transport the REGISTER really came on, not what its Via claims.
    let transport = from.flow.transport_name();
    let register = Register {
        contacts,
        expires: request.expires(),
        call_id: request.call_id().to_owned(),
        cseq: request.cseq().seq,
        source: format!("{transport}:{source}"),
    };
    let aor = format!("sip:{user}@{}", endpoint.domain);
    let current = match endpoint.storage.bindings(&aor).await {
        Ok(current) => current,
        Err(e) => {
            tracing::error!(error = %e, "loading registrations failed");
            return (500, None);
        }
    };
    let now = unix_now();
    match registrar::apply(&current, &register, now, &endpoint.registrar) {
        Ok(bindings) => {
            if bindings != current {
                if let Err(e) = endpoint.storage.replace_bindings(&aor, &bindings).await {
                    tracing::error!(error = %e, "storing registrations failed");
                    return (500, None);
                }
            }
            let Some(mut response) = endpoint.response(request, 200) else {
                return (500, None);
            };
            // §10.3 step 8: the 200 lists every current binding with its remaining time.
            for b in &bindings {
                let _ = response.push_header(
                    "Contact",
                    &format!("<{}>;expires={}", b.contact, registrar::remaining(b, now)),
                );
            }
            tracing::info!(%aor, bindings = bindings.len(), "registered");
            if let Some(cluster) = &endpoint.cluster {
                let here: Vec<(String, u64)> = bindings
                    .iter()
                    .filter(|b| b.source == register.source)
                    .map(|b| (b.contact.clone(), b.expires_at))
                    .collect();
                let removed: Vec<String> = current
                    .iter()
                    .filter(|c| !bindings.iter().any(|b| b.contact == c.contact))
                    .map(|c| c.contact.clone())
                    .collect();
                cluster.registered(aor.clone(), here, removed);
            }
            // New phones are probed once: an answer shows they are reachable where they said.
            for b in bindings.iter().filter(|b| {
                !current
                    .iter()
                    .any(|c| registrar::same_contact(&c.contact, &b.contact))
            }) {
                endpoint.probe(&b.contact, from);
            }
            (200, Some(response))
        }
        Err(e) => {
            let (status, _) = e.status();
            let mut response = endpoint.response(request, status);
            if let (registrar::RegisterError::IntervalTooBrief(min), Some(r)) =
                (&e, response.as_mut())
            {
                let _ = r.set_header("Min-Expires", &min.to_string());
            }
            (status, response)
        }
    }
}

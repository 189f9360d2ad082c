//! Registrar rules (RFC 3261 §10.3), pure: the current bindings of an address-of-record plus
//! one REGISTER in, the new bindings (or the error response to send) out. Storage and the
//! message layer stay outside; time is passed in as Unix seconds.

/// One registered contact of an AOR.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The Contact URI as the phone gave it (without angle brackets).
    pub contact: String,
    /// Unix time when the binding lapses.
    pub expires_at: u64,
    pub call_id: String,
    pub cseq: u32,
    /// The `q` preference, 0.0–1.0 (RFC 3261 §10.2.1.2).
    pub q: Option<f32>,
    /// RFC 5626 `+sip.instance`, when the phone sent one.
    pub instance: Option<String>,
    /// Where the REGISTER came from (transport:ip:port), to reach a phone behind NAT.
    pub source: String,
}

/// The Contact set of a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub enum Contacts {
    /// No Contact header: a query for the current bindings (§10.2.3).
    Query,
    /// `Contact: *` (§10.2.2).
    Wildcard,
    List(Vec<ContactEntry>),
}

/// One Contact of a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactEntry {
    pub uri: String,
    /// The `expires` Contact parameter, if any.
    pub expires: Option<u32>,
    pub q: Option<f32>,
    pub instance: Option<String>,
}

/// The parts of a REGISTER the rules look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    pub contacts: Contacts,
    /// The Expires header field, if any.
    pub expires: Option<u32>,
    pub call_id: String,
    pub cseq: u32,
    pub source: String,
}

/// Operator policy for expiry intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Below this (and above 0) a registration gets 423 with Min-Expires.
    pub min_expires: u32,
    /// Longer requests are shortened to this.
    pub max_expires: u32,
    /// When neither the Contact nor the Expires header says (§10.3 step 7).
    pub default_expires: u32,
    /// Bindings per AOR; more are refused rather than growing without bound.
    pub max_bindings: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_bindings: 10,
        }
    }
}

/// Why a REGISTER is refused, with the response it maps to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegisterError {
    /// 423 Interval Too Brief, with `Min-Expires: {0}` (§10.3 step 7).
    #[error("423 Interval Too Brief (Min-Expires {0})")]
    IntervalTooBrief(u32),
    /// 400: `*` with other contacts or a non-zero expiry (§10.3 step 6).
    #[error("400 {0}")]
    BadRequest(&'static str),
    /// 500: a REGISTER older than what the binding already reflects (§10.3 step 7: "the
    /// registrar MUST ... abort"), typically a delayed retransmission.
    #[error("500 out-of-order REGISTER")]
    OutOfOrder,
    /// 403: more bindings than the policy allows.
    #[error("403 too many registrations")]
    TooManyBindings,
}

impl RegisterError {
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            RegisterError::IntervalTooBrief(_) => (423, "Interval Too Brief"),
            RegisterError::BadRequest(reason) => (400, reason),
            RegisterError::OutOfOrder => (500, "Out Of Order REGISTER"),
            RegisterError::TooManyBindings => (403, "Too Many Registrations"),
        }
    }
}

/// Applies one REGISTER to `current` (which may include lapsed bindings; they are dropped).
/// On success the returned list is what to store and to list in the 200 OK; it is computed
/// whole before anything changes, so a refused request changes nothing (§10.3: "either all
/// or none").
pub fn apply(
    current: &[Binding],
    register: &Register,
    now: u64,
    policy: &Policy,
) -> Result<Vec<Binding>, RegisterError> {
    let mut bindings: Vec<Binding> = current
        .iter()
        .filter(|b| b.expires_at > now)
        .cloned()
        .collect();
    match &register.contacts {
        Contacts::Query => Ok(bindings),
        Contacts::Wildcard => {
            if register.expires != Some(0) {
                return Err(RegisterError::BadRequest("Contact * requires Expires: 0"));
            }
            for b in &bindings {
                if b.call_id == register.call_id && register.cseq <= b.cseq {
                    return Err(RegisterError::OutOfOrder);
                }
            }
            Ok(Vec::new())
        }
        Contacts::List(entries) => {
            for entry in entries {
                let requested = entry
                    .expires
                    .or(register.expires)
                    .unwrap_or(policy.default_expires);
                if requested != 0 && requested < policy.min_expires {
                    return Err(RegisterError::IntervalTooBrief(policy.min_expires));
                }
                let existing = bindings
                    .iter()
                    .position(|b| same_contact(&b.contact, &entry.uri));
                if let Some(i) = existing {
                    let b = &bindings[i];
                    if b.call_id == register.call_id && register.cseq <= b.cseq {
                        return Err(RegisterError::OutOfOrder);
                    }
                }
                if requested == 0 {
                    if let Some(i) = existing {
                        bindings.remove(i);
                    }
                    continue;
                }
                let binding = Binding {
                    contact: entry.uri.clone(),
                    expires_at: now + u64::from(requested.min(policy.max_expires)),
                    call_id: register.call_id.clone(),
                    cseq: register.cseq,
                    q: entry.q,
                    instance: entry.instance.clone(),
                    source: register.source.clone(),
                };
                match existing {
                    Some(i) => bindings[i] = binding,
                    None => bindings.push(binding),
                }
            }
            if bindings.len() > policy.max_bindings {
                return Err(RegisterError::TooManyBindings);
            }
            Ok(bindings)
        }
    }
}

/// Contact URI equality, simplified from §19.1.4: scheme and host compare case-insensitively,
/// the user part exactly; URI parameters and angle brackets are ignored.
pub fn same_contact(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

fn normalize(uri: &str) -> String {
    let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
    let uri = uri.split(';').next().unwrap_or(uri);
    match uri.split_once('@') {
        Some((scheme_user, host)) => match scheme_user.split_once(':') {
            Some((scheme, user)) => format!(
                "{}:{}@{}",
                scheme.to_ascii_lowercase(),
                user,
                host.to_ascii_lowercase()
            ),
            None => uri.to_ascii_lowercase(),
        },
        None => uri.to_ascii_lowercase(),
    }
}

/// Seconds left, for the `expires` parameter of each Contact in the 200 OK.
pub fn remaining(binding: &Binding, now: u64) -> u64 {
    binding.expires_at.saturating_sub(now)
}

#[cfg(test)]
mod tests;

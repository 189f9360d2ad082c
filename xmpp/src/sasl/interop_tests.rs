//! Full exchanges against an independent client implementation (the `sasl` crate).

use base64::{engine::general_purpose::STANDARD, Engine};
use sasl::client::mechanisms::{Plain, Scram};
use sasl::client::Mechanism as _;
use sasl::common::scram::{ScramProvider, Sha1, Sha256};
use sasl::common::{ChannelBinding, Credentials};

use super::*;

const PASSWORD: &str = "r0m30myr0m30-pässwörd";

fn client<S: ScramProvider>(user: &str, password: &str, cb: ChannelBinding) -> Scram<S> {
    let creds = Credentials::default()
        .with_username(user)
        .with_password(password)
        .with_channel_binding(cb);
    Scram::<S>::from_credentials(creds).unwrap()
}

/// Runs an exchange; `stored` is what the server has for the user (None: unknown user).
/// Returns the server-first message and the server's final verdict.
fn exchange<S: ScramProvider>(
    hash: ScramHash,
    user: &str,
    client_password: &str,
    stored: Option<&ScramCredentials>,
    cb: ChannelBinding,
) -> (String, Result<(), SaslError>) {
    let mut c = client::<S>(user, client_password, cb);
    let mut s = ScramServer::with_random_nonce(hash).unwrap();
    let first = s.handle_client_first(&c.initial()).unwrap();
    assert_eq!(first.username, user);
    assert_eq!(first.authzid, None);
    let server_first = s.handle_credentials(stored).unwrap();
    let client_final = c.response(&server_first).unwrap();
    let verdict = s.handle_client_final(&client_final).map(|server_final| {
        // The client checks our signature: proves we hold ServerKey.
        c.success(&server_final).unwrap();
    });
    (String::from_utf8(server_first).unwrap(), verdict)
}

fn record() -> PasswordRecord {
    PasswordRecord::derive("juliet", "capulet.lit", PASSWORD, DEFAULT_ITERATIONS).unwrap()
}

#[test]
fn scram_sha256_and_sha1_succeed_with_both_gs2_flags() {
    let rec = record();
    for cb in [ChannelBinding::None, ChannelBinding::Unsupported] {
        let (_, v) = exchange::<Sha256>(
            ScramHash::Sha256,
            "juliet",
            PASSWORD,
            Some(&rec.scram_sha256),
            cb.clone(),
        );
        v.unwrap();
        let (_, v) = exchange::<Sha1>(
            ScramHash::Sha1,
            "juliet",
            PASSWORD,
            Some(&rec.scram_sha1),
            cb,
        );
        v.unwrap();
    }
}

#[test]
fn wrong_password_is_not_authorized() {
    let rec = record();
    let (_, v) = exchange::<Sha256>(
        ScramHash::Sha256,
        "juliet",
        "r0m30",
        Some(&rec.scram_sha256),
        ChannelBinding::None,
    );
    assert_eq!(v.unwrap_err().condition(), SaslCondition::NotAuthorized);
    let (_, v) = exchange::<Sha1>(
        ScramHash::Sha1,
        "juliet",
        "r0m30",
        Some(&rec.scram_sha1),
        ChannelBinding::None,
    );
    assert_eq!(v.unwrap_err().condition(), SaslCondition::NotAuthorized);
}

#[test]
fn channel_binding_request_is_refused_for_now() {
    let mut c = client::<Sha256>("juliet", PASSWORD, ChannelBinding::TlsExporter(vec![1; 32]));
    let mut s = ScramServer::with_random_nonce(ScramHash::Sha256).unwrap();
    let e = s.handle_client_first(&c.initial()).unwrap_err();
    assert_eq!(e.condition(), SaslCondition::NotAuthorized);
}

/// Splits a server-first message into (nonce, salt, iterations).
fn fields(server_first: &str) -> (String, Vec<u8>, u32) {
    let mut it = server_first.split(',');
    let r = it.next().unwrap().strip_prefix("r=").unwrap().to_owned();
    let s = STANDARD
        .decode(it.next().unwrap().strip_prefix("s=").unwrap())
        .unwrap();
    let i = it
        .next()
        .unwrap()
        .strip_prefix("i=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(it.next().is_none());
    (r, s, i)
}

#[test]
fn unknown_user_looks_normal_then_fails() {
    let rec = record();
    let (known, _) = exchange::<Sha256>(
        ScramHash::Sha256,
        "juliet",
        PASSWORD,
        Some(&rec.scram_sha256),
        ChannelBinding::None,
    );
    let (unknown, v) = exchange::<Sha256>(
        ScramHash::Sha256,
        "romeo",
        PASSWORD,
        None,
        ChannelBinding::None,
    );
    assert_eq!(v.unwrap_err().condition(), SaslCondition::NotAuthorized);

    let (_, known_salt, known_i) = fields(&known);
    let (nonce, salt, i) = fields(&unknown);
    assert_eq!(salt.len(), known_salt.len());
    assert_eq!(i, known_i);
    assert!(nonce.len() > 32);

    // Asking again gives the same salt, as it would for a real account.
    let (again, _) = exchange::<Sha256>(
        ScramHash::Sha256,
        "romeo",
        PASSWORD,
        None,
        ChannelBinding::None,
    );
    assert_eq!(fields(&again).1, salt);
    let (other, _) = exchange::<Sha256>(
        ScramHash::Sha256,
        "tybalt",
        PASSWORD,
        None,
        ChannelBinding::None,
    );
    assert_ne!(fields(&other).1, salt);

    let (_, v) = exchange::<Sha1>(
        ScramHash::Sha1,
        "romeo",
        PASSWORD,
        None,
        ChannelBinding::None,
    );
    assert_eq!(v.unwrap_err().condition(), SaslCondition::NotAuthorized);
}

#[test]
fn plain_from_independent_client() {
    let rec = record();
    let creds = Credentials::default()
        .with_username("juliet")
        .with_password(PASSWORD);
    let msg = Plain::from_credentials(creds).unwrap().initial();
    let req = PlainServer::parse(&msg).unwrap();
    assert_eq!(req.authcid, "juliet");
    assert_eq!(req.authzid, None);
    assert!(verify_plain(&req.password, &rec.scram_sha256));
    assert!(verify_plain(&req.password, &rec.scram_sha1));
    assert!(!verify_plain("r0m30", &rec.scram_sha256));
}

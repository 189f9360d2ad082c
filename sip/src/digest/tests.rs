use std::cell::Cell;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const SECRET: [u8; 32] = [7; 32];
const REALM: &str = "example.test";
const NOW: u64 = 1_700_000_000;

fn server() -> DigestServer {
    DigestServer::new(REALM, SECRET, Duration::from_secs(300))
}

// ---------------------------------------------------------------------------------------
// An independent client (hashes with the crates directly, not the module's helpers).

fn md5_hex(s: &str) -> String {
    format!("{:x}", md5::Md5::digest(s.as_bytes()))
}

fn sha256_hex(s: &str) -> String {
    format!("{:x}", sha2::Sha256::digest(s.as_bytes()))
}

/// Extracts `name="value"` or `name=value` from a challenge naively (our challenges
/// contain no escapes).
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let body = challenge.strip_prefix("Digest ")?;
    body.split(", ").find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.trim_matches('"').to_owned())
    })
}

struct Client<'a> {
    user: &'a str,
    password: &'a str,
    method: &'a str,
    uri: &'a str,
    /// `Some((nc, cnonce))` for qop=auth.
    qop: Option<(u32, &'a str)>,
}

impl Client<'_> {
    fn authorization(&self, challenge: &str) -> String {
        let realm = challenge_param(challenge, "realm").unwrap();
        let nonce = challenge_param(challenge, "nonce").unwrap();
        let alg = challenge_param(challenge, "algorithm").unwrap();
        self.authorization_for(&realm, &nonce, &alg)
    }

    fn authorization_for(&self, realm: &str, nonce: &str, alg: &str) -> String {
        let h = |s: &str| {
            if alg == "SHA-256" {
                sha256_hex(s)
            } else {
                md5_hex(s)
            }
        };
        let ha1 = h(&format!("{}:{realm}:{}", self.user, self.password));
        let ha2 = h(&format!("{}:{}", self.method, self.uri));
        let (user, uri) = (self.user, self.uri);
        match self.qop {
            Some((nc, cnonce)) => {
                let response = h(&format!("{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}"));
                format!(
                    "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
                     uri=\"{uri}\", response=\"{response}\", algorithm={alg}, \
                     cnonce=\"{cnonce}\", qop=auth, nc={nc:08x}"
                )
            }
            None => {
                let response = h(&format!("{ha1}:{nonce}:{ha2}"));
                format!(
                    "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
                     uri=\"{uri}\", response=\"{response}\", algorithm={alg}"
                )
            }
        }
    }
}

fn alice(nc: u32) -> Client<'static> {
    Client {
        user: "alice",
        password: "wonderland",
        method: "REGISTER",
        uri: "sip:example.test",
        qop: Some((nc, "0a4f113b")),
    }
}

/// The store: only alice exists.
fn lookup(user: &str, alg: Algorithm) -> Option<String> {
    (user == "alice").then(|| match alg {
        Algorithm::Md5 => ha1_md5("alice", REALM, "wonderland"),
        Algorithm::Sha256 => ha1_sha256("alice", REALM, "wonderland"),
    })
}

fn creds(header: &str) -> Credentials {
    Credentials::parse(header).unwrap()
}

fn run(server: &mut DigestServer, now: u64, client: &Client, challenge: &str) -> Verdict {
    let c = creds(&client.authorization(challenge));
    server.verify(now, client.method, &c, lookup)
}

// ---------------------------------------------------------------------------------------
// RFC vectors (external nonces)

#[test]
fn rfc2617_md5_qop_auth_vector() {
    let ha1 = ha1_md5("Mufasa", "testrealm@host.com", "Circle Of Life");
    assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
    let mut ch = Challenge::new(
        "testrealm@host.com",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        Algorithm::Md5,
    );
    ch.opaque = Some("5ccc069c403ebaf9f0171e9517f40e41".into());
    assert_eq!(
        ch.to_string(),
        "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", algorithm=MD5, qop=\"auth\""
    );
    // RFC 2617 §3.5, as printed (no algorithm: MD5 by default).
    let c = creds(
        "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n \
         qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
         response=\"6629fae49393a05397450978507c4ef1\",\r\n \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    );
    assert_eq!(c.algorithm(), Algorithm::Md5);
    assert_eq!(c.nc(), Some(1));
    assert_eq!(c.cnonce(), Some("0a4f113b"));
    assert_eq!(c.uri(), "/dir/index.html");
    assert_eq!(c.opaque(), Some("5ccc069c403ebaf9f0171e9517f40e41"));
    assert_eq!(
        expected_response(&c, "GET", &ha1),
        "6629fae49393a05397450978507c4ef1"
    );
    assert!(c.response_matches("GET", &ha1));
    assert!(c.response_matches("GET", &ha1.to_ascii_uppercase()));
    assert!(!c.response_matches("POST", &ha1));
    assert!(!c.response_matches(
        "GET",
        &ha1_md5("Mufasa", "testrealm@host.com", "circle of life")
    ));
}

#[test]
fn rfc7616_sha256_and_md5_vectors() {
    const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
    let mut ch = Challenge::new("http-auth@example.org", NONCE, Algorithm::Sha256);
    ch.opaque = Some(OPAQUE.into());
    let text = ch.to_string();
    assert!(text.contains(&format!("nonce=\"{NONCE}\"")) && text.contains("algorithm=SHA-256"));

    let header = |alg: &str, response: &str| {
        format!(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
             uri=\"/dir/index.html\", algorithm={alg}, nonce=\"{NONCE}\", nc=00000001, \
             cnonce=\"{CNONCE}\", qop=auth, response=\"{response}\", opaque=\"{OPAQUE}\""
        )
    };
    let sha = creds(&header(
        "SHA-256",
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    ));
    let ha1 = ha1_sha256("Mufasa", "http-auth@example.org", "Circle of Life");
    assert_eq!(sha.algorithm(), Algorithm::Sha256);
    assert_eq!(
        expected_response(&sha, "GET", &ha1),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    assert!(sha.response_matches("GET", &ha1));
    assert!(!sha.response_matches("GET", &ha1_sha256("Mufasa", "http-auth@example.org", "x")));

    // The same section's MD5 variant.
    let md5 = creds(&header("MD5", "8ca523f5e9506fed4657c9700eebdbec"));
    let ha1 = ha1_md5("Mufasa", "http-auth@example.org", "Circle of Life");
    assert!(md5.response_matches("GET", &ha1));
    assert!(!md5.response_matches("PUT", &ha1));
}

// ---------------------------------------------------------------------------------------
// Challenges

#[test]
fn challenge_offers_sha256_then_md5_with_one_fresh_nonce() {
    let s = server();
    let ch = s.challenge(NOW, false);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].starts_with("Digest realm=\"example.test\", nonce=\""));
    assert!(ch[0].contains("algorithm=SHA-256") && !ch[0].contains("MD5"));
    assert!(ch[1].contains("algorithm=MD5") && !ch[1].contains("SHA-256"));
    for c in &ch {
        assert!(c.contains("qop=\"auth\""));
        assert!(!c.contains("stale"));
    }
    let nonce = challenge_param(&ch[0], "nonce").unwrap();
    assert_eq!(challenge_param(&ch[1], "nonce").unwrap(), nonce);
    assert_eq!(nonce.len(), 43);
    assert!(nonce
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    // Every challenge has its own nonce, even within one second.
    assert_ne!(
        challenge_param(&s.challenge(NOW, false)[0], "nonce").unwrap(),
        nonce
    );

    let stale = s.challenge(NOW, true);
    assert!(stale.iter().all(|c| c.ends_with(", stale=true")));
}

#[test]
fn challenge_escapes_realm() {
    let ch = Challenge::new("a\"b\\c", "n", Algorithm::Md5).to_string();
    assert!(ch.starts_with("Digest realm=\"a\\\"b\\\\c\", nonce=\"n\""));
    // And it round-trips through our own quoted-string parser.
    let c = creds(&format!(
        "Digest username=\"u\", realm=\"a\\\"b\\\\c\", nonce=\"n\", uri=\"sip:x\", \
         response=\"{}\"",
        "0".repeat(32)
    ));
    assert_eq!(c.realm(), "a\"b\\c");
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn round_trip_sha256_and_md5() {
    let mut s = server();
    let ch = s.challenge(NOW, false);
    for (i, challenge) in ch.iter().enumerate() {
        let v = run(&mut s, NOW + 1, &alice(1), challenge);
        // Both headers share one nonce: the MD5 answer must use a higher nc.
        let v2 = run(&mut s, NOW + 1, &alice(2), challenge);
        if i == 0 {
            assert_eq!(v, Verdict::Ok("alice".into()));
            assert_eq!(v2, Verdict::Ok("alice".into()));
        } else {
            assert_eq!(v, Verdict::Unauthorized(Reason::Replayed));
            assert_eq!(
                run(&mut s, NOW + 1, &alice(3), challenge),
                Verdict::Ok("alice".into())
            );
        }
    }
    // Fresh challenge, MD5 only.
    let ch = s.challenge(NOW, false);
    assert_eq!(
        run(&mut s, NOW, &alice(1), &ch[1]),
        Verdict::Ok("alice".into())
    );
}

#[test]
fn nc_must_strictly_increase() {
    let mut s = server();
    let ch = &s.challenge(NOW, false)[0];
    assert_eq!(run(&mut s, NOW, &alice(1), ch), Verdict::Ok("alice".into()));
    assert_eq!(
        run(&mut s, NOW, &alice(1), ch),
        Verdict::Unauthorized(Reason::Replayed)
    );
    assert_eq!(run(&mut s, NOW, &alice(5), ch), Verdict::Ok("alice".into()));
    assert_eq!(
        run(&mut s, NOW, &alice(4), ch),
        Verdict::Unauthorized(Reason::Replayed)
    );
    assert_eq!(
        run(&mut s, NOW, &alice(5), ch),
        Verdict::Unauthorized(Reason::Replayed)
    );
    assert_eq!(run(&mut s, NOW, &alice(6), ch), Verdict::Ok("alice".into()));
    // The exact same header, replayed verbatim.
    let header = alice(7).authorization(ch);
    assert_eq!(
        s.verify(NOW, "REGISTER", &creds(&header), lookup),
        Verdict::Ok("alice".into())
    );
    assert_eq!(
        s.verify(NOW, "REGISTER", &creds(&header), lookup),
        Verdict::Unauthorized(Reason::Replayed)
    );
    // nc=0 is never valid.
    let ch = &s.challenge(NOW, false)[0];
    assert_eq!(
        run(&mut s, NOW, &alice(0), ch),
        Verdict::Unauthorized(Reason::Replayed)
    );
}

#[test]
fn bad_response_does_not_consume_nc() {
    let mut s = server();
    let ch = &s.challenge(NOW, false)[0];
    let wrong = Client {
        password: "guess",
        ..alice(1)
    };
    assert_eq!(
        run(&mut s, NOW, &wrong, ch),
        Verdict::Unauthorized(Reason::BadResponse)
    );
    assert_eq!(run(&mut s, NOW, &alice(1), ch), Verdict::Ok("alice".into()));
}

#[test]
fn wrong_password_wrong_method_and_unknown_user() {
    let mut s = server();
    let ch = &s.challenge(NOW, false)[0];
    let wrong = Client {
        password: "Wonderland",
        ..alice(1)
    };
    assert_eq!(
        run(&mut s, NOW, &wrong, ch),
        Verdict::Unauthorized(Reason::BadResponse)
    );

    // Signed for REGISTER, presented on INVITE.
    let c = creds(&alice(2).authorization(ch));
    assert_eq!(
        s.verify(NOW, "INVITE", &c, lookup),
        Verdict::Unauthorized(Reason::BadResponse)
    );

    // Unknown user: the lookup is still consulted, and the verdict is the same as above.
    let calls = Cell::new(0);
    let bob = Client {
        user: "bob",
        ..alice(3)
    };
    let c = creds(&bob.authorization(ch));
    let v = s.verify(NOW, "REGISTER", &c, |u, alg| {
        calls.set(calls.get() + 1);
        lookup(u, alg)
    });
    assert_eq!(v, Verdict::Unauthorized(Reason::BadResponse));
    assert_eq!(calls.get(), 1);

    // Even a response computed for the dummy HA1 of an unknown user does not pass.
    let nonce = challenge_param(ch, "nonce").unwrap();
    let ha1 = "0".repeat(64);
    let ha2 = sha256_hex("REGISTER:sip:example.test");
    let response = sha256_hex(&format!("{ha1}:{nonce}:00000001:c:auth:{ha2}"));
    let c = creds(&format!(
        "Digest username=\"nobody\", realm=\"{REALM}\", nonce=\"{nonce}\", \
         uri=\"sip:example.test\", response=\"{response}\", algorithm=SHA-256, cnonce=\"c\", \
         qop=auth, nc=00000001"
    ));
    assert_eq!(
        s.verify(NOW, "REGISTER", &c, lookup),
        Verdict::Unauthorized(Reason::BadResponse)
    );
}

#[test]
fn tampered_and_foreign_nonces_are_invalid() {
    let mut s = server();
    let ch = &s.challenge(NOW, false)[0];
    let nonce = challenge_param(ch, "nonce").unwrap();
    let mut tampered = nonce.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let c = creds(&alice(1).authorization_for(REALM, &tampered, "SHA-256"));
    assert_eq!(
        s.verify(NOW, "REGISTER", &c, lookup),
        Verdict::Unauthorized(Reason::InvalidNonce)
    );

    // Pushing the timestamp forward (to dodge expiry) breaks the MAC too.
    let mut later = [0u8; 32];
    let n = base64::Engine::decode_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &nonce,
        &mut later,
    )
    .unwrap();
    assert_eq!(n, 32);
    later[..8].copy_from_slice(&(NOW + 10_000).to_be_bytes());
    let later = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, later);
    let c = creds(&alice(1).authorization_for(REALM, &later, "SHA-256"));
    assert_eq!(
        s.verify(NOW + 10_000, "REGISTER", &c, lookup),
        Verdict::Unauthorized(Reason::InvalidNonce)
    );

    // Another secret, and another realm with our secret, are both foreign.
    let other = DigestServer::new(REALM, [8; 32], Duration::from_secs(300));
    let other_realm = DigestServer::new("other.test", SECRET, Duration::from_secs(300));
    for foreign in [&other, &other_realm] {
        let n = challenge_param(&foreign.challenge(NOW, false)[0], "nonce").unwrap();
        let c = creds(&alice(1).authorization_for(REALM, &n, "SHA-256"));
        assert_eq!(
            s.verify(NOW, "REGISTER", &c, lookup),
            Verdict::Unauthorized(Reason::InvalidNonce)
        );
    }
    // Garbage nonces.
    let garbage = [
        String::new(),
        "abc".into(),
        "A".repeat(43),
        "A".repeat(44),
        format!("{nonce}="),
    ];
    for n in &garbage {
        let c = creds(&alice(1).authorization_for(REALM, n, "SHA-256"));
        assert_eq!(
            s.verify(NOW, "REGISTER", &c, lookup),
            Verdict::Unauthorized(Reason::InvalidNonce),
            "{n}"
        );
    }
    // The untouched nonce still works.
    let c = creds(&alice(1).authorization_for(REALM, &nonce, "SHA-256"));
    assert_eq!(
        s.verify(NOW, "REGISTER", &c, lookup),
        Verdict::Ok("alice".into())
    );
}

#[test]
fn expired_nonce_is_stale_only_with_the_right_password() {
    let mut s = server();
    let ch = &s.challenge(NOW, false)[0];
    assert_eq!(
        run(&mut s, NOW + 300, &alice(1), ch),
        Verdict::Ok("alice".into())
    );
    assert_eq!(run(&mut s, NOW + 301, &alice(2), ch), Verdict::Stale);
    let wrong = Client {
        password: "nope",
        ..alice(3)
    };
    assert_eq!(
        run(&mut s, NOW + 301, &wrong, ch),
        Verdict::Unauthorized(Reason::BadResponse)
    );
    // Time does not go back: an earlier `now` afterwards does not revive the nonce.
    assert_eq!(run(&mut s, NOW + 10, &alice(4), ch), Verdict::Stale);
    // Re-challenge with stale=true, then it works.
    let fresh = s.challenge(NOW + 301, true);
    assert!(fresh[0].contains("stale=true"));
    assert_eq!(
        run(&mut s, NOW + 302, &alice(1), &fresh[0]),
        Verdict::Ok("alice".into())
    );
}

#[test]
fn realm_mismatch() {
    let mut s = server();
    let ch = &s.challenge(NOW, false)[0];
    let nonce = challenge_param(ch, "nonce").unwrap();
    let c = creds(&alice(1).authorization_for("evil.test", &nonce, "SHA-256"));
    assert_eq!(
        s.verify(NOW, "REGISTER", &c, lookup),
        Verdict::Unauthorized(Reason::RealmMismatch)
    );
    let c = creds(&alice(1).authorization_for("EXAMPLE.TEST", &nonce, "SHA-256"));
    assert_eq!(
        s.verify(NOW, "REGISTER", &c, lookup),
        Verdict::Unauthorized(Reason::RealmMismatch)
    );
}

#[test]
fn no_qop_is_accepted_once_per_nonce() {
    let mut s = server();
    let ch = s.challenge(NOW, false);
    let legacy = Client {
        qop: None,
        ..alice(0)
    };
    let c = creds(&legacy.authorization(&ch[1]));
    assert_eq!(c.nc(), None);
    assert_eq!(c.cnonce(), None);
    assert_eq!(
        s.verify(NOW, "REGISTER", &c, lookup),
        Verdict::Ok("alice".into())
    );
    assert_eq!(
        s.verify(NOW, "REGISTER", &c, lookup),
        Verdict::Unauthorized(Reason::Replayed)
    );
    // Nor can the consumed nonce be reused with qop.
    assert_eq!(
        run(&mut s, NOW, &alice(1), &ch[1]),
        Verdict::Unauthorized(Reason::Replayed)
    );
    // And a nonce used with qop cannot then be used without.
    let ch = s.challenge(NOW, false);
    assert_eq!(
        run(&mut s, NOW, &alice(1), &ch[0]),
        Verdict::Ok("alice".into())
    );
    assert_eq!(
        run(&mut s, NOW, &legacy, &ch[0]),
        Verdict::Unauthorized(Reason::Replayed)
    );
}

#[test]
fn replay_table_is_bounded_and_eviction_never_reopens_replays() {
    let mut s = server().with_replay_capacity(4);
    let mut used = Vec::new();
    for i in 0..20u64 {
        let ch = s.challenge(NOW + i, false).remove(0);
        assert_eq!(
            run(&mut s, NOW + i, &alice(1), &ch),
            Verdict::Ok("alice".into())
        );
        used.push(ch);
        assert!(s.counts.len() <= 4);
    }
    // Every earlier (nonce, nc) replayed: refused, as stale for the forgotten ones.
    for (i, ch) in used.iter().enumerate() {
        let v = run(&mut s, NOW + 20, &alice(1), ch);
        if i < 16 {
            assert_eq!(v, Verdict::Stale, "nonce {i}");
        } else {
            assert_eq!(v, Verdict::Unauthorized(Reason::Replayed), "nonce {i}");
        }
    }
    // A new challenge still works.
    let ch = s.challenge(NOW + 21, false).remove(0);
    assert_eq!(
        run(&mut s, NOW + 21, &alice(1), &ch),
        Verdict::Ok("alice".into())
    );
}

#[test]
fn expired_entries_are_dropped() {
    let mut s = server();
    for i in 0..10u64 {
        let ch = s.challenge(NOW + i * 100, false).remove(0);
        assert_eq!(
            run(&mut s, NOW + i * 100, &alice(1), &ch),
            Verdict::Ok("alice".into())
        );
        assert!(s.counts.len() <= 4, "{}", s.counts.len());
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

#[test]
fn parses_quoted_strings_and_case_insensitive_names() {
    let c = creds(
        "digest USERNAME = \"al\\\"ice\" ,, Realm=\"r, with comma\",NONCE=\"n\",\
         uri=\"sip:a,b\\\\c@x;transport=tcp\", Response=\"0123456789ABCDEF0123456789abcdef\", \
         Algorithm=\"md5\", QOP=\"auth\", NC=0000000A, CNonce=\"x y\", foo=bar, baz=\"q,\\\"\"",
    );
    assert_eq!(c.username(), "al\"ice");
    assert_eq!(c.realm(), "r, with comma");
    assert_eq!(c.uri(), "sip:a,b\\c@x;transport=tcp");
    assert_eq!(c.algorithm(), Algorithm::Md5);
    assert_eq!(c.nc(), Some(10));
    assert_eq!(c.cnonce(), Some("x y"));
    assert_eq!(c.opaque(), None);
    let sha = creds(&format!(
        "Digest username=u, realm=r, nonce=n, uri=\"sip:x\", response={}, algorithm=sha-256",
        "a".repeat(64)
    ));
    assert_eq!(sha.algorithm(), Algorithm::Sha256);
    assert_eq!(
        "Digest username=u, realm=r, nonce=n, uri=u, response=00000000000000000000000000000000"
            .parse::<Credentials>()
            .unwrap()
            .username(),
        "u"
    );
}

#[test]
fn uppercase_nc_is_hashed_as_sent() {
    let mut s = server();
    let ch = &s.challenge(NOW, false)[0];
    let header = alice(10).authorization(ch);
    assert!(header.contains("nc=0000000a"));
    let upper = header.replace("nc=0000000a", "nc=0000000A");
    let nonce = challenge_param(ch, "nonce").unwrap();
    let ha1 = sha256_hex(&format!("alice:{REALM}:wonderland"));
    let ha2 = sha256_hex("REGISTER:sip:example.test");
    let response = sha256_hex(&format!("{ha1}:{nonce}:0000000A:0a4f113b:auth:{ha2}"));
    let old = challenge_param(&header, "response").unwrap();
    let upper = upper.replace(&old, &response);
    assert_eq!(
        s.verify(NOW, "REGISTER", &creds(&upper), lookup),
        Verdict::Ok("alice".into())
    );
}

#[test]
fn unsupported_scheme() {
    // RFC 4475 torture test regaut01 (unknown scheme NewAuth).
    assert_eq!(
        Credentials::parse("NewAuth scheme=\"something\""),
        Err(ParseError::UnsupportedScheme("NewAuth".into()))
    );
    assert_eq!(
        Credentials::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        Err(ParseError::UnsupportedScheme("Basic".into()))
    );
    assert!(matches!(
        Credentials::parse(&format!("{} a=b", "X".repeat(1000))),
        Err(ParseError::UnsupportedScheme(s)) if s.len() == 32
    ));
}

#[test]
fn algorithm_and_qop_refusals() {
    let base = "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", \
                response=\"00000000000000000000000000000000\"";
    for alg in ["MD5-sess", "SHA-256-sess", "SHA-512-256", "\"md5-SESS\""] {
        assert!(
            matches!(
                Credentials::parse(&format!("{base}, algorithm={alg}")),
                Err(ParseError::UnsupportedAlgorithm(_))
            ),
            "{alg}"
        );
    }
    assert_eq!(
        Credentials::parse(&format!("{base}, qop=auth-int, nc=00000001, cnonce=\"c\"")),
        Err(ParseError::UnsupportedQop("auth-int".into()))
    );
    // userhash (RFC 7616 §3.4.4) is never offered.
    assert!(Credentials::parse(&format!("{base}, userhash=true")).is_err());
    assert!(Credentials::parse(&format!("{base}, userhash=false")).is_ok());
}

#[test]
fn malformed_params() {
    let resp = "00000000000000000000000000000000";
    let ok = format!(
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"{resp}\""
    );
    assert!(Credentials::parse(&ok).is_ok());
    let cases: Vec<(String, ParseError)> = vec![
        (String::new(), ParseError::Malformed("empty value")),
        ("   ".into(), ParseError::Malformed("empty value")),
        ("Digest".into(), ParseError::Malformed("no parameters")),
        ("Digest , ,".into(), ParseError::Malformed("no parameters")),
        (
            "Digest username=\"u".into(),
            ParseError::Malformed("unterminated quoted string"),
        ),
        (
            "Digest username=\"u\\".into(),
            ParseError::Malformed("unterminated quoted string"),
        ),
        (
            "Digest username".into(),
            ParseError::Malformed("expected '=' after a parameter name"),
        ),
        (
            "Digest username=".into(),
            ParseError::Malformed("expected a token or quoted string value"),
        ),
        (
            "Digest =x".into(),
            ParseError::Malformed("expected a parameter name"),
        ),
        (
            "Digest a=b c=d".into(),
            ParseError::Malformed("expected ',' between parameters"),
        ),
        (
            "Digest a=\"b\"c".into(),
            ParseError::Malformed("expected ',' between parameters"),
        ),
        (
            "Digest a=b/c".into(),
            ParseError::Malformed("expected ',' between parameters"),
        ),
        (
            "Dig\"est a=b".into(),
            ParseError::Malformed("authentication scheme is not a token"),
        ),
        (
            format!("{ok}, Username=\"v\""),
            ParseError::DuplicateParam("username".into()),
        ),
        (
            ok.replace("username=\"u\", ", ""),
            ParseError::MissingParam("username"),
        ),
        (
            ok.replace("realm=\"r\", ", ""),
            ParseError::MissingParam("realm"),
        ),
        (
            ok.replace("nonce=\"n\", ", ""),
            ParseError::MissingParam("nonce"),
        ),
        (
            ok.replace("uri=\"sip:x\", ", ""),
            ParseError::MissingParam("uri"),
        ),
        (
            ok.replace(&format!(", response=\"{resp}\""), ""),
            ParseError::MissingParam("response"),
        ),
        (
            ok.replace(resp, "0000"),
            ParseError::Malformed("response is not a hex digest of the algorithm"),
        ),
        (
            ok.replace(resp, &"g".repeat(32)),
            ParseError::Malformed("response is not a hex digest of the algorithm"),
        ),
        // an MD5-length response for SHA-256
        (
            format!("{ok}, algorithm=SHA-256"),
            ParseError::Malformed("response is not a hex digest of the algorithm"),
        ),
        (
            format!("{ok}, qop=auth, cnonce=\"c\""),
            ParseError::MissingParam("nc"),
        ),
        (
            format!("{ok}, qop=auth, nc=00000001"),
            ParseError::MissingParam("cnonce"),
        ),
        (
            format!("{ok}, nc=00000001"),
            ParseError::Malformed("nc or cnonce without qop"),
        ),
        (
            format!("{ok}, cnonce=\"c\""),
            ParseError::Malformed("nc or cnonce without qop"),
        ),
        (
            format!("{ok}, qop=auth, cnonce=\"c\", nc=1"),
            ParseError::Malformed("nc is not 8 hex digits"),
        ),
        (
            format!("{ok}, qop=auth, cnonce=\"c\", nc=000000001"),
            ParseError::Malformed("nc is not 8 hex digits"),
        ),
        (
            format!("{ok}, qop=auth, cnonce=\"c\", nc=0000000g"),
            ParseError::Malformed("nc is not 8 hex digits"),
        ),
        (
            format!("{ok}, qop=auth, cnonce=\"c\", nc=+0000001"),
            ParseError::Malformed("nc is not 8 hex digits"),
        ),
        (
            format!("{ok}{}", ", x=y".repeat(40)),
            ParseError::DuplicateParam("x".into()),
        ),
        (
            format!(
                "{ok}{}",
                (0..40).map(|i| format!(", x{i}=y")).collect::<String>()
            ),
            ParseError::Malformed("too many parameters"),
        ),
        (
            "Digest a=\"\\\r\n b\"".into(),
            ParseError::Malformed("line break escaped in a quoted string"),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(Credentials::parse(&input), Err(expected), "{input:?}");
    }
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let _ = Credentials::parse(&s);
        let _ = Credentials::parse(&format!("Digest {s}"));
    }

    #[test]
    fn arbitrary_param_soup_never_panics(
        s in "[Dd]igest[ \t]{1,2}([a-zA-Z]{1,8}[ ]?=[ ]?(\"([^\"\\\\]|\\\\.){0,10}\"?|[a-z0-9=/\\\\\"-]{0,10})[ ,]{0,2}){0,12}"
    ) {
        if let Ok(c) = Credentials::parse(&s) {
            let mut srv = server();
            let v = srv.verify(NOW, "INVITE", &c, lookup);
            prop_assert!(!matches!(v, Verdict::Ok(_)));
        }
    }

    #[test]
    fn parsed_credentials_from_arbitrary_params_never_verify(
        user in "[a-z]{1,8}", uri in "[ -~]{0,20}", nonce in "[A-Za-z0-9_-]{43}",
        resp in "[0-9a-f]{64}", nc in 0u32..,
    ) {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let h = format!(
            "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{}\", \
             response=\"{resp}\", algorithm=SHA-256, qop=auth, nc={nc:08x}, cnonce=\"c\"",
            esc(&uri)
        );
        let c = Credentials::parse(&h).unwrap();
        prop_assert_eq!(c.uri(), uri.as_str());
        let mut srv = server();
        prop_assert_eq!(
            srv.verify(NOW, "REGISTER", &c, lookup),
            Verdict::Unauthorized(Reason::InvalidNonce)
        );
    }

    #[test]
    fn any_single_byte_change_to_a_nonce_is_refused(pos in 0usize..43, byte in any::<u8>()) {
        let mut s = server();
        let ch = &s.challenge(NOW, false)[0];
        let nonce = challenge_param(ch, "nonce").unwrap();
        let mut b = nonce.clone().into_bytes();
        let replacement = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            [usize::from(byte) % 64];
        prop_assume!(b[pos] != replacement);
        b[pos] = replacement;
        let n = String::from_utf8(b).unwrap();
        let c = creds(&alice(1).authorization_for(REALM, &n, "SHA-256"));
        prop_assert_eq!(
            s.verify(NOW, "REGISTER", &c, lookup),
            Verdict::Unauthorized(Reason::InvalidNonce)
        );
    }
}

#[test]
fn precheck_refuses_other_realms_and_foreign_nonces_without_a_user_lookup() {
    let server = DigestServer::new("example.test", [7; 32], std::time::Duration::from_secs(300));
    let ours = server.challenge(1_000, false).remove(0);
    let nonce = ours
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let creds = |realm: &str, nonce: &str| {
        Credentials::parse(&format!(
            "Digest username=\"a\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"sip:x\", response=\"00000000000000000000000000000000\""
        ))
        .unwrap()
    };
    assert_eq!(server.precheck(&creds("example.test", &nonce)), Ok(()));
    assert_eq!(
        server.precheck(&creds("other.test", &nonce)),
        Err(Reason::RealmMismatch)
    );
    assert_eq!(
        server.precheck(&creds("example.test", "forged")),
        Err(Reason::InvalidNonce)
    );
}

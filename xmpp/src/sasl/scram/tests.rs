use base64::{engine::general_purpose::STANDARD, Engine};

use super::*;
use crate::sasl::SaslCondition;

struct Vector {
    hash: ScramHash,
    salt_b64: &'static str,
    server_nonce: &'static str,
    client_first: &'static str,
    server_first: &'static str,
    client_final: &'static str,
    server_final: &'static str,
}

const RFC5802: Vector = Vector {
    hash: ScramHash::Sha1,
    salt_b64: "QSXCR+Q6sek8bf92",
    server_nonce: "3rfcNHYJY1ZVvWVs7j",
    client_first: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    server_first: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    client_final:
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    server_final: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};

const RFC7677: Vector = Vector {
    hash: ScramHash::Sha256,
    salt_b64: "W22ZaJ0SNY7soEsUEjb6gQ==",
    server_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    client_first: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    client_final: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    server_final: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

fn vector_creds(v: &Vector) -> ScramCredentials {
    let salt = STANDARD.decode(v.salt_b64).unwrap();
    ScramCredentials::derive(v.hash, "pencil", &salt, 4096).unwrap()
}

/// A server that has answered `v.client_first` with the vector's server-first.
fn vector_server(v: &Vector, creds: Option<&ScramCredentials>) -> ScramServer {
    let mut s = ScramServer::with_nonce(v.hash, v.server_nonce.to_owned()).unwrap();
    s.handle_client_first(v.client_first.as_bytes()).unwrap();
    s.handle_credentials(creds).unwrap();
    s
}

fn run_vector(v: &Vector) {
    let creds = vector_creds(v);
    let mut s = ScramServer::with_nonce(v.hash, v.server_nonce.to_owned()).unwrap();
    let first = s.handle_client_first(v.client_first.as_bytes()).unwrap();
    assert_eq!(
        first,
        ClientFirst {
            username: "user".into(),
            authzid: None
        }
    );
    let server_first = s.handle_credentials(Some(&creds)).unwrap();
    assert_eq!(String::from_utf8(server_first).unwrap(), v.server_first);
    let server_final = s.handle_client_final(v.client_final.as_bytes()).unwrap();
    assert_eq!(String::from_utf8(server_final).unwrap(), v.server_final);
}

#[test]
fn rfc5802_sha1_vector() {
    run_vector(&RFC5802);
}

#[test]
fn rfc7677_sha256_vector() {
    run_vector(&RFC7677);
}

fn condition(r: Result<impl Sized, SaslError>) -> SaslCondition {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.condition(),
    }
}

#[test]
fn final_checks_fail_with_not_authorized() {
    let v = &RFC7677;
    let creds = vector_creds(v);
    let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let wrong_proof = "eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    // The reason tells which check fired, so each check is shown to work on its own
    // rather than only through the proof it also spoils.
    for (msg, reason) in [
        (
            format!("c=biws,r={nonce},p={wrong_proof}"),
            "wrong SCRAM proof",
        ),
        (
            format!("c=eSws,r={nonce},p={proof}"),
            "c= does not match the gs2 header",
        ), // "y,,"
        (
            format!("c=biwsAA==,r={nonce},p={proof}"),
            "c= does not match the gs2 header",
        ),
        (
            format!("c=biws,r={nonce}x,p={proof}"),
            "nonce does not match",
        ),
        (
            format!("c=biws,r=rOprNGfwEbeRWgbNEkqO,p={proof}"),
            "nonce does not match",
        ),
    ] {
        let mut s = vector_server(v, Some(&creds));
        let err = s.handle_client_final(msg.as_bytes()).unwrap_err();
        assert_eq!(err.condition(), SaslCondition::NotAuthorized, "{msg}");
        assert_eq!(err.reason(), reason, "{msg}");
    }
}

#[test]
fn final_syntax_errors_are_malformed() {
    let v = &RFC7677;
    let creds = vector_creds(v);
    let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    for msg in [
        String::new(),
        format!("c=biws,r={nonce}"),
        format!("c=biws,r={nonce},p=!!!"),
        format!("c=biws,r={nonce},p=AAAA"), // wrong proof length
        format!("c=biws,r={nonce},m=x,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
        format!("r={nonce},c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
    ] {
        let mut s = vector_server(v, Some(&creds));
        assert_eq!(
            condition(s.handle_client_final(msg.as_bytes())),
            SaslCondition::MalformedRequest,
            "{msg}"
        );
    }
    let mut s = vector_server(v, Some(&creds));
    assert_eq!(
        condition(s.handle_client_final(b"c=biws,r=\xff,p=AAAA")),
        SaslCondition::MalformedRequest
    );
}

#[test]
fn client_first_variants() {
    type Case<'a> = (&'a [u8], Result<(&'a str, Option<&'a str>), SaslCondition>);
    let cases: &[Case] = &[
        (b"y,,n=user,r=abc", Ok(("user", None))),
        (
            b"n,a=admin=40x,n=user,r=abc",
            Err(SaslCondition::MalformedRequest),
        ),
        (
            b"n,a=ad=2Cmin=3D,n=us=3Der,r=abc",
            Ok(("us=er", Some("ad,min="))),
        ),
        ("n,,n=I\u{00AD}X,r=abc".as_bytes(), Ok(("IX", None))),
        (b"n,,n=user,r=abc,x=ext", Ok(("user", None))),
        (
            b"p=tls-exporter,,n=user,r=abc",
            Err(SaslCondition::NotAuthorized),
        ),
        (b"p=,,n=user,r=abc", Err(SaslCondition::MalformedRequest)),
        (b"q,,n=user,r=abc", Err(SaslCondition::MalformedRequest)),
        (
            b"n,,m=ext,n=user,r=abc",
            Err(SaslCondition::MalformedRequest),
        ),
        (
            b"n,,n=user,r=abc,m=ext",
            Err(SaslCondition::MalformedRequest),
        ),
        (b"n,,n=user", Err(SaslCondition::MalformedRequest)),
        (b"n,,n=user,r=", Err(SaslCondition::MalformedRequest)),
        (b"n,,n=user,r=a b", Err(SaslCondition::MalformedRequest)),
        (b"n,,n=,r=abc", Err(SaslCondition::MalformedRequest)),
        (b"n,,n=us=2cer,r=abc", Err(SaslCondition::MalformedRequest)),
        (b"n,,n=us=er,r=abc", Err(SaslCondition::MalformedRequest)),
        (b"n,,r=abc,n=user", Err(SaslCondition::MalformedRequest)),
        (b"n,a=,n=user,r=abc", Err(SaslCondition::MalformedRequest)),
        (b"n,x=y,n=user,r=abc", Err(SaslCondition::MalformedRequest)),
        (b"n,,n=us\xffer,r=abc", Err(SaslCondition::MalformedRequest)),
        (b"n,,n=us\x07er,r=abc", Err(SaslCondition::MalformedRequest)), // SASLprep
        (
            "n,,n=\u{00AD},r=abc".as_bytes(),
            Err(SaslCondition::MalformedRequest),
        ), // empty after SASLprep
        (b"n,,n=user,r=abc,", Err(SaslCondition::MalformedRequest)),
        (b"n,n=user,r=abc", Err(SaslCondition::MalformedRequest)),
        (b"", Err(SaslCondition::MalformedRequest)),
    ];
    for (msg, expected) in cases {
        let mut s = ScramServer::new(ScramHash::Sha256, [7; 18]);
        let got = s.handle_client_first(msg).map_err(|e| e.condition());
        let got = got
            .as_ref()
            .map(|f| (f.username.as_str(), f.authzid.as_deref()))
            .map_err(|c| *c);
        assert_eq!(got, *expected, "{}", String::from_utf8_lossy(msg));
    }
}

#[test]
fn authzid_header_is_checked_verbatim_in_c() {
    let creds = ScramCredentials::derive(ScramHash::Sha256, "pencil", b"salt", 16).unwrap();
    let mut s = ScramServer::new(ScramHash::Sha256, [1; 18]);
    s.handle_client_first(b"n,a=admin,n=user,r=abc").unwrap();
    let sf = String::from_utf8(s.handle_credentials(Some(&creds)).unwrap()).unwrap();
    let nonce = sf
        .split(',')
        .next()
        .unwrap()
        .strip_prefix("r=")
        .unwrap()
        .to_owned();
    assert!(nonce.starts_with("abc") && nonce.len() > 3);
    // "n,," instead of "n,a=admin," must not pass even before the proof is checked.
    let msg = format!("c=biws,r={nonce},p={}", STANDARD.encode([0u8; 32]));
    let err = s.handle_client_final(msg.as_bytes()).unwrap_err();
    assert_eq!(err.condition(), SaslCondition::NotAuthorized);
    assert_eq!(err.reason(), "c= does not match the gs2 header");
}

#[test]
fn steps_out_of_order_are_errors() {
    let creds = vector_creds(&RFC5802);
    let mut s = ScramServer::new(ScramHash::Sha1, [0; 18]);
    assert!(s.handle_credentials(Some(&creds)).is_err());
    let mut s = ScramServer::new(ScramHash::Sha1, [0; 18]);
    assert!(s
        .handle_client_final(RFC5802.client_final.as_bytes())
        .is_err());

    let mut s = ScramServer::with_nonce(ScramHash::Sha1, RFC5802.server_nonce.into()).unwrap();
    s.handle_client_first(RFC5802.client_first.as_bytes())
        .unwrap();
    assert!(s
        .handle_client_first(RFC5802.client_first.as_bytes())
        .is_err());
    // The failed step ended the exchange: the correct next step no longer works either.
    assert!(s.handle_credentials(Some(&creds)).is_err());

    // A failed proof cannot be retried.
    let mut s = vector_server(&RFC5802, Some(&creds));
    assert!(s.handle_client_final(b"c=biws,r=x,p=AAAA").is_err());
    assert!(s
        .handle_client_final(RFC5802.client_final.as_bytes())
        .is_err());

    // Nor can a successful one be replayed.
    let mut s = vector_server(&RFC5802, Some(&creds));
    s.handle_client_final(RFC5802.client_final.as_bytes())
        .unwrap();
    assert!(s
        .handle_client_final(RFC5802.client_final.as_bytes())
        .is_err());
}

#[test]
fn credentials_of_the_other_hash_are_refused() {
    let sha256 = vector_creds(&RFC7677);
    let mut s = ScramServer::with_nonce(ScramHash::Sha1, RFC5802.server_nonce.into()).unwrap();
    s.handle_client_first(RFC5802.client_first.as_bytes())
        .unwrap();
    assert_eq!(
        condition(s.handle_credentials(Some(&sha256))),
        SaslCondition::TemporaryAuthFailure
    );
}

#[test]
fn unknown_user_fails_even_with_the_right_proof_shape() {
    // The RFC client-final is a valid proof for "pencil"; with no such user it must fail.
    let mut s = vector_server(&RFC5802, None);
    let err = s
        .handle_client_final(RFC5802.client_final.as_bytes())
        .unwrap_err();
    assert_eq!(err.condition(), SaslCondition::NotAuthorized);
    assert_eq!(err.reason(), "unknown user");
}

#[test]
fn server_nonce_constructors() {
    assert!(ScramServer::with_nonce(ScramHash::Sha1, String::new()).is_err());
    assert!(ScramServer::with_nonce(ScramHash::Sha1, "a,b".into()).is_err());
    let mut a = ScramServer::with_random_nonce(ScramHash::Sha256).unwrap();
    let mut b = ScramServer::with_random_nonce(ScramHash::Sha256).unwrap();
    a.handle_client_first(b"n,,n=u,r=c").unwrap();
    b.handle_client_first(b"n,,n=u,r=c").unwrap();
    let fa = a.handle_credentials(None).unwrap();
    let fb = b.handle_credentials(None).unwrap();
    assert_ne!(fa, fb, "random nonces differ");
    // Same user, same decoy salt and iterations: only the nonce changes.
    let tail = |f: &[u8]| {
        String::from_utf8(f.to_vec())
            .unwrap()
            .split_once(",s=")
            .unwrap()
            .1
            .to_owned()
    };
    assert_eq!(tail(&fa), tail(&fb));
}

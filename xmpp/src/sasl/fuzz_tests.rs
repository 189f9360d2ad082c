//! Hostile input: arbitrary bytes at every step must give a result, never a panic.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;

fn creds(hash: ScramHash) -> &'static ScramCredentials {
    static SHA1: OnceLock<ScramCredentials> = OnceLock::new();
    static SHA256: OnceLock<ScramCredentials> = OnceLock::new();
    let cell = match hash {
        ScramHash::Sha1 => &SHA1,
        ScramHash::Sha256 => &SHA256,
    };
    cell.get_or_init(|| ScramCredentials::derive(hash, "pencil", b"salt", 2).unwrap())
}

fn hash() -> impl Strategy<Value = ScramHash> {
    prop_oneof![Just(ScramHash::Sha1), Just(ScramHash::Sha256)]
}

/// Random bytes, plus text built from SCRAM's own syntax so the parser gets past its
/// first checks, plus valid prefixes with junk appended.
fn message(valid_prefix: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "([nyp]|p=[a-z-]{0,6}|[acmnrpxvs]=|=2C|=3D|=|,|[A-Za-z0-9+/]{0,8}|\u{00AD}|\u{0007}|\u{0}|é){0,24}"
            .prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(move |junk| {
            let mut m = valid_prefix.as_bytes().to_vec();
            m.extend(junk);
            m
        }),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    First(Vec<u8>),
    Creds(Option<ScramHash>),
    Final(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        message("n,,n=user,r=").prop_map(Step::First),
        proptest::option::of(hash()).prop_map(Step::Creds),
        message("c=biws,r=").prop_map(Step::Final),
    ]
}

proptest! {
    #[test]
    fn client_first_never_panics(h in hash(), msg in message("n,,n=user,r=")) {
        let mut s = ScramServer::new(h, [3; 18]);
        if let Ok(first) = s.handle_client_first(&msg) {
            prop_assert!(!first.username.is_empty());
        }
    }

    #[test]
    fn client_final_never_panics(
        h in hash(),
        known in any::<bool>(),
        msg in message("c=biws,r=abcAwMDAwMDAwMDAwMDAwMDAwMDAwMD"),
    ) {
        let mut s = ScramServer::new(h, [3; 18]);
        s.handle_client_first(b"n,,n=user,r=abc").unwrap();
        s.handle_credentials(known.then(|| creds(h))).unwrap();
        // Random bytes cannot forge a proof.
        prop_assert!(s.handle_client_final(&msg).is_err());
    }

    #[test]
    fn any_sequence_of_steps_never_panics(
        h in hash(),
        steps in proptest::collection::vec(step(), 0..5),
    ) {
        let mut s = ScramServer::new(h, [9; 18]);
        for step in steps {
            match step {
                Step::First(m) => { let _ = s.handle_client_first(&m); }
                Step::Creds(c) => { let _ = s.handle_credentials(c.map(creds)); }
                Step::Final(m) => { let _ = s.handle_client_final(&m); }
            }
        }
    }

    #[test]
    fn plain_never_panics(msg in message("\0user\0")) {
        if let Ok(req) = PlainServer::parse(&msg) {
            prop_assert!(!req.authcid.is_empty());
            prop_assert!(!req.password.contains('\0'));
        }
    }

    #[test]
    fn password_derivation_never_panics(h in hash(), pw in any::<String>()) {
        let _ = verify_plain(&pw, creds(h));
        let _ = ScramCredentials::derive(h, &pw, b"", 1);
    }

    #[test]
    fn mechanism_names_never_panic(name in any::<String>()) {
        let _ = Mechanism::from_name(&name);
    }
}

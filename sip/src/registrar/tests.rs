use super::*;

fn entry(uri: &str, expires: Option<u32>) -> ContactEntry {
    ContactEntry {
        uri: uri.into(),
        expires,
        q: None,
        instance: None,
    }
}

fn register(contacts: Contacts, expires: Option<u32>, cseq: u32) -> Register {
    Register {
        contacts,
        expires,
        call_id: "call-1".into(),
        cseq,
        source: "udp:127.0.0.1:5080".into(),
    }
}

const NOW: u64 = 1_000_000;

#[test]
fn adds_refreshes_and_removes_bindings() {
    let policy = Policy::default();
    let first = register(
        Contacts::List(vec![entry("sip:bob@10.0.0.2:5080", None)]),
        Some(600),
        1,
    );
    let bindings = apply(&[], &first, NOW, &policy).unwrap();
    assert_eq!(bindings.len(), 1);
    assert_eq!(remaining(&bindings[0], NOW), 600);

    // A second phone, with its own expiry parameter; the Contact parameter wins.
    let second = register(
        Contacts::List(vec![
            entry("<SIP:bob@10.0.0.2:5080;transport=udp>", Some(120)),
            entry("sip:bob@10.0.0.3", None),
        ]),
        Some(900),
        2,
    );
    let bindings = apply(&bindings, &second, NOW + 10, &policy).unwrap();
    assert_eq!(
        bindings.len(),
        2,
        "the first contact is refreshed, not duplicated"
    );
    assert_eq!(remaining(&bindings[0], NOW + 10), 120);
    assert_eq!(remaining(&bindings[1], NOW + 10), 900);

    let remove = register(
        Contacts::List(vec![entry("sip:bob@10.0.0.3", Some(0))]),
        None,
        3,
    );
    let bindings = apply(&bindings, &remove, NOW + 20, &policy).unwrap();
    assert_eq!(bindings.len(), 1);

    // A query changes nothing; lapsed bindings disappear.
    assert_eq!(
        apply(
            &bindings,
            &register(Contacts::Query, None, 4),
            NOW + 20,
            &policy
        )
        .unwrap(),
        bindings
    );
    assert!(apply(
        &bindings,
        &register(Contacts::Query, None, 5),
        NOW + 10 + 121,
        &policy
    )
    .unwrap()
    .is_empty());
}

#[test]
fn wildcard_removes_all_only_with_expires_zero() {
    let policy = Policy::default();
    let bindings = apply(
        &[],
        &register(
            Contacts::List(vec![entry("sip:a@h", None), entry("sip:b@h", None)]),
            None,
            1,
        ),
        NOW,
        &policy,
    )
    .unwrap();
    assert_eq!(
        apply(
            &bindings,
            &register(Contacts::Wildcard, Some(60), 2),
            NOW,
            &policy
        ),
        Err(RegisterError::BadRequest("Contact * requires Expires: 0"))
    );
    assert!(apply(
        &bindings,
        &register(Contacts::Wildcard, None, 2),
        NOW,
        &policy
    )
    .is_err());
    assert!(apply(
        &bindings,
        &register(Contacts::Wildcard, Some(0), 2),
        NOW,
        &policy
    )
    .unwrap()
    .is_empty());
    assert_eq!(
        apply(
            &bindings,
            &register(Contacts::Wildcard, Some(0), 1),
            NOW,
            &policy
        ),
        Err(RegisterError::OutOfOrder)
    );
}

#[test]
fn too_brief_is_423_with_min_expires_and_changes_nothing() {
    let policy = Policy {
        min_expires: 60,
        ..Policy::default()
    };
    let request = register(
        Contacts::List(vec![
            entry("sip:a@h", Some(3600)),
            entry("sip:b@h", Some(30)),
        ]),
        None,
        1,
    );
    let err = apply(&[], &request, NOW, &policy).unwrap_err();
    assert_eq!(err, RegisterError::IntervalTooBrief(60));
    assert_eq!(err.status().0, 423);
}

#[test]
fn long_requests_are_shortened_and_defaults_apply() {
    let policy = Policy {
        max_expires: 7200,
        default_expires: 3600,
        ..Policy::default()
    };
    let b = apply(
        &[],
        &register(
            Contacts::List(vec![entry("sip:a@h", Some(86_400))]),
            None,
            1,
        ),
        NOW,
        &policy,
    )
    .unwrap();
    assert_eq!(remaining(&b[0], NOW), 7200);
    let b = apply(
        &[],
        &register(Contacts::List(vec![entry("sip:a@h", None)]), None, 1),
        NOW,
        &policy,
    )
    .unwrap();
    assert_eq!(remaining(&b[0], NOW), 3600);
}

#[test]
fn stale_retransmission_of_the_same_call_id_is_refused() {
    let policy = Policy::default();
    let b = apply(
        &[],
        &register(Contacts::List(vec![entry("sip:a@h", None)]), None, 5),
        NOW,
        &policy,
    )
    .unwrap();
    let old = register(Contacts::List(vec![entry("sip:a@h", Some(0))]), None, 4);
    assert_eq!(
        apply(&b, &old, NOW, &policy),
        Err(RegisterError::OutOfOrder)
    );
    // Another Call-ID (the phone rebooted) is not ordered against it.
    let rebooted = Register {
        call_id: "call-2".into(),
        ..old
    };
    assert!(apply(&b, &rebooted, NOW, &policy).unwrap().is_empty());
}

#[test]
fn bindings_per_aor_are_bounded() {
    let policy = Policy {
        max_bindings: 2,
        ..Policy::default()
    };
    let many = (0..3)
        .map(|i| entry(&format!("sip:a@10.0.0.{i}"), None))
        .collect();
    assert_eq!(
        apply(&[], &register(Contacts::List(many), None, 1), NOW, &policy),
        Err(RegisterError::TooManyBindings)
    );
}

#[test]
fn contact_comparison_ignores_case_of_scheme_and_host_but_not_user() {
    assert!(same_contact(
        "sip:Bob@Example.COM:5060",
        "<SIP:Bob@example.com:5060;ob>"
    ));
    assert!(!same_contact("sip:bob@example.com", "sip:Bob@example.com"));
}

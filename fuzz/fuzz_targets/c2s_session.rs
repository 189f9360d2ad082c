//! A whole c2s session fed hostile bytes after a valid opening, as if TLS were up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_xmpp::c2s::{Event, LivenessConfig, Session, SessionConfig};
use tandem_xmpp::sasl::PasswordRecord;
use tandem_xmpp::stream::ReaderLimits;

const OPEN: &[u8] = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x.test' version='1.0'>";

fuzz_target!(|data: &[u8]| {
    let config = SessionConfig {
        domain: "x.test".into(),
        starttls_available: false,
        require_encryption: true,
        limits: ReaderLimits { max_stanza_size: 4096, max_depth: 16 },
        max_auth_attempts: 3,
        liveness: LivenessConfig::default(),
        external: None,
    };
    let now = std::time::Instant::now();
    let record = PasswordRecord::derive("u", "x.test", "p", 1).unwrap();
    let mut session = Session::new(std::sync::Arc::new(config), true, 1, now);
    session.handle_bytes(now, OPEN);
    for chunk in data.split(|b| *b == 0xff) {
        session.handle_bytes(now, chunk);
        while let Some(event) = session.poll_event() {
            if let Event::NeedCredentials { username } = event {
                session.handle_credentials((username == "u").then_some(&record));
            }
        }
        let _ = session.take_outgoing();
    }
});

//! Hostile client-first and client-final messages into the SCRAM server.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_xmpp::sasl::{ScramCredentials, ScramHash, ScramServer};

fuzz_target!(|data: &[u8]| {
    let (first, last) = data.split_at(data.len() / 2);
    let creds = ScramCredentials::derive(ScramHash::Sha256, "pencil", b"salt", 1).unwrap();
    let mut server = ScramServer::new(ScramHash::Sha256, [7; 18]);
    if server.handle_client_first(first).is_ok() {
        let _ = server.handle_credentials(Some(&creds));
        let _ = server.handle_client_final(last);
    }
});

//! The client side of digest (RFC 3261 §22.2, RFC 7616, RFC 8760): answering a trunk's
//! 401/407 challenge with an `Authorization` / `Proxy-Authorization` value.

use super::Algorithm;
use crate::message::AuthHeader;

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("not a Digest challenge")]
    NotDigest,
    #[error("challenge without {0}")]
    Missing(&'static str),
    #[error("unsupported algorithm {0} (MD5 and SHA-256 are)")]
    Algorithm(String),
    #[error("unsupported qop {0:?} (auth is)")]
    Qop(String),
}

/// The credentials value answering `challenge` (a parsed `WWW-Authenticate` or
/// `Proxy-Authenticate` value) for `method` on `uri`. `cnonce` is the client nonce (random,
/// from the caller: this crate reads no randomness) and `nc` the count of uses of this nonce.
pub fn authorization(
    header: &AuthHeader<'_>,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, ChallengeError> {
    if !header.is_digest() {
        return Err(ChallengeError::NotDigest);
    }
    let realm = header
        .param("realm")
        .ok_or(ChallengeError::Missing("realm"))?;
    let nonce = header
        .param("nonce")
        .ok_or(ChallengeError::Missing("nonce"))?;
    let algorithm = match header.param("algorithm").as_deref() {
        None => Algorithm::Md5,
        Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
        Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
        Some(other) => return Err(ChallengeError::Algorithm(other.to_string())),
    };
    // RFC 7616 §3.3: qop is a list; "auth" is the one a SIP request can use.
    let qop = match header.param("qop") {
        None => None,
        Some(list)
            if list
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth")) =>
        {
            Some("auth")
        }
        Some(other) => return Err(ChallengeError::Qop(other.to_string())),
    };
    let ha1 = algorithm.ha1(username, &realm, password);
    let ha2 = algorithm.hex_hash(format!("{method}:{uri}").as_bytes());
    let nc = format!("{nc:08x}");
    let response = match qop {
        Some(qop) => {
            algorithm.hex_hash(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes())
        }
        None => algorithm.hex_hash(format!("{ha1}:{nonce}:{ha2}").as_bytes()),
    };
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut value = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
        quote(username),
        quote(&realm),
        quote(&nonce),
        quote(uri),
        algorithm.as_str()
    );
    if let Some(qop) = qop {
        value.push_str(&format!(
            ", qop={qop}, nc={nc}, cnonce=\"{}\"",
            quote(cnonce)
        ));
    }
    if let Some(opaque) = header.param("opaque") {
        value.push_str(&format!(", opaque=\"{}\"", quote(&opaque)));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{Credentials, DigestServer, Verdict};

    /// Our client answer is accepted by our server, for both algorithms: the two sides were
    /// written separately, against the RFCs.
    #[test]
    fn answers_satisfy_the_server_for_md5_and_sha256() {
        let mut server =
            DigestServer::new("trunk.example", [3; 32], std::time::Duration::from_secs(60));
        // The challenges share one nonce: each answer uses the next nonce count.
        for (i, challenge) in server.challenge(1_000, false).into_iter().enumerate() {
            let nc = 2 * i as u32 + 1;
            let challenge = AuthHeader::parse(&challenge).unwrap();
            let value = authorization(
                &challenge,
                "INVITE",
                "sip:bob@trunk.example",
                "tandem",
                "s3cret",
                "0a4f113b",
                nc,
            )
            .unwrap();
            let credentials = Credentials::parse(&value).unwrap();
            let algorithm = credentials.algorithm();
            let verdict = server.verify(1_001, "INVITE", &credentials, |_, a| {
                Some(a.ha1("tandem", "trunk.example", "s3cret"))
            });
            assert!(
                matches!(verdict, Verdict::Ok(ref u) if u == "tandem"),
                "{algorithm:?}: {verdict:?}"
            );
            // A wrong password is refused.
            let wrong = authorization(
                &challenge,
                "INVITE",
                "sip:bob@trunk.example",
                "tandem",
                "nope",
                "x",
                nc + 1,
            )
            .unwrap();
            let verdict = server.verify(
                1_001,
                "INVITE",
                &Credentials::parse(&wrong).unwrap(),
                |_, a| Some(a.ha1("tandem", "trunk.example", "s3cret")),
            );
            assert!(!matches!(verdict, Verdict::Ok(_)));
        }
    }

    /// RFC 2617 §3.5's example (no qop variant computed by hand from its HA1/HA2 rules).
    #[test]
    fn rfc_2617_example_response() {
        let challenge = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let value = authorization(
            &AuthHeader::parse(challenge).unwrap(),
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
            1,
        )
        .unwrap();
        assert!(
            value.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{value}"
        );
        assert!(
            value.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#),
            "{value}"
        );
        assert_eq!(
            authorization(
                &AuthHeader::parse("Basic realm=\"x\"").unwrap(),
                "GET",
                "/",
                "u",
                "p",
                "c",
                1
            ),
            Err(ChallengeError::NotDigest)
        );
    }
}

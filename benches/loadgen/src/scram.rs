//! SCRAM-SHA-1 / SCRAM-SHA-256 client (RFC 5802 / RFC 7677), no channel binding.
//!
//! The salted password is cached per (hash, salt, iterations, password), as real clients
//! do after the first login, so the load generator does not spend its core on PBKDF2:
//! the server-side cost (which is what we measure) is unchanged by this.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScramHash {
    Sha1,
    Sha256,
}

impl ScramHash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                let mut m = Hmac::<Sha1>::new_from_slice(key).expect("hmac key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }
    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }
    fn pbkdf2(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                let mut out = vec![0u8; 20];
                pbkdf2::pbkdf2::<Hmac<Sha1>>(password, salt, iterations, &mut out).expect("pbkdf2");
                out
            }
            ScramHash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt, iterations, &mut out)
                    .expect("pbkdf2");
                out
            }
        }
    }
}

/// (hash, salt, iterations, SHA-256 of the password) -> salted password.
type CacheKey = (ScramHash, Vec<u8>, u32, Vec<u8>);

fn cache() -> &'static Mutex<HashMap<CacheKey, Vec<u8>>> {
    static C: OnceLock<Mutex<HashMap<CacheKey, Vec<u8>>>> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn hash_name(h: ScramHash) -> &'static str {
    match h {
        ScramHash::Sha1 => "SHA-1",
        ScramHash::Sha256 => "SHA-256",
    }
}

/// Load a cache file written by [`save_cache`] (missing file: empty cache). Returns entries read.
pub fn load_cache(path: &std::path::Path) -> Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut c = cache().lock().unwrap();
    let mut n = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [h, salt, iters, pw, salted] = f[..] else {
            continue;
        };
        let h = match h {
            "SHA-1" => ScramHash::Sha1,
            "SHA-256" => ScramHash::Sha256,
            _ => continue,
        };
        let (Ok(salt), Ok(iters), Ok(pw), Ok(salted)) = (
            B64.decode(salt),
            iters.parse::<u32>(),
            B64.decode(pw),
            B64.decode(salted),
        ) else {
            continue;
        };
        c.insert((h, salt, iters, pw), salted);
        n += 1;
    }
    Ok(n)
}

/// Write the whole cache (salted passwords, keyed by a hash of the password, never the password).
pub fn save_cache(path: &std::path::Path) -> Result<usize> {
    let c = cache().lock().unwrap();
    let mut out = String::new();
    for ((h, salt, iters, pw), salted) in c.iter() {
        out.push_str(&format!(
            "{} {} {iters} {} {}\n",
            hash_name(*h),
            B64.encode(salt),
            B64.encode(pw),
            B64.encode(salted)
        ));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, out).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)?;
    Ok(c.len())
}

pub struct ScramClient {
    hash: ScramHash,
    password: String,
    use_cache: bool,
    client_first_bare: String,
    cnonce: String,
    expected_server_sig: Option<Vec<u8>>,
    /// Iteration count the server asked for (reported for transparency).
    pub iterations: Option<u32>,
}

fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

impl ScramClient {
    pub fn new(hash: ScramHash, user: &str, password: &str, use_cache: bool) -> Result<Self> {
        let mut raw = [0u8; 18];
        getrandom::fill(&mut raw).map_err(|e| anyhow!("getrandom: {e}"))?;
        let cnonce = B64.encode(raw);
        Ok(ScramClient {
            hash,
            password: password.to_owned(),
            use_cache,
            client_first_bare: format!("n={},r={cnonce}", saslname(user)),
            cnonce,
            expected_server_sig: None,
            iterations: None,
        })
    }

    /// client-first-message ("n,," GS2 header: no channel binding support).
    pub fn initial(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// server-first-message -> client-final-message.
    pub fn respond(&mut self, server_first: &[u8]) -> Result<Vec<u8>> {
        let sf = std::str::from_utf8(server_first).context("server-first not UTF-8")?;
        let (mut nonce, mut salt, mut iters) = (None, None, None);
        for part in sf.split(',') {
            match part.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(B64.decode(v).context("salt base64")?),
                Some(("i", v)) => iters = Some(v.parse::<u32>().context("iteration count")?),
                Some(("m", _)) => bail!("server requires an unsupported SCRAM extension"),
                Some(("e", v)) => bail!("SCRAM server error: {v}"),
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| anyhow!("server-first without nonce"))?;
        let salt = salt.ok_or_else(|| anyhow!("server-first without salt"))?;
        let iters = iters.ok_or_else(|| anyhow!("server-first without iteration count"))?;
        if !nonce.starts_with(&self.cnonce) || nonce.len() <= self.cnonce.len() {
            bail!("server nonce does not extend the client nonce");
        }
        if iters == 0 {
            bail!("iteration count 0");
        }
        self.iterations = Some(iters);
        let salted = if self.use_cache {
            let key = (
                self.hash,
                salt.clone(),
                iters,
                Sha256::digest(self.password.as_bytes()).to_vec(),
            );
            let hit = cache().lock().unwrap().get(&key).cloned();
            match hit {
                Some(s) => s,
                None => {
                    let s = self.hash.pbkdf2(self.password.as_bytes(), &salt, iters);
                    cache().lock().unwrap().insert(key, s.clone());
                    s
                }
            }
        } else {
            self.hash.pbkdf2(self.password.as_bytes(), &salt, iters)
        };
        let client_key = self.hash.hmac(&salted, b"Client Key");
        let stored_key = self.hash.hash(&client_key);
        let without_proof = format!("c={},r={nonce}", B64.encode(b"n,,"));
        let auth_message = format!("{},{sf},{without_proof}", self.client_first_bare);
        let client_sig = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_sig)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = self.hash.hmac(&salted, b"Server Key");
        self.expected_server_sig = Some(self.hash.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Verify server-final-message ("v=..."): proves the server knew the credentials.
    pub fn verify(&self, server_final: &[u8]) -> Result<()> {
        let sf = std::str::from_utf8(server_final).context("server-final not UTF-8")?;
        let expected = self
            .expected_server_sig
            .as_ref()
            .ok_or_else(|| anyhow!("SCRAM out of order"))?;
        for part in sf.split(',') {
            match part.split_once('=') {
                Some(("v", v)) => {
                    let got = B64.decode(v).context("verifier base64")?;
                    if &got == expected {
                        return Ok(());
                    }
                    bail!("server signature mismatch");
                }
                Some(("e", v)) => bail!("SCRAM server error: {v}"),
                _ => {}
            }
        }
        bail!("server-final without verifier")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5802 section 5 example (SCRAM-SHA-1), RFC 7677 section 3 (SCRAM-SHA-256).
    #[test]
    fn rfc_vectors() {
        for (hash, cnonce, sfirst, cfinal, sfinal) in [
            (
                ScramHash::Sha1,
                "fyko+d2lbbFgONRv9qkxdawL",
                "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
                "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
            ),
            (
                ScramHash::Sha256,
                "rOprNGfwEbeRWgbNEkqO",
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
            ),
        ] {
            for cached in [false, true, true] {
                if cached {
                    let f = std::env::temp_dir().join(format!("scram-cache-test-{}", std::process::id()));
                    save_cache(&f).unwrap();
                    cache().lock().unwrap().clear();
                    load_cache(&f).unwrap();
                    std::fs::remove_file(&f).unwrap();
                }
                let mut c = ScramClient::new(hash, "user", "pencil", cached).unwrap();
                c.cnonce = cnonce.into();
                c.client_first_bare = format!("n=user,r={cnonce}");
                let out = c.respond(sfirst.as_bytes()).unwrap();
                assert_eq!(std::str::from_utf8(&out).unwrap(), cfinal);
                c.verify(sfinal.as_bytes()).unwrap();
                assert!(c.verify(b"v=AAAA").is_err());
                assert_eq!(c.iterations, Some(4096));
            }
        }
    }
}

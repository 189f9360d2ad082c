//! Walks the parsed TOML document section by section, checking keys, types and
//! values. Problems are collected, never returned early, so one run reports
//! everything wrong with the file.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::{line_col, ConfigError, ProblemKind, Problems};
use super::{
    ClusterConfig, Config, StorageUrl, MAX_DEPTH, MAX_STANZA_SIZE, MIN_DEPTH, MIN_STANZA_SIZE,
};

type Value<'i> = Spanned<DeValue<'i>>;

/// Every section and the keys it accepts; the source of "unknown key" errors
/// and of "did you mean" suggestions.
const SCHEMA: &[(&str, &[&str])] = &[
    ("server", &["domain", "data_dir"]),
    (
        "xmpp",
        &[
            "listen",
            "tls_listen",
            "max_stanza_size",
            "require_encryption",
            "max_depth",
            "sasl_external",
        ],
    ),
    ("tls", &["cert", "key", "client_ca", "crl"]),
    ("xmpp.sasl_external", &["modes", "auto_create"]),
    ("storage", &["url"]),
    ("log", &["level"]),
    (
        "sip",
        &[
            "listen",
            "domain",
            "outbound_proxy",
            "outbound_username",
            "outbound_password",
            "trusted_peers",
            "trusted_certs",
            "digest_algorithms",
        ],
    ),
    ("metrics", &["listen"]),
    (
        "cluster",
        &[
            "name",
            "redis",
            "listen",
            "advertise",
            "ca",
            "cert",
            "key",
            "location_ttl",
            "max_hops",
        ],
    ),
    (
        "gateway",
        &[
            "sip_domain",
            "ring_timeout",
            "trickle_wait_ms",
            "max_call_duration",
        ],
    ),
];

const ADDR_EXPECTED: &str = "(expected e.g. \"127.0.0.1:5222\" or \"[::1]:5222\")";
const LOG_EXPECTED: &str =
    "(expected a level such as \"info\", or directives like \"info,tandem=debug\")";

pub(super) fn load(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let (doc, syntax_errors) = DeTable::parse_recoverable(text);
    let mut w = Walker {
        text,
        p: Problems::new(text, origin),
    };
    if !syntax_errors.is_empty() {
        // Only syntax errors: after a syntax error the recovered tree can be
        // misshapen (e.g. an unclosed `[server` header moves its keys to the
        // top level), and checking it would report problems that aren't there.
        for e in syntax_errors {
            w.p.push(
                e.span().unwrap_or(0..0),
                None,
                ProblemKind::Syntax,
                e.message(),
            );
        }
        return Err(w.p.into_error());
    }
    let config = w.config(doc.get_ref());
    if w.p.is_empty() {
        Ok(config)
    } else {
        Err(w.p.into_error())
    }
}

/// One listener entry, from the file (with its span) or from the defaults.
struct Listener {
    key: String,
    addr: SocketAddr,
    span: Option<Range<usize>>,
}

struct Walker<'t> {
    text: &'t str,
    p: Problems<'t>,
}

impl<'t> Walker<'t> {
    fn config(&mut self, root: &DeTable<'_>) -> Config {
        let mut cfg = Config::default();
        self.check_top_level(root);

        if let Some(t) = self.section(root, "server") {
            if let Some(v) = t.get("domain") {
                if let Some(s) = self.string(v, "server.domain") {
                    match check_domain(s) {
                        Ok(domain) => cfg.server.domain = domain,
                        Err(msg) => self.invalid(v, "server.domain", msg),
                    }
                }
            }
            if let Some(v) = t.get("data_dir") {
                if let Some(dir) = self.path(v, "server.data_dir", "\"/var/lib/tandem\"") {
                    cfg.server.data_dir = dir;
                }
            }
        }

        if let Some(t) = self.section(root, "xmpp") {
            let listen = t
                .get("listen")
                .and_then(|v| self.addr_list(v, "xmpp.listen"));
            let tls_listen = t
                .get("tls_listen")
                .and_then(|v| self.addr_list(v, "xmpp.tls_listen"));
            // Conflicts are checked across both lists together, including a
            // list the file leaves at its default (which has no span).
            let mut all = Vec::new();
            for (key, given, default) in [
                ("xmpp.listen", &listen, &cfg.xmpp.listen),
                ("xmpp.tls_listen", &tls_listen, &cfg.xmpp.tls_listen),
            ] {
                let entries: Vec<(usize, SocketAddr, Option<Range<usize>>)> = match given {
                    Some(l) => l
                        .iter()
                        .map(|(i, a, s)| (*i, *a, Some(s.clone())))
                        .collect(),
                    None => default
                        .iter()
                        .enumerate()
                        .map(|(i, a)| (i, *a, None))
                        .collect(),
                };
                for (i, addr, span) in entries {
                    all.push(Listener {
                        key: format!("{key}[{i}]"),
                        addr,
                        span,
                    });
                }
            }
            self.check_listener_conflicts(&all);
            if let Some(l) = listen {
                cfg.xmpp.listen = l.into_iter().map(|(_, a, _)| a).collect();
            }
            if let Some(l) = tls_listen {
                cfg.xmpp.tls_listen = l.into_iter().map(|(_, a, _)| a).collect();
            }

            if let Some(v) = t.get("max_stanza_size") {
                let range = (MIN_STANZA_SIZE, MAX_STANZA_SIZE);
                if let Some(n) = self.ranged(v, "xmpp.max_stanza_size", range, " bytes") {
                    cfg.xmpp.max_stanza_size = n;
                }
            }
            if let Some(v) = t.get("max_depth") {
                if let Some(n) = self.ranged(v, "xmpp.max_depth", (MIN_DEPTH, MAX_DEPTH), "") {
                    cfg.xmpp.max_depth = n;
                }
            }
            if let Some(sub) = self.section_in(t, "sasl_external", "xmpp.sasl_external") {
                if let Some(v) = sub.get("modes") {
                    if let Some(items) = self.string_list(v, "xmpp.sasl_external.modes") {
                        let mut modes = Vec::new();
                        for (i, item, s) in items {
                            if s == "standard" || s == "common_name" {
                                modes.push(s.to_owned());
                            } else {
                                self.invalid(
                                    item,
                                    &format!("xmpp.sasl_external.modes[{i}]"),
                                    format!("unknown mode \"{s}\" (expected \"standard\" or \"common_name\")"),
                                );
                            }
                        }
                        cfg.xmpp.sasl_external.modes = modes;
                    }
                }
                if let Some(v) = sub.get("auto_create") {
                    if let Some(b) = self.boolean(v, "xmpp.sasl_external.auto_create") {
                        cfg.xmpp.sasl_external.auto_create = b;
                    }
                }
            }
            if let Some(v) = t.get("require_encryption") {
                if let Some(b) = self.boolean(v, "xmpp.require_encryption") {
                    cfg.xmpp.require_encryption = b;
                }
            }
        }

        if let Some(t) = self.section(root, "tls") {
            if let Some(v) = t.get("cert") {
                if let Some(p) = self.path(v, "tls.cert", "\"cert.pem\"") {
                    cfg.tls.cert = p;
                }
            }
            if let Some(v) = t.get("key") {
                if let Some(p) = self.path(v, "tls.key", "\"key.pem\"") {
                    cfg.tls.key = p;
                }
            }
            if let Some(v) = t.get("client_ca") {
                cfg.tls.client_ca = self.path(v, "tls.client_ca", "\"ca.pem\"");
            }
            if let Some(v) = t.get("crl") {
                if let Some(items) = self.string_list(v, "tls.crl") {
                    cfg.tls.crl = items
                        .into_iter()
                        .map(|(_, _, s)| PathBuf::from(s))
                        .collect();
                }
            }
        }

        // The default url follows the data dir, whichever way it was set.
        cfg.storage.url = StorageUrl::default_for(&cfg.server.data_dir);
        if let Some(t) = self.section(root, "storage") {
            if let Some(v) = t.get("url") {
                if let Some(s) = self.string(v, "storage.url") {
                    match StorageUrl::parse(s) {
                        Ok(url) => {
                            cfg.storage.url = url;
                            cfg.storage.explicit = true;
                        }
                        Err(msg) => self.invalid(v, "storage.url", msg),
                    }
                }
            }
        }

        if let Some(t) = self.section(root, "sip") {
            self.sip(t, &mut cfg);
        }

        if let Some(t) = self.section(root, "metrics") {
            if let Some(v) = t.get("listen") {
                if let Some(s) = self.string(v, "metrics.listen") {
                    match s.parse::<SocketAddr>() {
                        Ok(addr) => cfg.metrics.listen = Some(addr),
                        Err(_) => self.invalid(
                            v,
                            "metrics.listen",
                            format!("\"{s}\" is not an address {ADDR_EXPECTED}"),
                        ),
                    }
                }
            }
        }

        if let Some(t) = self.section(root, "gateway") {
            self.gateway(t, &mut cfg);
        }

        if let Some(t) = self.section(root, "cluster") {
            let span = root.get("cluster").map(|v| v.span()).unwrap_or(0..0);
            cfg.cluster = self.cluster(t, span);
        }

        if let Some(t) = self.section(root, "log") {
            if let Some(v) = t.get("level") {
                if let Some(s) = self.string(v, "log.level") {
                    match check_log_level(s) {
                        Ok(()) => cfg.log.level = s.to_owned(),
                        Err(msg) => self.invalid(v, "log.level", msg),
                    }
                }
            }
        }
        cfg
    }

    fn gateway(&mut self, t: &DeTable<'_>, cfg: &mut Config) {
        if let Some(v) = t.get("sip_domain") {
            if let Some(s) = self.string(v, "gateway.sip_domain") {
                match check_domain(s) {
                    Ok(domain) if domain == cfg.server.domain => self.invalid(
                        v,
                        "gateway.sip_domain",
                        "must differ from server.domain: its JIDs are SIP addresses, not accounts"
                            .to_string(),
                    ),
                    Ok(domain) => cfg.gateway.sip_domain = Some(domain),
                    Err(msg) => self.invalid(v, "gateway.sip_domain", msg),
                }
            }
        }
        let g = &mut cfg.gateway;
        for (key, slot, range, unit) in [
            ("ring_timeout", &mut g.ring_timeout, (5, 600), " seconds"),
            ("trickle_wait_ms", &mut g.trickle_wait_ms, (0, 5000), " ms"),
            (
                "max_call_duration",
                &mut g.max_call_duration,
                (60, 86400),
                " seconds",
            ),
        ] {
            if let Some(v) = t.get(key) {
                if let Some(n) = self.ranged(v, &format!("gateway.{key}"), range, unit) {
                    *slot = n;
                }
            }
        }
    }

    /// `[cluster]`; `None` (with problems reported) when a required key is missing or bad.
    fn cluster(&mut self, t: &DeTable<'_>, section: Range<usize>) -> Option<ClusterConfig> {
        use super::cluster::{check_advertise, check_name, check_redis_url};
        let mut missing = Vec::new();
        let mut ok = true;
        let name = match t.get("name") {
            Some(v) => self
                .string(v, "cluster.name")
                .and_then(|s| match check_name(s) {
                    Ok(()) => Some(s.to_owned()),
                    Err(msg) => {
                        self.invalid(v, "cluster.name", msg);
                        None
                    }
                }),
            None => {
                missing.push("name");
                None
            }
        };
        let mut redis = Vec::new();
        match t.get("redis") {
            Some(v) => {
                // One URL, or several seed nodes of a Redis Cluster.
                let items = match v.get_ref() {
                    DeValue::String(s) => Some(vec![(None, v, s.as_ref())]),
                    DeValue::Array(_) => self
                        .string_list(v, "cluster.redis")
                        .map(|l| l.into_iter().map(|(i, v, s)| (Some(i), v, s)).collect()),
                    _ => {
                        self.wrong_type(v, "cluster.redis", "a redis:// URL or an array of them");
                        None
                    }
                };
                ok &= items.is_some();
                for (i, item, s) in items.unwrap_or_default() {
                    let key = i.map_or("cluster.redis".to_string(), |i| {
                        format!("cluster.redis[{i}]")
                    });
                    match check_redis_url(s) {
                        Ok(()) => redis.push(s.to_owned()),
                        Err(msg) => {
                            self.invalid(item, &key, msg);
                            ok = false;
                        }
                    }
                }
                if redis.is_empty() && ok {
                    self.invalid(v, "cluster.redis", "names no Redis server".into());
                    ok = false;
                }
            }
            None => missing.push("redis"),
        }
        let listen = match t.get("listen") {
            Some(v) => self
                .string(v, "cluster.listen")
                .and_then(|s| match parse_addr(s) {
                    Ok(a) => Some(a),
                    Err(msg) => {
                        self.invalid(v, "cluster.listen", msg);
                        None
                    }
                }),
            None => {
                missing.push("listen");
                None
            }
        };
        let advertise = match t.get("advertise") {
            Some(v) => self
                .string(v, "cluster.advertise")
                .and_then(|s| match check_advertise(s) {
                    Ok(()) => Some(s.to_owned()),
                    Err(msg) => {
                        self.invalid(v, "cluster.advertise", msg);
                        None
                    }
                }),
            None => match listen {
                Some(l) if l.ip().is_unspecified() => {
                    self.p.push(
                        section.clone(),
                        Some("cluster.advertise".into()),
                        ProblemKind::InvalidValue,
                        format!("needed: cluster.listen {l} is a wildcard, which other clusters cannot connect to"),
                    );
                    None
                }
                Some(l) => Some(l.to_string()),
                None => None,
            },
        };
        let mut path = |key: &'static str| match t.get(key) {
            Some(v) => self.path(v, &format!("cluster.{key}"), "\"cluster.pem\""),
            None => {
                missing.push(key);
                None
            }
        };
        let (ca, cert, key) = (path("ca"), path("cert"), path("key"));
        let location_ttl = match t.get("location_ttl") {
            Some(v) => self
                .ranged(v, "cluster.location_ttl", (5, 3600), " seconds")
                .map(|n| n as u64),
            None => Some(super::cluster::DEFAULT_LOCATION_TTL),
        };
        let max_hops = match t.get("max_hops") {
            Some(v) => self
                .ranged(v, "cluster.max_hops", (1, 16), "")
                .map(|n| n as u8),
            None => Some(super::cluster::DEFAULT_MAX_HOPS),
        };
        for key in &missing {
            self.p.push(
                section.clone(),
                Some(format!("cluster.{key}")),
                ProblemKind::InvalidValue,
                format!("missing: [cluster] needs `{key}`"),
            );
        }
        if !ok {
            return None;
        }
        Some(ClusterConfig {
            name: name?,
            redis,
            listen: listen?,
            advertise: advertise?,
            ca: ca?,
            cert: cert?,
            key: key?,
            location_ttl: location_ttl?,
            max_hops: max_hops?,
        })
    }

    fn sip(&mut self, t: &DeTable<'_>, cfg: &mut Config) {
        use super::sip::{check_proxy_uri, parse_listen, parse_trusted_cert, parse_trusted_peer};
        if let Some(v) = t.get("listen") {
            if let Some(items) = self.string_list(v, "sip.listen") {
                let mut listen = Vec::new();
                for (i, item, s) in items {
                    let key = format!("sip.listen[{i}]");
                    match parse_listen(s) {
                        Ok(l) if listen.contains(&l) => self.p.push(
                            item.span(),
                            Some(key),
                            ProblemKind::Conflict,
                            format!("{l} is listed twice"),
                        ),
                        Ok(l) => listen.push(l),
                        Err(msg) => self.invalid(item, &key, msg),
                    }
                }
                cfg.sip.listen = listen;
            }
        }
        if let Some(v) = t.get("domain") {
            if let Some(s) = self.string(v, "sip.domain") {
                match check_domain(s) {
                    Ok(domain) => cfg.sip.domain = Some(domain),
                    Err(msg) => self.invalid(v, "sip.domain", msg),
                }
            }
        }
        for (key, slot) in [
            ("outbound_username", &mut cfg.sip.outbound_username),
            ("outbound_password", &mut cfg.sip.outbound_password),
        ] {
            if let Some(v) = t.get(key) {
                if let Some(s) = self.string(v, &format!("sip.{key}")) {
                    *slot = Some(s.to_owned());
                }
            }
        }
        if cfg.sip.outbound_username.is_some() != cfg.sip.outbound_password.is_some() {
            let (key, v) = match t.get("outbound_username") {
                Some(v) => ("sip.outbound_username", v),
                None => (
                    "sip.outbound_password",
                    t.get("outbound_password").expect("one is set"),
                ),
            };
            self.invalid(
                v,
                key,
                "outbound_username and outbound_password go together".to_string(),
            );
        }
        if let Some(v) = t.get("outbound_proxy") {
            if let Some(s) = self.string(v, "sip.outbound_proxy") {
                match check_proxy_uri(s) {
                    Ok(uri) => cfg.sip.outbound_proxy = Some(uri),
                    Err(msg) => self.invalid(v, "sip.outbound_proxy", msg),
                }
            }
        }
        if let Some(v) = t.get("digest_algorithms") {
            if let Some(items) = self.string_list(v, "sip.digest_algorithms") {
                let mut algorithms = Vec::new();
                for (i, item, s) in items {
                    match super::sip::DIGEST_ALGORITHMS.iter().find(|a| a.eq_ignore_ascii_case(s)) {
                        Some(a) if !algorithms.contains(&a.to_string()) => algorithms.push(a.to_string()),
                        Some(_) => {}
                        None => self.invalid(
                            item,
                            &format!("sip.digest_algorithms[{i}]"),
                            format!("unknown digest algorithm \"{s}\" (expected \"MD5\" or \"SHA-256\")"),
                        ),
                    }
                }
                if algorithms.is_empty() {
                    self.invalid(
                        v,
                        "sip.digest_algorithms",
                        "at least one algorithm is needed".into(),
                    );
                } else {
                    cfg.sip.digest_algorithms = algorithms;
                }
            }
        }
        if let Some(v) = t.get("trusted_peers") {
            if let Some(items) = self.string_list(v, "sip.trusted_peers") {
                for (i, item, s) in items {
                    match parse_trusted_peer(s) {
                        Ok(peer) => cfg.sip.trusted_peers.push(peer),
                        Err(msg) => self.invalid(item, &format!("sip.trusted_peers[{i}]"), msg),
                    }
                }
            }
        }
        if let Some(v) = t.get("trusted_certs") {
            if cfg.tls.client_ca.is_none() {
                // Without a CA no certificate is asked for, so none could ever match.
                self.invalid(
                    v,
                    "sip.trusted_certs",
                    "needs tls.client_ca, the CA bundle trunk certificates are verified with"
                        .into(),
                );
            }
            if let Some(items) = self.string_list(v, "sip.trusted_certs") {
                for (i, item, s) in items {
                    match parse_trusted_cert(s) {
                        Ok(name) => cfg.sip.trusted_certs.push(name),
                        Err(msg) => self.invalid(item, &format!("sip.trusted_certs[{i}]"), msg),
                    }
                }
            }
        }
    }

    /// An array of strings with each item's index and value; wrong items are reported.
    fn string_list<'a, 'i>(
        &mut self,
        v: &'a Value<'i>,
        key: &str,
    ) -> Option<Vec<(usize, &'a Value<'i>, &'a str)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, key, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = self.string(item, &format!("{key}[{i}]")) {
                out.push((i, item, s));
            }
        }
        Some(out)
    }

    // ----- structure -------------------------------------------------------

    fn check_top_level(&mut self, root: &DeTable<'_>) {
        // Nested tables (`xmpp.sasl_external`) are checked inside their parent.
        let sections: Vec<&str> = SCHEMA
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| !s.contains('.'))
            .collect();
        for (k, v) in root.iter() {
            let name = k.get_ref().as_ref();
            if sections.contains(&name) {
                continue;
            }
            let key = Some(key_segment(name));
            if matches!(v.get_ref(), DeValue::Table(_)) {
                let msg = match suggest(name, &sections) {
                    Some(s) => format!("unknown section; did you mean `[{s}]`?"),
                    None => format!(
                        "unknown section (expected one of: {})",
                        list(&sections, "[", "]")
                    ),
                };
                self.p.push(k.span(), key, ProblemKind::UnknownKey, msg);
            } else {
                // A setting written before any section header is a common slip:
                // point at the section it belongs in.
                let home = SCHEMA.iter().find_map(|(section, keys)| {
                    if keys.contains(&name) {
                        Some((*section, name))
                    } else {
                        suggest(name, keys).map(|k| (*section, k))
                    }
                });
                let msg = match home {
                    Some((section, k)) if k == name => {
                        format!("unknown top-level key; `{k}` belongs in the [{section}] section")
                    }
                    Some((section, k)) => format!(
                        "unknown top-level key; did you mean `{k}` in the [{section}] section?"
                    ),
                    None => format!(
                        "unknown top-level key (settings go in one of the sections: {})",
                        list(&sections, "[", "]")
                    ),
                };
                self.p.push(k.span(), key, ProblemKind::UnknownKey, msg);
            }
        }
    }

    /// The section's table if present and a table; reports unknown keys in it.
    fn section<'a, 'i>(&mut self, root: &'a DeTable<'i>, name: &str) -> Option<&'a DeTable<'i>> {
        self.section_in(root, name, name)
    }

    /// The table at `key` of `parent`, checked against the schema of `name` (its dotted path).
    fn section_in<'a, 'i>(
        &mut self,
        parent: &'a DeTable<'i>,
        key: &str,
        name: &str,
    ) -> Option<&'a DeTable<'i>> {
        let v = parent.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => {
                let known = SCHEMA
                    .iter()
                    .find(|(s, _)| *s == name)
                    .map_or(&[][..], |(_, k)| k);
                for (k, _) in t.iter() {
                    let key = k.get_ref().as_ref();
                    if known.contains(&key) {
                        continue;
                    }
                    let msg = match suggest(key, known) {
                        Some(s) => format!("unknown key; did you mean `{s}`?"),
                        None => format!("unknown key (expected one of: {})", list(known, "", "")),
                    };
                    let path = Some(format!("{name}.{}", key_segment(key)));
                    self.p.push(k.span(), path, ProblemKind::UnknownKey, msg);
                }
                Some(t)
            }
            _ => {
                let msg = format!(
                    "expected a table (a [{name}] section), found {}",
                    self.describe(v)
                );
                self.p
                    .push(v.span(), Some(name.into()), ProblemKind::WrongType, msg);
                None
            }
        }
    }

    // ----- typed values ------------------------------------------------------

    fn string<'a>(&mut self, v: &'a Value<'_>, key: &str) -> Option<&'a str> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            _ => {
                self.wrong_type(v, key, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, v: &Value<'_>, key: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(v, key, "a boolean (true or false)");
                None
            }
        }
    }

    /// A non-empty path string.
    fn path(&mut self, v: &Value<'_>, key: &str, example: &str) -> Option<PathBuf> {
        let s = self.string(v, key)?;
        if s.is_empty() {
            self.invalid(
                v,
                key,
                format!("must not be empty (expected a path such as {example})"),
            );
            return None;
        }
        Some(PathBuf::from(s))
    }

    /// An integer within `min..=max`.
    fn ranged(
        &mut self,
        v: &Value<'_>,
        key: &str,
        (min, max): (usize, usize),
        unit: &str,
    ) -> Option<usize> {
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(v, key, "an integer");
            return None;
        };
        let n = i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .and_then(|n| usize::try_from(n).ok());
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let msg = format!(
                    "{} is out of range (expected {min} to {max}{unit})",
                    &self.text[v.span()]
                );
                self.invalid(v, key, msg);
                None
            }
        }
    }

    /// An array of `IP:PORT` strings, each with its span.
    fn addr_list(
        &mut self,
        v: &Value<'_>,
        key: &str,
    ) -> Option<Vec<(usize, SocketAddr, Range<usize>)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, key, "an array of \"address:port\" strings");
            return None;
        };
        // Bad entries are reported and skipped; the good ones are still returned
        // (with their original index) so conflicts among them get reported too.
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_key = format!("{key}[{i}]");
            let Some(s) = self.string(item, &item_key) else {
                continue;
            };
            match parse_addr(s) {
                Ok(a) => out.push((i, a, item.span())),
                Err(msg) => self.invalid(item, &item_key, msg),
            }
        }
        Some(out)
    }

    /// Two listeners on one address cannot both bind; say so now rather than at startup.
    fn check_listener_conflicts(&mut self, all: &[Listener]) {
        let mut reported = vec![false; all.len()];
        for j in 0..all.len() {
            for i in 0..j {
                let (a, b) = (&all[i], &all[j]);
                let Some(why) = clash(a.addr, b.addr) else {
                    continue;
                };
                // Report on the later entry; but a default (no span) can only be
                // pointed at through the file's entry that collides with it.
                let (here, other, n) = if b.span.is_some() {
                    (b, a, j)
                } else {
                    (a, b, i)
                };
                let Some(span) = &here.span else { continue };
                if reported[n] {
                    continue;
                }
                reported[n] = true;
                let at = match &other.span {
                    Some(s) => format!("{} (line {})", other.key, line_col(self.text, s.start).0),
                    None => format!("{} (the default)", other.key),
                };
                let msg = match why {
                    Clash::Same => {
                        format!(
                            "{} is also listed as {at}; each address can be bound only once",
                            here.addr
                        )
                    }
                    Clash::Wildcard(ip) => format!(
                        "{} overlaps with {} at {at}: {ip} already covers every address on port {}",
                        here.addr,
                        other.addr,
                        here.addr.port()
                    ),
                };
                self.p.push(
                    span.clone(),
                    Some(here.key.clone()),
                    ProblemKind::Conflict,
                    msg,
                );
            }
        }
    }

    // ----- reporting ---------------------------------------------------------

    fn wrong_type(&mut self, v: &Value<'_>, key: &str, expected: &str) {
        let msg = format!("expected {expected}, found {}", self.describe(v));
        self.p
            .push(v.span(), Some(key.into()), ProblemKind::WrongType, msg);
    }

    fn invalid(&mut self, v: &Value<'_>, key: &str, msg: String) {
        self.p
            .push(v.span(), Some(key.into()), ProblemKind::InvalidValue, msg);
    }

    /// "integer 5", "string \"yes\"", "array": the type plus the text when short.
    fn describe(&self, v: &Value<'_>) -> String {
        let ty = v.get_ref().type_str();
        let src = self.text.get(v.span()).unwrap_or("");
        if matches!(v.get_ref(), DeValue::Array(_) | DeValue::Table(_))
            || src.chars().count() > 40
            || src.contains('\n')
        {
            match ty {
                "array" | "integer" => format!("an {ty}"),
                _ => format!("a {ty}"),
            }
        } else {
            format!("{ty} {src}")
        }
    }
}

// ----- value checks ----------------------------------------------------------

enum Clash {
    Same,
    /// The unspecified address of one side covers the other.
    Wildcard(IpAddr),
}

/// Whether two listeners cannot both bind. Port 0 asks the OS for a fresh port
/// each time, so it never clashes. Across families we say nothing: whether
/// `[::]` also takes IPv4 depends on the host's `bindv6only` setting.
fn clash(a: SocketAddr, b: SocketAddr) -> Option<Clash> {
    if a.port() == 0 || a.port() != b.port() || a.is_ipv4() != b.is_ipv4() {
        None
    } else if a == b {
        Some(Clash::Same)
    } else if a.ip().is_unspecified() {
        Some(Clash::Wildcard(a.ip()))
    } else if b.ip().is_unspecified() {
        Some(Clash::Wildcard(b.ip()))
    } else {
        None
    }
}

/// An `IP:PORT`; the error explains the likely slip.
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let hint = match s.parse::<IpAddr>() {
        // `::1` alone, or `::1:5222`, which reads as one IPv6 address.
        Ok(IpAddr::V6(_)) => ": IPv6 addresses need brackets and a port, like \"[::1]:5222\"",
        Ok(IpAddr::V4(_)) => "",
        Err(_) => match s.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty() && !host.starts_with('[') && port.parse::<u16>().is_ok() =>
            {
                ": listeners take an IP address, not a host name"
            }
            _ => "",
        },
    };
    Err(format!(
        "\"{s}\" is not an address:port{hint} {ADDR_EXPECTED}"
    ))
}

/// A valid XMPP domainpart (RFC 7622), returned lowercased. IDN labels are
/// accepted as UTF-8.
fn check_domain(raw: &str) -> Result<String, String> {
    const EXAMPLE: &str = "(expected a domain such as \"example.test\")";
    if raw.is_empty() {
        return Err(format!("must not be empty {EXAMPLE}"));
    }
    if raw.len() > 1023 {
        return Err(format!(
            "is {} bytes long; a domain may have at most 1023",
            raw.len()
        ));
    }
    if raw.contains('@') {
        return Err(format!(
            "\"{raw}\" contains '@': give only the domain, not a JID {EXAMPLE}"
        ));
    }
    if raw.contains('/') {
        return Err(format!(
            "\"{raw}\" contains '/': give only the domain, not a JID or URL {EXAMPLE}"
        ));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{raw:?} contains spaces or control characters {EXAMPLE}"
        ));
    }
    // An IPv6 literal is a legal domainpart, and its colons are not a port.
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return match inner.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(raw.to_ascii_lowercase()),
            Err(_) => Err(format!("\"{raw}\" is not a valid IPv6 literal {EXAMPLE}")),
        };
    }
    if raw.contains(':') {
        return Err(format!(
            "\"{raw}\" contains ':': the domain takes no port (ports are set in [xmpp] listen) {EXAMPLE}"
        ));
    }
    if raw.starts_with('.') || raw.ends_with('.') {
        return Err(format!(
            "\"{raw}\" must not start or end with a dot {EXAMPLE}"
        ));
    }
    for label in raw.split('.') {
        if label.is_empty() {
            return Err(format!("\"{raw}\" has an empty label (\"..\") {EXAMPLE}"));
        }
        // Counted in characters so that UTF-8 IDN labels are not penalised for
        // multi-byte encoding; ASCII labels get the exact DNS limit.
        let n = label.chars().count();
        if n > 63 {
            return Err(format!(
                "label \"{label}\" is {n} characters long; a domain label may have at most 63"
            ));
        }
    }
    Ok(raw.to_lowercase())
}

const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

/// Must parse as an `EnvFilter`. Additionally a bare word close to a level name
/// is refused: EnvFilter would silently read `inof` as a *target* named "inof"
/// and log nothing useful.
fn check_log_level(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err(format!("must not be empty {LOG_EXPECTED}"));
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(s) {
        return Err(format!(
            "\"{s}\" is not a valid log filter: {e} {LOG_EXPECTED}"
        ));
    }
    for directive in s.split(',').map(str::trim) {
        let bare = !directive.is_empty() && directive.chars().all(|c| c.is_ascii_alphabetic());
        let lower = directive.to_ascii_lowercase();
        if !bare || LEVELS.contains(&lower.as_str()) {
            continue;
        }
        // "warning" is too far from "warn" for the distance rule but a common slip;
        // very short words (e.g. a module named `io`) are left alone.
        let near = if lower == "warning" {
            Some("warn")
        } else if lower.chars().count() >= 3 {
            suggest(&lower, LEVELS)
        } else {
            None
        };
        if let Some(level) = near {
            return Err(format!(
                "\"{directive}\" is not a log level; did you mean `{level}`? (a bare word is read as a module name) {LOG_EXPECTED}"
            ));
        }
    }
    Ok(())
}

// ----- helpers -----------------------------------------------------------------

/// The closest candidate within edit distance 2, compared case-insensitively.
fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&word, c), *c))
        .filter(|(d, c)| *d <= 2 && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A key as it would be written in TOML: bare when possible, quoted otherwise.
fn key_segment(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn list(items: &[&str], open: &str, close: &str) -> String {
    items
        .iter()
        .map(|i| format!("{open}{i}{close}"))
        .collect::<Vec<_>>()
        .join(", ")
}

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::*;

const FULL: &str = include_str!("../../fixtures/config/full.toml");

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, "tandem.toml")
}

fn problems(text: &str) -> Vec<Problem> {
    match load(text) {
        Ok(c) => panic!("expected problems, got {c:?}"),
        Err(e) => e.problems().to_vec(),
    }
}

/// Exactly one problem; checks its line, key and kind.
fn one(text: &str, line: usize, key: Option<&str>, kind: ProblemKind) -> Problem {
    let ps = problems(text);
    assert_eq!(ps.len(), 1, "expected one problem, got {ps:#?}");
    let p = ps.into_iter().next().unwrap();
    assert_eq!((p.line, p.key.as_deref(), p.kind), (line, key, kind), "{p}");
    assert_eq!(p.file, "tandem.toml");
    p
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

// ----- defaults and valid files ------------------------------------------------

#[test]
fn defaults() {
    let c = Config::default();
    assert_eq!(c.server.domain, "localhost");
    assert_eq!(c.server.data_dir, PathBuf::from("./tandem-data"));
    assert_eq!(c.xmpp.listen, addrs(&["127.0.0.1:5222"]));
    assert_eq!(c.xmpp.tls_listen, addrs(&["127.0.0.1:5223"]));
    assert_eq!(c.xmpp.max_stanza_size, 262_144);
    assert!(c.xmpp.require_encryption);
    assert_eq!(c.xmpp.max_depth, 64);
    assert_eq!(c.cert_path(), PathBuf::from("./tandem-data/cert.pem"));
    assert_eq!(c.key_path(), PathBuf::from("./tandem-data/key.pem"));
    assert_eq!(
        c.storage(),
        &StorageUrl::Sqlite("./tandem-data/tandem.db".into())
    );
    assert!(!c.storage.explicit);
    assert_eq!(c.storage().to_string(), "sqlite://./tandem-data/tandem.db");
    assert_eq!(c.log.level, "info");
}

#[test]
fn empty_file_is_the_default() {
    assert_eq!(load("").unwrap(), Config::default());
    assert_eq!(load("# nothing here\n\n").unwrap(), Config::default());
    let empty_sections = "[server]\n[xmpp]\n[tls]\n[storage]\n[log]\n";
    assert_eq!(load(empty_sections).unwrap(), Config::default());
}

#[test]
fn full_example() {
    let c = load(FULL).unwrap();
    assert_eq!(c.server.domain, "chat.example.test");
    assert_eq!(c.server.data_dir, PathBuf::from("/var/lib/tandem"));
    assert_eq!(c.xmpp.listen, addrs(&["127.0.0.1:5222", "[::1]:5222"]));
    assert_eq!(c.xmpp.tls_listen, addrs(&["0.0.0.0:5223"]));
    assert_eq!(c.xmpp.max_stanza_size, 524_288);
    assert!(!c.xmpp.require_encryption);
    assert_eq!(c.xmpp.max_depth, 128);
    assert_eq!(
        c.cert_path(),
        PathBuf::from("/var/lib/tandem/tls/fullchain.pem")
    );
    assert_eq!(c.key_path(), PathBuf::from("/etc/tandem/privkey.pem"));
    assert_eq!(
        c.storage(),
        &StorageUrl::Sqlite("/srv/tandem/db/tandem.db".into())
    );
    assert!(c.storage.explicit);
    assert_eq!(c.log.level, "info,tandem=debug");
}

#[test]
fn from_file_reads_and_names_the_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config/full.toml");
    assert_eq!(Config::from_file(&path).unwrap(), load(FULL).unwrap());

    let missing = Path::new("/nonexistent/tandem.toml");
    let err = Config::from_file(missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.problems().is_empty());
    assert!(
        err.to_string()
            .starts_with("/nonexistent/tandem.toml: cannot read"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("tandem-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, b"[server]\ndomain = \"ab\xffcd\"\n").unwrap();
    let err = Config::from_file(&bad).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    let p = &err.problems()[0];
    assert_eq!((p.line, p.column, p.kind), (2, 13, ProblemKind::Syntax));
    assert_eq!(p.file, bad.display().to_string());
}

#[test]
fn dotted_and_inline_forms_work() {
    let c = load("server.domain = \"a.test\"\nxmpp = { max_depth = 9 }\n").unwrap();
    assert_eq!(c.server.domain, "a.test");
    assert_eq!(c.xmpp.max_depth, 9);
}

#[test]
fn empty_listener_lists_turn_listeners_off() {
    let c = load("[xmpp]\nlisten = []\ntls_listen = []\n").unwrap();
    assert!(c.xmpp.listen.is_empty() && c.xmpp.tls_listen.is_empty());
    assert!(c.explain().contains("c2s (STARTTLS):    off"));
}

#[test]
fn domain_is_lowercased_and_idn_accepted() {
    let c = load("[server]\ndomain = \"BÜCHER.Example\"\n").unwrap();
    assert_eq!(c.server.domain, "bücher.example");
    let c = load("[server]\ndomain = \"[::1]\"\n").unwrap();
    assert_eq!(c.server.domain, "[::1]");
    let long_label = "a".repeat(63);
    load(&format!("[server]\ndomain = \"{long_label}.test\"\n")).unwrap();
}

#[test]
fn boundary_values_are_accepted() {
    let c = load("[xmpp]\nmax_stanza_size = 10000\nmax_depth = 8\n").unwrap();
    assert_eq!((c.xmpp.max_stanza_size, c.xmpp.max_depth), (10_000, 8));
    let c = load("[xmpp]\nmax_stanza_size = 16777216\nmax_depth = 1024\n").unwrap();
    assert_eq!(
        (c.xmpp.max_stanza_size, c.xmpp.max_depth),
        (16 * 1024 * 1024, 1024)
    );
    let c = load("[xmpp]\nmax_stanza_size = 0x10000\n").unwrap();
    assert_eq!(c.xmpp.max_stanza_size, 65536);
}

#[test]
fn storage_url_forms() {
    let url = |u: &str| load(&format!("[storage]\nurl = \"{u}\"\n")).map(|c| c.storage().clone());
    assert_eq!(
        url("sqlite:///abs/t.db").unwrap(),
        StorageUrl::Sqlite("/abs/t.db".into())
    );
    assert_eq!(
        url("sqlite://rel/t.db").unwrap(),
        StorageUrl::Sqlite("rel/t.db".into())
    );
    assert_eq!(
        url("sqlite:t.db").unwrap(),
        StorageUrl::Sqlite("t.db".into())
    );
    let mem = url("sqlite::memory:").unwrap();
    assert!(mem.is_memory());
    assert_eq!(mem.to_string(), "sqlite::memory:");
    assert_eq!(
        url("sqlite:///abs/t.db").unwrap().to_string(),
        "sqlite:///abs/t.db"
    );
}

#[test]
fn log_filters() {
    for ok in [
        "debug",
        "WARN",
        "tandem=trace",
        "info,tandem_xmpp=debug,sqlx=warn",
        "io",
        "off",
    ] {
        load(&format!("[log]\nlevel = \"{ok}\"\n")).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

// ----- --data-dir --------------------------------------------------------------

#[test]
fn data_dir_override_moves_derived_paths() {
    let c = Config::default().with_data_dir_override(Some("/srv/tandem".into()));
    assert_eq!(c.server.data_dir, PathBuf::from("/srv/tandem"));
    assert_eq!(
        c.storage(),
        &StorageUrl::Sqlite("/srv/tandem/tandem.db".into())
    );
    assert_eq!(c.cert_path(), PathBuf::from("/srv/tandem/cert.pem"));
    assert_eq!(c.key_path(), PathBuf::from("/srv/tandem/key.pem"));

    // The flag wins over the file's data_dir; explicit storage and absolute
    // paths stay where the file put them.
    let c = load(FULL)
        .unwrap()
        .with_data_dir_override(Some("/tmp/t".into()));
    assert_eq!(c.server.data_dir, PathBuf::from("/tmp/t"));
    assert_eq!(c.cert_path(), PathBuf::from("/tmp/t/tls/fullchain.pem"));
    assert_eq!(c.key_path(), PathBuf::from("/etc/tandem/privkey.pem"));
    assert_eq!(
        c.storage(),
        &StorageUrl::Sqlite("/srv/tandem/db/tandem.db".into())
    );

    // No flag: nothing changes.
    assert_eq!(
        load(FULL).unwrap().with_data_dir_override(None),
        load(FULL).unwrap()
    );
}

#[test]
fn data_dir_in_file_moves_derived_paths() {
    let c = load("[server]\ndata_dir = \"/d\"\n").unwrap();
    assert_eq!(c.storage(), &StorageUrl::Sqlite("/d/tandem.db".into()));
    assert_eq!(c.cert_path(), PathBuf::from("/d/cert.pem"));
    // ...and the flag still moves them on from there.
    let c = c.with_data_dir_override(Some("/e".into()));
    assert_eq!(c.storage(), &StorageUrl::Sqlite("/e/tandem.db".into()));
}

// ----- errors ------------------------------------------------------------------

#[test]
fn display_format() {
    let text = "[server]\ndomain = \"example.test\"\n\n[xmpp]\nlisten = [\n    \"127.0.0.1:5222\",\n         \"127.0.0.1\",\n]\n";
    let err = load(text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tandem.toml:7:10: xmpp.listen[1]: \"127.0.0.1\" is not an address:port \
         (expected e.g. \"127.0.0.1:5222\" or \"[::1]:5222\")"
    );
}

#[test]
fn syntax_errors_have_line_and_column() {
    let p = one(
        "[server]\ndomain = \"x\"\nfoo = \n",
        3,
        None,
        ProblemKind::Syntax,
    );
    assert_eq!(p.column, 7);
    assert!(p.to_string().starts_with("tandem.toml:3:7: "), "{p}");

    let p = one("[server\ndomain = \"x\"\n", 1, None, ProblemKind::Syntax);
    assert_eq!(p.column, 8);

    // Duplicate keys are a syntax error in TOML.
    one(
        "[server]\ndomain = \"a\"\ndomain = \"b\"\n",
        3,
        None,
        ProblemKind::Syntax,
    );
}

#[test]
fn unknown_keys_and_sections() {
    let p = one(
        "[server]\ndomian = \"x\"\n",
        2,
        Some("server.domian"),
        ProblemKind::UnknownKey,
    );
    assert_eq!(p.column, 1);
    assert!(p.message.contains("did you mean `domain`?"), "{p}");

    let p = one(
        "[xmpp]\nmax_stanza = 20000\n",
        2,
        Some("xmpp.max_stanza"),
        ProblemKind::UnknownKey,
    );
    assert!(p.message.contains("unknown key"), "{p}");
    let p = one(
        "\n[tls]\ncertificate = \"x\"\n",
        3,
        Some("tls.certificate"),
        ProblemKind::UnknownKey,
    );
    assert!(p.message.contains("expected one of: cert, key"), "{p}");

    let p = one(
        "[sever]\ndomain = \"x\"\n",
        1,
        Some("sever"),
        ProblemKind::UnknownKey,
    );
    assert_eq!(p.column, 2);
    assert!(
        p.message
            .contains("unknown section; did you mean `[server]`?"),
        "{p}"
    );
    let p = one(
        "[http]\nport = 80\n",
        1,
        Some("http"),
        ProblemKind::UnknownKey,
    );
    assert!(
        p.message
            .contains("expected one of: [server], [xmpp], [tls], [storage], [log]"),
        "{p}"
    );

    // A setting above every section header: say where it belongs.
    let p = one(
        "domain = \"x\"\n",
        1,
        Some("domain"),
        ProblemKind::UnknownKey,
    );
    assert!(
        p.message
            .contains("`domain` belongs in the [server] section"),
        "{p}"
    );
    let p = one(
        "\nlevle = \"x\"\n",
        2,
        Some("levle"),
        ProblemKind::UnknownKey,
    );
    assert!(
        p.message
            .contains("did you mean `level` in the [log] section?"),
        "{p}"
    );

    let p = one(
        "[server]\n\"data dir\" = \"x\"\n",
        2,
        Some("server.\"data dir\""),
        ProblemKind::UnknownKey,
    );
    assert!(p.message.contains("did you mean `data_dir`?"), "{p}");
}

#[test]
fn wrong_types_name_the_expected_type() {
    let p = one(
        "[server]\ndomain = 5\n",
        2,
        Some("server.domain"),
        ProblemKind::WrongType,
    );
    assert_eq!(p.message, "expected a string, found integer 5");
    assert_eq!(p.column, 10);

    let p = one(
        "[xmpp]\nmax_depth = \"64\"\n",
        2,
        Some("xmpp.max_depth"),
        ProblemKind::WrongType,
    );
    assert_eq!(p.message, "expected an integer, found string \"64\"");
    let p = one(
        "[xmpp]\nmax_stanza_size = 1.5e5\n",
        2,
        Some("xmpp.max_stanza_size"),
        ProblemKind::WrongType,
    );
    assert_eq!(p.message, "expected an integer, found float 1.5e5");

    let p = one(
        "[xmpp]\nrequire_encryption = \"yes\"\n",
        2,
        Some("xmpp.require_encryption"),
        ProblemKind::WrongType,
    );
    assert_eq!(
        p.message,
        "expected a boolean (true or false), found string \"yes\""
    );

    let p = one(
        "[xmpp]\nlisten = \"127.0.0.1:5222\"\n",
        2,
        Some("xmpp.listen"),
        ProblemKind::WrongType,
    );
    assert!(p.message.starts_with("expected an array of"), "{p}");
    let p = one(
        "[xmpp]\nlisten = [\"127.0.0.1:5222\", 5222]\n",
        2,
        Some("xmpp.listen[1]"),
        ProblemKind::WrongType,
    );
    assert_eq!(p.column, 29);

    let p = one("\nxmpp = 1\n", 2, Some("xmpp"), ProblemKind::WrongType);
    assert!(
        p.message.starts_with("expected a table (a [xmpp] section)"),
        "{p}"
    );
    one(
        "[[log]]\nlevel = \"info\"\n",
        1,
        Some("log"),
        ProblemKind::WrongType,
    );
    let p = one(
        "[storage]\nurl = [\"sqlite::memory:\"]\n",
        2,
        Some("storage.url"),
        ProblemKind::WrongType,
    );
    assert_eq!(p.message, "expected a string, found an array");
}

#[test]
fn invalid_domains() {
    let check = |domain: &str, needle: &str| {
        let text = format!("# c\n[server]\ndomain = \"{domain}\"\n");
        let p = one(&text, 3, Some("server.domain"), ProblemKind::InvalidValue);
        assert!(p.message.contains(needle), "{domain}: {p}");
        assert_eq!(p.column, 10);
    };
    check("", "must not be empty");
    check("user@example.test", "contains '@'");
    check("example.test/res", "contains '/'");
    check("exa mple.test", "spaces");
    check(".example.test", "must not start or end with a dot");
    check("example.test.", "must not start or end with a dot");
    check("example..test", "empty label");
    check(&format!("{}.test", "a".repeat(64)), "at most 63");
    check("a.".repeat(600).trim_end_matches('.'), "at most 1023");
    check("example.test:5222", "takes no port");
    check("[::zz]", "not a valid IPv6 literal");
}

#[test]
fn out_of_range_numbers() {
    let p = one(
        "[xmpp]\nmax_stanza_size = 9999\n",
        2,
        Some("xmpp.max_stanza_size"),
        ProblemKind::InvalidValue,
    );
    assert_eq!(
        p.message,
        "9999 is out of range (expected 10000 to 16777216 bytes)"
    );
    one(
        "[xmpp]\nmax_stanza_size = 16777217\n",
        2,
        Some("xmpp.max_stanza_size"),
        ProblemKind::InvalidValue,
    );
    one(
        "[xmpp]\nmax_stanza_size = -1\n",
        2,
        Some("xmpp.max_stanza_size"),
        ProblemKind::InvalidValue,
    );
    let p = one(
        "[xmpp]\nmax_depth = 7\n",
        2,
        Some("xmpp.max_depth"),
        ProblemKind::InvalidValue,
    );
    assert_eq!(p.message, "7 is out of range (expected 8 to 1024)");
    one(
        "[xmpp]\nmax_depth = 1025\n",
        2,
        Some("xmpp.max_depth"),
        ProblemKind::InvalidValue,
    );
    one(
        "[xmpp]\nmax_depth = 99999999999999999999\n",
        2,
        Some("xmpp.max_depth"),
        ProblemKind::InvalidValue,
    );
}

#[test]
fn invalid_listen_addresses() {
    let p = one(
        "[xmpp]\ntls_listen = [\"::1\"]\n",
        2,
        Some("xmpp.tls_listen[0]"),
        ProblemKind::InvalidValue,
    );
    assert!(p.message.contains("IPv6 addresses need brackets"), "{p}");
    let p = one(
        "[xmpp]\nlisten = [\"localhost:5222\"]\n",
        2,
        Some("xmpp.listen[0]"),
        ProblemKind::InvalidValue,
    );
    assert!(p.message.contains("not a host name"), "{p}");
    let p = one(
        "[xmpp]\nlisten = [\"127.0.0.1:99999\"]\n",
        2,
        Some("xmpp.listen[0]"),
        ProblemKind::InvalidValue,
    );
    assert!(
        p.message
            .starts_with("\"127.0.0.1:99999\" is not an address:port (expected"),
        "{p}"
    );
}

#[test]
fn listener_conflicts() {
    let p = one(
        "[xmpp]\nlisten = [\"127.0.0.1:5222\"]\ntls_listen = [\"127.0.0.1:5222\"]\n",
        3,
        Some("xmpp.tls_listen[0]"),
        ProblemKind::Conflict,
    );
    assert!(
        p.message.contains("also listed as xmpp.listen[0] (line 2)"),
        "{p}"
    );

    one(
        "[xmpp]\nlisten = [\"[::1]:5222\", \"[::1]:5222\"]\n",
        2,
        Some("xmpp.listen[1]"),
        ProblemKind::Conflict,
    );

    // A file-given listener clashing with the other list's default.
    let p = one(
        "[xmpp]\nlisten = [\"127.0.0.1:5223\"]\n",
        2,
        Some("xmpp.listen[0]"),
        ProblemKind::Conflict,
    );
    assert!(
        p.message.contains("xmpp.tls_listen[0] (the default)")
            || p.message.contains("(the default)"),
        "{p}"
    );

    let p = one(
        "[xmpp]\nlisten = [\"0.0.0.0:5222\", \"10.1.1.1:5222\"]\n",
        2,
        Some("xmpp.listen[1]"),
        ProblemKind::Conflict,
    );
    assert!(
        p.message
            .contains("0.0.0.0 already covers every address on port 5222"),
        "{p}"
    );

    // Different families, different ports, and port 0 do not clash.
    load("[xmpp]\nlisten = [\"0.0.0.0:5222\", \"[::1]:5222\"]\ntls_listen = [\"0.0.0.0:5223\"]\n")
        .unwrap();
    load("[xmpp]\nlisten = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\n").unwrap();
}

#[test]
fn invalid_storage_urls() {
    let check = |url: &str, expected: &str| {
        let p = one(
            &format!("[storage]\nurl = \"{url}\"\n"),
            2,
            Some("storage.url"),
            ProblemKind::InvalidValue,
        );
        assert!(p.message.contains(expected), "{url}: {p}");
    };
    check("postgres:db/tandem", "names no PostgreSQL host");
    check("postgres://user@/tandem", "names no PostgreSQL host");
    check("mysql://db/tandem", "unsupported storage scheme `mysql:`");
    check("/var/lib/tandem.db", "is not a storage URL");
    check("sqlite://", "names no database file");
    check(
        "sqlite://t.db?mode=ro",
        "query parameters are not supported",
    );
}

#[test]
fn invalid_log_levels() {
    let check = |level: &str, expected: &str| {
        let p = one(
            &format!("[log]\nlevel = \"{level}\"\n"),
            2,
            Some("log.level"),
            ProblemKind::InvalidValue,
        );
        assert!(p.message.contains(expected), "{level}: {p}");
    };
    check("", "must not be empty");
    check("tandem=loud", "is not a valid log filter");
    check("inof", "did you mean `info`?");
    check("warning", "did you mean `warn`?");
    check("info,degub", "did you mean `debug`?");
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let text = "\
[server]
domain = \"a@b\"
data_dri = \"/x\"

[xmpp]
listen = [\"127.0.0.1\", \"127.0.0.1:5222\", \"127.0.0.1:5222\"]
max_depth = 2
require_encryption = 1

[storage]
url = \"mysql://db\"

[log]
level = \"inof\"

[extra]
";
    let err = load(text).unwrap_err();
    let got: Vec<(usize, &str, ProblemKind)> = err
        .problems()
        .iter()
        .map(|p| (p.line, p.key.as_deref().unwrap_or(""), p.kind))
        .collect();
    use ProblemKind::*;
    assert_eq!(
        got,
        vec![
            (2, "server.domain", InvalidValue),
            (3, "server.data_dri", UnknownKey),
            (6, "xmpp.listen[0]", InvalidValue),
            (6, "xmpp.listen[2]", Conflict),
            (7, "xmpp.max_depth", InvalidValue),
            (8, "xmpp.require_encryption", WrongType),
            (11, "storage.url", InvalidValue),
            (14, "log.level", InvalidValue),
            (16, "extra", UnknownKey),
        ]
    );
    // One line per problem in the Display output.
    assert_eq!(err.to_string().lines().count(), 9);
}

#[test]
fn columns_count_characters_and_crlf_is_handled() {
    let p = one(
        "[server]\r\n# é ü\r\ndomain = \"ü@x\"\r\n",
        3,
        Some("server.domain"),
        ProblemKind::InvalidValue,
    );
    assert_eq!(p.column, 10);
    let p = one(
        "[server]\ndata_dir = \"é\"; foo = 1\n",
        2,
        None,
        ProblemKind::Syntax,
    );
    assert!(p.column > 1);
}

#[test]
fn explain_summarises() {
    let text = load(FULL).unwrap().explain();
    for needle in [
        "chat.example.test",
        "127.0.0.1:5222, [::1]:5222",
        "0.0.0.0:5223",
        "sqlite:///srv/tandem/db/tandem.db",
        "/var/lib/tandem/tls/fullchain.pem",
        "/etc/tandem/privkey.pem",
        "info,tandem=debug",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    assert!(Config::default()
        .explain()
        .contains("sqlite://./tandem-data/tandem.db"));
}

#[test]
fn postgres_urls_are_accepted_and_never_shown_with_their_password() {
    let config =
        load("[storage]\nurl = \"postgres://tandem:s3cret@db.example:5432/tandem\"\n").unwrap();
    let url = config.storage();
    assert_eq!(
        url.connection_url(),
        "postgres://tandem:s3cret@db.example:5432/tandem"
    );
    assert_eq!(
        url.to_string(),
        "postgres://tandem:***@db.example:5432/tandem"
    );
    assert!(!config.explain().contains("s3cret"));
    let config = load("[storage]\nurl = \"postgresql://localhost/tandem\"\n").unwrap();
    assert_eq!(
        config.storage().to_string(),
        "postgresql://localhost/tandem"
    );
}

#[test]
fn sip_section_with_defaults_and_errors() {
    let config = load("").unwrap();
    let listen: Vec<String> = config.sip.listen.iter().map(ToString::to_string).collect();
    assert_eq!(listen, ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]);
    assert_eq!(config.sip_domain(), "localhost");

    let config = load(
        "[server]\ndomain = \"example.test\"\n[sip]\nlisten = [\"udp:127.0.0.1:5060\", \"tcp:127.0.0.1:5060\", \"tls:127.0.0.1:5061\"]\n\
         domain = \"sip.example.test\"\noutbound_proxy = \"sip:127.0.0.1:5070\"\ntrusted_peers = [\"127.0.0.1:5070\", \"10.1.1.1\"]\n",
    )
    .unwrap();
    assert_eq!(config.sip.listen.len(), 3);
    assert_eq!(config.sip_domain(), "sip.example.test");
    assert_eq!(
        config.sip.outbound_proxy.as_deref(),
        Some("sip:127.0.0.1:5070")
    );
    assert_eq!(config.sip.trusted_peers.len(), 2);
    assert!(config.explain().contains("tls:127.0.0.1:5061"));

    one(
        "[sip]\nlisten = [\"udp:127.0.0.1\"]\n",
        2,
        Some("sip.listen[0]"),
        ProblemKind::InvalidValue,
    );
    one(
        "[sip]\noutbound_proxy = \"127.0.0.1:5070\"\n",
        2,
        Some("sip.outbound_proxy"),
        ProblemKind::InvalidValue,
    );
    one(
        "[sip]\ntrusted_peers = [\"nope\"]\n",
        2,
        Some("sip.trusted_peers[0]"),
        ProblemKind::InvalidValue,
    );
    one(
        "[sip]\nlisten = [\"udp:127.0.0.1:5060\", \"udp:127.0.0.1:5060\"]\n",
        2,
        Some("sip.listen[1]"),
        ProblemKind::Conflict,
    );
    one(
        "[sip]\nlisen = []\n",
        2,
        Some("sip.lisen"),
        ProblemKind::UnknownKey,
    );
}

#[test]
fn client_certificates_and_sasl_external() {
    let config = load(
        "[tls]\nclient_ca = \"ca.pem\"\ncrl = [\"revoked.pem\"]\n[xmpp.sasl_external]\nmodes = [\"standard\", \"common_name\"]\nauto_create = true\n",
    )
    .unwrap();
    assert_eq!(
        config.tls.client_ca.as_deref(),
        Some(std::path::Path::new("ca.pem"))
    );
    assert_eq!(config.tls.crl.len(), 1);
    assert_eq!(
        config.xmpp.sasl_external.modes,
        vec!["standard".to_string(), "common_name".to_string()]
    );
    assert!(config.xmpp.sasl_external.auto_create);
    one(
        "[xmpp.sasl_external]\nmodes = [\"cn\"]\n",
        2,
        Some("xmpp.sasl_external.modes[0]"),
        ProblemKind::InvalidValue,
    );
    one(
        "[xmpp.sasl_external]\nauto = true\n",
        2,
        Some("xmpp.sasl_external.auto"),
        ProblemKind::UnknownKey,
    );
}

#[test]
fn digest_algorithms_and_trusted_certs_are_accepted_in_sip() {
    // digest_algorithms was parsed but missing from the schema, so every file naming it
    // failed as an unknown key.
    let config = load(
        "[tls]\nclient_ca = \"ca.pem\"\n[sip]\ndigest_algorithms = [\"SHA-256\", \"MD5\"]\ntrusted_certs = [\"Trunk.Example.NET.\"]\n",
    )
    .unwrap();
    assert_eq!(config.sip.digest_algorithms, ["SHA-256", "MD5"]);
    assert_eq!(config.sip.trusted_certs, ["trunk.example.net"]);
    one(
        "[tls]\nclient_ca = \"ca.pem\"\n[sip]\ntrusted_certs = [\"*.example.net\"]\n",
        4,
        Some("sip.trusted_certs[0]"),
        ProblemKind::InvalidValue,
    );
    one(
        "[sip]\ntrusted_certs = [\"trunk.example.net\"]\n",
        2,
        Some("sip.trusted_certs"),
        ProblemKind::InvalidValue,
    );
}

#[test]
fn gateway_section_sets_the_sip_domain_and_call_timers() {
    let config = load(
        "[server]\ndomain = \"example.test\"\n[gateway]\nsip_domain = \"SIP.Example.Test\"\nring_timeout = 30\ntrickle_wait_ms = 0\nmax_call_duration = 3600\n",
    )
    .unwrap();
    assert_eq!(
        config.gateway.sip_domain.as_deref(),
        Some("sip.example.test")
    );
    assert_eq!(
        (
            config.gateway.ring_timeout,
            config.gateway.trickle_wait_ms,
            config.gateway.max_call_duration
        ),
        (30, 0, 3600)
    );
    assert_eq!(
        Config::default().gateway.sip_domain,
        None,
        "off unless configured"
    );
    one(
        "[server]\ndomain = \"example.test\"\n[gateway]\nsip_domain = \"example.test\"\n",
        4,
        Some("gateway.sip_domain"),
        ProblemKind::InvalidValue,
    );
    one(
        "[gateway]\nring_timeout = 1\n",
        2,
        Some("gateway.ring_timeout"),
        ProblemKind::InvalidValue,
    );
    one(
        "[gateway]\nring_timout = 10\n",
        2,
        Some("gateway.ring_timout"),
        ProblemKind::UnknownKey,
    );
}

#[test]
fn metrics_listen_is_an_address() {
    let config = load("[metrics]\nlisten = \"127.0.0.1:9090\"\n").unwrap();
    assert_eq!(
        config.metrics.listen,
        Some("127.0.0.1:9090".parse().unwrap())
    );
    assert_eq!(
        Config::default().metrics.listen,
        None,
        "off unless configured"
    );
    one(
        "[metrics]\nlisten = \"localhost\"\n",
        2,
        Some("metrics.listen"),
        ProblemKind::InvalidValue,
    );
}

#[test]
fn outbound_credentials_come_in_pairs() {
    let config =
        load("[sip]\noutbound_username = \"tandem\"\noutbound_password = \"pw\"\n").unwrap();
    assert_eq!(config.sip.outbound_username.as_deref(), Some("tandem"));
    assert_eq!(config.sip.outbound_password.as_deref(), Some("pw"));
    one(
        "[sip]\noutbound_username = \"tandem\"\n",
        2,
        Some("sip.outbound_username"),
        ProblemKind::InvalidValue,
    );
}

// ----- [cluster] ---------------------------------------------------------------

const CLUSTER: &str = r#"[cluster]
name = "eu-1"
redis = "redis://127.0.0.1:6380"
listen = "127.0.0.1:5280"
advertise = "127.0.0.1:5280"
ca = "cluster-ca.pem"
cert = "cluster.pem"
key = "cluster.key"
"#;

#[test]
fn cluster_is_off_by_default_and_takes_the_issue_example() {
    assert_eq!(Config::default().cluster, None);
    let c = load(CLUSTER).unwrap().cluster.unwrap();
    assert_eq!(c.name, "eu-1");
    assert_eq!(c.redis, vec!["redis://127.0.0.1:6380".to_string()]);
    assert_eq!(c.listen, "127.0.0.1:5280".parse().unwrap());
    assert_eq!(c.advertise, "127.0.0.1:5280");
    assert_eq!(
        (c.ca, c.cert, c.key),
        (
            "cluster-ca.pem".into(),
            "cluster.pem".into(),
            "cluster.key".into()
        )
    );
    assert_eq!((c.location_ttl, c.max_hops), (30, 4));
    let explained = load(CLUSTER).unwrap().explain();
    assert!(explained.contains("cluster:           eu-1"), "{explained}");
}

#[test]
fn cluster_redis_may_list_the_seed_nodes_of_a_redis_cluster() {
    let text = CLUSTER.replace(
        "redis = \"redis://127.0.0.1:6380\"",
        "redis = [\"redis://10.0.0.1:7000\", \"redis://:pw@10.0.0.2:7001/0\"]\nlocation_ttl = 10\nmax_hops = 2",
    );
    let c = load(&text).unwrap().cluster.unwrap();
    assert_eq!(c.redis.len(), 2);
    assert_eq!((c.location_ttl, c.max_hops), (10, 2));
    assert!(load(&text)
        .unwrap()
        .explain()
        .contains("redis://:***@10.0.0.2:7001/0 "));
}

#[test]
fn cluster_advertise_defaults_to_listen_unless_listen_is_a_wildcard() {
    let text = CLUSTER.replace("advertise = \"127.0.0.1:5280\"\n", "");
    assert_eq!(
        load(&text).unwrap().cluster.unwrap().advertise,
        "127.0.0.1:5280"
    );
    let wildcard = text.replace("listen = \"127.0.0.1:5280\"", "listen = \"0.0.0.0:5280\"");
    one(
        &wildcard,
        1,
        Some("cluster.advertise"),
        ProblemKind::InvalidValue,
    );
    let named = CLUSTER.replace(
        "advertise = \"127.0.0.1:5280\"",
        "advertise = \"eu-1.example.net:5280\"",
    );
    assert_eq!(
        load(&named).unwrap().cluster.unwrap().advertise,
        "eu-1.example.net:5280"
    );
}

#[test]
fn cluster_problems_name_their_key() {
    let missing = "[cluster]\nname = \"eu-1\"\n";
    let ps = problems(missing);
    let keys: Vec<_> = ps.iter().filter_map(|p| p.key.as_deref()).collect();
    for key in [
        "cluster.redis",
        "cluster.listen",
        "cluster.ca",
        "cluster.cert",
        "cluster.key",
    ] {
        assert!(keys.contains(&key), "{key} not reported: {ps:#?}");
    }
    let p = one(
        &CLUSTER.replace("\"eu-1\"", "\"eu 1\""),
        2,
        Some("cluster.name"),
        ProblemKind::InvalidValue,
    );
    assert!(p.message.contains("cluster name"), "{p}");
    let p = one(
        &CLUSTER.replace("redis://127.0.0.1:6380", "rediss://127.0.0.1:6380"),
        3,
        Some("cluster.redis"),
        ProblemKind::InvalidValue,
    );
    assert!(p.message.contains("TLS to Redis"), "{p}");
    one(
        &CLUSTER.replace("redis://127.0.0.1:6380", "http://x"),
        3,
        Some("cluster.redis"),
        ProblemKind::InvalidValue,
    );
    one(
        &CLUSTER.replace("redis://127.0.0.1:6380", "redis://h:0"),
        3,
        Some("cluster.redis"),
        ProblemKind::InvalidValue,
    );
    one(
        &CLUSTER.replace("127.0.0.1:5280\"\nadvertise", "localhost:5280\"\nadvertise"),
        4,
        Some("cluster.listen"),
        ProblemKind::InvalidValue,
    );
    one(
        &format!("{CLUSTER}max_hops = 0\n"),
        9,
        Some("cluster.max_hops"),
        ProblemKind::InvalidValue,
    );
    one(
        &format!("{CLUSTER}nodes = 3\n"),
        9,
        Some("cluster.nodes"),
        ProblemKind::UnknownKey,
    );
    one(
        &CLUSTER.replace("redis = \"redis://127.0.0.1:6380\"", "redis = 5"),
        3,
        Some("cluster.redis"),
        ProblemKind::WrongType,
    );
}

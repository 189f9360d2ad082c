//! `tandem replay`: SIP traces (pcap, pcapng, or the text format of
//! [`tandem_sip::trace::text`]) replayed through tandem's call engine, and what it did
//! compared with the fixture beside each trace.

mod fixture;
mod identities;
mod live;
mod run;
mod source;
mod tokens;
mod xmpp;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use tandem_sip::trace::{text::write_block, TraceEvent};

use source::TraceSource;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub struct Args {
    pub traces: Vec<PathBuf>,
    pub fixtures: Option<PathBuf>,
    pub update: bool,
    pub format: Format,
    pub live: Option<String>,
    pub export_text: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.traces.is_empty() {
        bail!("name at least one trace");
    }
    if args.export_text {
        return export_text(&args.traces);
    }
    let live = match &args.live {
        Some(target) => {
            if args.update {
                bail!("--update writes what the in-process replay produces; not with --live");
            }
            use std::net::ToSocketAddrs;
            let addr = target
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| anyhow::anyhow!("--live {target}: not a HOST:PORT that resolves"))?;
            Some(addr)
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    for trace in &args.traces {
        results.push(runtime.block_on(one(trace, &args, live)));
    }
    let passed = results.iter().filter(|r| r.ok).count();
    let failed = results.len() - passed;
    match args.format {
        Format::Json => {
            let traces: Vec<_> = results.iter().map(TraceResult::json).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "traces": traces, "passed": passed, "failed": failed,
                }))?
            );
        }
        Format::Text => {
            let colour = std::io::stdout().is_terminal();
            for r in &results {
                r.print(colour);
            }
            println!("{passed} passed, {failed} failed");
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--export-text`: each trace's SIP messages as text blocks on stdout (a reader that
/// stops early, like `head`, ends it quietly).
fn export_text(traces: &[PathBuf]) -> Result<ExitCode> {
    match write_text(traces) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        other => other,
    }
}

fn write_text(traces: &[PathBuf]) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut status = ExitCode::SUCCESS;
    for trace in traces {
        let source = match TraceSource::open(trace) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{}: {e:#}", trace.display());
                status = ExitCode::FAILURE;
                continue;
            }
        };
        writeln!(out, "# {}", trace.display())?;
        for event in source {
            match event? {
                TraceEvent::Message(m) => {
                    let mut block = String::new();
                    write_block(&mut block, &m);
                    out.write_all(block.as_bytes())?;
                }
                TraceEvent::Problem(p) => eprintln!("{}: {p}", trace.display()),
            }
        }
    }
    Ok(status)
}

struct TraceResult {
    trace: PathBuf,
    description: String,
    ok: bool,
    messages: u64,
    skipped: u64,
    problems: Vec<String>,
    /// Why the trace could not be replayed at all.
    error: Option<String>,
    /// Expected vs produced, when they differ.
    diff: Option<(String, String)>,
    updated: bool,
}

impl TraceResult {
    fn json(&self) -> serde_json::Value {
        json!({
            "trace": self.trace.display().to_string(),
            "description": self.description,
            "ok": self.ok,
            "messages": self.messages,
            "other_packets": self.skipped,
            "problems": self.problems,
            "error": self.error,
            "updated": self.updated,
            "diff": self.diff.as_ref().map(|(e, p)| unified(e, p, false)),
        })
    }

    fn print(&self, colour: bool) {
        let name = self.trace.display();
        for p in &self.problems {
            eprintln!("{name}: {p}");
        }
        if let Some(e) = &self.error {
            println!("ERROR {name}: {e}");
            return;
        }
        if let Some((expected, produced)) = &self.diff {
            print!("{}", unified(expected, produced, colour));
        }
        let verdict = match (self.ok, self.updated) {
            (_, true) => "UPDATED",
            (true, false) => "ok",
            (false, false) => "FAIL",
        };
        let other = if self.skipped > 0 {
            format!(", {} other packets", self.skipped)
        } else {
            String::new()
        };
        println!(
            "{verdict} {name} ({} messages, {} problems{other}){}",
            self.messages,
            self.problems.len(),
            if self.description.is_empty() {
                String::new()
            } else {
                format!(": {}", self.description)
            }
        );
    }
}

fn unified(expected: &str, produced: &str, colour: bool) -> String {
    let diff = similar::TextDiff::from_lines(expected, produced);
    let mut out = String::new();
    for group in diff.grouped_ops(3) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let (sign, start) = match change.tag() {
                    similar::ChangeTag::Delete => ("-", "\x1b[31m"),
                    similar::ChangeTag::Insert => ("+", "\x1b[32m"),
                    similar::ChangeTag::Equal => (" ", ""),
                };
                let line = change.value().trim_end_matches('\n');
                if colour && !start.is_empty() {
                    out.push_str(&format!("{start}{sign}{line}\x1b[0m\n"));
                } else {
                    out.push_str(&format!("{sign}{line}\n"));
                }
            }
        }
        out.push_str("...\n");
    }
    out
}

async fn one(trace: &Path, args: &Args, live: Option<std::net::SocketAddr>) -> TraceResult {
    let mut result = TraceResult {
        trace: trace.to_owned(),
        description: String::new(),
        ok: false,
        messages: 0,
        skipped: 0,
        problems: Vec::new(),
        error: None,
        diff: None,
        updated: false,
    };
    let (fixture_path, expected_path) = fixture::paths(trace, args.fixtures.as_deref());
    let fixture = match fixture::Fixture::load(&fixture_path) {
        Ok(f) => f,
        Err(e) => {
            result.error = Some(format!("{e:#}"));
            return result;
        }
    };
    result.description = fixture.description.clone();
    let source = match TraceSource::open(trace) {
        Ok(s) => s,
        Err(e) => {
            result.error = Some(format!("{e:#}"));
            return result;
        }
    };
    let show_progress = args.format == Format::Text
        && std::io::stderr().is_terminal()
        && source.total_bytes > 8 << 20;
    let bar = show_progress.then(|| progress_bar(trace, source.total_bytes));
    let progress = |read: u64, _total: u64| {
        if let Some(bar) = &bar {
            bar.set_position(read);
        }
    };
    let produced_path = scratch_file(&expected_path);
    let file = match std::fs::File::create(&produced_path) {
        Ok(f) => f,
        Err(e) => {
            result.error = Some(format!("creating {}: {e}", produced_path.display()));
            return result;
        }
    };
    let mut writer = std::io::BufWriter::new(file);
    let outcome = match live {
        Some(target) => live::live(source, &fixture, target, &mut writer).await,
        None => run::replay(source, &fixture, &mut writer, progress).await,
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    drop(writer);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let _ = std::fs::remove_file(&produced_path);
            result.error = Some(format!("{e:#}"));
            return result;
        }
    };
    result.messages = outcome.messages;
    result.skipped = outcome.skipped;
    result.problems = outcome.problems.iter().map(|p| p.to_string()).collect();
    if live.is_some() {
        // Only tandem's SIP side can be seen from outside.
        let produced = std::fs::read_to_string(&produced_path).unwrap_or_default();
        let _ = std::fs::remove_file(&produced_path);
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) => {
                let expected = live::sip_only(&expected);
                if expected == produced {
                    result.ok = true;
                } else {
                    result.diff = Some((expected, produced));
                }
            }
            Err(e) => result.error = Some(format!("{}: {e}", expected_path.display())),
        }
        return result;
    }
    let same = files_equal(&produced_path, &expected_path);
    if args.update {
        match std::fs::copy(&produced_path, &expected_path) {
            Ok(_) => {
                result.updated = !same;
                result.ok = true;
            }
            Err(e) => result.error = Some(format!("writing {}: {e}", expected_path.display())),
        }
    } else if same {
        result.ok = true;
    } else if !expected_path.exists() {
        result.error = Some(format!(
            "no expected output at {} (run with --update to write it)",
            expected_path.display()
        ));
    } else {
        result.diff = Some(diff_inputs(&expected_path, &produced_path));
    }
    let _ = std::fs::remove_file(&produced_path);
    result
}

/// Where a transcript is written while it is produced (beside nothing the user owns).
fn scratch_file(expected: &Path) -> PathBuf {
    let mut random = [0u8; 8];
    let _ = getrandom::fill(&mut random);
    let tag: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let stem = expected
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("tandem-replay-{stem}-{tag}.transcript"))
}

/// Compared a block at a time: a long transcript never sits in memory for this.
fn files_equal(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (Ok(fa), Ok(fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (mut ra, mut rb) = (std::io::BufReader::new(fa), std::io::BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let (Ok(na), Ok(nb)) = (read_full(&mut ra, &mut ba), read_full(&mut rb, &mut bb)) else {
            return false;
        };
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }

    fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match r.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }
}

/// What a diff is made from: whole files when small, else the lines around the first
/// difference (a diff of two huge transcripts would need them whole in memory).
fn diff_inputs(expected: &Path, produced: &Path) -> (String, String) {
    use std::io::BufRead;
    const WHOLE: u64 = 4 << 20;
    let small = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len() <= WHOLE)
            .unwrap_or(false)
    };
    if small(expected) && small(produced) {
        return (
            std::fs::read_to_string(expected).unwrap_or_default(),
            std::fs::read_to_string(produced).unwrap_or_default(),
        );
    }
    let lines = |p: &Path| {
        std::fs::File::open(p).map(|f| std::io::BufReader::new(f).lines().map_while(Result::ok))
    };
    let (Ok(mut e), Ok(mut g)) = (lines(expected), lines(produced)) else {
        return (String::new(), String::new());
    };
    let mut context = std::collections::VecDeque::new();
    loop {
        match (e.next(), g.next()) {
            (Some(x), Some(y)) if x == y => {
                context.push_back(x);
                if context.len() > 20 {
                    context.pop_front();
                }
            }
            (x, y) => {
                let before: String = context.iter().map(|l| format!("{l}\n")).collect();
                let rest = |first: Option<String>, more: &mut dyn Iterator<Item = String>| {
                    first
                        .into_iter()
                        .chain(more.take(40))
                        .map(|l| format!("{l}\n"))
                        .collect::<String>()
                };
                return (before.clone() + &rest(x, &mut e), before + &rest(y, &mut g));
            }
        }
    }
}

/// A bar over the capture's bytes, on standard error.
fn progress_bar(trace: &Path, total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "{prefix} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(trace.display().to_string());
    bar
}

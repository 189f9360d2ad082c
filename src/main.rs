//! `tandem`: XMPP server core, SIP stack and SIP<->Jingle gateway in one binary.

mod cert;
mod cli;
mod cluster;
mod config;
mod im;
mod metrics;
mod net;
mod replay;
mod server;
mod sip;
mod storage;
mod tls;
mod translate;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tandem: {e:#}");
            ExitCode::FAILURE
        }
    }
}

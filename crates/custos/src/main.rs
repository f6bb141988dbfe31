//! `custos`: the one binary. See `custos --help`.
#![forbid(unsafe_code)]

mod bench;
mod cli;
mod demo;
mod ledger_cmd;
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Ledger(cmd) => ledger_cmd::run(cmd),
        cli::Command::Demo(a) => demo::run(&a),
        cli::Command::Bench(cmd) => bench::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `custos`: the one binary. See `custos --help`.
#![forbid(unsafe_code)]

mod admin_cmd;
mod alerts_cmd;
mod api_cmd;
mod bench;
mod bench_detect;
mod bench_events;
mod bench_evidence;
mod bench_ingest;
mod bench_scope;
mod bench_token;
mod case_cmd;
mod cli;
mod demo;
mod demo_alerts;
mod demo_cases;
mod demo_govern;
mod demo_tokens;
mod eval;
mod govern_cmd;
mod hunt;
mod ingest_cmd;
mod ledger_cmd;
mod local_server;
mod mirror;
mod scope_cmd;
mod serve_cmd;
mod sim_cmd;
mod simfeed;
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Ledger(cmd) => ledger_cmd::run(cmd),
        cli::Command::Demo(a) => demo::run(&a),
        cli::Command::Bench(cmd) => bench::run(cmd),
        cli::Command::Serve(a) => serve_cmd::run(a),
        cli::Command::Admin(cmd) => admin_cmd::run(cmd),
        cli::Command::Ingest(a) => ingest_cmd::run(a),
        cli::Command::Sim(a) => sim_cmd::run(a),
        cli::Command::Eval(a) => eval::run(&a),
        cli::Command::Hunt(a) => hunt::run(&a),
        cli::Command::Scope(a) => scope_cmd::run(&a),
        cli::Command::Forensics(cmd) => scope_cmd::run_forensics(&cmd),
        cli::Command::Incident(cmd) => case_cmd::run_incident(cmd),
        cli::Command::Hold(cmd) => case_cmd::run_hold(cmd),
        cli::Command::Retention(cmd) => case_cmd::run_retention(cmd),
        cli::Command::Evidence(cmd) => case_cmd::run_evidence(cmd),
        cli::Command::Alerts(a) => alerts_cmd::run(a),
        cli::Command::Token(cmd) => api_cmd::run_token(cmd),
        cli::Command::Keys(cmd) => api_cmd::run_keys(cmd),
        cli::Command::Principal(cmd) => api_cmd::run_principal(cmd),
        cli::Command::Grant(cmd) => api_cmd::run_grant(cmd),
        cli::Command::Authorize(a) => api_cmd::run_authorize(a),
        cli::Command::Subjects(cmd) => api_cmd::run_subjects(cmd),
        cli::Command::Supplier(a) => govern_cmd::run_supplier(a),
        cli::Command::Residency(a) => govern_cmd::run_residency(a),
        cli::Command::Findings(a) => govern_cmd::run_findings(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

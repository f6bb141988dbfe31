//! `custos admin …` (being built).

use std::process::ExitCode;

/// `custos admin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCmd {
    /// Print a new credential.
    Token {},
}

pub fn run(_cmd: AdminCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`custos admin` is not built yet")
}

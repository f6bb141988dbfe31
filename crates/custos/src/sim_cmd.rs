//! `custos sim` (being built).

use std::process::ExitCode;

/// Arguments of `custos sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {}

pub fn run(_args: SimArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`custos sim` is not built yet")
}

//! `custos serve` (being built).

use std::process::ExitCode;

/// Arguments of `custos serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`custos serve` is not built yet")
}

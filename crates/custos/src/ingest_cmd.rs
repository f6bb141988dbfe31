//! `custos ingest` (being built).

use std::process::ExitCode;

/// Arguments of `custos ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {}

pub fn run(_args: IngestArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`custos ingest` is not built yet")
}

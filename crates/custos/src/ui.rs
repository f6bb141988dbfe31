//! Small terminal helpers: progress bars and verifier-key arguments.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg:>12} [{bar:40}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(what.to_owned());
    pb
}

/// Parses a verifier key given as text or as a file holding it.
pub fn verifier_arg(vkey: &str) -> anyhow::Result<tlog::Verifier> {
    let p = PathBuf::from(vkey);
    let text = if p.is_file() {
        std::fs::read_to_string(&p)
            .map_err(|e| anyhow::anyhow!("--vkey {vkey}: cannot read ({e})"))?
    } else {
        vkey.to_owned()
    };
    tlog::Verifier::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("--vkey: not a valid verifier key (name+hexid+base64): {e}"))
}

/// Formats a rate with thousands separators.
pub fn rate(n: f64) -> String {
    let v = n.round() as u64;
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

//! Replays the committed cargo-fuzz corpora of the `detect` targets through
//! the very functions the targets call: no invariant broken, `valid-…`
//! seeds accepted, `bad-…` seeds refused.
//!
//! - `fuzz/corpus/sigma_rule/` → `detect::sigma::fuzz_rule`
//! - `fuzz/corpus/detect_config/` → `detect::settings::fuzz_settings`

type Target = fn(&[u8]) -> Result<bool, String>;

fn replay(target: &str, f: Target) -> Result<(), Box<dyn std::error::Error>> {
    let dir = format!("{}/../../fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_owned();
        let data = std::fs::read(&path)?;
        let accepted = f(&data).map_err(|e| format!("{target}/{name}: {e}"))?;
        if name.starts_with("valid-") {
            assert!(accepted, "{target}/{name} was refused");
        } else if name.starts_with("bad-") {
            assert!(!accepted, "{target}/{name} was accepted");
        }
        n += 1;
    }
    assert!(n >= 8, "{target}: only {n} seeds");
    Ok(())
}

#[test]
fn sigma_rule_corpus() -> Result<(), Box<dyn std::error::Error>> {
    replay("sigma_rule", detect::sigma::fuzz_rule)
}

#[test]
fn detect_config_corpus() -> Result<(), Box<dyn std::error::Error>> {
    replay("detect_config", detect::settings::fuzz_settings)
}

//! Replays the committed cargo-fuzz corpus `fuzz/corpus/sigma_rule/`
//! through `detect::sigma::fuzz_rule`, the very function the fuzz target
//! calls: no invariant broken, `valid-…` seeds load, `bad-…` seeds are
//! refused.

#[test]
fn sigma_rule_corpus() -> Result<(), Box<dyn std::error::Error>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/sigma_rule");
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_owned();
        let data = std::fs::read(&path)?;
        let loaded = detect::sigma::fuzz_rule(&data).map_err(|e| format!("{name}: {e}"))?;
        if name.starts_with("valid-") {
            assert!(loaded, "{name} was refused");
        } else if name.starts_with("bad-") {
            assert!(!loaded, "{name} was accepted");
        }
        n += 1;
    }
    assert!(n >= 8, "only {n} seeds");
    Ok(())
}

//! Replays the committed cargo-fuzz corpus `fuzz/corpus/detect_config/`
//! through `detect::settings::fuzz_settings`, the very function the fuzz
//! target calls: no invariant broken, `valid-…` seeds accepted, `bad-…`
//! seeds refused.

#[test]
fn detect_config_corpus() -> Result<(), Box<dyn std::error::Error>> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/detect_config"
    );
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_owned();
        let data = std::fs::read(&path)?;
        let accepted =
            detect::settings::fuzz_settings(&data).map_err(|e| format!("{name}: {e}"))?;
        if name.starts_with("valid-") {
            assert!(accepted, "{name} was refused");
        } else if name.starts_with("bad-") {
            assert!(!accepted, "{name} was accepted");
        }
        n += 1;
    }
    assert!(n >= 8, "only {n} seeds");
    Ok(())
}

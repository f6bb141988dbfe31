//! Measures generation speed: events serialised to NDJSON per second on one
//! core, written to a sink. `cargo run --release -p sim --example rate -- [HOURS]`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hours: u32 = std::env::args().nth(1).map_or(Ok(6), |s| s.parse())?;
    for (name, attack) in [("default (with attack)", true), ("background only", false)] {
        let mut config = sim::Config {
            hours: Some(hours),
            ..sim::Config::default()
        };
        if !attack {
            config.attack = None;
        }
        let world = sim::World::new(config)?;
        let started = Instant::now();
        let mut sink = std::io::sink();
        let tally = sim::write_ndjson(&world, &mut sink, None, &mut |_| {})?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name}: {} events, {:.1} MB in {secs:.2} s: {:.0} events/s, {:.0} MB/s",
            tally.events,
            tally.bytes as f64 / 1e6,
            tally.events as f64 / secs,
            tally.bytes as f64 / 1e6 / secs
        );
    }
    Ok(())
}

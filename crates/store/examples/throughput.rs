//! A quick throughput figure, against the in-memory stores measured in the
//! same run: issuance record + get, SCIM create + get.
//!
//! `cargo run -p store --release --example throughput [N] [DIR]` — DIR
//! should be on the disk you mean to measure (every write is an fsync).

use std::error::Error;
use std::time::Instant;

use scim::{MemoryStore, ResourceKind, ScimStore};
use serde_json::{Map, Value};
use store::{Database, SqliteIssuanceStore, SqliteScimStore};
use token::{IssuanceRecord, IssuanceStore, MemoryIssuanceStore};

fn issuance(s: &dyn IssuanceStore, n: usize) -> Result<f64, Box<dyn Error>> {
    let t = Instant::now();
    for i in 0..n {
        let jti = format!("jti-{i:08}");
        s.record(IssuanceRecord {
            seq: 0,
            jti: jti.clone(),
            kid: "kid".into(),
            sub: format!("customer-{i}"),
            iat: 1_748_736_000,
            exp: 1_748_736_600,
            aud: vec!["https://shop.example".into()],
            client_id: Some("web".into()),
        })?;
        s.get(&jti)?.ok_or("record lost")?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

fn scim(s: &dyn ScimStore, n: usize) -> Result<f64, Box<dyn Error>> {
    let t = Instant::now();
    for i in 0..n {
        let id = format!("id-{i:08}");
        let mut b = Map::new();
        b.insert(
            "userName".into(),
            Value::String(format!("user{i}@example.com")),
        );
        b.insert("active".into(), Value::Bool(true));
        b.insert(
            "name".into(),
            serde_json::json!({"givenName": "Barbara", "familyName": "Jensen"}),
        );
        s.create(ResourceKind::User, &id, b)?;
        s.get(ResourceKind::User, &id)?.ok_or("resource lost")?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000);
    let given = args.next().map(std::path::PathBuf::from);
    let dir = given.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("custos-store-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let db = Database::open_data_dir(&dir)?;

    let mem = issuance(&MemoryIssuanceStore::default(), n)?;
    let sql = issuance(&SqliteIssuanceStore::new(&db)?, n)?;
    println!(
        "issuance record+get: sqlite {sql:>9.0}/s  memory {mem:>11.0}/s  ratio {:.4}",
        sql / mem
    );
    let mem = scim(&MemoryStore::new(), n)?;
    let sql = scim(&SqliteScimStore::new(&db)?, n)?;
    println!(
        "scim create+get:     sqlite {sql:>9.0}/s  memory {mem:>11.0}/s  ratio {:.4}",
        sql / mem
    );
    drop(db);
    std::fs::remove_dir_all(if given.is_some() {
        dir.join("meta")
    } else {
        dir
    })?;
    Ok(())
}

//! `custos bench token`: the token authority over HTTP, through a real
//! `custos serve` child process on a fresh ledger.
//!
//! 1. Introspection throughput: `POST /oauth2/introspect` of live tokens on
//!    keep-alive connections for a fixed time, as a ratio to the same
//!    client's `GET /healthz` rate in the same run (the HTTP floor of this
//!    machine: server and client share its cores).
//! 2. Offboarding to first refusal, over many trials: a SCIM User holds a
//!    token; the clock starts when the identity provider's `PATCH
//!    active=false` is sent; one thread introspects the token, another asks
//!    an embedded `token::Verifier` (default settings, HTTP feeds) until each
//!    refuses it. Worst case, p99, p50 for each.
//!
//! The load generator is a minimal HTTP/1.1 client on raw sockets (one
//! thread per connection, keep-alive, `Content-Length` bodies only): a
//! general client would spend more of the two cores than the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::api_cmd::Api;
use crate::bench::percentile;
use crate::local_server::ServerProcess;
use crate::ui;

#[derive(Debug, Args)]
pub struct TokenBenchArgs {
    /// Seconds of each throughput run (introspection, and the /healthz baseline).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Keep-alive connections of the load generator.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Distinct live tokens introspected round-robin.
    #[arg(long, default_value_t = 1000)]
    pub tokens: usize,
    /// Offboarding trials.
    #[arg(long, default_value_t = 1000)]
    pub trials: usize,
    /// Keep the server's data here (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
}

impl Conn {
    fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            line: String::new(),
        })
    }

    /// Sends `request` (complete bytes) and reads the response; its status.
    fn roundtrip(&mut self, request: &[u8], body: &mut Vec<u8>) -> anyhow::Result<u16> {
        self.writer.write_all(request)?;
        self.line.clear();
        self.reader.read_line(&mut self.line)?;
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {:?}", self.line))?;
        let mut len = 0usize;
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                bail!("connection closed");
            }
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        body.resize(len, 0);
        self.reader.read_exact(body)?;
        Ok(status)
    }
}

/// Requests completed per second over `seconds` on `conns` connections;
/// every response must be 200 and satisfy `check`.
fn load(
    addr: SocketAddr,
    conns: usize,
    seconds: u64,
    requests: Arc<Vec<Vec<u8>>>,
    check: fn(&[u8]) -> bool,
) -> anyhow::Result<(f64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || -> anyhow::Result<(u64, Vec<f64>)> {
                let mut conn = Conn::open(addr)?;
                let mut body = Vec::new();
                let mut n = 0u64;
                let mut lat = Vec::new();
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let req = requests
                        .get(i % requests.len().max(1))
                        .context("no request")?;
                    let t = Instant::now();
                    let status = conn.roundtrip(req, &mut body)?;
                    if n.is_multiple_of(16) {
                        lat.push(t.elapsed().as_secs_f64() * 1e6);
                    }
                    if status != 200 || !check(&body) {
                        bail!(
                            "unexpected answer {status}: {}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                    n += 1;
                    i += conns;
                }
                Ok((n, lat))
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut lat = Vec::new();
    for h in handles {
        let (n, l) = h
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("load thread panicked")))?;
        total += n;
        lat.extend(l);
    }
    lat.sort_by(f64::total_cmp);
    Ok((
        total as f64 / start.elapsed().as_secs_f64(),
        percentile(&lat, 0.99),
    ))
}

fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes()
}

fn introspect_request(auth: &str, token: &str) -> Vec<u8> {
    let body = format!("token={token}");
    format!(
        "POST /oauth2/introspect HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {auth}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn stats(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    json!({
        "trials": ms.len(),
        "max_ms": ms.last().copied().unwrap_or(0.0),
        "p99_ms": percentile(&ms, 0.99),
        "p50_ms": percentile(&ms, 0.50),
    })
}

pub fn run(args: TokenBenchArgs) -> anyhow::Result<std::process::ExitCode> {
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("custos-bench-token-{}", std::process::id())),
            true,
        ),
    };
    let result = bench(&dir, &args);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn bench(dir: &std::path::Path, args: &TokenBenchArgs) -> anyhow::Result<Value> {
    let server = ServerProcess::start(dir, "bench.custos.example/token", &[])?;
    let url = server.url.clone();
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .parse()
        .context("server address")?;
    let scim = Api::with_token(&url, &server.credential(dir, "scim", "idp")?);
    let gateway_token = server.credential(dir, "gateway", "gw")?;
    let gateway = Api::with_token(&url, &gateway_token);
    eprintln!("custos bench token — server {url}, data {}", dir.display());

    // Live tokens for registered customers.
    let mut lines = String::new();
    for i in 0..args.tokens {
        lines.push_str(&format!(
            "{{\"id\":\"bench-cust-{i}\",\"status\":\"active\"}}\n"
        ));
    }
    let a = scim.post("/v1/subjects", lines.as_bytes())?;
    if a.status != 200 {
        bail!("registering subjects: {} {}", a.status, a.body);
    }
    let pb = ui::bar(args.tokens as u64, "issuing tokens");
    let mut requests = Vec::with_capacity(args.tokens);
    for i in 0..args.tokens {
        let a = gateway.post(
            "/v1/tokens",
            json!({ "sub": format!("bench-cust-{i}"), "aud": ["shop"], "lifetime_secs": 900 })
                .to_string()
                .as_bytes(),
        )?;
        let t = a
            .body
            .get("access_token")
            .and_then(Value::as_str)
            .with_context(|| format!("issue: {} {}", a.status, a.body))?;
        requests.push(introspect_request(&gateway_token, t));
        pb.inc(1);
    }
    pb.finish_and_clear();

    eprintln!(
        "[1/2] throughput: {} connections, {} s each",
        args.connections, args.seconds
    );
    let (health_rps, health_p99) = load(
        addr,
        args.connections,
        args.seconds,
        Arc::new(vec![get_request("/healthz")]),
        |_| true,
    )?;
    let (intro_rps, intro_p99) = load(
        addr,
        args.connections,
        args.seconds,
        Arc::new(requests),
        |b| b.starts_with(b"{\"active\":true"),
    )?;
    println!(
        "introspection over HTTP: {} req/s (p99 {:.0} µs) = {:.2} × GET /healthz on the same client ({} req/s, p99 {:.0} µs)",
        ui::rate(intro_rps),
        intro_p99,
        intro_rps / health_rps,
        ui::rate(health_rps),
        health_p99
    );

    eprintln!(
        "[2/2] offboarding → first refusal, {} trials (SCIM PATCH active=false; introspection and an embedded verifier, default settings)",
        args.trials
    );
    // Made from the first token's issuer.
    let mut verifier: Option<Arc<token::Verifier>> = None;
    let mut intro_ms = Vec::with_capacity(args.trials);
    let mut local_ms = Vec::with_capacity(args.trials);
    let mut patch_ms = Vec::with_capacity(args.trials);
    let pb = ui::bar(args.trials as u64, "trials");
    for i in 0..args.trials {
        let user = format!("bench-emp-{i:05}");
        let created = scim.post(
            "/scim/v2/Users",
            json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user, "active": true })
                .to_string()
                .as_bytes(),
        )?;
        let id = created
            .body
            .get("id")
            .and_then(Value::as_str)
            .with_context(|| format!("SCIM create: {} {}", created.status, created.body))?
            .to_owned();
        let issued = gateway.post(
            "/v1/tokens",
            json!({ "sub": user, "aud": ["intranet"] })
                .to_string()
                .as_bytes(),
        )?;
        let tok = issued
            .body
            .get("access_token")
            .and_then(Value::as_str)
            .with_context(|| format!("issue: {} {}", issued.status, issued.body))?
            .to_owned();
        let verifier = match &verifier {
            Some(v) => Arc::clone(v),
            None => {
                let cfg = token::VerifierConfig::new(token::peek(&tok).iss.unwrap_or_default());
                let v = Arc::new(token::Verifier::new(
                    cfg,
                    Arc::new(token::SystemClock),
                    Arc::new(token::HttpFeed::new(
                        &url,
                        &gateway_token,
                        Duration::from_millis(800),
                    )),
                ));
                verifier = Some(Arc::clone(&v));
                v
            }
        };
        // The verifier must know the token before the trial (as a gateway
        // that has seen it would).
        let known = Instant::now();
        while verifier.verify(&tok).is_err() {
            if known.elapsed() > Duration::from_secs(5) {
                bail!("the embedded verifier never accepted a live token");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "value": { "active": false } }]
        })
        .to_string();
        let t0 = Instant::now();
        let (a, b, c) = std::thread::scope(|s| {
            let v = Arc::clone(&verifier);
            let tok2 = tok.clone();
            let local = s.spawn(move || {
                while t0.elapsed() < Duration::from_secs(10) {
                    if v.verify(&tok2).is_err() {
                        return Some(t0.elapsed());
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                None
            });
            let gw = &gateway;
            let tok3 = tok.clone();
            let intro = s.spawn(move || {
                while t0.elapsed() < Duration::from_secs(10) {
                    if let Ok(a) = gw.post_form("/oauth2/introspect", &[("token", &tok3)])
                        && a.body.get("active") == Some(&Value::Bool(false))
                    {
                        return Some(t0.elapsed());
                    }
                }
                None
            });
            let p = scim.post_patch(&format!("/scim/v2/Users/{id}"), patch.as_bytes());
            let patched = t0.elapsed();
            (
                p.map(|a| (a.status, patched)),
                intro.join().ok().flatten(),
                local.join().ok().flatten(),
            )
        });
        let (status, patched) = a?;
        if status != 200 {
            bail!("SCIM PATCH answered {status}");
        }
        let (Some(b), Some(c)) = (b, c) else {
            bail!("trial {i}: a token was still accepted 10 s after offboarding");
        };
        patch_ms.push(patched.as_secs_f64() * 1000.0);
        intro_ms.push(b.as_secs_f64() * 1000.0);
        local_ms.push(c.as_secs_f64() * 1000.0);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let intro_stats = stats(intro_ms);
    let local_stats = stats(local_ms);
    let patch_stats = stats(patch_ms);
    let line = |name: &str, s: &Value| {
        println!(
            "{name}: worst {:.1} ms, p99 {:.1} ms, p50 {:.1} ms over {} trials (bound 1,000 ms)",
            s["max_ms"].as_f64().unwrap_or(0.0),
            s["p99_ms"].as_f64().unwrap_or(0.0),
            s["p50_ms"].as_f64().unwrap_or(0.0),
            s["trials"]
        );
    };
    line("offboarding → refusal, introspection   ", &intro_stats);
    line("offboarding → refusal, embedded verifier", &local_stats);
    line("SCIM PATCH active=false answered in     ", &patch_stats);
    server.stop()?;
    Ok(json!({
        "introspection": { "rps": intro_rps, "p99_us": intro_p99, "connections": args.connections,
                           "healthz_rps": health_rps, "healthz_p99_us": health_p99,
                           "ratio_to_healthz": intro_rps / health_rps },
        "offboarding": { "introspection": intro_stats, "embedded_verifier": local_stats,
                         "scim_patch": patch_stats },
    }))
}

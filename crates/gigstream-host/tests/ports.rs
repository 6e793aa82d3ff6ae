//! The three service binaries and a second instance of one, started on one host with no
//! address configured (no `--http-listen`, no `[http] listen`, no `GIGSTREAM_HTTP_LISTEN`):
//! each listens on 127.0.0.1 at one of its own ports (billing 9464, sla 9465, market 9466;
//! another instance at +3, +6, ...), logs where, and serves `/metrics` there, at an address
//! the Prometheus example for one host (`infra/prometheus/prometheus.host.yml`) scrapes.
//!
//! The binaries are `services/cli`'s (`gigstream-billing`, `gigstream-sla`,
//! `gigstream-market`), found beside this test's executable's directory (`target/<profile>/`);
//! `cargo test --workspace` builds them before any test runs. When they are not there (e.g.
//! `cargo test -p gigstream-host` alone) the test says so and passes, unless
//! `GIGSTREAM_TEST_SERVICES=require`. Each process reads its own embedded log (the input does
//! not matter here) and follows it until SIGTERM.

use gigstream_config::Config;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `target/<profile>/`: the test runs from `target/<profile>/deps/`.
fn binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let path = dir.join(name);
    path.is_file().then_some(path)
}

struct Instance {
    service: &'static str,
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `gigstream-<service> --follow` with the defaults and waits for its "listening on"
/// line.
fn start(service: &'static str, bin: &PathBuf) -> Instance {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(bin);
    cmd.arg("--follow")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // Nothing from the test's environment may choose the address or the backends.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GIGSTREAM_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("GIGSTREAM_LOG_FORMAT", "json")
        .env("GIGSTREAM_DATA_DIR", dir.path().join("data"));
    let mut child = cmd.spawn().expect("spawn the service binary");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                let _ = tx.send(Ok(addr));
            } else if line.contains("cannot listen") {
                let _ = tx.send(Err(line));
            }
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(a)) => a.parse().expect("an address"),
        Ok(Err(line)) => panic!("gigstream-{service} could not listen: {line}"),
        Err(_) => panic!("gigstream-{service} said nothing about listening within 60 s"),
    };
    Instance {
        service,
        child,
        addr,
        _dir: dir,
    }
}

fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn three_services_and_a_second_instance_listen_side_by_side() {
    let bins: Vec<_> = ["billing", "sla", "market"]
        .iter()
        .map(|s| binary(&format!("gigstream-{s}")))
        .collect();
    if bins.iter().any(Option::is_none) {
        let msg = "the service binaries are not built beside this test (cargo build -p gigstream-cli, or cargo test --workspace)";
        if std::env::var("GIGSTREAM_TEST_SERVICES").as_deref() == Ok("require") {
            panic!("{msg}");
        }
        println!("skipped: {msg}");
        return;
    }
    let bin = |s: &str| {
        let i = ["billing", "sla", "market"]
            .iter()
            .position(|x| *x == s)
            .unwrap();
        bins[i].clone().unwrap()
    };
    let started = Instant::now();
    let mut all = Vec::new();
    // One after the other, so that the second sla sees the first one's port taken.
    for service in ["billing", "sla", "market", "sla"] {
        all.push(start(service, &bin(service)));
    }
    let defaults = Config::default();
    let mut ports = Vec::new();
    for i in &all {
        let plan = defaults.http.listen_plan(i.service);
        let index = plan
            .addresses
            .iter()
            .position(|a| *a == i.addr)
            .unwrap_or_else(|| {
                panic!("{} on {}: not one of its ports {plan:?}", i.service, i.addr)
            });
        // Within the targets of the one-host Prometheus example (four per service).
        assert!(index < 4, "{} on {}", i.service, i.addr);
        ports.push(i.addr.port());
        println!(
            "gigstream-{} listens on {} (its port #{index})",
            i.service, i.addr
        );
    }
    let mut unique = ports.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{ports:?}");
    // The second sla instance took the next port of sla's, not market's.
    assert_eq!(ports[3] % 3, ports[1] % 3, "{ports:?}");
    let example = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../infra/prometheus/prometheus.host.yml"),
    )
    .expect("the one-host Prometheus example");
    for i in &all {
        assert!(
            example.contains(&format!("\"{}\"", i.addr)),
            "{} is not scraped by infra/prometheus/prometheus.host.yml",
            i.addr
        );
        // The metrics appear once the run has started (right after the endpoint).
        let up = format!("gigstream_up{{service=\"{}\"}} 1", i.service);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let body = get(i.addr, "/metrics").expect("GET /metrics");
            assert!(
                body.starts_with("HTTP/1.1 200"),
                "{}",
                &body[..body.len().min(200)]
            );
            if body.contains(&up) {
                break;
            }
            assert!(Instant::now() < deadline, "{}: no {up} in\n{body}", i.addr);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // SIGTERM: each commits and exits 0.
    for mut i in all {
        let pid = i.child.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = i.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "gigstream-{} exited with {status}",
                    i.service
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "gigstream-{} did not stop",
                i.service
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    println!("four instances in {:.1}s", started.elapsed().as_secs_f64());
}

//! Operating a service binary against the real broker and database: `/ready` and `/metrics`
//! under load, SIGTERM mid-load (commit, exit 0 within the shutdown deadline), a restart that
//! catches up with nothing lost or repeated (`gigstream verify`), and no secret in the process
//! arguments, the logs or the metrics.

use crate::support::{
    backends, http_get, metric_value, produce_to, still_loading, terminate, text, Backends,
};
use gigstream_core::Topic;
use gigstream_gen::GenConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `[service] shutdown_deadline` default.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);
/// Given to the service as a secret librdkafka property (`sasl.password`, unused on a
/// PLAINTEXT connection): it must appear nowhere but in the environment.
const SECRET_MARKER: &str = "gs-secret-marker-7f3a9c";

/// The service binary `gigstream-<service>` (built with these tests: same package).
fn service_binary(service: &str) -> PathBuf {
    PathBuf::from(match service {
        "billing" => env!("CARGO_BIN_EXE_gigstream-billing"),
        "sla" => env!("CARGO_BIN_EXE_gigstream-sla"),
        "market" => env!("CARGO_BIN_EXE_gigstream-market"),
        other => panic!("no service {other}"),
    })
}

/// Starts `gigstream-SERVICE --follow --http-listen 127.0.0.1:0` with the test's settings;
/// output to `<tmp>/<label>.log`.
fn spawn_service(b: &Backends, service: &str, label: &str, env: &[(&str, &str)]) -> Child {
    let log = b.log_path(label);
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("service log file");
    let mut c = Command::new(service_binary(service));
    c.args(["--follow", "--http-listen", "127.0.0.1:0", "--data-dir"])
        .arg(b.dir.path());
    for (k, v) in b.envs() {
        c.env(k, v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c
        .stdout(out.try_clone().expect("log handle"))
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("the service binary starts");
    b.adopt(&child);
    child
}

/// The address from the `listening on http://ADDR` log line (`gigstream run`: `serving ... on
/// http://ADDR`).
pub(crate) fn wait_listening(b: &Backends, label: &str, child: &mut Child) -> SocketAddr {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let log = std::fs::read_to_string(b.log_path(label)).unwrap_or_default();
        if let Some(rest) = log.split(" on http://").nth(1) {
            let addr: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect();
            return addr.parse().expect("a socket address after 'listening on'");
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{label} exited ({status}) {}\n{}",
                b.ctx(),
                b.log_tail(label)
            );
        }
        assert!(
            Instant::now() < until,
            "{label} did not log its address ('on http://') {}\n{}",
            b.ctx(),
            b.log_tail(label)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `/ready` until it answers 200 (within 90 s); until then every answer must be a 503
/// whose body starts with `not_ready`. How long it took.
fn wait_ready(b: &Backends, label: &str, addr: SocketAddr, not_ready: &str) -> Duration {
    let started = Instant::now();
    let mut last = (0, String::new());
    while started.elapsed() < Duration::from_secs(90) {
        last = http_get(addr, "/ready").expect("GET /ready");
        if last.0 == 200 {
            break;
        }
        assert_eq!(last.0, 503, "/ready answers 200 or 503: {last:?}");
        assert!(last.1.starts_with(not_ready), "{last:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        last,
        (200, "ready\n".to_string()),
        "{}\n{}",
        b.ctx(),
        b.log_tail(label)
    );
    started.elapsed()
}

fn gen(events: u64, seed: u64) -> GenConfig {
    GenConfig {
        events,
        days: 12,
        seed,
        bad_ratio: 0.01,
        ..GenConfig::default()
    }
}

pub(crate) fn ready_metrics_and_sigterm_under_load() {
    let b = backends("ops");
    // Topics (four partitions each) and a first backlog before the service starts.
    produce_to(&b.kafka, &gen(3_000, b.seed), None);
    // Then ~800 events/s for ~20 s while the service runs.
    let producer = {
        let kafka = b.kafka.clone();
        let g = gen(16_000, b.seed.wrapping_add(1));
        std::thread::spawn(move || produce_to(&kafka, &g, Some(800.0)))
    };

    let label = "sla-1";
    let mut child = spawn_service(
        &b,
        "sla",
        label,
        &[("GIGSTREAM_KAFKA_SASL_PASSWORD", SECRET_MARKER)],
    );
    let addr = wait_listening(&b, label, &mut child);
    assert_eq!(
        http_get(addr, "/health").unwrap(),
        (200, "ok\n".to_string())
    );

    // Ready once the partitions are assigned and the checkpoints loaded.
    let took = wait_ready(&b, label, addr, "not ready: sla: ");
    println!("ready after {took:?}");

    // Metrics under load: consumption, four partitions, commits, dead letters, lag.
    let consumed = r#"gigstream_events_consumed_total{service="sla",topic="telemetry"}"#;
    let until = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let (status, text) = http_get(addr, "/metrics").expect("GET /metrics");
        assert_eq!(status, 200);
        let letters = text.lines().any(|l| {
            l.starts_with(
                r#"gigstream_dead_letters_total{service="sla",topic="telemetry",reason=""#,
            )
        });
        let lag = (0..4).all(|p| {
            metric_value(
                &text,
                &format!(
                    r#"gigstream_consumer_lag{{service="sla",topic="telemetry",partition="{p}"}}"#
                ),
            )
            .is_some()
        });
        if metric_value(&text, consumed).unwrap_or(0.0) > 0.0 && letters && lag {
            break text;
        }
        assert!(
            Instant::now() < until,
            "metrics incomplete {}:\n{text}",
            b.ctx()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let value = |series: &str| {
        metric_value(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    assert!(value(consumed) > 0.0);
    let applied = value(r#"gigstream_events_applied_total{service="sla",topic="telemetry"}"#);
    assert!(applied > 0.0 && applied <= value(consumed), "{text}");
    assert_eq!(
        value(r#"gigstream_assigned_partitions{service="sla"}"#),
        4.0
    );
    assert!(value(r#"gigstream_rebalances_total{service="sla"}"#) >= 1.0);
    assert!(value(r#"gigstream_commits_total{service="sla",result="ok"}"#) >= 1.0);
    assert!(value(r#"gigstream_flush_seconds_count{service="sla"}"#) >= 1.0);
    assert!(value(r#"gigstream_flush_seconds_sum{service="sla"}"#) > 0.0);
    assert!(value(r#"gigstream_flush_rows_sum{service="sla"}"#) > 0.0);
    assert_eq!(
        value(r#"gigstream_flush_rows_bucket{le="+Inf",service="sla"}"#),
        value(r#"gigstream_flush_rows_count{service="sla"}"#)
    );
    assert_eq!(value(r#"gigstream_sink_errors_total{service="sla"}"#), 0.0);
    assert_eq!(value(r#"gigstream_sink_retries_total{service="sla"}"#), 0.0);
    assert_eq!(value(r#"gigstream_up{service="sla"}"#), 1.0);
    for t in [
        "# TYPE gigstream_flush_seconds histogram",
        "# TYPE gigstream_consumer_lag gauge",
    ] {
        assert!(text.contains(t), "{t} in:\n{text}");
    }

    // The secret is in the environment only.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).expect("cmdline");
    assert!(
        !text_contains(&cmdline, SECRET_MARKER),
        "secret in the arguments"
    );
    assert!(!text.contains(SECRET_MARKER), "secret in /metrics");

    // SIGTERM while the producer still writes.
    let producer = still_loading(&b.kafka, producer, &gen(4_000, b.seed.wrapping_add(2)));
    let before = value(consumed);
    let asked = Instant::now();
    let code = terminate(&mut child, SHUTDOWN_DEADLINE + Duration::from_secs(5));
    let took = asked.elapsed();
    println!("SIGTERM after {before} telemetry records: exit {code:?} in {took:?}");
    assert_eq!(
        code,
        Some(0),
        "exit after SIGTERM {}\n{}",
        b.ctx(),
        b.log_tail(label)
    );
    assert!(took < SHUTDOWN_DEADLINE, "stopping took {took:?}");
    assert_eq!(
        b.log_count(label, "stopped; tables committed"),
        1,
        "{}",
        b.log_tail(label)
    );
    let log = std::fs::read_to_string(b.log_path(label)).unwrap_or_default();
    assert!(!log.contains(SECRET_MARKER), "secret in the log");
    assert!(
        b.log_count(label, "stop requested") == 1,
        "{}",
        b.log_tail(label)
    );

    let produced = producer.join().expect("producer thread");
    println!("produced {produced:?}");

    // A restart resumes from the commit made at SIGTERM and catches up; nothing lost or
    // repeated.
    let label = "sla-2";
    let mut child = spawn_service(&b, "sla", label, &[]);
    let addr = wait_listening(&b, label, &mut child);
    b.wait_caught_up("sla", &[Topic::Telemetry], Duration::from_secs(180));
    let (status, text) = http_get(addr, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200);
    assert!(metric_value(&text, consumed).unwrap_or(0.0) > 0.0, "{text}");
    assert_eq!(
        terminate(&mut child, SHUTDOWN_DEADLINE + Duration::from_secs(5)),
        Some(0),
        "{}",
        b.log_tail(label)
    );
    b.assert_verified(&["sla"]);
}

/// `gigstream run` (the three services in one process) serves the same endpoints, with a
/// readiness that waits for every service, and stops on SIGTERM like a service binary.
pub(crate) fn gigstream_run_serves_ops_and_stops_on_sigterm() {
    let b = backends("ops-run");
    produce_to(&b.kafka, &gen(3_000, b.seed), None);
    let producer = {
        let kafka = b.kafka.clone();
        let g = gen(16_000, b.seed.wrapping_add(1));
        std::thread::spawn(move || produce_to(&kafka, &g, Some(800.0)))
    };
    let label = "run-1";
    let mut child = b.spawn_with("run-1", &["--http-listen", "127.0.0.1:0"]);
    let addr = wait_listening(&b, label, &mut child);
    assert_eq!(
        http_get(addr, "/health").unwrap(),
        (200, "ok\n".to_string())
    );

    let took = wait_ready(&b, label, addr, "not ready: ");
    println!("all three ready after {took:?}");

    // Every service has its own series.
    let until = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let (status, text) = http_get(addr, "/metrics").expect("GET /metrics");
        assert_eq!(status, 200);
        let all = [
            ("billing", "orders"),
            ("billing", "usage"),
            ("sla", "telemetry"),
            ("market", "orders"),
        ]
        .iter()
        .all(|(svc, topic)| {
            metric_value(
                &text,
                &format!(r#"gigstream_events_consumed_total{{service="{svc}",topic="{topic}"}}"#),
            )
            .unwrap_or(0.0)
                > 0.0
        });
        let committed = ["billing", "sla", "market"].iter().all(|svc| {
            metric_value(
                &text,
                &format!(r#"gigstream_commits_total{{service="{svc}",result="ok"}}"#),
            )
            .unwrap_or(0.0)
                >= 1.0
        });
        if all && committed {
            break text;
        }
        assert!(
            Instant::now() < until,
            "metrics incomplete {}:\n{text}",
            b.ctx()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    for svc in ["billing", "sla", "market"] {
        assert_eq!(
            metric_value(&text, &format!(r#"gigstream_up{{service="{svc}"}}"#)),
            Some(1.0),
            "{text}"
        );
        assert!(
            metric_value(
                &text,
                &format!(r#"gigstream_assigned_partitions{{service="{svc}"}}"#)
            )
            .unwrap_or(0.0)
                >= 4.0,
            "{text}"
        );
    }

    let producer = still_loading(&b.kafka, producer, &gen(4_000, b.seed.wrapping_add(2)));
    let asked = Instant::now();
    let code = terminate(&mut child, SHUTDOWN_DEADLINE + Duration::from_secs(5));
    let took = asked.elapsed();
    println!("gigstream run: SIGTERM under load, exit {code:?} in {took:?}");
    assert_eq!(
        code,
        Some(0),
        "exit after SIGTERM {}\n{}",
        b.ctx(),
        b.log_tail(label)
    );
    assert!(took < SHUTDOWN_DEADLINE, "stopping took {took:?}");
    producer.join().expect("producer thread");

    // A catch-up run from the commits made at SIGTERM; then nothing lost or repeated.
    let out = b.gigstream(&["run"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        b.ctx(),
        crate::support::text(&out.stderr)
    );
    b.assert_verified(&["billing", "sla", "market"]);
}

/// SIGTERM to an instance that is still joining the group (a rebalance in progress, no
/// partition yet) ends it cleanly within the deadline; the other instance goes on.
pub(crate) fn sigterm_while_joining_the_group() {
    let b = backends("ops-join");
    produce_to(&b.kafka, &gen(3_000, b.seed), None);
    let mut first = b.spawn_with("first", &["sla", "--http-listen", "127.0.0.1:0"]);
    let addr = wait_listening(&b, "first", &mut first);
    wait_ready(&b, "first", addr, "not ready: sla: ");

    let mut second = b.spawn_with("second", &["sla", "--http-listen", "127.0.0.1:0"]);
    let addr2 = wait_listening(&b, "second", &mut second);
    // Joining: connected, the group rebalancing, nothing assigned to this instance yet.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, why) = http_get(addr2, "/ready").expect("GET /ready");
        if why.contains("no partition assigned") {
            println!("second instance before SIGTERM: {status} {}", why.trim());
            break;
        }
        assert!(
            Instant::now() < until,
            "the second instance was never seen joining (last: {status} {why}) {}\n{}",
            b.ctx(),
            b.log_tail("second")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let asked = Instant::now();
    let code = terminate(&mut second, SHUTDOWN_DEADLINE + Duration::from_secs(5));
    let took = asked.elapsed();
    println!("SIGTERM while joining: exit {code:?} in {took:?}");
    assert_eq!(
        code,
        Some(0),
        "exit after SIGTERM {}\n{}",
        b.ctx(),
        b.log_tail("second")
    );
    assert!(took < SHUTDOWN_DEADLINE, "stopping took {took:?}");

    // The first instance keeps (or gets back) every partition and catches up.
    b.wait_caught_up("sla", &[Topic::Telemetry], Duration::from_secs(180));
    assert_eq!(
        terminate(&mut first, SHUTDOWN_DEADLINE + Duration::from_secs(5)),
        Some(0),
        "{}",
        b.log_tail("first")
    );
    b.assert_verified(&["sla"]);
}

fn text_contains(bytes: &[u8], needle: &str) -> bool {
    text(bytes).contains(needle)
}

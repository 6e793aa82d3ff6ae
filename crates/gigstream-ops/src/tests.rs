use super::*;
use crate::http::get;

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn endpoints_over_http_follow_the_run() {
    let ops = Arc::new(Ops::new());
    ops.register_service("sla");
    let server = ops.serve(local()).unwrap();
    let addr = server.local_addr();

    assert_eq!(get(addr, "/health").unwrap(), (200, "ok\n".to_string()));
    let (status, body) = get(addr, "/ready").unwrap();
    assert_eq!(status, 503);
    assert_eq!(
        body,
        "not ready: sla: starting: not connected to the input yet\n"
    );
    assert_eq!(get(addr, "/nothing").unwrap().0, 404);

    // Kafka: started, no partitions yet.
    ops.started("sla", false);
    ops.sink_result("sla", "load the checkpoints", Ok(()));
    let (status, body) = get(addr, "/ready").unwrap();
    assert_eq!(
        (status, body.as_str()),
        (503, "not ready: sla: no partition assigned\n")
    );

    let owned: Vec<(Topic, u32)> = (0..4).map(|p| (Topic::Telemetry, p)).collect();
    ops.assignment("sla", &owned);
    assert_eq!(get(addr, "/ready").unwrap(), (200, "ready\n".to_string()));

    let mut batch = PollBatch::default();
    let t = topic_index(Topic::Telemetry);
    batch.consumed[t] = 120;
    batch.applied[t] = 110;
    batch.duplicates[t] = 4;
    batch.dead_lettered[t] = 6;
    ops.polled("sla", &batch);
    ops.polled("sla", &batch);
    let lag: BTreeMap<(Topic, u32), u64> = owned.iter().map(|k| (*k, 7 + k.1 as u64)).collect();
    ops.lag("sla", Some(34), Some(&lag));
    ops.committed(
        "sla",
        &CommitReport {
            duration: Duration::from_millis(30),
            rows: 2_500,
            result: Ok(()),
        },
    );
    let letters = BTreeMap::from([(("telemetry".to_string(), "late".to_string()), 12)]);
    ops.dead_letters("sla", &letters);

    let (status, text) = get(addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    for line in [
        r#"gigstream_events_consumed_total{service="sla",topic="telemetry"} 240"#,
        r#"gigstream_events_applied_total{service="sla",topic="telemetry"} 220"#,
        r#"gigstream_events_duplicate_total{service="sla",topic="telemetry"} 8"#,
        r#"gigstream_dead_letters_total{service="sla",topic="telemetry",reason="late"} 12"#,
        r#"gigstream_consumer_lag{service="sla",topic="telemetry",partition="3"} 10.0"#,
        r#"gigstream_assigned_partitions{service="sla"} 4.0"#,
        r#"gigstream_rebalances_total{service="sla"} 1"#,
        r#"gigstream_flush_seconds_bucket{le="0.025",service="sla"} 0"#,
        r#"gigstream_flush_seconds_bucket{le="0.05",service="sla"} 1"#,
        r#"gigstream_flush_seconds_count{service="sla"} 1"#,
        r#"gigstream_flush_rows_bucket{le="10000.0",service="sla"} 1"#,
        r#"gigstream_flush_rows_sum{service="sla"} 2500.0"#,
        r#"gigstream_commits_total{service="sla",result="ok"} 1"#,
        r#"gigstream_sink_errors_total{service="sla"} 0"#,
        r#"gigstream_sink_retries_total{service="sla"} 0"#,
        r#"gigstream_up{service="sla"} 1.0"#,
        "# TYPE gigstream_flush_seconds histogram",
        "# TYPE gigstream_consumer_lag gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }

    // The sink goes down: not ready, with the reason; errors and retries counted.
    ops.committed(
        "sla",
        &CommitReport {
            duration: Duration::from_secs(2),
            rows: 2_500,
            result: Err("connection refused (127.0.0.1:8123)\nmore detail"),
        },
    );
    ops.retry(
        "sla",
        "commit the tables",
        "connection refused",
        Duration::from_millis(200),
    );
    let (status, body) = get(addr, "/ready").unwrap();
    assert_eq!(status, 503);
    assert_eq!(
        body,
        "not ready: sla: last sink operation failed: connection refused (127.0.0.1:8123)\n"
    );
    let (_, text) = get(addr, "/metrics").unwrap();
    assert!(
        text.contains("gigstream_sink_errors_total{service=\"sla\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("gigstream_sink_retries_total{service=\"sla\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("gigstream_commits_total{service=\"sla\",result=\"error\"} 1\n"));

    // Back, then a rebalance takes two partitions away: their lag series go.
    ops.sink_result("sla", "load the checkpoints", Ok(()));
    assert_eq!(get(addr, "/ready").unwrap().0, 200);
    ops.assignment("sla", &owned[..2]);
    let lag: BTreeMap<(Topic, u32), u64> = owned[..2].iter().map(|k| (*k, 1)).collect();
    ops.lag("sla", Some(2), Some(&lag));
    let (_, text) = get(addr, "/metrics").unwrap();
    assert!(!text.contains("partition=\"3\""), "{text}");
    assert!(text.contains("gigstream_assigned_partitions{service=\"sla\"} 2.0\n"));

    ops.stopping("sla");
    assert_eq!(
        get(addr, "/ready").unwrap(),
        (503, "not ready: sla: stopping\n".to_string())
    );
    assert_eq!(get(addr, "/health").unwrap().0, 200);
}

#[test]
fn the_embedded_log_needs_no_assignment_and_every_service_must_be_ready() {
    let ops = Arc::new(Ops::new());
    assert_eq!(ops.not_ready().as_deref(), Some("no service started"));
    ops.register_service("billing");
    ops.register_service("sla");
    ops.started("billing", true);
    ops.sink_result("billing", "load the checkpoints", Ok(()));
    assert_eq!(
        ops.not_ready().as_deref(),
        Some("sla: starting: not connected to the input yet")
    );
    ops.started("sla", true);
    assert_eq!(
        ops.not_ready().as_deref(),
        Some("sla: no sink operation yet")
    );
    ops.sink_result("sla", "load the checkpoints", Ok(()));
    assert_eq!(ops.not_ready(), None);
}

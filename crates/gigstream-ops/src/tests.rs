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

#[test]
fn lag_in_seconds_follows_event_time_and_the_assignment() {
    let ops = Ops::new();
    ops.started("sla", false);
    let t = Topic::Telemetry;
    let lag = BTreeMap::from([((t, 0), 500u64), ((t, 1), 0u64), ((t, 2), 9u64)]);
    ops.lag("sla", Some(509), Some(&lag));
    // Event times: partition 0 at 1000 s, partition 1 at 1500 s, partition 2 none yet.
    let marks = BTreeMap::from([((t, 0), 1_000_000i64), ((t, 1), 1_500_000i64)]);
    ops.record_event_times("sla", &marks);
    ops.update_lag_seconds("sla", 1_090_500);
    let l = |p: &str| {
        vec![
            ("service", "sla".to_string()),
            ("topic", "telemetry".to_string()),
            ("partition", p.to_string()),
        ]
    };
    let r = ops.registry();
    assert_eq!(r.value(CONSUMER_LAG_SECONDS, &l("0")), Some(90.5));
    // Caught up: 0 behind, whatever the event time.
    assert_eq!(r.value(CONSUMER_LAG_SECONDS, &l("1")), Some(0.0));
    // Records left but no event time yet: no series rather than a made-up one.
    assert_eq!(r.value(CONSUMER_LAG_SECONDS, &l("2")), None);
    assert_eq!(r.value(EVENT_TIME_WATERMARK, &l("1")), Some(1500.0));
    // A clock behind the event times never gives a negative lag.
    ops.update_lag_seconds("sla", 0);
    assert_eq!(r.value(CONSUMER_LAG_SECONDS, &l("0")), Some(0.0));
    // After a rebalance partition 0 is gone from both gauges.
    let lag = BTreeMap::from([((t, 1), 3u64)]);
    ops.lag("sla", Some(3), Some(&lag));
    ops.update_lag_seconds("sla", 1_600_000);
    assert_eq!(r.value(CONSUMER_LAG_SECONDS, &l("0")), None);
    assert_eq!(r.value(EVENT_TIME_WATERMARK, &l("0")), None);
    assert_eq!(r.value(CONSUMER_LAG_SECONDS, &l("1")), Some(100.0));
    let text = r.render();
    assert!(
        text.contains("# TYPE gigstream_consumer_lag_seconds gauge"),
        "{text}"
    );
}

#[test]
fn dead_letter_delivery_failures_count_as_broker_errors() {
    let ops = Ops::new();
    ops.started("billing", false);
    let l = vec![
        ("service", "billing".to_string()),
        ("operation", "dlq_produce".to_string()),
    ];
    assert_eq!(ops.registry().value(BROKER_ERRORS, &l), Some(0.0));
    ops.retry(
        "billing",
        "deliver the dead letters",
        "broker down",
        Duration::from_millis(200),
    );
    ops.retry(
        "billing",
        "load the checkpoints",
        "ClickHouse down",
        Duration::from_millis(200),
    );
    assert_eq!(ops.registry().value(BROKER_ERRORS, &l), Some(1.0));
    let retries = vec![("service", "billing".to_string())];
    assert_eq!(ops.registry().value(SINK_RETRIES, &retries), Some(2.0));
}

#[test]
fn waiting_for_the_schema_registry_is_not_ready_and_counted_apart_from_the_sink() {
    let ops = Ops::new();
    ops.register_service("sla");
    ops.started("sla", true);
    ops.sink_result("sla", "load the checkpoints", Ok(()));
    assert_eq!(ops.not_ready(), None);
    let svc = vec![("service", "sla".to_string())];
    assert_eq!(
        ops.registry().value(SCHEMA_REGISTRY_ERRORS, &svc),
        Some(0.0)
    );
    let error = "cannot get writer schema id 17 from the schema registry http://sr:8081: cannot connect to sr:8081: Connection refused\nmore";
    for _ in 0..3 {
        ops.schema_registry("sla", Err(error));
        ops.retry("sla", WAIT_SCHEMAS, error, Duration::from_millis(200));
        // A commit of what went through before the wait does not make it ready.
        ops.committed(
            "sla",
            &CommitReport {
                duration: Duration::from_millis(5),
                rows: 1,
                result: Ok(()),
            },
        );
    }
    assert_eq!(
        ops.not_ready().as_deref(),
        Some("sla: records wait for the schema registry: cannot get writer schema id 17 from the schema registry http://sr:8081: cannot connect to sr:8081: Connection refused")
    );
    assert_eq!(
        ops.registry().value(SCHEMA_REGISTRY_ERRORS, &svc),
        Some(3.0)
    );
    assert_eq!(ops.registry().value(SINK_RETRIES, &svc), Some(0.0));
    assert_eq!(ops.registry().value(SINK_ERRORS, &svc), Some(0.0));
    ops.schema_registry("sla", Ok(()));
    assert_eq!(ops.not_ready(), None);
    let text = ops.registry().render();
    assert!(
        text.contains("gigstream_schema_registry_errors_total{service=\"sla\"} 3\n"),
        "{text}"
    );
}

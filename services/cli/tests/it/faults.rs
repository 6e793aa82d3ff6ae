//! Exactly-once effects against the real broker and database: every test produces a generated
//! stream into its own topics, runs the services as `gigstream run` processes into its own
//! ClickHouse database, does something bad to them, and then requires `gigstream verify` (a
//! recomputation of every table from the log, compared exactly with what ClickHouse holds) to
//! pass. A failure message carries the seed of the test's random choices.

use super::support::{
    backends, kill, process_state, produce_to, repo_path, still_loading, terminate, text,
    try_produce_to, Backends, Proxy,
};
use chrono::Datelike;
use gigstream_cli::gen_cmd::dead_letter_code;
use gigstream_clickhouse::read::read_current;
use gigstream_clickhouse::rowbinary::put_row;
use gigstream_core::table::{TableDef, Value};
use gigstream_core::Topic;
use gigstream_gen::GenConfig;
use gigstream_host::dead_letter_publisher;
use rand::Rng;
use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const TELEMETRY: &[Topic] = &[Topic::Telemetry];
const ORDERS: &[Topic] = &[Topic::Orders];

fn gen(events: u64, seed: u64, bad_ratio: f64) -> GenConfig {
    GenConfig {
        events,
        days: 12,
        seed,
        bad_ratio,
        ..GenConfig::default()
    }
}

/// Runs `gigstream run SERVICE` (until caught up) and asserts it succeeded.
fn run_to_end(b: &Backends, service: &str) -> String {
    let out = b.gigstream(&["run", service]);
    assert!(
        out.status.success(),
        "gigstream run {service} failed {}\n{}\n{}",
        b.ctx(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Every current row of the tables, with versions.
fn snapshot(b: &Backends, defs: &[&TableDef]) -> BTreeMap<String, Vec<(Vec<Value>, u64)>> {
    let conn = b.connection();
    defs.iter()
        .map(|d| {
            let rows = read_current(&conn, d, None).expect("table reads");
            (d.name.to_string(), rows)
        })
        .collect()
}

/// (a) and the dead letters: a clean run of the three services over a stream with 1% bad
/// records of every kind mixed in (wrong magic byte, unknown schema id, truncated Avro, invalid
/// JSON, invalid values, events beyond the allowed lateness) is exact; `<topic>.dlq` holds
/// exactly the bad records of its topic, once each, with the reason and origin in the headers
/// (published by the topic's publisher although two services read orders and telemetry); and
/// each service's `dead_letters` table counts exactly the bad records of the topics it reads.
pub(crate) fn a_clean_run_is_exact_and_every_bad_record_is_dead_lettered_once() {
    let b = backends("clean");
    let report = b.produce(&gen(20_000, b.seed, 0.01), None);
    let kinds: std::collections::BTreeSet<&String> =
        report.injected.values().flat_map(|m| m.keys()).collect();
    assert!(kinds.len() >= 6, "too few kinds of damage: {kinds:?}");
    for svc in ["sla", "market", "billing"] {
        run_to_end(&b, svc);
    }
    let verified = b.assert_verified(&["billing", "sla", "market"]);
    println!("{verified}");

    // What was injected into each topic, by the code it must get.
    let injected = |topic: Topic| {
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for (kind, n) in report.injected.get(topic.name()).into_iter().flatten() {
            let code = dead_letter_code(kind).unwrap_or_else(|| panic!("unknown kind {kind}"));
            *want.entry(code.to_string()).or_default() += n;
        }
        want
    };
    let mut total = 0;
    for topic in Topic::ALL {
        let want = injected(topic);
        let letters = gigstream_kafka::read_dlq(&b.kafka, topic).expect("dlq reads");
        let mut have: BTreeMap<String, u64> = BTreeMap::new();
        for l in &letters {
            *have.entry(l.code.clone()).or_default() += 1;
            assert_eq!(l.source_topic, b.kafka.topic_name(topic));
            assert_eq!(l.service, dead_letter_publisher(topic), "{l:?}");
            assert!(!l.reason.is_empty(), "{l:?}");
        }
        assert_eq!(
            have,
            want,
            "{}.dlq by code differs from the bad records sent {}",
            topic.name(),
            b.ctx()
        );
        let origins: std::collections::BTreeSet<(u32, u64)> = letters
            .iter()
            .map(|l| (l.source_partition, l.source_offset))
            .collect();
        assert_eq!(origins.len(), letters.len(), "a record dead-lettered twice");
        println!(
            "{}.dlq: {} letters = {} bad records sent",
            topic.name(),
            letters.len(),
            want.values().sum::<u64>()
        );
        total += letters.len() as u64;
    }
    assert_eq!(total, report.injected_total());

    // Every service counts the bad records of every topic it reads, in its own table.
    let rows = b
        .connection()
        .query_tsv(
            "counting dead letters",
            "SELECT service, topic, code, count() FROM dead_letters FINAL \
             GROUP BY service, topic, code",
        )
        .expect("dead_letters reads");
    let mut counted: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    for line in rows.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        counted
            .entry((f[0].to_string(), f[1].to_string()))
            .or_default()
            .insert(f[2].to_string(), f[3].parse().expect("a count"));
    }
    for (service, topics) in [
        (
            "billing",
            &[Topic::Orders, Topic::Usage, Topic::Telemetry][..],
        ),
        ("sla", TELEMETRY),
        ("market", ORDERS),
    ] {
        for &topic in topics {
            let key = (service.to_string(), topic.name().to_string());
            assert_eq!(
                counted.remove(&key).unwrap_or_default(),
                injected(topic),
                "{service}'s dead_letters on {} {}",
                topic.name(),
                b.ctx()
            );
        }
    }
    assert!(counted.is_empty(), "unexpected dead letters: {counted:?}");
}

/// (b) The SLA service is SIGKILLed at 20 seeded random moments while events keep arriving,
/// and restarted each time; its tables are still exact.
pub(crate) fn b_twenty_sigkills_lose_and_double_count_nothing() {
    let mut b = backends("kill");
    // A killed instance's partitions move on to the next one after its session expires.
    b.session_timeout_ms = 3_000;
    // The topics exist before the first start; the rest arrives while the service is killed.
    produce_to(&b.kafka, &gen(500, b.seed, 0.0), None);
    let (kafka, g) = (b.kafka.clone(), gen(40_000, b.seed + 1, 0.0));
    let producer = std::thread::spawn(move || produce_to(&kafka, &g, Some(400.0)));
    let total = |b: &Backends| b.stored_offsets("sla").values().sum::<u64>();
    let mut progressed = Vec::new();
    for _ in 0..20 {
        let before = total(&b);
        let mut child = b.spawn("sla", "sla");
        // Kill at a random moment after this instance has committed something (joining the
        // group takes until the killed one's session has expired), or after 30 s.
        let started = Instant::now();
        while total(&b) == before && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(b.pause(0, 1_500));
        kill(&mut child);
        progressed.push(total(&b) - before);
    }
    producer.join().expect("producer thread");
    println!("offsets committed by each killed instance: {progressed:?}");
    assert!(
        progressed.iter().filter(|&&n| n > 0).count() >= 15,
        "too few killed instances had committed anything: {progressed:?} {}",
        b.ctx()
    );
    let mut last = b.spawn("sla", "sla");
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(180));
    terminate(&mut last, Duration::from_secs(20));
    b.assert_verified(&["sla"]);
}

/// (b) for every service: billing, market and SLA run as processes of their own, and one of
/// them (a seeded choice) is SIGKILLed and restarted right away, 9 times in all (each service
/// 3 times) while events keep arriving; the others keep running. Every table of the three is
/// still exact. The restarted member joins while the killed one is still in the group, whose
/// partitions move on when its session times out.
pub(crate) fn b_each_service_sigkilled_and_restarted_stays_exact() {
    let mut b = backends("kill-each");
    const SERVICES: [(&str, &[Topic]); 3] = [
        ("billing", &[Topic::Orders, Topic::Usage, Topic::Telemetry]),
        ("market", ORDERS),
        ("sla", TELEMETRY),
    ];
    // Events keep arriving until the last kill: a day of events after the other, 2,000 at
    // 250/s each (event time moves on, so nothing is late; it stays behind the wall clock).
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).expect("a date");
    let day = |k: u64| {
        let mut g = gen(2_000, b.seed + k, 0.0);
        (g.days, g.end) = (1, start + chrono::Days::new(k));
        g
    };
    produce_to(&b.kafka, &day(0), None);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let (kafka, stop) = (b.kafka.clone(), stop.clone());
        let days: Vec<GenConfig> = (1..=240).map(day).collect();
        std::thread::spawn(move || {
            for g in &days {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                // A broker busy with the restarts may answer late: that day again (records
                // sent twice are in the log twice, and verify recomputes from the log).
                let mut tries = 0;
                while let Err(e) = try_produce_to(&kafka, g, Some(250.0)) {
                    tries += 1;
                    assert!(tries < 5, "producing failed 5 times: {e:#}");
                    println!("producing failed, again: {e:#}");
                    std::thread::sleep(Duration::from_secs(2));
                }
            }
        })
    };
    let total = |b: &Backends, service: &str| b.stored_offsets(service).values().sum::<u64>();
    let mut running: Vec<(Child, u64)> = SERVICES
        .iter()
        .map(|(service, _)| (b.spawn(service, service), total(&b, service)))
        .collect();
    let mut kills = [0usize; 3];
    let mut progressed = Vec::new();
    for round in 0..9 {
        // Each service 3 times: a seeded choice among the ones killed least so far.
        let least = *kills.iter().min().expect("three services");
        let candidates: Vec<usize> = (0..3).filter(|&i| kills[i] == least).collect();
        let i = candidates[b.rng.random_range(0..candidates.len())];
        let service = SERVICES[i].0;
        let (child, at_start) = &mut running[i];
        // Kill at a random moment after this instance has committed something, or after 90 s.
        let started = Instant::now();
        while total(&b, service) == *at_start && started.elapsed() < Duration::from_secs(90) {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(b.pause(0, 1_500));
        kill(child);
        let now = total(&b, service);
        progressed.push((round, service, now - *at_start));
        kills[i] += 1;
        running[i] = (b.spawn(service, service), now);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    producer.join().expect("producer thread");
    println!("offsets committed by each killed instance: {progressed:?}");
    assert!(
        progressed.iter().filter(|p| p.2 > 0).count() >= 8,
        "too few killed instances had committed anything: {progressed:?} {}",
        b.ctx()
    );
    for (service, topics) in SERVICES {
        b.wait_caught_up(service, topics, Duration::from_secs(180));
    }
    for (child, _) in &mut running {
        assert_eq!(
            terminate(child, Duration::from_secs(30)),
            Some(0),
            "{}{}",
            b.ctx(),
            b.all_log_tails()
        );
    }
    b.assert_verified(&["billing", "market", "sla"]);
}

/// (c) Two instances of the SLA service in one consumer group split the partitions; one is
/// killed mid-run and the other takes its partitions over (a rebalance, one session timeout
/// later) from the checkpoints.
pub(crate) fn c_two_instances_one_killed_mid_run_stay_exact() {
    let mut b = backends("rebalance");
    produce_to(&b.kafka, &gen(500, b.seed, 0.0), None);
    let (kafka, g) = (b.kafka.clone(), gen(16_000, b.seed + 1, 0.0));
    let producer = std::thread::spawn(move || produce_to(&kafka, &g, Some(800.0)));
    let mut first = b.spawn("sla", "first");
    let mut second = b.spawn("sla", "second");
    // Both hold partitions before one is killed.
    const ADOPTED: &str = "adopted assigned partitions";
    let started = Instant::now();
    while (b.log_count("first", ADOPTED) == 0 || b.log_count("second", ADOPTED) == 0)
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(b.pause(1_000, 5_000));
    let adopted_before = b.log_count("second", ADOPTED);
    assert!(
        b.log_count("first", ADOPTED) > 0 && adopted_before > 0,
        "the two instances did not both get partitions: {}\n---\n{}",
        b.log_tail("first"),
        b.log_tail("second")
    );
    kill(&mut first);
    producer.join().expect("producer thread");
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(180));
    assert!(
        b.log_count("second", ADOPTED) > adopted_before,
        "the survivor never adopted the killed instance's partitions: {}",
        b.log_tail("second")
    );
    assert_eq!(
        second.try_wait().expect("status"),
        None,
        "the surviving instance exited: {}",
        b.log_tail("second")
    );
    println!("survivor: {} adoptions", b.log_count("second", ADOPTED));
    terminate(&mut second, Duration::from_secs(20));
    b.assert_verified(&["sla"]);
}

/// (d) Resetting the consumer group to the earliest offsets changes nothing (positions come
/// from ClickHouse, Kafka's are only a hint); a requested replay rebuilds every table from
/// offset 0 in a new epoch, to the same values.
pub(crate) fn d_group_reset_and_full_replay_give_the_same_tables() {
    let b = backends("replay");
    b.produce(&gen(12_000, b.seed, 0.0), None);
    run_to_end(&b, "market");
    b.assert_verified(&["market"]);
    let defs = &gigstream_market::tables::ALL[..];
    let before = snapshot(&b, defs);
    let offsets = b.stored_offsets("market");
    assert!(before.values().any(|rows| !rows.is_empty()));

    let group = gigstream_host::consumer_group(&b.kafka, "market");
    let n = gigstream_kafka::reset_group_to_earliest(&b.kafka, &group, ORDERS).expect("reset");
    assert_eq!(n, 4);
    run_to_end(&b, "market");
    assert_eq!(b.stored_offsets("market"), offsets);
    assert_eq!(
        snapshot(&b, defs),
        before,
        "a group reset changed the tables {}",
        b.ctx()
    );

    let out = b.gigstream(&["replay", "market"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    run_to_end(&b, "market");
    b.assert_verified(&["market"]);
    let after = snapshot(&b, defs);
    let max_before = before.values().flatten().map(|r| r.1).max().unwrap_or(0);
    for (name, rows) in &after {
        let values: Vec<&Vec<Value>> = rows.iter().map(|r| &r.0).collect();
        let old: Vec<&Vec<Value>> = before[name].iter().map(|r| &r.0).collect();
        assert_eq!(values, old, "{name} changed in the replay {}", b.ctx());
        assert!(
            rows.iter().all(|r| r.1 > max_before),
            "{name} has rows of the old epoch"
        );
    }
}

/// (e) ClickHouse (a server of this test's own) is stopped for a while mid-run and started
/// again: the service waits and retries, never exits, and the tables end exact.
pub(crate) fn e_clickhouse_down_mid_run_then_back() {
    let mut b = backends("chdown");
    // A port beside the shared server's (which is free where the tests run).
    let port: u16 = b
        .clickhouse
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("a port in the ClickHouse URL");
    let port = (port + 20).to_string();
    let ch_dir = b.dir.path().join("clickhouse");
    // The server runs as its own user, which must reach its data below the temp dir.
    let _ = Command::new("chmod").arg("755").arg(b.dir.path()).status();
    let script = |name: &str, args: &[&str]| {
        let out = Command::new(repo_path(&format!(
            "crates/gigstream-clickhouse/scripts/{name}"
        )))
        .arg(&ch_dir)
        .args(args)
        .output()
        .expect("script runs");
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
    };
    script("start-clickhouse.sh", &[&port]);
    // Stopped when the test ends, passed or not (a leftover server would hold the port).
    struct Stop(std::path::PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new(repo_path(
                "crates/gigstream-clickhouse/scripts/stop-clickhouse.sh",
            ))
            .arg(&self.0)
            .output();
        }
    }
    let _stop = Stop(ch_dir.clone());
    b.clickhouse.url = format!("http://127.0.0.1:{port}");
    b.clickhouse.user = String::new();

    produce_to(&b.kafka, &gen(500, b.seed, 0.0), None);
    let (kafka, g) = (b.kafka.clone(), gen(12_000, b.seed + 1, 0.0));
    let producer = std::thread::spawn(move || produce_to(&kafka, &g, Some(800.0)));
    let mut svc = b.spawn("sla", "sla");
    std::thread::sleep(b.pause(2_000, 5_000));
    // Killed, not stopped: a server that stops gracefully lets the request in flight wait and
    // the HTTP client then retries it on the restarted server, so no failure would show.
    let pid = std::fs::read_to_string(ch_dir.join("clickhouse.pid")).expect("the server's pid");
    let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
    let _ = std::fs::remove_file(ch_dir.join("clickhouse.pid"));
    let down = Instant::now();
    std::thread::sleep(b.pause(5_000, 9_000));
    assert_eq!(
        svc.try_wait().expect("status"),
        None,
        "the service exited while ClickHouse was down: {}",
        b.log_tail("sla")
    );
    script("start-clickhouse.sh", &[&port]);
    println!("ClickHouse was down for {:?}", down.elapsed());
    producer.join().expect("producer thread");
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(180));
    terminate(&mut svc, Duration::from_secs(20));
    b.assert_verified(&["sla"]);
    let log = std::fs::read_to_string(b.log_path("sla")).unwrap_or_default();
    assert!(
        log.contains("retry"),
        "the service log does not show the retries: {}",
        b.log_tail("sla")
    );
    script("stop-clickhouse.sh", &[]);
}

/// (f) The negative control: when one request is really counted twice in what ClickHouse
/// holds (its minute and its month each get one more request, in a newer version, as a
/// double-applied event would leave them), the comparison fails and names the rows.
pub(crate) fn f_an_event_counted_twice_fails_the_comparison() {
    let b = backends("double");
    b.produce(&gen(5_000, b.seed, 0.0), None);
    run_to_end(&b, "sla");
    b.assert_verified(&["sla"]);

    let conn = b.connection();
    let minute = &gigstream_sla::tables::SLA_MINUTE;
    let monthly = &gigstream_sla::tables::SLA_MONTHLY;
    let rows = read_current(&conn, minute, None).expect("minutes");
    let (mut row, version) = rows
        .iter()
        .find(
            |(r, _)| matches!(r[minute.column_index("requests").unwrap()], Value::U64(n) if n > 0),
        )
        .cloned()
        .expect("a minute with requests");
    let bump = |def: &TableDef, row: &mut Vec<Value>| {
        let i = def.column_index("requests").expect("requests column");
        let Value::U64(n) = row[i] else {
            panic!("requests is a count: {:?}", row[i])
        };
        row[i] = Value::U64(n + 1);
    };
    bump(minute, &mut row);
    let service = row[minute.column_index("service_id").unwrap()].clone();
    let Value::DateTime(at) = row[minute.column_index("minute").unwrap()] else {
        panic!("minute is a DateTime")
    };
    let day = chrono::DateTime::from_timestamp(at, 0)
        .expect("valid minute")
        .date_naive();
    let first = day.with_day(1).expect("first of the month");
    let month_days =
        (first - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
    let months = read_current(&conn, monthly, None).expect("months");
    let (mut month, _) = months
        .into_iter()
        .find(|(r, _)| {
            r[monthly.column_index("service_id").unwrap()] == service
                && r[monthly.column_index("month").unwrap()] == Value::Date(month_days)
        })
        .expect("the minute's month");
    bump(monthly, &mut month);
    for (def, row) in [(minute, &row), (monthly, &month)] {
        let mut buf = Vec::new();
        put_row(&mut buf, def, row, version + 1).expect("row encodes");
        let mut columns: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
        columns.push("_version");
        conn.insert_rowbinary(def.name, &columns, buf)
            .expect("insert");
    }

    let out = b.gigstream(&["verify", "sla"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "verify must fail: {stdout}");
    assert!(
        stdout.contains("sla_minute") && stdout.contains("requests"),
        "the mismatch is not named: {stdout}"
    );
    println!("{stdout}");
}

/// Scaling out: three instances of a service in one group split the partitions (each gets
/// some) while events arrive, and together they leave exact tables.
pub(crate) fn g_three_instances_split_the_partitions_and_stay_exact() {
    let b = backends("scale");
    produce_to(&b.kafka, &gen(500, b.seed, 0.0), None);
    let (kafka, g) = (b.kafka.clone(), gen(12_000, b.seed + 1, 0.0));
    let producer = std::thread::spawn(move || produce_to(&kafka, &g, Some(800.0)));
    let labels = ["one", "two", "three"];
    let mut children: Vec<_> = labels.iter().map(|l| b.spawn("sla", l)).collect();
    // An instance holds partitions once it logged adopting a non-empty list of them.
    let holds = |label: &str| {
        let log = std::fs::read_to_string(b.log_path(label)).unwrap_or_default();
        log.lines().any(|line| {
            let plain = strip_ansi(line);
            plain.contains("adopted assigned partitions") && !plain.contains("partitions=[]")
        })
    };
    let started = Instant::now();
    while labels.iter().any(|l| !holds(l)) && started.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(200));
    }
    for l in labels {
        assert!(
            holds(l),
            "instance {l} never got partitions {}: {}",
            b.ctx(),
            b.log_tail(l)
        );
    }
    producer.join().expect("producer thread");
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(180));
    for (l, child) in labels.iter().zip(children.iter_mut()) {
        assert_eq!(
            child.try_wait().expect("status"),
            None,
            "instance {l} exited: {}",
            b.log_tail(l)
        );
    }
    for child in &mut children {
        terminate(child, Duration::from_secs(30));
    }
    b.assert_verified(&["sla"]);
}

/// An instance holds partitions once it logged adopting a non-empty list of them; how many
/// times it did.
fn adoptions(b: &Backends, label: &str) -> usize {
    let log = std::fs::read_to_string(b.log_path(label)).unwrap_or_default();
    log.lines()
        .filter(|line| {
            let plain = strip_ansi(line);
            plain.contains("adopted assigned partitions") && !plain.contains("partitions=[]")
        })
        .count()
}

/// A second instance joins mid-run (the two split the partitions), then leaves with SIGTERM
/// while events keep arriving; the first takes its partitions back and the tables stay exact.
pub(crate) fn h_a_second_instance_joins_and_leaves_mid_run() {
    let b = backends("join-leave");
    produce_to(&b.kafka, &gen(500, b.seed, 0.0), None);
    let (kafka, g) = (b.kafka.clone(), gen(16_000, b.seed + 1, 0.01));
    let producer = std::thread::spawn(move || produce_to(&kafka, &g, Some(800.0)));
    let wait = |what: &str, label: &str, cond: &dyn Fn() -> bool| {
        let started = Instant::now();
        while !cond() {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{what} {}: {}",
                b.ctx(),
                b.log_tail(label)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let mut one = b.spawn("sla", "one");
    wait("the first instance never got partitions", "one", &|| {
        adoptions(&b, "one") >= 1
    });
    let mut two = b.spawn("sla", "two");
    wait("the second instance never got partitions", "two", &|| {
        adoptions(&b, "two") >= 1
    });
    let before = adoptions(&b, "one");
    // Some work with the partitions split, then the second leaves.
    std::thread::sleep(Duration::from_secs(3));
    let producer = still_loading(&b.kafka, producer, &gen(4_000, b.seed + 2, 0.01));
    assert_eq!(
        terminate(&mut two, Duration::from_secs(30)),
        Some(0),
        "{}: {}",
        b.ctx(),
        b.log_tail("two")
    );
    wait(
        "the first instance never took the partitions back",
        "one",
        &|| adoptions(&b, "one") > before,
    );
    producer.join().expect("producer thread");
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(180));
    assert_eq!(
        terminate(&mut one, Duration::from_secs(30)),
        Some(0),
        "{}: {}",
        b.ctx(),
        b.log_tail("one")
    );
    b.assert_verified(&["sla"]);
}

/// `line` without terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// (i) An owner whose sink is unreachable for longer than a session timeout keeps its
/// partitions: two instances of the SLA service in one group, one of them writing to
/// ClickHouse through a proxy that the test cuts for 2.5 session timeouts while events keep
/// arriving. The stalled instance retries its commit and reads nothing meanwhile, but
/// librdkafka goes on heartbeating for it, so neither instance sees a rebalance (nobody else
/// watches its progress). Once the proxy is back it commits what it held, both catch up, and
/// every table is exact.
pub(crate) fn i_an_owner_whose_sink_is_down_past_its_session_keeps_its_partitions() {
    let mut b = backends("sink-down");
    produce_to(&b.kafka, &gen(500, b.seed, 0.0), None);
    let url = b
        .clickhouse
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let target = std::net::ToSocketAddrs::to_socket_addrs(url)
        .ok()
        .and_then(|mut a| a.next())
        .expect("the ClickHouse address");
    let proxy = Proxy::start(target);
    let (kafka, g) = (b.kafka.clone(), gen(6_000, b.seed + 1, 0.0));
    let producer = std::thread::spawn(move || produce_to(&kafka, &g, Some(300.0)));
    let mut direct = b.spawn("sla", "direct");
    let proxied = proxy.url();
    let mut cut = b.spawn_env(
        "cut",
        &["sla"],
        &[("GIGSTREAM_CLICKHOUSE_URL", proxied.as_str())],
    );
    const ADOPTED: &str = "adopted assigned partitions";
    let started = Instant::now();
    while (b.log_count("direct", ADOPTED) == 0 || b.log_count("cut", ADOPTED) == 0)
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        b.log_count("direct", ADOPTED) > 0 && b.log_count("cut", ADOPTED) > 0,
        "the two instances did not both get partitions {}{}",
        b.ctx(),
        b.all_log_tails()
    );
    // Both have committed since (the group is settled and the proxied sink works) before the
    // counts are taken.
    const COMMITTED: &str = "committed service";
    let (direct_commits, cut_commits) = (
        b.log_count("direct", COMMITTED),
        b.log_count("cut", COMMITTED),
    );
    while (b.log_count("direct", COMMITTED) <= direct_commits
        || b.log_count("cut", COMMITTED) <= cut_commits)
        && started.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        b.log_count("direct", COMMITTED) > direct_commits
            && b.log_count("cut", COMMITTED) > cut_commits,
        "the two instances did not both commit after taking their partitions: direct {}, cut {} {}{}",
        process_state(&mut direct),
        process_state(&mut cut),
        b.ctx(),
        b.all_log_tails()
    );
    std::thread::sleep(b.pause(1_000, 3_000));
    const ASSIGNED: &str = "kafka partitions assigned";
    const REVOKED: &str = "kafka partitions revoked";
    let before = [
        b.log_count("direct", ASSIGNED),
        b.log_count("direct", REVOKED),
        b.log_count("cut", ASSIGNED),
        b.log_count("cut", REVOKED),
    ];

    // Events arrive through the whole outage (30 s at 300/s, longer than it), whatever the
    // first producer has left: a slow start of the instances cannot use them all up before.
    let (kafka, g) = (b.kafka.clone(), gen(9_000, b.seed + 2, 0.0));
    let during = std::thread::spawn(move || produce_to(&kafka, &g, Some(300.0)));
    proxy.cut();
    let outage = Duration::from_millis(b.session_timeout_ms * 5 / 2);
    std::thread::sleep(outage);
    let retries = b.log_count("cut", "retrying");
    proxy.restore();
    producer.join().expect("producer thread");
    during.join().expect("producer thread");
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(180));
    let after = [
        b.log_count("direct", ASSIGNED),
        b.log_count("direct", REVOKED),
        b.log_count("cut", ASSIGNED),
        b.log_count("cut", REVOKED),
    ];
    println!(
        "sink unreachable for {outage:?} ({retries} retries logged); assignments and revocations \
         (direct, cut) before {before:?}, after {after:?}"
    );
    assert!(
        retries > 0,
        "the cut instance never retried ({}) {}",
        process_state(&mut cut),
        b.log_tail("cut")
    );
    assert_eq!(
        before,
        after,
        "a rebalance happened while the sink was down {}{}",
        b.ctx(),
        b.all_log_tails()
    );
    for (child, label) in [(&mut direct, "direct"), (&mut cut, "cut")] {
        assert_eq!(
            terminate(child, Duration::from_secs(30)),
            Some(0),
            "{label} {}",
            b.log_tail(label)
        );
    }
    b.assert_verified(&["sla"]);
}

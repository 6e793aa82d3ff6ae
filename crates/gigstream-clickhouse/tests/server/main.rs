//! Tests against a real ClickHouse server (start one with `scripts/start-clickhouse.sh DIR
//! PORT`); the harness (`gigstream_testkit::harness`) skips them, reporting them as ignored,
//! where `GIGSTREAM_CLICKHOUSE_URL` is unset. Each test uses its own database.

use gigstream_clickhouse::ddl::create_table;
use gigstream_clickhouse::{ClickHouseConfig, ClickHouseSink, Connection, Sink};
use gigstream_core::table::{TableData, Value};
use gigstream_core::TableChanges;
use gigstream_core::Topic;
use gigstream_runtime::{Commit, RowGroup, SinkError, StoredTask};
use gigstream_testkit::fixtures::{dec, ALL_TYPES};
use gigstream_testkit::harness::{main_of, Needs, Test};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

fn config(db: &str) -> ClickHouseConfig {
    let mut c = gigstream_testkit::services::clickhouse();
    c.database = format!("gigstream_test_{db}");
    c.request_timeout = Duration::from_secs(30);
    c
}

/// Drops the test database first so a failed earlier run does not leak into this one.
fn fresh(c: &ClickHouseConfig) {
    let admin = Connection::new(c.clone(), false).expect("client");
    admin
        .execute(
            "dropping the test database",
            &format!("DROP DATABASE IF EXISTS `{}`", c.database),
        )
        .expect("drop test database");
}

fn rows(scale: i64) -> TableData {
    let mut t = TableData::new(&ALL_TYPES);
    for id in 1..=3u64 {
        let n = id as i64 * scale;
        t.push(vec![
            Value::U64(id),
            Value::from(format!("row 'q' \\ \t {id}")),
            Value::U8((id % 2) as u8),
            Value::U32(u32::MAX - id as u32),
            Value::I64(-n),
            Value::F64(0.25 * id as f64),
            dec(&format!("{n}.05")),
            if id == 2 {
                Value::Null
            } else {
                dec(&format!("-{n}.0001"))
            },
            Value::Date(19_000 + id as i32),
            if id == 3 {
                Value::Null
            } else {
                Value::DateTime(1_700_000_000 + n)
            },
            Value::ArrU32((0..id as u32).collect()),
            Value::ArrU64(vec![u64::MAX; id as usize]),
            if id == 1 {
                Value::Null
            } else {
                Value::from("x")
            },
        ]);
    }
    t
}

/// What `SELECT ... FINAL` must show for `rows(scale)`, as TabSeparated.
fn expected(scale: i64) -> String {
    let mut out = String::new();
    for id in 1..=3i64 {
        let n = id * scale;
        let qty = if id == 2 {
            "\\N".to_string()
        } else {
            format!("-{n}.0001")
        };
        let at = if id == 3 {
            "\\N".to_string()
        } else {
            (1_700_000_000 + n).to_string()
        };
        let a32: Vec<String> = (0..id).map(|x| x.to_string()).collect();
        let a64 = vec![u64::MAX.to_string(); id as usize];
        let note = if id == 1 { "\\N" } else { "x" };
        out.push_str(&format!(
            "{id}\trow \\'q\\' \\\\ \\t {id}\t{}\t{}\t{}\t{}\t{n}.05\t{qty}\t{}\t{at}\t[{}]\t[{}]\t{note}\n",
            id % 2,
            u32::MAX - id as u32,
            -n,
            0.25 * id as f64,
            19_000 + id,
            a32.join(","),
            a64.join(","),
        ));
    }
    out
}

const SELECT_ALL: &str = "SELECT id, s, flag, n32, i, f, toString(money), toString(qty), \
     toUInt32(day), toUInt32(at), a32, a64, note FROM all_types FINAL ORDER BY id";

fn read_all(sink: &ClickHouseSink) -> String {
    sink.connection()
        .query_tsv("reading back", SELECT_ALL)
        .expect("select all_types")
}

fn scalar(sink: &ClickHouseSink, sql: &str) -> String {
    sink.connection()
        .query_tsv("test query", sql)
        .expect(sql)
        .trim()
        .to_string()
}

/// Commits `tables` at `version` with one task (orders/0) checkpointed at `next_offset`.
fn commit(
    sink: &mut ClickHouseSink,
    tables: &[TableData],
    version: u64,
    next_offset: u64,
    ck: &[u8],
) -> Result<(), SinkError> {
    let task = StoredTask {
        topic: Topic::Orders,
        partition: 0,
        epoch: 0,
        next_offset,
        bytes: ck.to_vec(),
    };
    sink.commit(
        "svc",
        &Commit {
            groups: &[group(tables, version)],
            tasks: &[(task, true)],
        },
    )
}

/// Every row of `tables` as upserts at `version`.
fn group(tables: &[TableData], version: u64) -> RowGroup {
    RowGroup {
        version,
        tables: tables
            .iter()
            .map(|t| TableChanges::upserts(t).expect("rows fit the table"))
            .collect(),
    }
}

/// The stored checkpoint of task orders/0.
fn load(sink: &mut ClickHouseSink) -> Result<Option<Vec<u8>>, SinkError> {
    Ok(sink
        .load_tasks("svc", None)?
        .into_iter()
        .find(|t| (t.topic, t.partition) == (Topic::Orders, 0))
        .map(|t| t.bytes))
}

fn connect_with_table(c: &ClickHouseConfig) -> ClickHouseSink {
    let sink = ClickHouseSink::connect(c.clone()).expect("connect");
    sink.connection()
        .execute("creating all_types", &create_table(&ALL_TYPES))
        .expect("create all_types");
    sink
}

pub(crate) fn migrations_apply_once() {
    let c = config("migrations");
    fresh(&c);
    let admin = Connection::new(c.clone(), false).expect("client");
    let db = Connection::new(c.clone(), true).expect("client");
    let first = gigstream_clickhouse::apply_migrations(&admin, &db).expect("first apply");
    assert_eq!(first, ["0001_init", "0002_checkpoint_chunks"]);
    let second = gigstream_clickhouse::apply_migrations(&admin, &db).expect("second apply");
    assert!(second.is_empty(), "{second:?}");
    // A sink connecting later applies nothing either.
    let sink = ClickHouseSink::connect(c.clone()).expect("connect");
    assert_eq!(
        scalar(&sink, "SELECT count() FROM gigstream_migrations"),
        "2"
    );
    let tables = scalar(
        &sink,
        &format!(
            "SELECT count() FROM system.tables WHERE database = '{}' AND name IN \
             ('billing_payments', 'sla_minute', 'market_quotes', 'dead_letters', 'positions', 'gigstream_task_checkpoints', 'gigstream_checkpoint_chunks')",
            c.database
        ),
    );
    assert_eq!(tables, "7");
    fresh(&c);
}

pub(crate) fn commit_roundtrip_and_no_double_count() {
    let mut c = config("roundtrip");
    c.batch_bytes = 100; // several inserts per table
    fresh(&c);
    let mut sink = connect_with_table(&c);
    assert_eq!(load(&mut sink).expect("load"), None);
    let t = rows(1);
    commit(&mut sink, std::slice::from_ref(&t), 1, 1, b"\x00ck\xff1").expect("commit");
    assert_eq!(read_all(&sink), expected(1));
    assert_eq!(
        load(&mut sink).expect("load"),
        Some(b"\x00ck\xff1".to_vec())
    );
    let sum = "SELECT sum(money), count() FROM all_types FINAL";
    assert_eq!(scalar(&sink, sum), "6.15\t3");

    // The same tables again at the same version (a replayed commit): nothing counted twice.
    commit(&mut sink, std::slice::from_ref(&t), 1, 1, b"\x00ck\xff1").expect("commit again");
    assert_eq!(scalar(&sink, sum), "6.15\t3");
    assert_eq!(
        scalar(&sink, "SELECT count() FROM all_types"),
        "6",
        "two copies stored"
    );
    assert_eq!(read_all(&sink), expected(1));

    // A new process with more input commits a higher version, which wins.
    let mut again = ClickHouseSink::connect(c.clone()).expect("reconnect");
    assert_eq!(
        load(&mut again).expect("load"),
        Some(b"\x00ck\xff1".to_vec())
    );
    commit(&mut again, &[rows(10)], 10, 10, b"ck3").expect("commit new values");
    assert_eq!(load(&mut again).expect("load"), Some(b"ck3".to_vec()));
    assert_eq!(read_all(&again), expected(10));
    assert_eq!(scalar(&again, sum), "60.15\t3");
    let heads = again.task_heads("svc").expect("heads");
    assert_eq!(heads.len(), 1);
    assert_eq!((heads[0].next_offset, heads[0].bytes.len()), (10, 0));
    fresh(&c);
}

pub(crate) fn crash_between_tables_and_checkpoint_is_repaired_by_next_commit() {
    let c = config("crash");
    fresh(&c);
    let mut sink = connect_with_table(&c);
    commit(&mut sink, &[rows(1)], 1, 1, b"ck1").expect("commit");
    // Commit 2 writes its tables, then the process dies before the checkpoint.
    sink.write_groups(&[group(&[rows(5)], 5)])
        .expect("tables of the crashed commit");
    drop(sink);

    // Restart: resumes from ck1; the replay reaches a state past the crashed one (rows(7)) and
    // commits it.
    let mut sink = ClickHouseSink::connect(c.clone()).expect("restart");
    assert_eq!(load(&mut sink).expect("load"), Some(b"ck1".to_vec()));
    commit(&mut sink, &[rows(7)], 7, 7, b"ck2").expect("commit after restart");
    assert_eq!(load(&mut sink).expect("load"), Some(b"ck2".to_vec()));
    assert_eq!(read_all(&sink), expected(7));
    assert_eq!(
        scalar(
            &sink,
            "SELECT sum(money), sum(i), count() FROM all_types FINAL"
        ),
        "42.15\t-42\t3"
    );
    // Merging does not bring anything of the crashed commit back.
    sink.connection()
        .execute("optimizing", "OPTIMIZE TABLE all_types FINAL")
        .expect("optimize");
    assert_eq!(read_all(&sink), expected(7));
    assert_eq!(scalar(&sink, "SELECT count() FROM all_types"), "3");
    fresh(&c);
}

pub(crate) fn replay_request_outranks_every_stored_version() {
    let c = config("replay");
    fresh(&c);
    let mut sink = connect_with_table(&c);
    commit(&mut sink, &[rows(3)], 30, 30, b"ck30").expect("commit");
    let epoch = sink.request_replay("svc").expect("replay request");
    assert_eq!(epoch, 1);
    let tasks = sink.load_tasks("svc", None).expect("load");
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].epoch, tasks[0].next_offset), (1, 0));
    assert!(tasks[0].bytes.is_empty(), "a replay marker has no state");
    assert!(tasks[0].version() > 30);
    fresh(&c);
}

pub(crate) fn schema_and_type_errors_are_not_retryable() {
    let c = config("fatal");
    fresh(&c);
    let mut sink = ClickHouseSink::connect(c.clone()).expect("connect");
    // all_types was never created here.
    let err = commit(&mut sink, &[rows(1)], 1, 1, b"ck").expect_err("unknown table");
    assert!(!err.is_retryable(), "{err}");
    let err = sink
        .connection()
        .execute(
            "bad ddl",
            "CREATE TABLE broken (x Nope) ENGINE = MergeTree ORDER BY x",
        )
        .expect_err("bad type");
    assert!(!err.is_retryable(), "{err}");
    fresh(&c);
}

/// A TCP proxy in front of the server that can be cut, like a server going away.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (d, cs) = (down.clone(), conns.clone());
        thread::spawn(move || loop {
            match listener.accept() {
                Ok((client, _)) if !d.load(Ordering::SeqCst) => {
                    client.set_nonblocking(false).expect("blocking");
                    let server = TcpStream::connect(&upstream).expect("upstream");
                    cs.lock()
                        .unwrap()
                        .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                    for (mut from, mut to) in [
                        (client.try_clone().unwrap(), server.try_clone().unwrap()),
                        (server, client),
                    ] {
                        thread::spawn(move || {
                            let mut buf = [0u8; 8192];
                            while let Ok(n) = from.read(&mut buf) {
                                if n == 0 || to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = to.shutdown(Shutdown::Both);
                        });
                    }
                }
                Ok((client, _)) => drop(client), // down: accept and hang up at once
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        });
        Proxy { port, down, conns }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

pub(crate) fn server_going_away_gives_retryable_errors() {
    let c = config("down");
    fresh(&c);
    let upstream = c
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let proxy = Proxy::start(upstream);
    let mut pc = c.clone();
    pc.url = format!("http://127.0.0.1:{}", proxy.port);
    pc.request_timeout = Duration::from_secs(5);
    {
        let s = connect_with_table(&c);
        drop(s);
    }
    let mut sink = ClickHouseSink::connect(pc).expect("connect through the proxy");
    commit(&mut sink, &[rows(1)], 1, 1, b"ck1").expect("commit while up");
    proxy.cut();
    let err = commit(&mut sink, &[rows(2)], 2, 2, b"ck2").expect_err("server gone");
    assert!(err.is_retryable(), "{err}");
    let err = load(&mut sink).expect_err("server gone");
    assert!(err.is_retryable(), "{err}");

    // Nothing listening at all: connection refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut refused = c.clone();
    refused.url = format!("http://127.0.0.1:{port}");
    let err = ClickHouseSink::connect(refused).expect_err("refused");
    assert!(err.is_retryable(), "{err}");
    fresh(&c);
}

fn main() -> std::process::ExitCode {
    main_of(vec![
        Test::new("migrations_apply_once", migrations_apply_once).needs(Needs::CLICKHOUSE),
        Test::new(
            "commit_roundtrip_and_no_double_count",
            commit_roundtrip_and_no_double_count,
        )
        .needs(Needs::CLICKHOUSE),
        Test::new(
            "crash_between_tables_and_checkpoint_is_repaired_by_next_commit",
            crash_between_tables_and_checkpoint_is_repaired_by_next_commit,
        )
        .needs(Needs::CLICKHOUSE),
        Test::new(
            "replay_request_outranks_every_stored_version",
            replay_request_outranks_every_stored_version,
        )
        .needs(Needs::CLICKHOUSE),
        Test::new(
            "schema_and_type_errors_are_not_retryable",
            schema_and_type_errors_are_not_retryable,
        )
        .needs(Needs::CLICKHOUSE),
        Test::new(
            "server_going_away_gives_retryable_errors",
            server_going_away_gives_retryable_errors,
        )
        .needs(Needs::CLICKHOUSE),
    ])
}

//! Crash recovery, corruption, the index, the writer lock and concurrent readers.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{read_all, segment_file, value};
use gigstream_log::{Batch, Log, LogConfig, LogError};

fn write_records(log: &Log, topic: &str, n: u64) {
    let mut producer = log.producer().expect("producer");
    for i in 0..n {
        producer
            .send_to(topic, 0, b"k", &value(i), 0, &[])
            .expect("send");
    }
    producer.flush().expect("flush");
}

fn append_bytes(path: &std::path::Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).expect("open");
    f.write_all(bytes).expect("write");
}

/// Collects what tracing prints, to check warnings.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
    }
}

#[test]
fn torn_tail_is_truncated_and_appends_continue() {
    for (case, tail) in [
        // A frame header announcing 200 bytes, then only 10 of them.
        ("partial record", {
            let mut t = 200u32.to_le_bytes().to_vec();
            t.extend_from_slice(&[1; 14]);
            t
        }),
        // Bytes that are not a frame at all.
        (
            "garbage",
            b"\xde\xad\xbe\xef garbage that is not a record".to_vec(),
        ),
        ("three bytes", vec![9, 9, 9]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::open(dir.path()).expect("open");
        log.create_topic("t", 1).expect("create");
        write_records(&log, "t", 20);
        let seg = segment_file(dir.path(), "t", 0, 0);
        let good_len = fs::metadata(&seg).expect("stat").len();
        append_bytes(&seg, &tail);

        // Readers see the 20 good records and stop at the damage without failing.
        assert_eq!(read_all(&log, "t", 0, 0).len(), 20, "{case}");
        assert_eq!(log.end_offset("t", 0).expect("end"), 20, "{case}");

        let mut producer = log.producer().expect("producer");
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        // The partition is opened, and its tail recovered, on the first send.
        let o = tracing::subscriber::with_default(subscriber, || {
            producer.send_to("t", 0, b"k", b"after crash", 0, &[])
        })
        .expect("send");
        assert_eq!(o, 20, "{case}");
        let warning = captured.text();
        assert!(
            warning.contains("WARN")
                && warning.contains(&seg.display().to_string())
                && warning.contains(&format!("bytes_cut={}", tail.len())),
            "{case}: {warning}"
        );
        producer.flush().expect("flush");
        drop(producer);
        // The tail was cut: the file is the good part plus exactly the new frame
        // (8 frame header + 28 fixed body + 1 key + 11 value bytes).
        assert_eq!(
            fs::metadata(&seg).expect("stat").len(),
            good_len + 48,
            "{case}"
        );
        let got = read_all(&log, "t", 0, 0);
        assert_eq!(got.len(), 21, "{case}");
        assert!(got[..20]
            .iter()
            .enumerate()
            .all(|(i, r)| r.value == value(i as u64)));
        assert_eq!(got[20].value, b"after crash");
    }
}

#[test]
fn corrupt_record_in_the_middle_is_an_error_naming_file_and_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path()).expect("open");
    log.create_topic("t", 1).expect("create");
    write_records(&log, "t", 50);
    let seg = segment_file(dir.path(), "t", 0, 0);
    let mut bytes = fs::read(&seg).expect("read");
    // Flip the last byte of the first record (its value), well before the end.
    let first_len = 8 + u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    bytes[first_len - 1] ^= 0xff;
    fs::write(&seg, &bytes).expect("write");

    let mut reader = log.reader("t", 0, 0).expect("reader");
    let mut batch = Batch::new();
    let err = reader.read(&mut batch, 1 << 16).expect_err("corruption");
    match &err {
        LogError::Corrupt { file, position, .. } => {
            assert_eq!(file, &seg);
            assert_eq!(*position, 0);
        }
        other => panic!("unexpected error {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("00000000000000000000.log") && msg.contains("byte 0"),
        "{msg}"
    );

    // The writer refuses to cut good records after the damage.
    let mut producer = log.producer().expect("producer");
    assert!(matches!(
        producer.send_to("t", 0, b"k", b"v", 0, &[]),
        Err(LogError::Corrupt { position: 0, .. })
    ));
}

#[test]
fn reader_from_the_middle_uses_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 256,
    };
    let log = Log::open_with(dir.path(), config).expect("open");
    log.create_topic("t", 1).expect("create");
    write_records(&log, "t", 1_000);
    let index = common::partition_dir(dir.path(), "t", 0).join(format!("{:020}.index", 0));
    assert!(fs::metadata(&index).expect("index").len() >= 8 * 100);

    // Damage the first record: a reader that scanned from the segment start would fail, so
    // one that succeeds from offset 900 found its way through the index.
    let seg = segment_file(dir.path(), "t", 0, 0);
    let mut bytes = fs::read(&seg).expect("read");
    bytes[20] ^= 0xff;
    fs::write(&seg, &bytes).expect("write");
    let got = read_all(&log, "t", 0, 900);
    assert_eq!(got.len(), 100);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, r)| r.offset == 900 + i as u64 && r.value == value(900 + i as u64)));
    assert!(log.reader("t", 0, 0).is_ok(), "offset 0 needs no scan");
    let mut batch = Batch::new();
    assert!(log
        .reader("t", 0, 0)
        .expect("reader")
        .read(&mut batch, 4096)
        .is_err());
}

#[test]
fn second_producer_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path()).expect("open");
    let first = log.producer().expect("first producer");
    let other_handle = Log::open(dir.path()).expect("open again");
    let err = other_handle.producer().expect_err("second producer");
    let msg = err.to_string();
    assert!(
        msg.contains("is being written by another process")
            && msg.contains(&format!("(pid {})", std::process::id())),
        "{msg}"
    );
    drop(first);
    other_handle.producer().expect("free again");
}

#[test]
fn concurrent_reader_sees_every_record_while_the_writer_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Small segments so the reader also crosses rolls while they happen.
    let config = LogConfig {
        segment_bytes: 64 * 1024,
        index_interval_bytes: 1024,
    };
    let log = Log::open_with(dir.path(), config).expect("open");
    log.create_topic("t", 1).expect("create");
    const N: u64 = 30_000;

    let reader_log = log.clone();
    let reader = thread::spawn(move || {
        let mut reader = reader_log.reader("t", 0, 0).expect("reader");
        let mut batch = Batch::new();
        let mut next = 0u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while next < N {
            assert!(Instant::now() < deadline, "reader stuck at {next}");
            // A small buffer makes records straddle chunk ends often.
            reader.read(&mut batch, 700).expect("read");
            if batch.is_empty() {
                thread::sleep(Duration::from_micros(200));
            }
            for r in batch.iter() {
                assert_eq!(r.offset, next);
                assert_eq!(r.value, value(next));
                next += 1;
            }
        }
        next
    });

    let mut producer = log.producer().expect("producer");
    for i in 0..N {
        producer
            .send_to("t", 0, b"k", &value(i), 0, &[])
            .expect("send");
        if i % 5_000 == 0 {
            producer.flush().expect("flush");
        }
    }
    producer.flush().expect("flush");
    assert_eq!(reader.join().expect("reader thread"), N);
}

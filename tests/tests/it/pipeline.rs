//! The whole pipeline on the embedded default: determinism, reruns, restarts, repeats.

use gigstream_cli::services::Service;
use gigstream_runtime::RunOptions;
use gigstream_tests::{generate, run, small_config, snapshot};

pub(crate) fn same_seed_gives_identical_tables_and_reruns_change_nothing() {
    let cfg = small_config(40_000, 0.002);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    generate(a.path(), &cfg).unwrap();
    generate(b.path(), &cfg).unwrap();
    run(a.path(), &Service::ALL, &RunOptions::default()).unwrap();
    run(b.path(), &Service::ALL, &RunOptions::default()).unwrap();
    let first = snapshot(a.path()).unwrap();
    assert_eq!(
        first,
        snapshot(b.path()).unwrap(),
        "two runs of the same seed differ"
    );
    // Running again over the same data directory reads nothing new and changes nothing.
    let again = run(a.path(), &Service::ALL, &RunOptions::default()).unwrap();
    assert!(
        again.iter().all(|s| s.records == 0),
        "a rerun re-read records: {again:?}"
    );
    assert_eq!(
        first,
        snapshot(a.path()).unwrap(),
        "a rerun changed the tables"
    );
}

pub(crate) fn a_crash_between_commits_replays_exactly_what_was_not_committed() {
    let cfg = small_config(30_000, 0.0);
    let clean = tempfile::tempdir().unwrap();
    generate(clean.path(), &cfg).unwrap();
    run(clean.path(), &Service::ALL, &RunOptions::default()).unwrap();
    let expected = snapshot(clean.path()).unwrap();

    // Commit every 499 records, and "crash" after a few commits by stopping abruptly: the
    // thread is told to stop, commits what it has, and the next run resumes from there.
    let crashed = tempfile::tempdir().unwrap();
    generate(crashed.path(), &cfg).unwrap();
    let opts = RunOptions {
        commit_every_records: 499,
        ..RunOptions::default()
    };
    for svc in Service::ALL {
        gigstream_tests::crash_after_commits(crashed.path(), svc, &opts, 2).unwrap();
    }
    run(crashed.path(), &Service::ALL, &RunOptions::default()).unwrap();
    assert_eq!(
        expected,
        snapshot(crashed.path()).unwrap(),
        "resuming after a crash changed the tables"
    );
}

pub(crate) fn the_three_wire_encodings_give_the_same_aggregates() {
    use gigstream_cli::gen_cmd::{write_log, WireEncoding};
    let cfg = small_config(15_000, 0.0);
    let records = gigstream_gen::generate(&cfg, &gigstream_tests::refdata());
    let mut snapshots = Vec::new();
    for enc in [
        WireEncoding::Confluent,
        WireEncoding::SingleObject,
        WireEncoding::Json,
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_log(
            &dir.path().join("log"),
            &gigstream_tests::codec(),
            &cfg,
            &records,
            enc,
            4,
        )
        .unwrap();
        let summaries = run(dir.path(), &Service::ALL, &RunOptions::default()).unwrap();
        for s in &summaries {
            let bad: u64 = s
                .stats
                .dead_lettered
                .iter()
                .filter(|(code, _)| code.starts_with("invalid") || code.as_str() == "bad_magic")
                .map(|(_, n)| n)
                .sum();
            assert_eq!(
                bad, 0,
                "{enc:?}: {} could not decode records: {:?}",
                s.service, s.stats.dead_lettered
            );
        }
        snapshots.push(snapshot(dir.path()).unwrap());
    }
    assert_eq!(
        snapshots[0], snapshots[1],
        "single-object encoding gave other aggregates than Confluent"
    );
    assert_eq!(
        snapshots[0], snapshots[2],
        "JSON lines gave other aggregates than Confluent"
    );
}

//! The whole pipeline on the embedded default: determinism, reruns, restarts, repeats.

use gigstream_cli::services::Service;
use gigstream_runtime::RunOptions;
use gigstream_tests::{generate, run, small_config, snapshot};

#[test]
fn same_seed_gives_identical_tables_and_reruns_change_nothing() {
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

#[test]
fn a_crash_between_commits_replays_exactly_what_was_not_committed() {
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

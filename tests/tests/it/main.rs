//! End-to-end tests of the whole pipeline, in one binary (one link of the whole pipeline
//! instead of one per file). The harness is `gigstream_testkit::harness`: the tests that need
//! ClickHouse say so and are skipped (reported as ignored) where it is not configured.

mod clickhouse_users;
mod dashboards;
mod dead_letters_and_repeats;
mod late_data;
mod pipeline;
mod queries_doc;
mod readme;
mod tables_doc;

use gigstream_testkit::harness::{main_of, Needs};
use gigstream_testkit::test;
use std::path::PathBuf;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

fn main() -> std::process::ExitCode {
    main_of(vec![
        test!(clickhouse_users::users_d_writer_grafana_and_admin).needs(Needs::CLICKHOUSE),
        test!(dashboards::dashboard_json_is_well_formed),
        test!(dashboards::the_checks_catch_broken_dashboards),
        test!(dashboards::dashboards_and_cookbook_run_on_clickhouse_and_chdb)
            .needs(Needs::CLICKHOUSE),
        test!(dead_letters_and_repeats::every_injected_bad_record_is_dead_lettered_with_its_reason),
        test!(dead_letters_and_repeats::repeated_events_are_counted_once),
        test!(late_data::late_data_removes_a_violation_from_the_embedded_tables),
        test!(late_data::late_data_removes_a_violation_from_clickhouse).needs(Needs::CLICKHOUSE),
        test!(pipeline::same_seed_gives_identical_tables_and_reruns_change_nothing),
        test!(pipeline::a_crash_between_commits_replays_exactly_what_was_not_committed),
        test!(pipeline::the_three_wire_encodings_give_the_same_aggregates),
        test!(queries_doc::queries_doc_is_well_formed),
        test!(queries_doc::answers_compare_across_engines_formats),
        test!(readme::readme_opens_with_demo_and_test_commands),
        test!(readme::ci_runs_the_readme_test_command),
        test!(tables_doc::tables_doc_matches_the_ddl),
        test!(tables_doc::the_checker_reports_missing_extra_and_retyped_columns),
    ])
}

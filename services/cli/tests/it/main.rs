//! The `gigstream` command's integration tests, in one binary: every test binary links the
//! whole pipeline (DataFusion, rdkafka, the ClickHouse client), so one link instead of four
//! keeps the build fast and small. The harness is `gigstream_testkit::harness`: the tests that
//! need Kafka, ClickHouse or a schema registry say so and are skipped (reported as ignored)
//! where they are not configured.

mod cli;
mod faults;
mod interop;
mod ops;
mod own_events;
mod produce;
mod registry;
mod security;
mod support;
mod verify;
mod verify_clickhouse;

use gigstream_testkit::harness::{main_of, Needs};
use gigstream_testkit::test;

fn main() -> std::process::ExitCode {
    main_of(vec![
        test!(cli::demo_then_sql_lists_tables_with_rows),
        test!(cli::a_bad_query_fails_with_a_message),
        test!(cli::files_output_writes_one_file_per_topic),
        test!(faults::a_clean_run_is_exact_and_every_bad_record_is_dead_lettered_once)
            .needs(Needs::BOTH),
        test!(faults::b_twenty_sigkills_lose_and_double_count_nothing).needs(Needs::BOTH),
        test!(faults::b_each_service_sigkilled_and_restarted_stays_exact).needs(Needs::BOTH),
        test!(faults::c_two_instances_one_killed_mid_run_stay_exact).needs(Needs::BOTH),
        test!(faults::d_group_reset_and_full_replay_give_the_same_tables).needs(Needs::BOTH),
        test!(faults::e_clickhouse_down_mid_run_then_back).needs(Needs::BOTH),
        test!(faults::f_an_event_counted_twice_fails_the_comparison).needs(Needs::BOTH),
        test!(faults::g_three_instances_split_the_partitions_and_stay_exact).needs(Needs::BOTH),
        test!(faults::h_a_second_instance_joins_and_leaves_mid_run).needs(Needs::BOTH),
        test!(faults::i_an_owner_whose_sink_is_down_past_its_session_keeps_its_partitions)
            .needs(Needs::BOTH),
        test!(ops::ready_metrics_and_sigterm_under_load).needs(Needs::BOTH),
        test!(ops::gigstream_run_serves_ops_and_stops_on_sigterm).needs(Needs::BOTH),
        test!(ops::sigterm_while_joining_the_group).needs(Needs::BOTH),
        test!(produce::generated_events_land_keyed_encoded_and_damaged_exactly_like_in_the_log)
            .needs(Needs::KAFKA),
        test!(produce::files_from_gen_are_produced_at_a_steady_rate_stamped_with_the_produce_time)
            .needs(Needs::KAFKA),
        test!(produce::without_brokers_produce_says_what_to_set),
        test!(own_events::the_example_file_goes_in_and_is_folded),
        test!(own_events::bad_lines_become_dead_letters_naming_their_line),
        test!(own_events::standard_input_is_read_with_dash),
        test!(own_events::a_missing_file_or_no_events_fails_and_appends_nothing),
        test!(own_events::avro_container_files_go_in_too),
        test!(own_events::the_embedded_log_partitions_like_the_kafka_producer),
        test!(registry::a_produce_registers_and_the_services_read_registry_ids_exactly)
            .needs(Needs::BOTH.and(Needs::REGISTRY)),
        test!(registry::b_ids_the_registry_does_not_know_are_unknown_schema_dead_letters)
            .needs(Needs::BOTH.and(Needs::REGISTRY)),
        test!(registry::c_the_registry_unreachable_mid_run_then_back)
            .needs(Needs::BOTH.and(Needs::REGISTRY)),
        test!(registry::d_schemas_check_passes_on_the_catalog_and_names_an_incompatible_field)
            .needs(Needs::REGISTRY),
        test!(interop::confluent_python_avro_serializer_feeds_the_pipeline_exactly)
            .needs(Needs::BOTH.and(Needs::REGISTRY)),
        test!(interop::go_franz_go_producer_feeds_the_pipeline_exactly)
            .needs(Needs::BOTH.and(Needs::REGISTRY)),
        test!(security::tls_and_scram_end_to_end).needs(Needs::BOTH),
        test!(verify::verify_is_clean_after_a_run_and_names_a_tampered_value),
        test!(verify::the_command_exits_0_clean_1_on_differences_2_when_nothing_is_stored),
        test!(verify_clickhouse::verify_against_clickhouse_is_clean_then_names_a_newer_changed_row)
            .needs(Needs::CLICKHOUSE),
    ])
}

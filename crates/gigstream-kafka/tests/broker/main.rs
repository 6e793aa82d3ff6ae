//! gigstream-kafka against a real broker (`infra/kafka/start.sh` starts Apache Kafka), in one
//! binary. The harness (`gigstream_testkit::harness`) skips these tests, reporting them as
//! ignored, where `GIGSTREAM_KAFKA_BROKERS` is unset.

mod bounded;
mod common;
mod dlq_and_read;
mod group;

use gigstream_testkit::harness::{main_of, Needs, Test};
use gigstream_testkit::test;

fn main() -> std::process::ExitCode {
    let tests: Vec<Test> = vec![
        test!(group::ensure_topics_creates_missing_topics_with_dead_letter_twins),
        test!(group::ten_thousand_records_come_back_complete_in_order_and_placed_like_the_embedded_log),
        test!(group::a_new_member_of_the_group_resumes_at_the_committed_offsets),
        test!(group::sought_positions_override_the_committed_offsets),
        test!(group::headers_survive_the_round_trip),
        test!(group::a_member_that_stops_polling_past_its_session_keeps_its_partitions),
        test!(dlq_and_read::dead_letters_arrive_in_the_dlq_twin_with_bytes_and_headers),
        test!(dlq_and_read::a_letter_without_a_dlq_topic_fails_the_flush_and_names_it),
        test!(dlq_and_read::raw_consume_and_read_topic_read_whole_topics_to_their_end),
        test!(dlq_and_read::paced_produce_keeps_the_rate_and_stamps_the_produce_time),
        test!(bounded::reads_exactly_each_prefix_and_refuses_a_prefix_longer_than_the_partition),
    ];
    main_of(tests.into_iter().map(|t| t.needs(Needs::KAFKA)).collect())
}

//! `gigstream-sla`: the sla service (see `--help`: embedded log or Kafka, Parquet or ClickHouse).

fn main() -> std::process::ExitCode {
    gigstream_service::service_main::<gigstream_sla::Sla>()
}

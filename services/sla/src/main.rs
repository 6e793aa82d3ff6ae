//! `gigstream-sla`: the sla service over the embedded log (see `--help`).

fn main() -> std::process::ExitCode {
    gigstream_runtime::service::service_main::<gigstream_sla::Sla>()
}

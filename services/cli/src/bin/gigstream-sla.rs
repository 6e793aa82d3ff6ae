//! `gigstream-sla`: the SLA service as a process of its own (`--help`).

fn main() -> std::process::ExitCode {
    gigstream_host::service_main::<gigstream_sla::Sla>()
}

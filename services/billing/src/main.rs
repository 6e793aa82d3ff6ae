//! `gigstream-billing`: the billing service over the embedded log (see `--help`).

fn main() -> std::process::ExitCode {
    gigstream_runtime::service::service_main::<gigstream_billing::Billing>()
}

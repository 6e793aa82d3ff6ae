//! `gigstream-market`: the market service over the embedded log (see `--help`).

fn main() -> std::process::ExitCode {
    gigstream_runtime::service::service_main::<gigstream_market::Market>()
}

//! `main` of the service binaries (`gigstream-billing`, `gigstream-sla`, `gigstream-market`).

use crate::ServiceError;
use crate::{
    install_stop_handler, run_service, service_codec, start_shutdown_watchdog, Backends, ServiceRun,
};
use clap::{CommandFactory, FromArgMatches, Parser};
use gigstream_config::{Config, ListenPlan};
use gigstream_core::{Projection, RefData};
use gigstream_ops::{HttpServer, Ops};
use gigstream_runtime::RunError;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Command-line arguments of a service binary. Settings: defaults, then the TOML file of
/// `--config` (or GIGSTREAM_CONFIG; see infra/gigstream.example.toml), then
/// GIGSTREAM_<SECTION>_<KEY> variables, then these flags.
///
/// Input: the embedded event log in DIR/log (default ./data), or Kafka when [kafka] brokers /
/// GIGSTREAM_KAFKA_BROKERS is set (other librdkafka settings as GIGSTREAM_KAFKA_<KEY>). Output:
/// Parquet tables in DIR/tables, or ClickHouse when [clickhouse] url / GIGSTREAM_CLICKHOUSE_URL
/// is set. Confluent schema ids: the catalog's, or resolved through a schema registry when
/// [schema_registry] url / GIGSTREAM_SCHEMA_REGISTRY_URL is set. Without --follow it stops when caught up; with it, it keeps reading until
/// SIGTERM/Ctrl-C, then commits and exits 0 within [service] shutdown_deadline (default 20s;
/// else exit 1). /health, /ready and /metrics are served on [http] listen; when that is not
/// set, on 127.0.0.1 at the service's own port (billing 9464, sla 9465, market 9466) or, when
/// another instance holds it, the next free one of its ports (+3, +6, ...).
#[derive(Debug, Parser)]
#[command(version)]
pub struct ServiceArgs {
    /// Settings file (TOML) [env: GIGSTREAM_CONFIG]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory of the embedded log and tables [env: GIGSTREAM_DATA_DIR] [default: ./data]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Directory with reference files replacing the built-in ones [env: GIGSTREAM_REFERENCE_DIR]
    #[arg(long)]
    pub reference_dir: Option<PathBuf>,
    /// Address for /health, /ready and /metrics (port 0: any free port) [env:
    /// GIGSTREAM_HTTP_LISTEN] [default: 127.0.0.1:9464 billing, :9465 sla, :9466 market, or
    /// the next free port of the service's (+3, +6, ...)]
    #[arg(long)]
    pub http_listen: Option<SocketAddr>,
    /// Keep reading after catching up, until SIGTERM/Ctrl-C.
    #[arg(long)]
    pub follow: bool,
}

/// `main` of a service binary: parses the arguments (`--help`, `--version`), loads the
/// settings and runs projection `P` until caught up or, with `--follow`, until SIGTERM.
pub fn service_main<P: Projection>() -> ExitCode {
    let name = format!("gigstream-{}", P::NAME);
    // The binary's own name in --help and --version (the strings live as long as the process).
    let command = ServiceArgs::command()
        .name(name.clone().leak() as &str)
        .bin_name(name.clone().leak() as &str)
        .about(format!("Runs the {} service.", P::NAME));
    let args = ServiceArgs::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    match serve::<P>(&name, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("{name}: {message}");
            ExitCode::from(code)
        }
    }
}

fn serve<P: Projection>(name: &str, args: ServiceArgs) -> Result<(), (u8, String)> {
    let loaded = Config::load(args.config.as_deref()).map_err(|e| (2, e.to_string()))?;
    let cfg = &loaded.config;
    cfg.log.init_tracing();
    tracing::info!(service = P::NAME, "{}", loaded.describe());
    if !loaded.env_ignored.is_empty() {
        tracing::warn!(service = P::NAME, variables = ?loaded.env_ignored, "environment variables that set nothing (a typo?)");
    }
    let backends = Backends::from_config(cfg, args.data_dir);
    let ops = Arc::new(Ops::new());
    ops.register_service(P::NAME);
    let _server = if cfg.http.enabled || args.http_listen.is_some() {
        let plan = match args.http_listen {
            Some(addr) => ListenPlan {
                addresses: vec![addr],
                explicit: true,
            },
            None => cfg.http.listen_plan(P::NAME),
        };
        let (server, skipped) = listen(&ops, &plan)?;
        if skipped.is_empty() {
            tracing::info!(
                service = P::NAME,
                "listening on http://{} (/health, /ready, /metrics)",
                server.local_addr()
            );
        } else {
            let busy: Vec<String> = skipped.iter().map(ToString::to_string).collect();
            tracing::info!(
                service = P::NAME,
                in_use = %busy.join(", "),
                "listening on http://{} (/health, /ready, /metrics): the service's earlier \
                 port(s) are in use, by another instance or program",
                server.local_addr()
            );
        }
        Some(server)
    } else {
        None
    };

    let deadline = cfg.service.shutdown_deadline;
    let stop = Arc::new(AtomicBool::new(false));
    install_stop_handler(stop.clone());
    start_shutdown_watchdog(name.to_string(), stop.clone(), deadline);
    let reference_dir = args
        .reference_dir
        .or_else(|| cfg.data.reference_dir.clone());
    let refdata = RefData::load(reference_dir.as_deref())
        .map_err(|e| (1, format!("cannot set up the reference data: {e}")))?;
    let codec = service_codec(cfg.schema_registry(), &backends).map_err(|e| (2, e.to_string()))?;
    let run = ServiceRun {
        backends: &backends,
        options: cfg.run_options(args.follow),
        codec,
        refdata: Arc::new(refdata),
        observer: Some(ops.as_ref()),
    };
    let result = run_service::<P>(&run, &stop, &mut |p| {
        tracing::debug!(records = p.records, lag = ?p.lag, "progress");
    });
    match result {
        Ok(s) => {
            tracing::info!(
                service = P::NAME,
                records = s.records,
                commits = s.commits,
                applied = s.stats.applied_total(),
                duplicates = s.stats.duplicates,
                dead_lettered = s.stats.dead_lettered_total(),
                elapsed_ms = s.elapsed.as_millis() as u64,
                "stopped; tables committed"
            );
            Ok(())
        }
        Err(e) => {
            if matches!(e, ServiceError::Run(RunError::ShutdownDeadline { .. })) {
                tracing::error!(service = P::NAME, error = %e, "shutdown deadline passed");
            }
            Err((1, e.to_string()))
        }
    }
}

/// Binds the operations endpoint at the first address of `plan` that is free: an explicit
/// address must be free; the service's default ports are tried in order. Returns the server
/// and the addresses found in use before it.
pub fn listen(
    ops: &Arc<Ops>,
    plan: &ListenPlan,
) -> Result<(HttpServer, Vec<SocketAddr>), (u8, String)> {
    let mut skipped = Vec::new();
    for addr in &plan.addresses {
        match ops.serve(*addr) {
            Ok(server) => return Ok((server, skipped)),
            Err(e) if !plan.explicit && e.kind() == std::io::ErrorKind::AddrInUse => {
                skipped.push(*addr);
            }
            Err(e) => {
                return Err((
                    1,
                    format!(
                        "cannot listen on {addr} for /health, /ready and /metrics: {e} (set \
                         --http-listen ADDR or [http] listen / GIGSTREAM_HTTP_LISTEN, or disable \
                         it with [http] enabled = false / GIGSTREAM_HTTP_ENABLED=false)"
                    ),
                ))
            }
        }
    }
    let tried: Vec<String> = plan.addresses.iter().map(ToString::to_string).collect();
    Err((
        1,
        format!(
            "cannot listen for /health, /ready and /metrics: every port of this service is in \
             use ({}); set --http-listen ADDR or [http] listen / GIGSTREAM_HTTP_LISTEN (port 0: \
             any free port)",
            tried.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_default_port_moves_to_the_next_of_the_service() {
        let ops = Arc::new(Ops::new());
        // Any two free ports, taken the way the defaults would be.
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = first.local_addr().unwrap();
        let b: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let plan = ListenPlan {
            addresses: vec![a, b],
            explicit: false,
        };
        let (server, skipped) = listen(&ops, &plan).unwrap();
        assert_eq!(skipped, vec![a]);
        assert_ne!(server.local_addr(), a);
        // An explicit address that is taken is an error naming it, not a silent move.
        let explicit = ListenPlan {
            addresses: vec![a, b],
            explicit: true,
        };
        let Err((_, msg)) = listen(&ops, &explicit) else {
            panic!("a taken explicit address must fail")
        };
        assert!(msg.contains(&a.to_string()), "{msg}");
        // Every default port taken: the error lists them.
        let all = ListenPlan {
            addresses: vec![a],
            explicit: false,
        };
        let Err((_, msg)) = listen(&ops, &all) else {
            panic!("no free port must fail")
        };
        assert!(
            msg.contains("every port of this service is in use"),
            "{msg}"
        );
        drop(first);
    }

    fn parse(args: &[&str]) -> Result<ServiceArgs, clap::Error> {
        ServiceArgs::try_parse_from(std::iter::once("gigstream-sla").chain(args.iter().copied()))
    }

    #[test]
    fn arguments() {
        ServiceArgs::command().debug_assert();
        let a = parse(&[
            "--config",
            "/etc/g.toml",
            "--http-listen=127.0.0.1:0",
            "--follow",
            "--data-dir",
            "d",
        ])
        .unwrap();
        assert_eq!(a.config, Some(PathBuf::from("/etc/g.toml")));
        assert_eq!(a.http_listen, Some("127.0.0.1:0".parse().unwrap()));
        assert!(a.follow);
        assert_eq!(a.data_dir, Some(PathBuf::from("d")));
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        );
        assert_eq!(
            parse(&["--version"]).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayVersion
        );
        assert!(parse(&["--http-listen", "nowhere"]).is_err());
        assert!(parse(&["--config"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}

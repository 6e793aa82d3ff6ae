use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use gigstream_avro::{Codec, Registry};
use gigstream_cli::gen_cmd::{self, Output, WireEncoding};
use gigstream_cli::services::{run_services_on, Service};
use gigstream_cli::{
    bench, bench_kafka, demo, produce_cmd, produce_log, replay, schemas_cmd, sql, verify,
};
use gigstream_config::{Config, Loaded};
use gigstream_core::{RefData, DEFAULT_PARTITIONS};
use gigstream_gen::GenConfig;
use gigstream_host::{
    install_stop_handler, service_codec, start_shutdown_watchdog, Backends, ServiceRun,
};
use gigstream_ops::Ops;
use indicatif::MultiProgress;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// gigstream: billing, SLA and job-market aggregates from order, usage and telemetry events.
#[derive(Parser)]
#[command(name = "gigstream", version, about)]
struct Cli {
    /// Data directory holding the embedded log and tables [env: GIGSTREAM_DATA_DIR] [default: ./data]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Directory with reference files replacing the built-in ones [env: GIGSTREAM_REFERENCE_DIR]
    #[arg(long, global = true)]
    reference_dir: Option<PathBuf>,
    /// Settings file (TOML, see infra/gigstream.example.toml) for the commands that use Kafka
    /// and ClickHouse (produce, run, replay, migrate, verify, bench-kafka); GIGSTREAM_* variables
    /// override it [env: GIGSTREAM_CONFIG]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct GenArgs {
    /// Approximate number of events.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Days of event time the stream spans.
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Random seed: the same seed gives the same stream.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Last day of the span (exclusive), YYYY-MM-DD.
    #[arg(long, default_value = "2026-11-01")]
    end: NaiveDate,
    /// Fraction of records made invalid on purpose, which must end in the dead letters
    /// [default: 0 for gen; 0.0002 for demo, to show the dead letters at work]
    #[arg(long)]
    bad_ratio: Option<f64>,
}

impl GenArgs {
    fn config(&self, default_bad_ratio: f64) -> GenConfig {
        GenConfig {
            events: self.events,
            days: self.days,
            seed: self.seed,
            end: self.end,
            bad_ratio: self.bad_ratio.unwrap_or(default_bad_ratio),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Generate a realistic, seeded stream into the embedded log or into files.
    Gen {
        #[command(flatten)]
        gen: GenArgs,
        /// Where to write.
        #[arg(long, value_enum, default_value = "log")]
        output: Output,
        /// Directory for --output jsonl/avro.
        #[arg(long, default_value = "generated")]
        out_dir: PathBuf,
        /// Wire encoding of log records.
        #[arg(long, value_enum, default_value = "confluent")]
        encoding: WireEncoding,
        /// Partitions of topics created in the log.
        #[arg(long, default_value_t = DEFAULT_PARTITIONS)]
        partitions: u32,
    },
    /// Write generated events (or gen's files) to Kafka, Confluent wire format, keyed by entity;
    /// without a broker, the events of --from files (JSON lines, Avro, - for stdin) go into the
    /// embedded log.
    Produce {
        #[command(flatten)]
        gen: GenArgs,
        #[command(flatten)]
        produce: produce_cmd::ProduceArgs,
        #[command(flatten)]
        embedded: produce_log::LogArgs,
    },
    /// Run services until caught up (or keep following): over the embedded log into Parquet,
    /// or from Kafka when GIGSTREAM_KAFKA_BROKERS is set and into ClickHouse when
    /// GIGSTREAM_CLICKHOUSE_URL is set.
    Run {
        /// Services to run (default: all three).
        #[arg(value_enum)]
        services: Vec<Service>,
        /// Keep reading new records until Ctrl-C / SIGTERM.
        #[arg(long)]
        follow: bool,
        /// How often to commit tables and positions, in milliseconds [default: [service]
        /// commit_interval (1 s) when following; catch_up_commit_interval otherwise; both set by
        /// GIGSTREAM_COMMIT_INTERVAL_MS too].
        #[arg(long)]
        commit_interval_ms: Option<u64>,
        /// Serve /health, /ready and /metrics for the services of this process on ADDR (port 0:
        /// any free port). Without it they are served only when a config file or
        /// GIGSTREAM_HTTP_* variables are given and [http] enabled is true.
        #[arg(long, value_name = "ADDR")]
        http_listen: Option<SocketAddr>,
    },
    /// Rebuild services' tables from the start of the log at their next start (ClickHouse:
    /// a new epoch whose rows replace the old ones; embedded: the tables are removed). Stop
    /// the services first.
    Replay {
        /// Services to replay.
        #[arg(value_enum, required = true)]
        services: Vec<Service>,
    },
    /// Apply the ClickHouse migrations (schemas/clickhouse/) to GIGSTREAM_CLICKHOUSE_DATABASE,
    /// as a user allowed DDL; services running as a writer without DDL set
    /// GIGSTREAM_CLICKHOUSE_APPLY_MIGRATIONS=false and only check them.
    Migrate,
    /// The main job: generate ~1M events over 90 days, run the three services, summarise.
    Demo {
        #[command(flatten)]
        gen: GenArgs,
        /// Delete the data directory's log and tables first.
        #[arg(long)]
        reset: bool,
    },
    /// Run SQL over the aggregate tables (DataFusion). Try: gigstream sql "SHOW TABLES"
    Sql {
        query: String,
        #[arg(long, value_enum, default_value = "table")]
        format: sql::Format,
    },
    /// Recompute the tables from the log (Kafka when GIGSTREAM_KAFKA_BROKERS is set) up to the
    /// stored positions and compare them with the stored ones (ClickHouse when
    /// GIGSTREAM_CLICKHOUSE_URL is set); exit 1 on any difference, 2 when it cannot run.
    Verify {
        /// Services to verify (default: all three).
        #[arg(value_enum)]
        services: Vec<Service>,
        /// Differences printed per table.
        #[arg(long, default_value_t = 20)]
        max_diffs: usize,
    },
    /// Check the catalog's schemas (schemas/*.avsc) against the subjects of the configured
    /// schema registry for BACKWARD_TRANSITIVE compatibility (every stored version stays
    /// readable: the services replay from offset 0), and register them: before a deploy.
    Schemas {
        #[command(subcommand)]
        command: schemas_cmd::SchemasCommand,
    },
    /// Benchmark the production path against the configured Kafka and ClickHouse (in topics
    /// and a database of its own): SLA throughput as a ratio of a raw librdkafka consume, and
    /// freshness (broker to visible in ClickHouse, p50/p99) at a steady rate.
    BenchKafka {
        /// Events of the backlog for the throughput part.
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Events per second during the freshness part.
        #[arg(long, default_value_t = 2_000.0)]
        rate: f64,
        /// Seconds of producing during the freshness part.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Measure what a commit costs once history is folded, against the configured Kafka and
    /// ClickHouse: rows and bytes inserted per input event, commit latency, checkpoint bytes,
    /// memory, with H days of history and one or two instances of a service.
    BenchSteady {
        /// The service measured.
        #[arg(long, value_enum, default_value = "sla")]
        service: Service,
        /// Days of history folded before the steady load, each a run of its own.
        #[arg(long, value_delimiter = ',', default_value = "30,180")]
        history_days: Vec<u32>,
        /// Events of history per day.
        #[arg(long, default_value_t = 11_111)]
        events_per_day: u64,
        /// Events per second of the steady load.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        /// Seconds of steady load per run.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Commit interval of the services, ms.
        #[arg(long, default_value_t = 1_000)]
        commit_interval_ms: u64,
        /// Instances of the service in one group, each count a run of its own.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        instances: Vec<usize>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure throughput per core of decode and of each service end to end.
    Bench {
        /// Events to generate for the benchmark.
        #[arg(long, default_value_t = 2_000_000)]
        events: u64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every command reads the settings the same way (defaults, the file of --config or
    // GIGSTREAM_CONFIG, GIGSTREAM_* variables); the flags apply on top.
    let loaded = match Config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("gigstream: error: {e}");
            return ExitCode::from(2);
        }
    };
    loaded.config.log.init_tracing();
    tracing::debug!("{}", loaded.describe());
    match execute(cli, &loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if verify::exit_status(&e) == Some(1) => ExitCode::from(1),
        Err(e) if verify::exit_status(&e) == Some(2) => {
            eprintln!("gigstream: error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("gigstream: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: Cli, loaded: &Loaded) -> Result<()> {
    let cfg = &loaded.config;
    let backends = Backends::from_config(cfg, cli.data_dir.clone());
    let dirs = backends.data_dir.clone();
    let reference_dir = cli
        .reference_dir
        .clone()
        .or_else(|| cfg.data.reference_dir.clone());
    let refdata =
        Arc::new(RefData::load(reference_dir.as_deref()).context("cannot load reference data")?);
    let codec = Codec::new(Registry::builtin());
    match cli.command {
        Command::Gen {
            gen,
            output,
            out_dir,
            encoding,
            partitions,
        } => {
            let cfg = gen.config(0.0);
            let records = gen_cmd::generate_records(&cfg, &refdata)?;
            match output {
                Output::Log => {
                    let m = gen_cmd::write_log(
                        &dirs.log(),
                        &codec,
                        &cfg,
                        &records,
                        encoding,
                        partitions,
                    )?;
                    println!(
                        "appended {} records to {} ({} injected invalid)",
                        m.records,
                        dirs.log().display(),
                        m.injected_total()
                    );
                }
                Output::Jsonl | Output::Avro => {
                    let counts = gen_cmd::write_files(&out_dir, &codec, &records, output)?;
                    for (topic, n) in counts {
                        println!("{topic}: {n} events");
                    }
                    println!("written to {}", out_dir.display());
                }
            }
        }
        Command::Produce {
            produce, embedded, ..
        } if produce_log::applies(&produce, backends.kafka.as_ref()) => {
            let report = produce_log::run(&produce, &embedded, &dirs.log(), &codec, &refdata)?;
            print!("{}", report.render());
        }
        Command::Produce { gen, produce, .. } => {
            let registry = match cfg.schema_registry() {
                Some(r) => Some(gigstream_registry::SchemaRegistry::new(r)?),
                None => None,
            };
            let report = produce_cmd::run_with_registry(
                &produce,
                backends.kafka.clone(),
                registry.as_ref(),
                &gen.config(0.0),
                &codec,
                &refdata,
            )?;
            print!("{}", report.render());
        }
        Command::Run {
            services,
            follow,
            commit_interval_ms,
            http_listen,
        } => {
            let services = if services.is_empty() {
                Service::ALL.to_vec()
            } else {
                services
            };
            let mut options = cfg.run_options(follow);
            if let Some(ms) = commit_interval_ms {
                options.commit_interval = Duration::from_millis(ms);
            }
            let (input, output) = backends.describe();
            eprintln!("input: {input}; output: {output}");

            let ops = Arc::new(Ops::new());
            for s in &services {
                ops.register_service(s.name());
            }
            // Asked for with the flag, or by settings given for this deployment.
            let http_configured = loaded.file.is_some()
                || loaded
                    .env_applied
                    .iter()
                    .any(|v| v.starts_with("GIGSTREAM_HTTP_"));
            let listen =
                http_listen.or((http_configured && cfg.http.enabled).then_some(cfg.http.listen));
            let _server = match listen {
                Some(addr) => {
                    let server = ops.serve(addr).with_context(|| {
                        format!(
                            "cannot listen on {addr} for /health, /ready and /metrics (choose \
                             another address with --http-listen or [http] listen)"
                        )
                    })?;
                    eprintln!(
                        "serving /health, /ready and /metrics on http://{}",
                        server.local_addr()
                    );
                    Some(server)
                }
                None => None,
            };

            let stop = Arc::new(AtomicBool::new(false));
            install_stop_handler(stop.clone());
            let deadline = cfg.service.shutdown_deadline;
            start_shutdown_watchdog("gigstream run".into(), stop.clone(), deadline);
            let run = ServiceRun {
                backends: &backends,
                options,
                codec: service_codec(cfg.schema_registry(), &backends)?,
                refdata: refdata.clone(),
                observer: Some(ops.as_ref()),
            };
            let summaries = run_services_on(&run, &services, &stop, &MultiProgress::new())?;
            for s in summaries {
                println!(
                    "{}: {} records in {:.1}s ({} applied, {} duplicates, {} dead letters since start)",
                    s.service,
                    s.records,
                    s.elapsed.as_secs_f64(),
                    s.stats.applied_total(),
                    s.stats.duplicates,
                    s.stats.dead_lettered_total()
                );
            }
        }
        Command::Replay { services } => {
            print!("{}", replay::run(&backends, &services)?);
        }
        Command::Migrate => {
            let Some(c) = backends.clickhouse.clone() else {
                anyhow::bail!(
                    "no ClickHouse is configured ([clickhouse] url or GIGSTREAM_CLICKHOUSE_URL): \
                     nothing to migrate"
                );
            };
            let admin = gigstream_clickhouse::Connection::new(c.clone(), false)?;
            let db = gigstream_clickhouse::Connection::new(c.clone(), true)?;
            let done = gigstream_clickhouse::apply_migrations(&admin, &db)?;
            if done.is_empty() {
                println!(
                    "database {}: every migration was applied already",
                    c.database
                );
            } else {
                println!("database {}: applied {}", c.database, done.join(", "));
            }
        }
        Command::Demo { gen, reset } => {
            let cfg = gen.config(0.0002);
            demo::run(&dirs, &codec, &refdata, &cfg, reset)?;
        }
        Command::Sql { query, format } => {
            print!("{}", sql::run(&dirs.tables(), &query, format)?);
            if format == sql::Format::Table {
                println!();
            }
        }
        Command::Verify {
            services,
            max_diffs,
        } => {
            let services = if services.is_empty() {
                Service::ALL.to_vec()
            } else {
                services
            };
            let codec = service_codec(cfg.schema_registry(), &backends)?;
            verify::run_cli(&codec, &refdata, &backends, &services, max_diffs)?;
        }
        Command::Schemas { command } => {
            let Some(config) = cfg.schema_registry() else {
                anyhow::bail!(
                    "no schema registry is configured: set [schema_registry] url or \
                     GIGSTREAM_SCHEMA_REGISTRY_URL (e.g. http://127.0.0.1:8081, or \
                     http://HOST:PORT/apis/ccompat/v7 for Apicurio)"
                );
            };
            let registry = gigstream_registry::SchemaRegistry::new(config)?;
            let (args, register, set_compatibility) = match &command {
                schemas_cmd::SchemasCommand::Check(args) => (args, false, false),
                schemas_cmd::SchemasCommand::Register {
                    args,
                    set_compatibility,
                } => (args, true, *set_compatibility),
            };
            let prefix = args
                .topic_prefix
                .clone()
                .unwrap_or_else(|| cfg.kafka.topic_prefix.clone());
            let report = schemas_cmd::run(
                &registry,
                &Registry::builtin(),
                &|t| format!("{prefix}{}", t.name()),
                register,
                set_compatibility,
            )?;
            if args.json {
                println!("{}", serde_json::to_string(&report.to_json())?);
            } else {
                print!("{}", report.render());
            }
            let bad = report.incompatible();
            if !bad.is_empty() {
                let names: Vec<&str> = bad.iter().map(|s| s.subject.as_str()).collect();
                anyhow::bail!(
                    "not BACKWARD_TRANSITIVE compatible: {} (see above){}",
                    names.join(", "),
                    if register {
                        "; nothing was registered"
                    } else {
                        ""
                    }
                );
            }
        }
        Command::BenchKafka {
            events,
            rate,
            seconds,
            json,
        } => {
            let (Some(k), Some(c)) = (&backends.kafka, &backends.clickhouse) else {
                anyhow::bail!(
                    "bench-kafka needs GIGSTREAM_KAFKA_BROKERS and GIGSTREAM_CLICKHOUSE_URL"
                );
            };
            let load = bench_kafka::Load {
                events,
                rate,
                seconds,
            };
            let report = bench_kafka::run(k, c, &codec, &refdata, load)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render());
            }
        }
        Command::BenchSteady {
            service,
            history_days,
            events_per_day,
            rate,
            seconds,
            commit_interval_ms,
            instances,
            json,
        } => {
            let (Some(k), Some(c)) = (&backends.kafka, &backends.clickhouse) else {
                anyhow::bail!(
                    "bench-steady needs GIGSTREAM_KAFKA_BROKERS and GIGSTREAM_CLICKHOUSE_URL"
                );
            };
            let plan = gigstream_cli::bench_steady::Plan {
                service,
                history_days,
                events_per_day,
                rate,
                seconds,
                commit_interval_ms,
                instances,
            };
            let report = gigstream_cli::bench_steady::run(k, c, &codec, &refdata, &plan)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render());
            }
        }
        Command::Bench { events, json } => {
            let report = bench::run(&refdata, &codec, events)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render());
            }
        }
    }
    Ok(())
}

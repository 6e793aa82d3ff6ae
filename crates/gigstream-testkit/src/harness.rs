//! The `main` of a test binary (`harness = false` in its `[[test]]`) whose tests need Kafka,
//! ClickHouse, a schema registry or several: each test says what it needs, and
//!
//! - with those services configured, it runs;
//! - without them, it is reported as ignored with the reason (so `cargo test` without services
//!   says how many it skipped: "N ignored"), unless `GIGSTREAM_TEST_SERVICES=require`, which
//!   makes it run and fail, naming what is missing.
//!
//! A test function that is not listed is dead code, which the lints refuse, so none is
//! forgotten.
//!
//! ```no_run
//! use gigstream_testkit::harness::{main_of, Needs, Test};
//! fn produces() { /* uses gigstream_testkit::services::kafka() */ }
//! fn main() -> std::process::ExitCode {
//!     main_of(vec![Test::new("produces", produces).needs(Needs::KAFKA)])
//! }
//! ```

use crate::services;
use libtest_mimic::{Arguments, Trial};
use std::process::ExitCode;

/// What a test needs besides itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    pub kafka: bool,
    pub clickhouse: bool,
    /// A Confluent-compatible schema registry (`GIGSTREAM_SCHEMA_REGISTRY_URL`).
    pub registry: bool,
}

impl Needs {
    pub const NOTHING: Needs = Needs {
        kafka: false,
        clickhouse: false,
        registry: false,
    };
    pub const KAFKA: Needs = Needs {
        kafka: true,
        ..Needs::NOTHING
    };
    pub const CLICKHOUSE: Needs = Needs {
        clickhouse: true,
        ..Needs::NOTHING
    };
    /// Kafka and ClickHouse.
    pub const BOTH: Needs = Needs {
        kafka: true,
        clickhouse: true,
        registry: false,
    };
    pub const REGISTRY: Needs = Needs {
        registry: true,
        ..Needs::NOTHING
    };

    /// What `self` and `other` need together (`Needs::BOTH.and(Needs::REGISTRY)`).
    pub const fn and(self, other: Needs) -> Needs {
        Needs {
            kafka: self.kafka || other.kafka,
            clickhouse: self.clickhouse || other.clickhouse,
            registry: self.registry || other.registry,
        }
    }
}

/// One test of the binary.
pub struct Test {
    name: String,
    run: Box<dyn FnOnce() + Send + 'static>,
    needs: Needs,
    ignore: Option<&'static str>,
}

impl Test {
    pub fn new(name: impl Into<String>, run: impl FnOnce() + Send + 'static) -> Test {
        Test {
            name: name.into(),
            run: Box::new(run),
            needs: Needs::NOTHING,
            ignore: None,
        }
    }

    pub fn needs(mut self, needs: Needs) -> Test {
        self.needs = needs;
        self
    }

    /// Ignored whatever is configured (run with `--ignored`), for `reason`.
    pub fn ignore(mut self, reason: &'static str) -> Test {
        self.ignore = Some(reason);
        self
    }
}

/// Why a test needing `needs` cannot run here, if it cannot.
fn missing(needs: Needs) -> Option<String> {
    let mut what = Vec::new();
    if needs.kafka && services::try_kafka().is_none() {
        what.push("Kafka (GIGSTREAM_KAFKA_BROKERS)");
    }
    if needs.clickhouse && services::try_clickhouse().is_none() {
        what.push("ClickHouse (GIGSTREAM_CLICKHOUSE_URL)");
    }
    if needs.registry && services::try_registry().is_none() {
        what.push("a schema registry (GIGSTREAM_SCHEMA_REGISTRY_URL)");
    }
    (!what.is_empty()).then(|| what.join(" and "))
}

/// Runs the listed tests with libtest's command line (filters, `--ignored`, `--list`,
/// `--test-threads`) and exit status. The schema registry settings are kept for the tests that
/// need one and withheld from the processes tests start ([`services::withhold_registry`]).
pub fn main_of(tests: Vec<Test>) -> ExitCode {
    let args = Arguments::from_args();
    services::withhold_registry();
    let required = services::required();
    let mut skipped = 0usize;
    let trials: Vec<Trial> = tests
        .into_iter()
        .map(|t| {
            let absent = missing(t.needs);
            let skip = absent.is_some() && !required;
            if skip {
                skipped += 1;
            }
            let kind = match (&absent, t.ignore) {
                (Some(m), _) if skip => format!("needs {m}"),
                (_, Some(reason)) => reason.to_string(),
                _ => String::new(),
            };
            let run = t.run;
            let missing_now = absent.clone();
            Trial::test(t.name, move || {
                if let Some(m) = missing_now {
                    return Err(format!(
                        "needs {m}, which is not configured, and {}=require asks for it",
                        services::REQUIRE
                    )
                    .into());
                }
                run();
                Ok(())
            })
            .with_kind(kind)
            .with_ignored_flag(skip || t.ignore.is_some())
        })
        .collect();
    if skipped > 0 {
        eprintln!(
            "{skipped} test(s) skipped: they need Kafka, ClickHouse or a schema registry, which \
             are not configured (see README, Development; {}=require makes them fail instead)",
            services::REQUIRE
        );
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// `test!(module::function)`: the [`Test`] named `module::function` that runs it.
#[macro_export]
macro_rules! test {
    ($m:ident :: $f:ident) => {
        $crate::harness::Test::new(concat!(stringify!($m), "::", stringify!($f)), $m::$f)
    };
}

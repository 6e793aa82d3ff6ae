//! `gigstream replay`: rebuild a service's tables from the start of the log.
//!
//! With ClickHouse, a replay marker in a new epoch is written for every task of the service;
//! at its next start the service rebuilds every table from offset 0 and its rows, versioned in
//! the new epoch, replace the old ones (which stay readable, unchanged, until then). With Kafka,
//! the consumer group's committed offsets are also reset to the earliest ones, so that tools
//! reading the group's lag see the replay. With the embedded tables, the service's committed
//! tables are removed.

use crate::services::Service;
use anyhow::{Context, Result};
use gigstream_clickhouse::ClickHouseSink;
use gigstream_host::{consumer_group, Backends};
use std::fmt::Write as _;
use std::fs;

/// Requests a replay of each of `services`; returns what was done, one line per service.
pub fn run(opts: &Backends, services: &[Service]) -> Result<String> {
    let mut out = String::new();
    for &svc in services {
        let name = svc.name();
        match &opts.clickhouse {
            Some(c) => {
                let mut sink = ClickHouseSink::connect(c.clone())
                    .context("cannot reach ClickHouse to write the replay markers")?;
                let epoch = sink
                    .request_replay(name)
                    .with_context(|| format!("cannot write the replay markers of {name}"))?;
                let _ = write!(
                    out,
                    "{name}: replay requested in epoch {epoch} (database {})",
                    c.database
                );
            }
            None => {
                let dir = opts.data_dir.tables().join(name);
                if dir.exists() {
                    fs::remove_dir_all(&dir).with_context(|| {
                        format!(
                            "cannot remove {}; stop the {name} service first",
                            dir.display()
                        )
                    })?;
                }
                let _ = write!(out, "{name}: removed the tables in {}", dir.display());
            }
        }
        if let Some(k) = &opts.kafka {
            let group = consumer_group(k, name);
            let n = gigstream_kafka::reset_group_to_earliest(k, &group, svc.topics())
                .with_context(|| {
                    format!("cannot reset consumer group {group}: stop the {name} service first")
                })?;
            let _ = write!(
                out,
                "; group {group} reset to the earliest offsets on {n} partitions"
            );
        }
        out.push('\n');
    }
    out.push_str("start the services to rebuild the tables\n");
    Ok(out)
}

//! [`ClickHouseSink`]: versioned upserts of every table row, then the task checkpoint rows.

use crate::client::{ClickHouseConfig, ClickHouseError, Connection};
use crate::ddl::{quote_ident, quote_str, CHECKPOINTS_TABLE, VERSION_COLUMN};
use crate::migrations::{apply_migrations, check_migrations, now_secs, service_filter};
use crate::rowbinary::{put_bytes, put_row};
use gigstream_core::table::TableData;
use gigstream_core::Topic;
use gigstream_runtime::{Commit, Sink, SinkError, StoredTask};

/// Commits service tables into ClickHouse `ReplacingMergeTree(_version)` tables, and task
/// checkpoints into `gigstream_task_checkpoints`.
///
/// See the crate docs for why a crash in the middle of a commit is safe.
#[derive(Debug)]
pub struct ClickHouseSink {
    conn: Connection,
}

impl ClickHouseSink {
    /// Connects, creates the database if missing and applies missing migrations.
    pub fn connect(config: ClickHouseConfig) -> Result<ClickHouseSink, ClickHouseError> {
        let conn = Connection::new(config.clone(), true)?;
        if config.apply_migrations {
            let admin = Connection::new(config, false)?;
            apply_migrations(&admin, &conn)?;
        } else {
            check_migrations(&conn)?;
        }
        Ok(ClickHouseSink { conn })
    }

    /// The connection (to the configured database), for queries.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The first half of a commit: writes every row of every table at `version`, in batches of
    /// the configured size, without the checkpoints. [`Sink::commit`] is this plus
    /// [`ClickHouseSink::write_tasks`]; alone it is what a crash mid-commit leaves behind.
    pub fn write_tables(
        &mut self,
        tables: &[TableData],
        version: u64,
    ) -> Result<(), ClickHouseError> {
        let batch = self.conn.config().batch_bytes.max(1);
        for t in tables {
            let mut columns: Vec<&str> = t.def.columns.iter().map(|c| c.name).collect();
            columns.push(VERSION_COLUMN);
            let mut buf = Vec::new();
            for row in &t.rows {
                put_row(&mut buf, t.def, row, version)?;
                if buf.len() >= batch {
                    self.conn
                        .insert_rowbinary(t.def.name, &columns, std::mem::take(&mut buf))?;
                }
            }
            if !buf.is_empty() {
                self.conn.insert_rowbinary(t.def.name, &columns, buf)?;
            }
        }
        Ok(())
    }

    /// The second half of a commit: the task checkpoint rows, which make the commit the one a
    /// restart (or the next owner of a partition) resumes from.
    pub fn write_tasks(
        &mut self,
        service: &str,
        tasks: &[&StoredTask],
    ) -> Result<(), ClickHouseError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::new();
        let now = now_secs();
        for t in tasks {
            put_bytes(&mut rows, service.as_bytes());
            put_bytes(&mut rows, t.topic.name().as_bytes());
            rows.extend_from_slice(&t.partition.to_le_bytes());
            rows.extend_from_slice(&t.epoch.to_le_bytes());
            rows.extend_from_slice(&t.next_offset.to_le_bytes());
            rows.extend_from_slice(&t.version().to_le_bytes());
            put_bytes(&mut rows, &t.bytes);
            rows.extend_from_slice(&now.to_le_bytes());
        }
        self.conn.insert_rowbinary(
            CHECKPOINTS_TABLE,
            &[
                "service",
                "topic",
                "partition",
                "epoch",
                "next_offset",
                "version",
                "checkpoint",
                "committed_at",
            ],
            rows,
        )
    }

    /// The latest checkpoint of every task of `service` (of `only` when given); with
    /// `with_state` false the checkpoint bytes are left out.
    pub fn stored_tasks(
        &self,
        service: &str,
        only: Option<&[(Topic, u32)]>,
        with_state: bool,
    ) -> Result<Vec<StoredTask>, ClickHouseError> {
        let doing = format!("loading the task checkpoints of {service}");
        let mut filter = service_filter(service);
        if let Some(only) = only {
            if only.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = only
                .iter()
                .map(|(t, p)| format!("({}, {p})", quote_str(t.name())))
                .collect();
            filter.push_str(&format!(" AND (topic, partition) IN ({})", list.join(", ")));
        }
        // argMax, not FINAL: exact whether or not the background merge has run yet.
        let state = if with_state {
            "hex(argMax(checkpoint, version))"
        } else {
            "''"
        };
        let out = self.conn.query_tsv(
            &doing,
            &format!(
                "SELECT topic, partition, argMax(epoch, version), argMax(next_offset, version), {state} FROM {} WHERE {filter} GROUP BY topic, partition ORDER BY topic, partition",
                quote_ident(CHECKPOINTS_TABLE),
            ),
        )?;
        let bad = |message: String| ClickHouseError::BadAnswer {
            doing: doing.clone(),
            message,
        };
        let mut tasks = Vec::new();
        for line in out.lines().filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 5 {
                return Err(bad(format!("expected 5 fields, got {line:.80?}")));
            }
            let topic =
                Topic::from_name(f[0]).ok_or_else(|| bad(format!("unknown topic {:?}", f[0])))?;
            let num = |s: &str| s.parse::<u64>().map_err(|e| bad(format!("{s:?}: {e}")));
            tasks.push(StoredTask {
                topic,
                partition: u32::try_from(num(f[1])?).map_err(|e| bad(e.to_string()))?,
                epoch: u32::try_from(num(f[2])?).map_err(|e| bad(e.to_string()))?,
                next_offset: num(f[3])?,
                bytes: unhex(f[4]).ok_or_else(|| bad("checkpoint is not hex".to_string()))?,
            });
        }
        Ok(tasks)
    }

    /// Requests a full replay of `service`: a replay marker above every stored checkpoint for
    /// each of its tasks, so the next start rebuilds every table from offset 0 in a new epoch
    /// whose rows outrank all earlier ones. Returns the new epoch.
    pub fn request_replay(&mut self, service: &str) -> Result<u32, ClickHouseError> {
        let tasks = self.stored_tasks(service, None, false)?;
        let epoch = tasks.iter().map(|t| t.epoch).max().unwrap_or(0) + 1;
        let markers: Vec<StoredTask> = tasks
            .iter()
            .map(|t| StoredTask {
                topic: t.topic,
                partition: t.partition,
                epoch,
                next_offset: 0,
                bytes: Vec::new(),
            })
            .collect();
        self.write_tasks(service, &markers.iter().collect::<Vec<_>>())?;
        Ok(epoch)
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

fn sink_error(e: ClickHouseError) -> SinkError {
    SinkError::Other {
        retryable: e.is_retryable(),
        message: e.to_string(),
    }
}

impl Sink for ClickHouseSink {
    fn load_tasks(
        &mut self,
        service: &str,
        only: Option<&[(Topic, u32)]>,
    ) -> Result<Vec<StoredTask>, SinkError> {
        self.stored_tasks(service, only, true).map_err(sink_error)
    }

    fn task_heads(&mut self, service: &str) -> Result<Vec<StoredTask>, SinkError> {
        self.stored_tasks(service, None, false).map_err(sink_error)
    }

    fn commit(&mut self, service: &str, commit: &Commit<'_>) -> Result<(), SinkError> {
        self.write_tables(commit.tables, commit.version)
            .map_err(sink_error)?;
        let changed: Vec<&StoredTask> = commit
            .tasks
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(t, _)| t)
            .collect();
        self.write_tasks(service, &changed).map_err(sink_error)
    }
}

#[cfg(test)]
mod tests {
    use super::unhex;

    #[test]
    fn unhex_roundtrip() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(""), Some(vec![]));
    }
}

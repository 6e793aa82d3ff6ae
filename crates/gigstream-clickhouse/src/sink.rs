//! [`ClickHouseSink`]: versioned upserts of every table row, then the checkpoint row.

use crate::client::{ClickHouseConfig, ClickHouseError, Connection};
use crate::ddl::{quote_ident, quote_str, CHECKPOINTS_TABLE, VERSION_COLUMN};
use crate::migrations::{apply_migrations, now_secs, service_filter};
use crate::rowbinary::{put_bytes, put_row};
use gigstream_core::table::TableData;
use gigstream_runtime::{Sink, SinkError};
use std::collections::HashMap;

/// Commits service tables into ClickHouse `ReplacingMergeTree(_version)` tables.
///
/// See the crate docs for why a crash in the middle of a commit is safe.
#[derive(Debug)]
pub struct ClickHouseSink {
    conn: Connection,
    /// The last version used per service in this process (written or attempted).
    last_version: HashMap<String, u64>,
}

impl ClickHouseSink {
    /// Connects, creates the database if missing and applies missing migrations.
    pub fn connect(config: ClickHouseConfig) -> Result<ClickHouseSink, ClickHouseError> {
        let admin = Connection::new(config.clone(), false)?;
        let conn = Connection::new(config, true)?;
        apply_migrations(&admin, &conn)?;
        Ok(ClickHouseSink {
            conn,
            last_version: HashMap::new(),
        })
    }

    /// [`ClickHouseSink::connect`] with [`ClickHouseConfig::from_env`]; None when
    /// `GIGSTREAM_CLICKHOUSE_URL` is not set.
    pub fn from_env() -> Result<Option<ClickHouseSink>, ClickHouseError> {
        ClickHouseConfig::from_env()
            .map(ClickHouseSink::connect)
            .transpose()
    }

    /// The connection (to the configured database), for queries.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The version for the next commit of `service`: above every version this process used and,
    /// on the first commit, above every version already stored for the service's checkpoints
    /// and in the tables being written (which covers rows of a commit that crashed before its
    /// checkpoint). Strictly increasing across restarts, independent of the clock.
    fn next_version(
        &mut self,
        service: &str,
        tables: &[TableData],
    ) -> Result<u64, ClickHouseError> {
        let base = match self.last_version.get(service) {
            Some(v) => *v,
            None => {
                let mut parts = vec![format!(
                    "SELECT max(version) AS v FROM {} WHERE {}",
                    quote_ident(CHECKPOINTS_TABLE),
                    service_filter(service)
                )];
                for t in tables {
                    parts.push(format!(
                        "SELECT max({}) AS v FROM {}",
                        quote_ident(VERSION_COLUMN),
                        quote_ident(t.def.name)
                    ));
                }
                let sql = format!("SELECT max(v) FROM ({})", parts.join(" UNION ALL "));
                let doing = format!("reading the last version of {service}");
                let out = self.conn.query_tsv(&doing, &sql)?;
                out.trim()
                    .parse::<u64>()
                    .map_err(|e| ClickHouseError::BadAnswer {
                        doing,
                        message: format!("{out:?} is not a version: {e}"),
                    })?
            }
        };
        let v = base
            .checked_add(1)
            .ok_or_else(|| ClickHouseError::BadAnswer {
                doing: format!("choosing the next version of {service}"),
                message: "the stored version is u64::MAX".to_string(),
            })?;
        // Used even if the commit then fails, so a retry never reuses a half-written version.
        self.last_version.insert(service.to_string(), v);
        Ok(v)
    }

    /// The first half of a commit: writes every row of every table with a new version and
    /// returns it, without the checkpoint. [`Sink::commit`] is this plus
    /// [`ClickHouseSink::write_checkpoint`]; alone it is what a crash mid-commit leaves behind.
    pub fn write_tables(
        &mut self,
        service: &str,
        tables: &[TableData],
    ) -> Result<u64, ClickHouseError> {
        let version = self.next_version(service, tables)?;
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
        Ok(version)
    }

    /// The second half of a commit: the checkpoint row at `version`, which makes the commit
    /// the one a restart resumes from.
    pub fn write_checkpoint(
        &mut self,
        service: &str,
        version: u64,
        checkpoint: &[u8],
    ) -> Result<(), ClickHouseError> {
        let mut row = Vec::with_capacity(checkpoint.len() + service.len() + 32);
        put_bytes(&mut row, service.as_bytes());
        row.extend_from_slice(&version.to_le_bytes());
        put_bytes(&mut row, checkpoint);
        row.extend_from_slice(&now_secs().to_le_bytes());
        self.conn.insert_rowbinary(
            CHECKPOINTS_TABLE,
            &["service", "version", "checkpoint", "committed_at"],
            row,
        )
    }

    /// The newest committed checkpoint of `service` and its version.
    pub fn newest_checkpoint(
        &self,
        service: &str,
    ) -> Result<Option<(u64, Vec<u8>)>, ClickHouseError> {
        let doing = format!("loading the checkpoint of {service}");
        let out = self.conn.query_tsv(
            &doing,
            &format!(
                "SELECT version, hex(checkpoint) FROM {} WHERE service = {} ORDER BY version DESC LIMIT 1",
                quote_ident(CHECKPOINTS_TABLE),
                quote_str(service)
            ),
        )?;
        let line = out.trim_end_matches('\n');
        if line.is_empty() {
            return Ok(None);
        }
        let bad = |message: String| ClickHouseError::BadAnswer {
            doing: doing.clone(),
            message,
        };
        let (v, hex) = line
            .split_once('\t')
            .ok_or_else(|| bad(format!("expected version and checkpoint, got {line:?}")))?;
        let version = v
            .parse::<u64>()
            .map_err(|e| bad(format!("version {v:?}: {e}")))?;
        let bytes = unhex(hex).ok_or_else(|| bad("checkpoint is not hex".to_string()))?;
        Ok(Some((version, bytes)))
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
    fn load_checkpoint(&mut self, service: &str) -> Result<Option<Vec<u8>>, SinkError> {
        Ok(self
            .newest_checkpoint(service)
            .map_err(sink_error)?
            .map(|(_, bytes)| bytes))
    }

    fn commit(
        &mut self,
        service: &str,
        tables: &[TableData],
        checkpoint: &[u8],
    ) -> Result<(), SinkError> {
        let version = self.write_tables(service, tables).map_err(sink_error)?;
        self.write_checkpoint(service, version, checkpoint)
            .map_err(sink_error)
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

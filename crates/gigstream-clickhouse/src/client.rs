//! Connection settings, errors and a small blocking wrapper over the `clickhouse` crate (HTTP).
//!
//! Every request carries `wait_end_of_query=1`, so the server buffers the result and an error
//! arrives whole with its status instead of in the middle of a 200 response. Validation of row
//! types is off: 18.16 has no `RowBinaryWithNamesAndTypes`, and rows are encoded here from the
//! [`TableDef`](gigstream_core::table::TableDef)s anyway.

use crate::ddl::quote_ident;
use bytes::Bytes;
use clickhouse::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use gigstream_config::ClickHouseConfig;

/// What went wrong talking to ClickHouse.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("cannot start the ClickHouse client runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot reach ClickHouse at {url} while {doing}: {message} (is the server up and the URL right?)")]
    Network {
        url: String,
        doing: String,
        message: String,
    },
    #[error("ClickHouse at {url} did not answer within {timeout:?} while {doing}; it may be overloaded, or raise the request timeout")]
    Timeout {
        url: String,
        doing: String,
        timeout: Duration,
    },
    #[error("ClickHouse refused {doing}: {message}")]
    Server {
        doing: String,
        message: String,
        retryable: bool,
    },
    #[error(transparent)]
    Encode(#[from] crate::rowbinary::EncodeError),
    #[error("unexpected answer from ClickHouse while {doing}: {message}")]
    BadAnswer { doing: String, message: String },
    #[error("migration {name} is listed but {problem}; fix schemas/clickhouse")]
    Migration { name: String, problem: String },
    #[error("the database {database} lacks migration {name}: run `gigstream migrate` as a ClickHouse user allowed DDL (this user applies none: [clickhouse] apply_migrations = false / GIGSTREAM_CLICKHOUSE_APPLY_MIGRATIONS=false)")]
    NotMigrated { database: String, name: String },
}

impl ClickHouseError {
    /// The same error, retryable when it says a table or database does not exist: for a
    /// table the migrations created, that is a server shutting down or still loading its
    /// tables after a start (seen: `Table ... doesn't exist` for every table while 18.16
    /// stops), which a commit must wait out instead of giving up; a table that is really gone
    /// keeps the service retrying (and not ready), with the message in its log.
    pub fn missing_table_is_transient(self) -> ClickHouseError {
        match self {
            ClickHouseError::Server {
                doing,
                message,
                retryable: false,
            } if matches!(exception_code(&message), Some(60 | 81)) => ClickHouseError::Server {
                doing,
                message,
                retryable: true,
            },
            other => other,
        }
    }

    /// Whether the same request may succeed later: the server was unreachable, slow or
    /// temporarily unable (memory, too many parts, read-only replica), as opposed to a request
    /// it will refuse again (bad SQL, unknown table, type mismatch, bad credentials).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClickHouseError::Network { .. } | ClickHouseError::Timeout { .. } => true,
            ClickHouseError::Server { retryable, .. } => *retryable,
            ClickHouseError::Runtime(_)
            | ClickHouseError::Encode(_)
            | ClickHouseError::BadAnswer { .. }
            | ClickHouseError::Migration { .. }
            | ClickHouseError::NotMigrated { .. } => false,
        }
    }
}

/// ClickHouse error codes that mean "try again later".
const RETRYABLE_CODES: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    164, // READONLY (replica temporarily read-only)
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    236, // ABORTED
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    425, // SYSTEM_ERROR
    999, // KEEPER_EXCEPTION
];

/// The `Code: N` of a ClickHouse exception message.
pub fn exception_code(message: &str) -> Option<u32> {
    let rest = &message[message.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Classifies a server answer: a known transient code, or an HTTP 5xx without a ClickHouse
/// code (a proxy or a dying server), is retryable; any other ClickHouse exception is not.
pub fn server_message_retryable(message: &str) -> bool {
    match exception_code(message) {
        Some(code) => RETRYABLE_CODES.contains(&code),
        None => {
            let status: Option<u16> = message
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok());
            matches!(status, Some(500..=599 | 408 | 429))
        }
    }
}

/// A blocking ClickHouse connection: a current-thread tokio runtime driving the async client.
pub struct Connection {
    rt: tokio::runtime::Runtime,
    client: Client,
    config: ClickHouseConfig,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Prepares a client (connects lazily); `with_database` selects the configured database.
    pub fn new(
        config: ClickHouseConfig,
        with_database: bool,
    ) -> Result<Connection, ClickHouseError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ClickHouseError::Runtime)?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_keepalive(Some(Duration::from_secs(60)));
        // ClickHouse closes idle keep-alive connections after 3 s (its default).
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(2))
            .build(connector);
        let mut client = Client::with_http_client(http)
            .with_url(config.url.clone())
            .with_user(config.user.clone())
            .with_validation(false)
            .with_setting("wait_end_of_query", "1");
        if !config.password.is_empty() {
            client = client.with_password(config.password.clone());
        }
        if with_database {
            client = client.with_database(config.database.clone());
        }
        Ok(Connection { rt, client, config })
    }

    pub fn config(&self) -> &ClickHouseConfig {
        &self.config
    }

    fn run<T>(
        &self,
        doing: &str,
        fut: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, ClickHouseError> {
        let timeout = self.config.request_timeout;
        // The timer must be created inside the runtime, hence the async block.
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, fut).await })
        {
            Err(_) => Err(ClickHouseError::Timeout {
                url: self.config.url.clone(),
                doing: doing.to_string(),
                timeout,
            }),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.classify(doing, e)),
        }
    }

    fn classify(&self, doing: &str, e: clickhouse::error::Error) -> ClickHouseError {
        use clickhouse::error::Error as E;
        match e {
            E::Network(_) => ClickHouseError::Network {
                url: self.config.url.clone(),
                doing: doing.to_string(),
                message: source_chain(&e),
            },
            E::TimedOut => ClickHouseError::Timeout {
                url: self.config.url.clone(),
                doing: doing.to_string(),
                timeout: self.config.request_timeout,
            },
            E::BadResponse(message) => ClickHouseError::Server {
                doing: doing.to_string(),
                retryable: server_message_retryable(&message),
                message,
            },
            other => ClickHouseError::BadAnswer {
                doing: doing.to_string(),
                message: source_chain(&other),
            },
        }
    }

    /// Runs a statement that returns nothing (DDL).
    pub fn execute(&self, doing: &str, sql: &str) -> Result<(), ClickHouseError> {
        self.run(doing, self.client.query_raw(sql).execute())
    }

    /// Runs a query and returns its TabSeparated output.
    pub fn query_tsv(&self, doing: &str, sql: &str) -> Result<String, ClickHouseError> {
        let bytes = self.run(doing, async {
            let mut cursor = self.client.query_raw(sql).fetch_bytes("TabSeparated")?;
            cursor.collect().await
        })?;
        String::from_utf8(bytes.to_vec()).map_err(|e| ClickHouseError::BadAnswer {
            doing: doing.to_string(),
            message: format!("output is not UTF-8: {e}"),
        })
    }

    /// Runs a query and returns its raw output in `format` (e.g. `RowBinary`, decoded by
    /// [`crate::read`]).
    pub fn query_bytes(
        &self,
        doing: &str,
        sql: &str,
        format: &str,
    ) -> Result<Vec<u8>, ClickHouseError> {
        let bytes = self.run(doing, async {
            let mut cursor = self.client.query_raw(sql).fetch_bytes(format)?;
            cursor.collect().await
        })?;
        Ok(bytes.to_vec())
    }

    /// Sends one `INSERT INTO table (columns) FORMAT RowBinary` with `data` as the rows.
    pub fn insert_rowbinary(
        &self,
        table: &str,
        columns: &[&str],
        data: Vec<u8>,
    ) -> Result<(), ClickHouseError> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!(
            "INSERT INTO {} ({}) FORMAT RowBinary",
            quote_ident(table),
            cols.join(", ")
        );
        let doing = format!("inserting into {table}");
        self.run(&doing, async {
            let mut insert = self.client.insert_formatted_with(sql);
            insert.send(Bytes::from(data)).await?;
            insert.end().await
        })
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let m = inner.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let mut c = ClickHouseConfig::new("http://127.0.0.1:8123");
        c.password = "hunter2".to_string();
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("<redacted>"));
    }

    #[test]
    fn classifies_server_messages() {
        let type_err = "Code: 27, e.displayText() = DB::Exception: Cannot parse input";
        assert_eq!(exception_code(type_err), Some(27));
        assert!(!server_message_retryable(type_err));
        assert!(!server_message_retryable(
            "Code: 62. DB::Exception: Syntax error"
        ));
        assert!(server_message_retryable(
            "Code: 252, e.displayText() = DB::Exception: Too many parts"
        ));
        assert!(server_message_retryable("503 Service Unavailable"));
        assert!(server_message_retryable("502 Bad Gateway"));
        assert!(!server_message_retryable("403 Forbidden"));
    }
}

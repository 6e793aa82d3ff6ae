//! `infra/clickhouse/users.d/gigstream.xml` on a real server: the test starts its own
//! ClickHouse with `start-clickhouse.sh` and `CLICKHOUSE_USERS_D` (on the port of the
//! configured server + 30) and shows what each user can and cannot do. Needs ClickHouse
//! configured (the sign that clickhouse-server is installed here).

use gigstream_clickhouse::{apply_migrations, ClickHouseSink, Connection, MIGRATIONS};
use gigstream_config::Config;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WRITER_PW: &str = "writer-pw-7f3a";
const GRAFANA_PW: &str = "grafana-pw-19c2";
const ADMIN_PW: &str = "admin-pw-c81d";

fn sha256_hex(s: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hex = String::from_utf8(out.stdout).unwrap();
    hex.split_whitespace().next().unwrap().to_string()
}

/// The port of our own server: the configured server's port + 30.
fn test_port() -> u16 {
    let url = gigstream_testkit::services::clickhouse().url;
    let base: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in the ClickHouse URL {url}"));
    base.checked_add(30).expect("port in range")
}

/// A server of our own, stopped when dropped.
struct Server {
    dir: tempfile::TempDir,
    port: u16,
}

impl Server {
    fn start(port: u16) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("gigstream-users-test.")
            .tempdir_in("/tmp")
            .unwrap();
        // clickhouse runs as its own user when we are root: it must reach the directory.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let repo = crate::repo();
        let out =
            Command::new(repo.join("crates/gigstream-clickhouse/scripts/start-clickhouse.sh"))
                .arg(dir.path().join("ch"))
                .arg(port.to_string())
                .env("CLICKHOUSE_USERS_D", repo.join("infra/clickhouse/users.d"))
                .env("GIGSTREAM_WRITER_PASSWORD_SHA256", sha256_hex(WRITER_PW))
                .env("GIGSTREAM_GRAFANA_PASSWORD_SHA256", sha256_hex(GRAFANA_PW))
                .env("GIGSTREAM_ADMIN_PASSWORD_SHA256", sha256_hex(ADMIN_PW))
                .output()
                .expect("start-clickhouse.sh");
        let server = Server { dir, port };
        assert!(
            out.status.success(),
            "start-clickhouse.sh failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        server
    }

    fn ch_dir(&self) -> PathBuf {
        self.dir.path().join("ch")
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new(
            crate::repo().join("crates/gigstream-clickhouse/scripts/stop-clickhouse.sh"),
        )
        .arg(self.ch_dir())
        .status();
    }
}

/// The answer to one query over HTTP (curl): `Ok(body)` for 200, `Err(body)` otherwise.
fn query(
    server: &Server,
    user: &str,
    password: &str,
    database: Option<&str>,
    sql: &str,
) -> Result<String, String> {
    use std::io::Write;
    let mut url = format!("{}/", server.url());
    if let Some(db) = database {
        url.push_str(&format!("?database={db}"));
    }
    let mut child = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "-w",
            "\n%{http_code}",
            "--data-binary",
            "@-",
        ])
        .arg("-u")
        .arg(format!("{user}:{password}"))
        .arg(&url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    if code == "200" {
        Ok(body.trim().to_string())
    } else {
        Err(format!(
            "HTTP {code}: {}{}",
            body.trim(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// ClickHouse settings for `user` through the config crate, as a service would load them.
fn config_for(server: &Server, user: &str, password: &str) -> gigstream_config::ClickHouseConfig {
    let vars: BTreeMap<String, String> = [
        ("GIGSTREAM_CLICKHOUSE_URL", server.url()),
        ("GIGSTREAM_CLICKHOUSE_USER", user.to_string()),
        (
            "GIGSTREAM_CLICKHOUSE_PASSWORD_ENV",
            "TEST_CH_PASSWORD".to_string(),
        ),
        ("TEST_CH_PASSWORD", password.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Config::load_from(None, &vars)
        .unwrap()
        .config
        .clickhouse()
        .unwrap()
}

fn refused(what: &str, r: Result<String, String>) -> String {
    match r {
        Ok(body) => panic!("{what} was allowed (answer {body:?})"),
        Err(e) => e,
    }
}

pub(crate) fn users_d_writer_grafana_and_admin() {
    let port = test_port();
    assert!(
        Path::new("/usr/sbin/clickhouse-server").exists() || which("clickhouse-server"),
        "GIGSTREAM_CLICKHOUSE_URL is set but clickhouse-server is not installed"
    );
    let server = Server::start(port);
    let (w, g, a) = (
        ("gigstream_writer", WRITER_PW),
        ("gigstream_grafana", GRAFANA_PW),
        ("gigstream_admin", ADMIN_PW),
    );
    let db = Some("gigstream");

    // Wrong passwords are refused; an empty one too.
    refused(
        "a wrong password",
        query(&server, w.0, "nope", None, "SELECT 1"),
    );
    refused(
        "an empty password",
        query(&server, g.0, "", None, "SELECT 1"),
    );

    // The admin applies the real migrations (what `gigstream migrate` will do).
    let admin_cfg = config_for(&server, a.0, a.1);
    let admin = Connection::new(admin_cfg.clone(), false).unwrap();
    let admin_db = Connection::new(admin_cfg, true).unwrap();
    let applied = apply_migrations(&admin, &admin_db).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(applied.len(), MIGRATIONS.len());
    query(
        &server,
        a.0,
        a.1,
        db,
        "CREATE TABLE probe (id UInt32, v String) ENGINE = MergeTree ORDER BY id",
    )
    .unwrap();
    // ...but only in its databases.
    refused(
        "admin creating another database",
        query(&server, a.0, a.1, None, "CREATE DATABASE other_by_admin"),
    );
    // Another database, made by the server's default user, with a row in it.
    query(&server, "default", "", None, "CREATE DATABASE other").unwrap();
    query(
        &server,
        "default",
        "",
        None,
        "CREATE TABLE other.t (x UInt8) ENGINE = MergeTree ORDER BY x",
    )
    .unwrap();
    query(
        &server,
        "default",
        "",
        None,
        "INSERT INTO other.t VALUES (1)",
    )
    .unwrap();

    // The writer: INSERT and SELECT in gigstream...
    query(
        &server,
        w.0,
        w.1,
        db,
        "INSERT INTO probe VALUES (1, 'a'), (2, 'b')",
    )
    .unwrap();
    assert_eq!(
        query(&server, w.0, w.1, db, "SELECT count() FROM probe").unwrap(),
        "2"
    );
    assert_eq!(
        query(
            &server,
            w.0,
            w.1,
            None,
            "SELECT v FROM gigstream.probe WHERE id = 2"
        )
        .unwrap(),
        "b"
    );
    // ...reads the schema version (what a sink that does not migrate checks)...
    let version = query(
        &server,
        w.0,
        w.1,
        db,
        "SELECT max(version) FROM gigstream_migrations",
    )
    .unwrap();
    assert_eq!(version, MIGRATIONS.last().unwrap().version.to_string());
    // ...but no DDL of any kind, and nothing outside gigstream.
    for sql in [
        "CREATE TABLE made_by_writer (x UInt8) ENGINE = Memory",
        "CREATE TABLE IF NOT EXISTS probe (id UInt32, v String) ENGINE = MergeTree ORDER BY id",
        "DROP TABLE probe",
        "TRUNCATE TABLE probe",
        "ALTER TABLE probe ADD COLUMN extra UInt8",
        "ALTER TABLE probe DELETE WHERE id = 1",
        "RENAME TABLE probe TO probe_renamed",
        "DROP DATABASE gigstream",
        "CREATE DATABASE made_by_writer",
    ] {
        refused(&format!("writer: {sql}"), query(&server, w.0, w.1, db, sql));
    }
    refused(
        "writer reading another database",
        query(&server, w.0, w.1, None, "SELECT count() FROM other.t"),
    );
    refused(
        "writer writing another database",
        query(&server, w.0, w.1, None, "INSERT INTO other.t VALUES (2)"),
    );
    // The sink's start-up DDL is refused to the writer (it needs apply_migrations = false and
    // a schema check instead; see the crate README / report).
    let writer_cfg = config_for(&server, w.0, w.1);
    let err = ClickHouseSink::connect(writer_cfg).expect_err("the writer ran DDL");
    assert!(!err.is_retryable(), "{err}");

    // Grafana: SELECT with its own query settings, nothing else.
    assert_eq!(
        query(
            &server,
            g.0,
            g.1,
            db,
            "SELECT count() FROM probe SETTINGS max_threads = 1, max_execution_time = 10"
        )
        .unwrap(),
        "2"
    );
    assert_eq!(
        query(
            &server,
            g.0,
            g.1,
            None,
            "SELECT count() FROM gigstream.probe"
        )
        .unwrap(),
        "2"
    );
    for sql in [
        "INSERT INTO probe VALUES (3, 'c')",
        "CREATE TABLE made_by_grafana (x UInt8) ENGINE = Memory",
        "DROP TABLE probe",
        "ALTER TABLE probe ADD COLUMN extra UInt8",
        "SELECT 1 SETTINGS readonly = 0",
    ] {
        refused(
            &format!("grafana: {sql}"),
            query(&server, g.0, g.1, db, sql),
        );
    }
    refused(
        "grafana reading another database",
        query(&server, g.0, g.1, None, "SELECT count() FROM other.t"),
    );

    // Nothing the refused statements tried happened.
    assert_eq!(
        query(&server, a.0, a.1, db, "SELECT name FROM system.tables WHERE database = 'gigstream' AND name LIKE '%probe%' ORDER BY name").unwrap(),
        "probe"
    );
    assert_eq!(
        query(&server, a.0, a.1, db, "SELECT count() FROM probe").unwrap(),
        "2"
    );
    assert_eq!(
        query(&server, "default", "", None, "SELECT count() FROM other.t").unwrap(),
        "1"
    );
    assert_eq!(
        query(&server, "default", "", None, "SELECT count() FROM system.databases WHERE name LIKE 'made_by%' OR name = 'other_by_admin'").unwrap(),
        "0"
    );
}

fn which(bin: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

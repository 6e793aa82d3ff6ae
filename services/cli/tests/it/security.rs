//! Kafka with TLS and SASL/SCRAM, for real: an Apache Kafka of the test's own
//! (`infra/kafka/start.sh`) whose SASL_SSL listener requires SCRAM-SHA-512, with a certificate
//! from a CA the test makes with openssl. Producing, a service run into ClickHouse and `gigstream verify`
//! all go through `SASL_SSL` with `SCRAM-SHA-512` and the CA's certificate, with the settings
//! passed as `GIGSTREAM_KAFKA_*` variables; a wrong password, an unknown CA and a plaintext
//! client each fail with a message that names the cause; the password appears in no output.
//!
//! Runs with the other broker tests (`GIGSTREAM_KAFKA_BROKERS` and `GIGSTREAM_CLICKHOUSE_URL`
//! set, which also says Java is here for Kafka); it then needs `openssl` (`.ci/run` installs
//! it).

use crate::support::{backends, repo_path, text};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

const USER: &str = "gigstream-writer";
const PASSWORD: &str = "scram-pw-5d1e77b0";

fn tool(name: &str) -> String {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is needed by the TLS/SCRAM test (.ci/run installs it: apt-get install openssl)"
    );
    name.to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// An Apache Kafka of the test's own (`infra/kafka/start.sh`), stopped when dropped.
struct Broker {
    dir: PathBuf,
}

impl Broker {
    /// A broker in `dir` with a PLAINTEXT listener on `plain` (its controller on a free port)
    /// and a SASL_SSL listener on `tls` requiring SCRAM-SHA-512 of `USER`, with the
    /// certificate and key made by [`certificates`].
    fn start(dir: &Path, plain: u16, tls: u16) -> Broker {
        let certs = dir.join("certs");
        let data = dir.join("kafka");
        run(
            Command::new(repo_path("infra/kafka/start.sh"))
                .arg(&data)
                .arg(plain.to_string())
                .env("KAFKA_CONTROLLER_PORT", free_port().to_string())
                .env("KAFKA_SASL_SSL_PORT", tls.to_string())
                .env("KAFKA_SSL_CERT", certs.join("server.pem"))
                .env("KAFKA_SSL_KEY", certs.join("server.key"))
                .env("KAFKA_SCRAM_USER", USER)
                .env("KAFKA_SCRAM_PASSWORD", PASSWORD)
                .env("KAFKA_HEAP_OPTS", "-Xms64m -Xmx384m"),
            "infra/kafka/start.sh (a broker with a SASL_SSL listener)",
        );
        Broker { dir: data }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new(repo_path("infra/kafka/stop.sh"))
            .arg(&self.dir)
            .status();
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it, as PEM files in `dir`.
fn certificates(dir: &Path) {
    let openssl = tool("openssl");
    let sh = |args: &[&str], what: &str| {
        run(Command::new(&openssl).args(args).current_dir(dir), what);
    };
    let subject_ca = "/CN=gigstream test CA";
    sh(
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", subject_ca,
        ],
        "openssl: the CA",
    );
    sh(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        "openssl: the server key",
    );
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write san.cnf");
    sh(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.cnf",
        ],
        "openssl: the server certificate",
    );
    // Another CA, which did not sign the server's certificate.
    sh(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
            "-days",
            "2",
            "-subj",
            "/CN=another CA",
        ],
        "openssl: another CA",
    );
}

pub(crate) fn tls_and_scram_end_to_end() {
    let mut b = backends("security");
    let dir = b.dir.path().join("certs");
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let (plain, tls) = (free_port(), free_port());

    let _broker = Broker::start(b.dir.path(), plain, tls);

    let ca = dir.join("ca.pem").display().to_string();
    let secure = |password: &str, ca: &str, protocol: &str| -> Vec<(String, String)> {
        [
            ("GIGSTREAM_KAFKA_BROKERS", format!("127.0.0.1:{tls}")),
            ("GIGSTREAM_KAFKA_SECURITY_PROTOCOL", protocol.to_string()),
            ("GIGSTREAM_KAFKA_SASL_MECHANISMS", "SCRAM-SHA-512".into()),
            ("GIGSTREAM_KAFKA_SASL_USERNAME", USER.into()),
            ("GIGSTREAM_KAFKA_SASL_PASSWORD", password.into()),
            ("GIGSTREAM_KAFKA_SSL_CA_LOCATION", ca.to_string()),
            // A failing connection is reported after this long.
            ("GIGSTREAM_KAFKA_REQUEST_TIMEOUT", "6s".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    };
    b.extra_env = secure(PASSWORD, &ca, "SASL_SSL");
    let gen = ["--events", "3000", "--days", "5", "--bad-ratio", "0.01"];
    let seed = b.seed.to_string();
    let mut produce = vec!["produce", "--seed", &seed];
    produce.extend_from_slice(&gen);
    let out = b.gigstream(&produce);
    let all_output = |o: &std::process::Output| format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        out.status.success(),
        "produce over SASL_SSL {}\n{}",
        b.ctx(),
        all_output(&out)
    );
    assert!(
        text(&out.stdout).contains("produced"),
        "{}",
        all_output(&out)
    );
    let mut outputs = vec![all_output(&out)];

    let out = b.gigstream(&["run", "sla", "billing"]);
    assert!(
        out.status.success(),
        "run over SASL_SSL {}\n{}",
        b.ctx(),
        all_output(&out)
    );
    outputs.push(all_output(&out));
    outputs.push(b.assert_verified(&["sla", "billing"]));

    // Each wrong setting fails, naming its cause.
    for (env, cause, advice) in [
        (
            secure("not-the-password", &ca, "SASL_SSL"),
            "SASL authentication error",
            "GIGSTREAM_KAFKA_SASL_PASSWORD",
        ),
        (
            secure(
                PASSWORD,
                &dir.join("other.pem").display().to_string(),
                "SASL_SSL",
            ),
            "certificate verify failed",
            "GIGSTREAM_KAFKA_SSL_CA_LOCATION",
        ),
        (
            secure(PASSWORD, &ca, "SASL_PLAINTEXT"),
            "Disconnected",
            "GIGSTREAM_KAFKA_SECURITY_PROTOCOL",
        ),
    ] {
        b.extra_env = env;
        let out = b.gigstream(&["run", "sla"]);
        let all = all_output(&out);
        assert!(
            !out.status.success(),
            "a run with a wrong setting succeeded:\n{all}"
        );
        let last = all
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        assert!(
            last.contains(cause) && last.contains(advice),
            "the error should name `{cause}` and `{advice}`; it was:\n{last}"
        );
        println!("as expected: {last}");
        outputs.push(all);
    }

    for o in &outputs {
        assert!(
            !o.contains(PASSWORD),
            "the password appeared in the output:\n{o}"
        );
    }
}

//! Kafka with TLS and SASL/SCRAM, for real: a broker of the test's own (tansu, with SCRAM
//! authentication required) behind a TLS listener (socat, with a certificate from a CA the
//! test makes with openssl). Producing, a service run into ClickHouse and `gigstream verify`
//! all go through `SASL_SSL` with `SCRAM-SHA-512` and the CA's certificate, with the settings
//! passed as `GIGSTREAM_KAFKA_*` variables; a wrong password, an unknown CA and a plaintext
//! client each fail with a message that names the cause; the password appears in no output.
//!
//! Runs with the other broker tests (`GIGSTREAM_KAFKA_BROKERS` and `GIGSTREAM_CLICKHOUSE_URL`
//! set); it then needs `tansu`, `socat` and `openssl` (`.ci/run` installs them).

use crate::support::{backends, text};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "gigstream-writer";
const PASSWORD: &str = "scram-pw-5d1e77b0";

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> String {
    let bin = match name {
        "tansu" => std::env::var("TANSU").unwrap_or_else(|_| "tansu".into()),
        _ => name.to_string(),
    };
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{bin} is needed by the TLS/SCRAM test (.ci/run installs it: apt-get install socat \
         openssl; cargo install tansu --locked --features dynostore,libsql)"
    );
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_port(port: u16, what: &str, child: &mut Child) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let until = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before listening on {port}");
        }
        assert!(Instant::now() < until, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(100));
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

/// tansu from `dir` (SQLite there) on `port`, advertising `advertised`.
fn tansu(dir: &Path, port: u16, advertised: u16, authentication: bool) -> Proc {
    let mut c = Command::new(tool("tansu"));
    c.args([
        "broker",
        "--cluster-id",
        "gigstream-security",
        "--listener-url",
        &format!("tcp://127.0.0.1:{port}"),
        "--advertised-listener-url",
        &format!("tcp://127.0.0.1:{advertised}"),
        "--storage-engine",
        "sqlite://tansu.db",
    ]);
    if authentication {
        c.arg("--authentication");
    }
    let log = std::fs::File::create(dir.join(format!("tansu-{authentication}.log"))).unwrap();
    let mut child = c
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("tansu starts");
    wait_port(port, "tansu", &mut child);
    Proc(child)
}

#[test]
fn tls_and_scram_end_to_end() {
    let Some(mut b) = backends("security") else {
        return;
    };
    let dir = b.dir.path().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let (plain, tls) = (free_port(), free_port());

    // The user first, on a broker without authentication (it refuses the admin request once
    // authentication is on); then the broker again, now requiring SCRAM.
    {
        let _setup = tansu(&dir, plain, plain, false);
        run(
            Command::new(tool("tansu")).args([
                "user",
                "create",
                "--broker",
                &format!("tcp://127.0.0.1:{plain}"),
                "--mechanism",
                "scram512",
                USER,
                PASSWORD,
            ]),
            "tansu user create",
        );
    }
    let _broker = tansu(&dir, plain, tls, true);
    let mut socat = Command::new(tool("socat"))
        .arg(format!(
            "OPENSSL-LISTEN:{tls},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
            dir.join("server.pem").display(),
            dir.join("server.key").display()
        ))
        .arg(format!("TCP:127.0.0.1:{plain}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("socat starts");
    wait_port(tls, "socat", &mut socat);
    let _socat = Proc(socat);

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

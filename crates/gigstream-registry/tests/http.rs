//! The client against a small HTTP(S) server in this process that records each request and
//! answers what the test says: headers, bodies, error mapping, caching, timeouts, and TLS with
//! a private CA made here (a wrong CA, a plain-HTTP server behind an https URL, and the
//! reverse must fail with errors that say so). No registry needed; see tests/registry for
//! the tests against a real one.

use gigstream_avro::{Codec, LookupError, Registry, WriterSchemas};
use gigstream_core::Topic;
use gigstream_registry::{
    CompatibilityLevel, RegistryConfig, RegistryError, SchemaRegistry, VersionSelector,
};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASSWORD: &str = "pw-do-not-print-4711";

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Reply {
    status: u16,
    body: String,
    /// Never answer (for timeouts).
    hang: bool,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        body: body.to_string(),
        hang: false,
    }
}

type Responder = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    fn start(
        tls: Option<SslAcceptor>,
        responder: impl Fn(&Req) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (reqs, responder): (_, Responder) = (requests.clone(), Arc::new(responder));
        let tls = tls.map(Arc::new);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (reqs, responder, tls) = (reqs.clone(), responder.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    None => serve_one(stream, &*responder, &reqs),
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream) {
                            serve_one(s, &*responder, &reqs)
                        }
                    }
                });
            }
        });
        Server { port, requests }
    }

    fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }

    fn url(&self, scheme: &str, host: &str) -> String {
        format!("{scheme}://{host}:{}/base", self.port)
    }
}

fn serve_one<S: Read + Write>(mut s: S, responder: &dyn Fn(&Req) -> Reply, reqs: &Mutex<Vec<Req>>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return,
        }
        if buf.len() == 1 && !buf[0].is_ascii_uppercase() {
            // Not HTTP (a TLS ClientHello): answer as HTTP servers do, and close.
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) = (
        first.next().unwrap_or("").to_string(),
        first.next().unwrap_or("").to_string(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0u8; len];
    if s.read_exact(&mut body).is_err() {
        return;
    }
    let req = Req {
        method,
        path,
        headers,
        body,
    };
    let r = responder(&req);
    reqs.lock().unwrap().push(req);
    if r.hang {
        std::thread::sleep(Duration::from_secs(5));
        return;
    }
    let text = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        r.status,
        r.body.len(),
        r.body
    );
    let _ = s.write_all(text.as_bytes());
    let _ = s.flush();
}

fn client(url: &str) -> SchemaRegistry {
    SchemaRegistry::new(
        RegistryConfig::new(url)
            .with_basic_auth("alice", PASSWORD)
            .with_timeout(Duration::from_secs(5)),
    )
    .unwrap()
}

fn no_password(e: &RegistryError) -> String {
    let text = format!("{e} {e:?}");
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");
    e.to_string()
}

#[test]
fn requests_carry_the_api_headers_auth_and_escaped_bodies() {
    let server = Server::start(None, |r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/base/subjects/orders-value/versions") => reply(200, r#"{"id": 42}"#),
        ("POST", "/base/subjects/a%20b%2Fc") => reply(
            200,
            r#"{"subject":"a b/c","version":3,"id":9,"schema":"\"string\""}"#,
        ),
        ("GET", "/base/subjects/orders-value/versions") => reply(200, "[3, 1, 2]"),
        ("GET", "/base/subjects/orders-value/versions/latest") => reply(
            200,
            r#"{"subject":"orders-value","version":3,"id":42,"schema":"\"string\""}"#,
        ),
        ("PUT", "/base/config/orders-value") => reply(
            200,
            r#"{"compatibility":"FULL_TRANSITIVE","normalize":false}"#,
        ),
        ("GET", "/base/config/orders-value?defaultToGlobal=true") => {
            reply(200, r#"{"compatibilityLevel":"BACKWARD"}"#)
        }
        ("POST", "/base/compatibility/subjects/orders-value/versions/latest?verbose=true") => {
            reply(
                200,
                r#"{"is_compatible":false,"messages":["READER_FIELD_MISSING_DEFAULT_VALUE at /fields/2"]}"#,
            )
        }
        _ => reply(500, "unexpected request"),
    });
    let r = client(&server.url("http", "127.0.0.1"));
    let text =
        "{\"type\":\"record\",\"name\":\"R\",\"doc\":\"\\\"quoted\\\"\\nline é\",\"fields\":[]}";
    assert_eq!(r.register("orders-value", text).unwrap(), 42);
    assert_eq!(r.lookup("a b/c", "\"string\"").unwrap(), Some(9));
    assert_eq!(r.versions("orders-value").unwrap(), vec![1, 2, 3]);
    assert_eq!(r.latest("orders-value").unwrap().id, 42);
    assert_eq!(
        r.set_compatibility("orders-value", CompatibilityLevel::FullTransitive)
            .unwrap(),
        CompatibilityLevel::FullTransitive
    );
    assert_eq!(
        r.compatibility("orders-value").unwrap(),
        CompatibilityLevel::Backward
    );
    let c = r
        .check_compatibility("orders-value", text, VersionSelector::Latest)
        .unwrap();
    assert!(!c.is_compatible);
    assert_eq!(c.messages.len(), 1);

    let reqs = server.requests();
    let reg = &reqs[0];
    assert_eq!(
        reg.header("content-type"),
        Some("application/vnd.schemaregistry.v1+json")
    );
    assert!(reg
        .header("accept")
        .unwrap()
        .starts_with("application/vnd.schemaregistry.v1+json"));
    assert_eq!(
        reg.header("authorization"),
        Some(gigstream_registry_auth("alice", PASSWORD).as_str())
    );
    assert_eq!(
        reg.header("host"),
        Some(format!("127.0.0.1:{}", server.port).as_str())
    );
    let body: serde_json::Value = serde_json::from_slice(&reg.body).unwrap();
    assert_eq!(body, serde_json::json!({ "schema": text }));
    let put: serde_json::Value = serde_json::from_slice(&reqs[4].body).unwrap();
    assert_eq!(put, serde_json::json!({"compatibility": "FULL_TRANSITIVE"}));
    assert!(reqs.iter().all(|q| q.header("authorization").is_some()));
}

/// `Basic base64(user:password)`, computed independently of the client.
fn gigstream_registry_auth(user: &str, password: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

#[test]
fn answers_map_to_errors_that_name_the_request() {
    let server = Server::start(None, |r| {
        let p = r.path.as_str();
        if p.ends_with("/nosubject/versions/latest") {
            reply(
                404,
                r#"{"error_code":40401,"message":"Subject 'nosubject' not found."}"#,
            )
        } else if p.ends_with("/subjects/nosubject") {
            reply(404, r#"{"error_code":40401,"message":"Subject not found"}"#)
        } else if p.ends_with("/subjects/known") {
            reply(404, r#"{"error_code":40403,"message":"Schema not found"}"#)
        } else if p.ends_with("/incompatible/versions") {
            reply(
                409,
                r#"{"error_code":409,"message":"Incompatible artifact: reader type: INT not compatible with writer type: STRING at /fields/2/type"}"#,
            )
        } else if p.ends_with("/invalid/versions") {
            reply(
                422,
                r#"{"error_code":42201,"message":"Failed to discover artifact type from content."}"#,
            )
        } else if p.ends_with("/locked/versions") {
            reply(401, r#"{"error_code":401,"message":"Unauthorized"}"#)
        } else if p.ends_with("/broken/versions") {
            reply(
                500,
                r#"{"error_code":50001,"message":"Error in the backend data store"}"#,
            )
        } else if p.ends_with("/proxy/versions") {
            reply(503, "<html>Service Unavailable</html>")
        } else if p.ends_with("/html/versions") {
            reply(200, "<html>not the registry</html>")
        } else if p.ends_with("/moved/versions") {
            reply(302, "")
        } else {
            reply(404, "")
        }
    });
    let r = client(&server.url("http", "127.0.0.1"));
    let url = server.url("http", "127.0.0.1");

    let e = r.latest("nosubject").unwrap_err();
    let m = no_password(&e);
    assert_eq!((e.status(), e.error_code()), (Some(404), Some(40401)));
    assert!(!e.is_retryable());
    assert!(
        m.contains(&format!("GET {url}/subjects/nosubject/versions/latest"))
            && m.contains("subject 'nosubject'")
            && m.contains("Subject 'nosubject' not found."),
        "{m}"
    );
    assert_eq!(r.lookup("nosubject", "\"int\"").unwrap(), None);
    assert_eq!(r.lookup("known", "\"int\"").unwrap(), None);

    let cases: [(&str, u16, &str); 3] = [
        ("incompatible", 409, "not compatible"),
        ("invalid", 422, "invalid"),
        ("locked", 401, "username and password"),
    ];
    for (subject, status, hint) in cases {
        let e = r.register(subject, "\"int\"").unwrap_err();
        let m = no_password(&e);
        assert!(matches!(e, RegistryError::Refused { .. }), "{m}");
        assert_eq!(e.status(), Some(status));
        assert!(!e.is_retryable());
        assert!(
            m.contains(hint) && m.contains(&format!("POST {url}/subjects/{subject}/versions")),
            "{m}"
        );
    }
    assert!(r
        .register("incompatible", "\"int\"")
        .unwrap_err()
        .to_string()
        .contains("INT not compatible"));

    for subject in ["broken", "proxy"] {
        let e = r.register(subject, "\"int\"").unwrap_err();
        let m = no_password(&e);
        assert!(e.is_retryable(), "{m}");
        assert!(m.contains("HTTP 50"), "{m}");
    }
    assert!(r
        .register("proxy", "\"int\"")
        .unwrap_err()
        .to_string()
        .contains("Service Unavailable"));

    let e = r.register("html", "\"int\"").unwrap_err();
    let m = no_password(&e);
    assert!(
        matches!(e, RegistryError::BadAnswer { .. }) && m.contains("ccompat"),
        "{m}"
    );
    let e = r.register("moved", "\"int\"").unwrap_err();
    assert!(no_password(&e).contains("redirects"), "{e}");
}

#[test]
fn schemas_by_id_are_cached_and_must_be_avro() {
    let v2 = Registry::builtin()
        .schema_json(Registry::builtin().latest(Topic::Telemetry))
        .unwrap()
        .to_string();
    let schema = serde_json::to_string(&serde_json::json!({"schema": v2})).unwrap();
    let server = Server::start(None, move |r| match r.path.as_str() {
        "/base/schemas/ids/17" => reply(200, &schema),
        "/base/schemas/ids/18" => reply(
            200,
            r#"{"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF"}"#,
        ),
        "/base/schemas/ids/19" => reply(401, r#"{"error_code":40101,"message":"Unauthorized"}"#),
        "/base/schemas/ids/20" => reply(500, r#"{"error_code":50001,"message":"down"}"#),
        _ => reply(404, r#"{"error_code":40403,"message":"Schema not found"}"#),
    });
    let r = client(&server.url("http", "127.0.0.1"));
    let a = r.schema_by_id(17).unwrap();
    let b = r.schema_by_id(17).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(&*a, v2);
    assert_eq!(server.requests().len(), 1, "the second call was cached");
    assert!(matches!(
        r.schema_by_id(18).unwrap_err(),
        RegistryError::NotAvro { .. }
    ));
    let e = r.schema_by_id(99).unwrap_err();
    assert_eq!(e.error_code(), Some(40403));
    assert!(e.to_string().contains("schema id 99"), "{e}");

    // As the codec's writer-schema source.
    assert_eq!(r.schema_json(99), Err(LookupError::NotFound));
    assert!(matches!(r.schema_json(18), Err(LookupError::NotAvro(m)) if m.contains("PROTOBUF")));
    // Refused credentials and a 5xx are not the record's fault: retryable for the codec.
    for id in [19, 20] {
        match r.schema_json(id) {
            Err(LookupError::Unavailable(m)) => {
                assert!(
                    m.contains(&format!("/schemas/ids/{id}")) && !m.contains(PASSWORD),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        r.describe(),
        format!("schema registry {}", server.url("http", "127.0.0.1"))
    );

    let codec = Codec::new(Registry::builtin()).with_writer_schemas(Arc::new(r));
    let event = gigstream_core::Event::Telemetry(gigstream_core::event::TelemetryRecord {
        event_id: "e-1".into(),
        occurred_at: 1_772_359_200_000,
        service_id: "svc".into(),
        schema_version: 2,
        trace_id: None,
        payload: gigstream_core::event::TelemetryEvent::ProbeResult(
            gigstream_core::event::ProbeResult {
                probe_region: "eu".into(),
                ok: true,
                latency_ms: 12,
            },
        ),
    });
    let mut bytes = Vec::new();
    codec
        .encode_confluent_as(
            &event,
            codec.registry().latest(Topic::Telemetry),
            17,
            &mut bytes,
        )
        .unwrap();
    assert_eq!(codec.decode(Topic::Telemetry, &bytes).unwrap(), event);
    bytes[1..5].copy_from_slice(&20u32.to_be_bytes());
    let e = codec.decode(Topic::Telemetry, &bytes).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.code(), "schema_registry_unavailable");
    bytes[1..5].copy_from_slice(&99u32.to_be_bytes());
    let e = codec.decode(Topic::Telemetry, &bytes).unwrap_err();
    assert_eq!(e.code(), "unknown_schema");
    assert!(
        e.to_string().contains("id 99") && e.to_string().contains("/base"),
        "{e}"
    );
}

#[test]
fn connection_refused_and_timeouts_are_unavailable() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = client(&format!("http://127.0.0.1:{port}"));
    let e = r.schema_by_id(1).unwrap_err();
    let m = no_password(&e);
    assert!(e.is_retryable());
    assert!(
        m.contains(&format!("GET http://127.0.0.1:{port}/schemas/ids/1"))
            && m.contains("cannot connect")
            && m.to_lowercase().contains("refused"),
        "{m}"
    );

    let server = Server::start(None, |_| Reply {
        status: 200,
        body: String::new(),
        hang: true,
    });
    let r = SchemaRegistry::new(
        RegistryConfig::new(server.url("http", "127.0.0.1"))
            .with_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let t = std::time::Instant::now();
    let e = r.schema_by_id(1).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(
        e.is_retryable() && e.to_string().contains("no answer within 300ms"),
        "{e}"
    );
}

#[test]
fn works_when_called_from_async_code() {
    let server = Server::start(None, |_| reply(200, "[1]"));
    let r = client(&server.url("http", "127.0.0.1"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = rt.block_on(async { r.versions("s") }).unwrap();
    assert_eq!(v, vec![1]);
}

// --- TLS ------------------------------------------------------------------------------------

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn serial() -> openssl::asn1::Asn1Integer {
    let mut n = BigNum::new().unwrap();
    n.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    n.to_asn1_integer().unwrap()
}

fn ca(cn: &str) -> (X509, PKey<Private>) {
    let key = key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

/// A server certificate for `names` (DNS names, or IP addresses), signed by `ca`.
fn leaf(ca: &(X509, PKey<Private>), names: &[&str]) -> (X509, PKey<Private>) {
    let key = key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", names[0]).unwrap();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name.build()).unwrap();
    b.set_issuer_name(ca.0.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let mut san = SubjectAlternativeName::new();
    for n in names {
        if n.parse::<std::net::IpAddr>().is_ok() {
            san.ip(n);
        } else {
            san.dns(n);
        }
    }
    let san = san.build(&b.x509v3_context(Some(&ca.0), None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&ca.1, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

fn acceptor(cert: &(X509, PKey<Private>)) -> SslAcceptor {
    let mut a = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    a.set_private_key(&cert.1).unwrap();
    a.set_certificate(&cert.0).unwrap();
    a.check_private_key().unwrap();
    a.build()
}

fn pem_file(dir: &std::path::Path, name: &str, certs: &[&X509]) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut pem = Vec::new();
    for c in certs {
        pem.extend_from_slice(&c.to_pem().unwrap());
    }
    std::fs::write(&path, pem).unwrap();
    path
}

#[test]
fn tls_with_a_private_ca() {
    let dir = std::env::temp_dir().join(format!("gs-registry-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let our_ca = ca("gigstream test CA");
    let other_ca = ca("some other CA");
    let server_cert = leaf(&our_ca, &["localhost", "127.0.0.1"]);
    // A bundle with another CA first: every certificate of the file is trusted.
    let bundle = pem_file(&dir, "bundle.pem", &[&other_ca.0, &our_ca.0]);
    let wrong = pem_file(&dir, "wrong.pem", &[&other_ca.0]);
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();

    let tls = Server::start(Some(acceptor(&server_cert)), |_| reply(200, r#"[1,2]"#));
    let with_ca = |url: &str, ca: &std::path::Path| {
        SchemaRegistry::new(
            RegistryConfig::new(url)
                .with_basic_auth("alice", PASSWORD)
                .with_ca_location(ca)
                .with_timeout(Duration::from_secs(5)),
        )
        .unwrap()
    };
    for host in ["127.0.0.1", "localhost"] {
        let r = with_ca(&tls.url("https", host), &bundle);
        assert_eq!(r.versions("s").unwrap(), vec![1, 2], "{host}");
    }
    // Basic auth went over TLS.
    assert_eq!(
        tls.requests()[0].header("authorization"),
        Some(gigstream_registry_auth("alice", PASSWORD).as_str())
    );

    // A CA that did not sign the certificate, and the system's CAs: not trusted.
    let e = with_ca(&tls.url("https", "127.0.0.1"), &wrong)
        .versions("s")
        .unwrap_err();
    let m = no_password(&e);
    assert!(
        m.contains("TLS handshake with 127.0.0.1")
            && m.contains("not trusted")
            && m.contains("ca_location"),
        "{m}"
    );
    let e = client(&tls.url("https", "127.0.0.1"))
        .versions("s")
        .unwrap_err();
    assert!(no_password(&e).contains("not trusted"), "{e}");

    // The right CA, but a host the certificate does not name.
    let only_localhost = leaf(&our_ca, &["localhost"]);
    let tls2 = Server::start(Some(acceptor(&only_localhost)), |_| reply(200, "[1]"));
    let e = with_ca(&tls2.url("https", "127.0.0.1"), &bundle)
        .versions("s")
        .unwrap_err();
    let m = no_password(&e);
    assert!(m.contains("not trusted") && m.contains("host"), "{m}");
    assert_eq!(
        with_ca(&tls2.url("https", "localhost"), &bundle)
            .versions("s")
            .unwrap(),
        vec![1]
    );

    // A plain-HTTP server behind an https URL, and a TLS server behind an http URL.
    let plain = Server::start(None, |_| reply(200, "[1]"));
    let e = with_ca(&plain.url("https", "127.0.0.1"), &bundle)
        .versions("s")
        .unwrap_err();
    let m = no_password(&e);
    assert!(m.contains("TLS handshake") && m.contains("http://"), "{m}");
    let e = client(&tls.url("http", "127.0.0.1"))
        .versions("s")
        .unwrap_err();
    let m = no_password(&e);
    assert!(m.contains("https://"), "{m}");

    // An unusable CA file is a settings error at construction.
    let e = SchemaRegistry::new(
        RegistryConfig::new(tls.url("https", "127.0.0.1")).with_ca_location(&not_pem),
    )
    .unwrap_err();
    assert!(
        matches!(e, RegistryError::Config { .. }) && e.to_string().contains("not.pem"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

//! One HTTP/1.1 request at a time, blocking: hyper's client connection over a tokio TCP
//! stream (and OpenSSL for `https`), driven by a private current-thread runtime.
//!
//! Each request opens its own connection (`Connection: close`): registry calls are rare (a
//! writer schema is fetched once per id, then cached), so a pool would buy little and cost a
//! background task. The whole exchange (DNS, connect, TLS, request, answer) has one deadline.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, USER_AGENT,
};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use openssl::ssl::{SslConnector, SslMethod};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Answers larger than this are refused (a schema is kilobytes).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The content type of the registry's API (Confluent's clients send it).
pub(crate) const CONTENT_TYPE_V1: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT_ALL: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5";

/// Where the registry is: parsed from the configured URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub https: bool,
    /// Host name or IP address, without IPv6 brackets (for connecting and for TLS).
    pub host: String,
    pub port: u16,
    /// The `Host` header.
    pub authority: String,
    /// The path prefix of the API, without a trailing slash (`/apis/ccompat/v7`, or empty).
    pub base_path: String,
    /// `scheme://authority/base_path`: how messages name the registry.
    pub display: String,
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: hyper::Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("url '{url}' is not a URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "url '{url}': scheme {other} is not supported: use http:// or https://"
                ))
            }
            None => return Err(format!("url '{url}' needs http:// or https://")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("url '{url}' has no host"))?;
        if authority.as_str().contains('@') {
            // Not echoed: it holds a credential.
            return Err("the url holds credentials (user:password@): set username and password instead, so that they are never printed".into());
        }
        if uri.query().is_some() {
            return Err(format!("url '{url}' must not have a query"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            return Err(format!("url '{url}' has no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let base_path = uri.path().trim_end_matches('/').to_string();
        let scheme = if https { "https" } else { "http" };
        Ok(Endpoint {
            https,
            display: format!("{scheme}://{}{base_path}", authority.as_str()),
            authority: authority.as_str().to_string(),
            host,
            port,
            base_path,
        })
    }
}

/// What the registry answered: any status.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Bytes,
}

pub(crate) struct Transport {
    pub endpoint: Endpoint,
    tls: Option<SslConnector>,
    auth: Option<HeaderValue>,
    timeout: Duration,
    rt: tokio::runtime::Runtime,
}

impl Transport {
    pub(crate) fn new(
        endpoint: Endpoint,
        ca_location: Option<&Path>,
        basic_auth: Option<(&str, &str)>,
        timeout: Duration,
    ) -> Result<Transport, String> {
        // A CA for an http:// url is not an error (a shared settings file): unused.
        let tls = if endpoint.https {
            Some(connector(ca_location)?)
        } else {
            None
        };
        let auth = match basic_auth {
            None => None,
            Some((user, password)) => {
                if user.contains(':') {
                    return Err(
                        "the username must not contain ':' (basic auth joins user:password)".into(),
                    );
                }
                let mut v =
                    HeaderValue::from_str(&basic_auth_value(user, password)).map_err(|_| {
                        "the username or password holds characters a header cannot carry"
                            .to_string()
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start the HTTP client's runtime: {e}"))?;
        Ok(Transport {
            endpoint,
            tls,
            auth,
            timeout,
            rt,
        })
    }

    /// `METHOD scheme://host/base/path`: how messages name a request.
    pub(crate) fn describe(&self, method: &Method, path: &str) -> String {
        format!("{method} {}{path}", self.endpoint.display)
    }

    /// Sends one request (`path` after the base path, with its query) and waits for the whole
    /// answer. `Err` when there is no answer: the text says why.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, String> {
        let req = self.build(method, path, body)?;
        let run = move || {
            self.rt.block_on(async move {
                match tokio::time::timeout(self.timeout, self.exchange(req)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!(
                        "no answer within {:?} (the timeout); check that the registry runs and is reachable",
                        self.timeout
                    )),
                }
            })
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Called from async code: a runtime cannot block inside another one's thread.
            std::thread::scope(|s| {
                s.spawn(run)
                    .join()
                    .unwrap_or_else(|_| Err("the request thread panicked".into()))
            })
        } else {
            run()
        }
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>, String> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.endpoint.base_path))
            .header(HOST, &self.endpoint.authority)
            .header(ACCEPT, ACCEPT_ALL)
            .header(
                USER_AGENT,
                concat!("gigstream-registry/", env!("CARGO_PKG_VERSION")),
            )
            .header(CONNECTION, "close");
        if body.is_some() {
            b = b.header(CONTENT_TYPE, CONTENT_TYPE_V1);
        }
        if let Some(auth) = &self.auth {
            b = b.header(AUTHORIZATION, auth.clone());
        }
        b.body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("cannot build the request for path {path}: {e}"))
    }

    async fn exchange(&self, req: Request<Full<Bytes>>) -> Result<Answer, String> {
        let (host, port) = (self.endpoint.host.as_str(), self.endpoint.port);
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| {
                format!("cannot connect to {host}:{port}: {e}; check that the registry runs there (and the url)")
            })?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else {
            // Connected, but no HTTP answer: a TLS server answers a plain request with an
            // alert, a reset or bytes that are not HTTP.
            return send(tcp, req).await.map_err(|e| {
                format!("{e} (is it an https server? then the url must start with https://)")
            });
        };
        let ssl = tls
            .configure()
            .and_then(|c| c.into_ssl(host))
            .map_err(|e| format!("cannot set up TLS for {host}: {e}"))?;
        let mut stream = tokio_openssl::SslStream::new(ssl, tcp)
            .map_err(|e| format!("cannot set up TLS for {host}: {e}"))?;
        if let Err(e) = Pin::new(&mut stream).connect().await {
            return Err(tls_failure(host, port, &e, stream.ssl().verify_result()));
        }
        send(stream, req).await
    }
}

/// `Basic base64(user:password)`.
pub(crate) fn basic_auth_value(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn connector(ca_location: Option<&Path>) -> Result<SslConnector, String> {
    let mut b = SslConnector::builder(SslMethod::tls_client())
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    if let Some(path) = ca_location {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read ca_location {}: {e}", path.display()))?;
        let certs = X509::stack_from_pem(&pem).map_err(|e| {
            format!(
                "ca_location {} is not a PEM bundle of certificates: {e}",
                path.display()
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "ca_location {} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        // Trust exactly these CAs, not the system's as well.
        let mut store = X509StoreBuilder::new().map_err(|e| format!("cannot set up TLS: {e}"))?;
        for c in certs {
            store
                .add_cert(c)
                .map_err(|e| format!("ca_location {}: {e}", path.display()))?;
        }
        b.set_cert_store(store.build());
    }
    Ok(b.build())
}

fn tls_failure(
    host: &str,
    port: u16,
    e: &openssl::ssl::Error,
    verify: openssl::x509::X509VerifyResult,
) -> String {
    let text = e.to_string();
    let hint = if verify != openssl::x509::X509VerifyResult::OK {
        format!(
            ": the registry's certificate is not trusted ({}); check ca_location (the CA that signed the registry's certificate) and that the url's host is in the certificate",
            verify.error_string()
        )
    } else if text.contains("wrong version number")
        || text.contains("packet length too long")
        || text.contains("record layer failure")
        || text.contains("unexpected eof")
        || e.io_error().is_some()
    {
        ": the server does not speak TLS here (is it a plain-HTTP server? then the url must start with http://)".to_string()
    } else {
        String::new()
    };
    let cause = chain(e);
    format!(
        "TLS handshake with {host}:{port} failed: {}{hint}",
        cause.trim_end_matches(':')
    )
}

async fn send<T>(io: T, req: Request<Full<Bytes>>) -> Result<Answer, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake failed: {}", chain(&e)))?;
    let answer = async move {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("no HTTP answer: {}", chain(&e)))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?
            .to_bytes();
        Ok::<Answer, String>(Answer { status, body })
    };
    tokio::pin!(answer);
    tokio::pin!(conn);
    tokio::select! {
        biased;
        a = &mut answer => a,
        c = &mut conn => match c {
            Err(e) => Err(format!("the connection failed: {}", chain(&e))),
            Ok(()) => answer.await,
        },
    }
}

/// An error and its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Percent-encodes one path segment (a subject can hold any character).
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:38081/apis/ccompat/v7/").unwrap();
        assert_eq!(
            (e.https, e.host.as_str(), e.port, e.base_path.as_str()),
            (false, "127.0.0.1", 38081, "/apis/ccompat/v7")
        );
        assert_eq!(e.display, "http://127.0.0.1:38081/apis/ccompat/v7");
        let e = Endpoint::parse("https://sr.example.com").unwrap();
        assert_eq!((e.https, e.port, e.base_path.as_str()), (true, 443, ""));
        let e = Endpoint::parse("https://[::1]:8443").unwrap();
        assert_eq!(
            (e.host.as_str(), e.authority.as_str()),
            ("::1", "[::1]:8443")
        );
        assert!(Endpoint::parse("ftp://x").unwrap_err().contains("http://"));
        assert!(Endpoint::parse("localhost:8081").is_err());
        let e = Endpoint::parse("https://key:s3cret@sr.example.com").unwrap_err();
        assert!(!e.contains("s3cret") && e.contains("username"), "{e}");
    }

    #[test]
    fn basic_auth_header() {
        // RFC 7617's example.
        assert_eq!(
            basic_auth_value("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn subjects_are_percent_encoded() {
        assert_eq!(segment("orders-value"), "orders-value");
        assert_eq!(
            segment("orders-gigstream.orders.OrderRecord"),
            "orders-gigstream.orders.OrderRecord"
        );
        assert_eq!(segment("a b/c?d%é"), "a%20b%2Fc%3Fd%25%C3%A9");
    }
}

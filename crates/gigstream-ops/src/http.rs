//! A minimal HTTP/1.1 server for the operations endpoints: GET only, one answer per
//! connection, then close. It runs on its own thread and serves one connection at a time
//! (scrapes and probes are small and rare).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// What answers a path (without the query string).
pub type Handler = dyn Fn(&str) -> Response + Send + Sync;

/// The running server; stops (and joins its thread) when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `addr` (port 0: any free port) and serves `handler` on a thread of its own.
    pub fn start(addr: SocketAddr, handler: Arc<Handler>) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("gigstream-ops-http".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    match conn {
                        Ok(stream) => {
                            if let Err(e) = serve(stream, handler.as_ref()) {
                                tracing::debug!(error = %e, "ops http connection failed");
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "ops http accept failed");
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            })?;
        Ok(HttpServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address bound (with the actual port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Requests larger than this are refused (GET has no body; headers are small).
const MAX_HEAD: usize = 16 * 1024;

fn serve(stream: TcpStream, handler: &Handler) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_HEAD as u64);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Read (and ignore) the headers up to the empty line.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next(), parts.next());
    let response = match (method, target) {
        (Some("GET"), Some(target)) => {
            let path = target.split('?').next().unwrap_or(target);
            handler(path)
        }
        (Some(_), Some(_)) => Response::text(405, "only GET is served\n"),
        _ => Response::text(400, "bad request\n"),
    };
    write_response(stream, &response, method == Some("HEAD"))
}

fn write_response(mut stream: TcpStream, r: &Response, head: bool) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    if r.status == 405 {
        out.push_str("Allow: GET\r\n");
    }
    out.push_str("\r\n");
    if !head {
        out.push_str(&r.body);
    }
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

/// A blocking GET of `http://addr{path}`: status and body (for tests and probes).
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no end of headers in {raw:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_get_and_refuses_other_methods() {
        let handler: Arc<Handler> = Arc::new(|path: &str| match path {
            "/hello" => Response::text(200, "hi\n"),
            _ => Response::text(404, "no\n"),
        });
        let server = HttpServer::start("127.0.0.1:0".parse().unwrap(), handler).unwrap();
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        assert_eq!(get(addr, "/hello").unwrap(), (200, "hi\n".to_string()));
        assert_eq!(get(addr, "/hello?x=1").unwrap(), (200, "hi\n".to_string()));
        assert_eq!(get(addr, "/other").unwrap().0, 404);

        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        assert!(raw.starts_with("HTTP/1.1 405 "), "{raw}");
        assert!(raw.contains("Allow: GET\r\n"), "{raw}");

        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"garbage\r\n\r\n").unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        assert!(raw.starts_with("HTTP/1.1 400 "), "{raw}");
        drop(server);
        // Stopped: the port no longer answers.
        assert!(get(addr, "/hello").is_err());
    }
}

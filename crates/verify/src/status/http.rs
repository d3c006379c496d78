//! The HTTP the status checker needs, behind a trait: GET (RFC 5019 OCSP, CRLs) and POST
//! (RFC 6960 Appendix A OCSP).
//!
//! [`HttpTransport`] is what a deployment implements to route status traffic its own way
//! (a proxy, TLS, an async client on a runtime it owns, a test double). [`StdHttpTransport`]
//! is the small default: HTTP/1.1 over `std::net::TcpStream`, `http://` only, one request
//! per connection (`Connection: close`), connect/read/write timeouts, a response size
//! limit, and Content-Length, chunked or read-to-close bodies.
//!
//! A decision a reviewer will question: **blocking, no `reqwest`, no TLS.** OCSP and CRLs
//! are signed objects, so TLS adds no integrity (RFC 6960 and RFC 5280 both use plain
//! HTTP); the SDK stays synchronous so that a CLI, a batch job and a portal (through
//! `spawn_blocking`) can all call it, and its dependency tree stays at the formats crates.

use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What went wrong fetching a URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("unsupported URL {0:?} (the built-in transport speaks http:// only)")]
    UnsupportedUrl(String),
    #[error("cannot connect to {host}: {detail}")]
    Connect { host: String, detail: String },
    #[error("I/O error talking to {host}: {detail}")]
    Io { host: String, detail: String },
    #[error("malformed HTTP response from {host}: {detail}")]
    Malformed { host: String, detail: String },
    #[error("HTTP response larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("HTTP status {status} from {url}")]
    Status { url: String, status: u16 },
}

/// A response: status code, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body when the status is 200, an error otherwise.
    pub fn into_ok_body(self, url: &str) -> Result<Vec<u8>, TransportError> {
        if self.status == 200 {
            Ok(self.body)
        } else {
            Err(TransportError::Status {
                url: url.to_owned(),
                status: self.status,
            })
        }
    }
}

/// How status requests reach the network.
pub trait HttpTransport: Send + Sync + fmt::Debug {
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError>;
    fn post(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<HttpResponse, TransportError>;
}

/// HTTP/1.1 over `std::net`, `http://` URLs only.
#[derive(Debug, Clone)]
pub struct StdHttpTransport {
    /// Connect, read and write timeout, each.
    pub timeout: Duration,
    /// Largest response (headers and body) accepted.
    pub max_response_len: usize,
}

impl Default for StdHttpTransport {
    /// 5 s timeouts and 64 MiB (a sharded CRL of a few hundred thousand entries).
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_response_len: 64 << 20,
        }
    }
}

/// The parts of an `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpUrl {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<HttpUrl, TransportError> {
    let unsupported = || TransportError::UnsupportedUrl(url.to_owned());
    let rest = url
        .strip_prefix("http://")
        .or_else(|| {
            url.get(..7)
                .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
                .and_then(|_| url.get(7..))
        })
        .ok_or_else(unsupported)?;
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(unsupported());
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(unsupported());
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let end = bracketed.find(']').ok_or_else(unsupported)?;
        let host = &bracketed[..end];
        let port = match &bracketed[end + 1..] {
            "" => 80,
            tail => tail
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(unsupported)?,
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse().map_err(|_| unsupported())?),
            None => (authority.to_owned(), 80),
        }
    };
    if host.is_empty() {
        return Err(unsupported());
    }
    Ok(HttpUrl { host, port, path })
}

impl StdHttpTransport {
    fn request(
        &self,
        method: &str,
        url: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<HttpResponse, TransportError> {
        let target = parse_url(url)?;
        let host_label = format!("{}:{}", target.host, target.port);
        let connect_error = |detail: String| TransportError::Connect {
            host: host_label.clone(),
            detail,
        };
        let io_error = |e: std::io::Error| TransportError::Io {
            host: host_label.clone(),
            detail: e.to_string(),
        };
        let addresses: Vec<_> = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| connect_error(e.to_string()))?
            .collect();
        let mut last_error = "no address".to_owned();
        let mut stream = None;
        for address in addresses {
            match TcpStream::connect_timeout(&address, self.timeout) {
                Ok(connected) => {
                    stream = Some(connected);
                    break;
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        let mut stream = stream.ok_or_else(|| connect_error(last_error))?;
        stream
            .set_read_timeout(Some(self.timeout))
            .map_err(io_error)?;
        stream
            .set_write_timeout(Some(self.timeout))
            .map_err(io_error)?;
        let _ = stream.set_nodelay(true);

        let host_header = if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.clone()
        };
        let host_header = if target.port == 80 {
            host_header
        } else {
            format!("{host_header}:{}", target.port)
        };
        let mut request = format!(
            "{method} {} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\nUser-Agent: jpki-verify\r\nAccept: */*\r\n",
            target.path
        )
        .into_bytes();
        if let Some((content_type, payload)) = body {
            request.extend_from_slice(
                format!(
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                    payload.len()
                )
                .as_bytes(),
            );
            request.extend_from_slice(b"\r\n");
            request.extend_from_slice(payload);
        } else {
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request).map_err(io_error)?;
        stream.flush().map_err(io_error)?;

        let mut raw = Vec::new();
        let limit = self.max_response_len;
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let read = match stream.read(&mut buffer) {
                Ok(read) => read,
                // A peer that resets after sending everything still sent everything.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => 0,
                Err(e) => return Err(io_error(e)),
            };
            if read == 0 {
                break;
            }
            raw.extend_from_slice(&buffer[..read]);
            if raw.len() > limit {
                return Err(TransportError::TooLarge { limit });
            }
            // Stop early once a Content-Length body is complete (some servers keep the
            // connection open despite `Connection: close`).
            if let Ok(Some(complete)) = complete_length(&raw)
                && raw.len() >= complete
            {
                break;
            }
        }
        parse_response(&raw, &host_label)
    }
}

impl HttpTransport for StdHttpTransport {
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        self.request("GET", url, None)
    }

    fn post(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<HttpResponse, TransportError> {
        self.request("POST", url, Some((content_type, body)))
    }
}

fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Total response length when the headers are in and carry a Content-Length.
fn complete_length(raw: &[u8]) -> Result<Option<usize>, ()> {
    let Some(end) = header_end(raw) else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| ())?;
    Ok(head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
            .map(|length| end + length)
    }))
}

fn parse_response(raw: &[u8], host: &str) -> Result<HttpResponse, TransportError> {
    let malformed = |detail: &str| TransportError::Malformed {
        host: host.to_owned(),
        detail: detail.to_owned(),
    };
    let end = header_end(raw).ok_or_else(|| malformed("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end - 4]).map_err(|_| malformed("headers not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| malformed("no status line"))?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(malformed("not an HTTP/1.x status line"));
    }
    let status: u16 = parts
        .next()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| malformed("bad status code"))?;
    let mut content_type = None;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed("header line without ':'"))?;
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| malformed("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .split(',')
                .any(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    let rest = &raw[end..];
    let body = if chunked {
        dechunk(rest).ok_or_else(|| malformed("bad chunked body"))?
    } else if let Some(length) = content_length {
        rest.get(..length)
            .ok_or_else(|| malformed("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status,
        content_type,
        body,
    })
}

fn dechunk(mut input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = input.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&input[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        input = &input[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(input.get(..size)?);
        input = input.get(size..)?;
        input = input.strip_prefix(b"\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn urls_are_split_and_non_http_refused() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080/ocsp").unwrap(),
            HttpUrl {
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/ocsp".into()
            }
        );
        assert_eq!(parse_url("http://example.jp").unwrap().path, "/");
        assert_eq!(parse_url("HTTP://example.jp?x").unwrap().path, "/?x");
        assert_eq!(parse_url("http://[::1]:81/a").unwrap().host, "::1");
        for bad in [
            "https://x/",
            "ldap://x",
            "http://",
            "http://u@x/",
            "http://x:y/",
            "http://a b/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses_with_length_chunked_or_close_are_read() {
        let fixed = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: 3\r\n\r\nabcdef",
            "h",
        )
        .unwrap();
        assert_eq!(fixed.body, b"abc");
        assert_eq!(
            fixed.content_type.as_deref(),
            Some("application/ocsp-response")
        );
        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            "h",
        )
        .unwrap();
        assert_eq!(chunked.body, b"abcde");
        let close = parse_response(b"HTTP/1.0 404 Not Found\r\n\r\nnope", "h").unwrap();
        assert_eq!(close.status, 404);
        assert!(close.into_ok_body("u").is_err());
        for bad in [
            &b"garbage"[..],
            b"SMTP 220\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(parse_response(bad, "h").is_err());
        }
    }

    #[test]
    fn the_std_transport_talks_to_a_local_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                loop {
                    let read = stream.read(&mut buffer).unwrap();
                    request.extend_from_slice(&buffer[..read]);
                    if let Some(end) = header_end(&request) {
                        let head = String::from_utf8_lossy(&request[..end]).to_string();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        if request.len() >= end + length {
                            break;
                        }
                    }
                }
                seen.push(String::from_utf8_lossy(&request).to_string());
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .unwrap();
            }
            seen
        });
        let transport = StdHttpTransport::default();
        let url = format!("http://127.0.0.1:{port}/ocsp");
        assert_eq!(transport.get(&url).unwrap().body, b"ok");
        let posted = transport
            .post(&url, "application/ocsp-request", b"\x30\x00")
            .unwrap();
        assert_eq!(posted.into_ok_body(&url).unwrap(), b"ok");
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("GET /ocsp HTTP/1.1\r\n"));
        assert!(seen[1].starts_with("POST /ocsp HTTP/1.1\r\n"));
        assert!(seen[1].contains("Content-Type: application/ocsp-request\r\n"));
        assert!(seen[1].ends_with("\r\n\r\n\x30\x00"));
        // Nothing listens on a closed port.
        drop(TcpListener::bind("127.0.0.1:0").unwrap());
        assert!(matches!(
            transport.get("http://127.0.0.1:1/"),
            Err(TransportError::Connect { .. })
        ));
    }
}

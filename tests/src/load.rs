//! A closed-loop HTTP/1.1 load generator, and the one-shot client the
//! benchmarks probe servers with.
//!
//! [`run`] keeps N keep-alive connections busy for a fixed time, each sending
//! its next request as soon as the last answer arrived, and reports the
//! throughput and latency of the requests answered 2xx. Anything else, another
//! status, a refused or broken connection or a timeout, counts as an error and
//! not as a success. It speaks only what the benchmarks need: requests with a
//! `Content-Length` body; answers with a `Content-Length`, chunked or
//! read-to-close body.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long one answer may take before the request counts as an error.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause after a connection could not be opened, so a server that is
/// down is not hammered with connects.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);
/// The largest answer body read.
const BODY_MAX_BYTES: usize = 16 << 20;
/// The longest status or header line read.
const LINE_MAX_BYTES: u64 = 16 << 10;

/// One HTTP request, encoded once and sent as often as needed.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Self {
        Self { method: method.to_owned(), path: path.to_owned(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn put(path: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new("PUT", path).body(body)
    }

    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", path).body(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn encode(&self, address: SocketAddr) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n",
            self.method,
            self.path,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// An HTTP answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// What one load run measured. Latencies are of successful requests only;
/// they are `None` when none succeeded.
#[derive(Debug)]
pub struct Report {
    pub requests_per_s: f64,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub errors: usize,
}

impl Report {
    /// Requests per second, p50, p99 and errors, as the tables print them.
    pub fn cells(&self) -> [String; 4] {
        [format!("{:.0}", self.requests_per_s), show(self.p50), show(self.p99), self.errors.to_string()]
    }
}

/// The median of some durations.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    assert!(!samples.is_empty(), "a median needs samples");
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// A latency as the tables print it, or `-` when there is none.
pub fn show(latency: Option<Duration>) -> String {
    latency.map_or_else(|| "-".to_owned(), |latency| format!("{latency:.2?}"))
}

/// Sends `request` to `address` over `connections` keep-alive connections for
/// `duration`, and reports successful requests per second, their p50 and p99
/// latency, and the errors.
pub async fn run(address: SocketAddr, request: &Request, connections: usize, duration: Duration) -> Report {
    assert!(connections > 0, "a load needs at least one connection");
    let encoded: Arc<[u8]> = request.encode(address).into();
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> =
        (0..connections).map(|_| tokio::spawn(worker(address, Arc::clone(&encoded), deadline))).collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let tally = worker.await.expect("a load worker does not panic");
        latencies.extend(tally.latencies);
        errors += tally.errors;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |q: usize| latencies.get(latencies.len() * q / 100).copied();
    Report {
        requests_per_s: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(50),
        p99: percentile(99),
        errors,
    }
}

/// Sends `request` once over a new connection and returns the answer,
/// whatever its status; an error when there is no answer within `timeout`.
pub async fn send(address: SocketAddr, request: &Request, timeout: Duration) -> io::Result<Answer> {
    let exchange = async {
        let mut connection = Connection::open(address).await?;
        connection.exchange(&request.encode(address)).await
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer"))?
}

/// What one connection's worker counted.
struct Tally {
    latencies: Vec<Duration>,
    errors: usize,
}

async fn worker(address: SocketAddr, request: Arc<[u8]>, deadline: Instant) -> Tally {
    let mut tally = Tally { latencies: Vec::new(), errors: 0 };
    let mut connection = None;
    while Instant::now() < deadline {
        let open = match connection.as_mut() {
            Some(open) => open,
            None => match tokio::time::timeout(ANSWER_TIMEOUT, Connection::open(address)).await {
                Ok(Ok(opened)) => connection.insert(opened),
                _ => {
                    tally.errors += 1;
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            },
        };
        let sent = Instant::now();
        match tokio::time::timeout(ANSWER_TIMEOUT, open.exchange(&request)).await {
            Ok(Ok(answer)) => {
                if answer.is_success() {
                    tally.latencies.push(sent.elapsed());
                } else {
                    tally.errors += 1;
                }
                if !open.reusable {
                    connection = None;
                }
            }
            _ => {
                tally.errors += 1;
                connection = None;
            }
        }
    }
    tally
}

/// One keep-alive client connection.
struct Connection {
    stream: BufReader<TcpStream>,
    /// False once the server said it closes the connection after its answer.
    reusable: bool,
    line: String,
}

impl Connection {
    async fn open(address: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self { stream: BufReader::new(stream), reusable: true, line: String::new() })
    }

    /// Writes one encoded request and reads its answer.
    async fn exchange(&mut self, request: &[u8]) -> io::Result<Answer> {
        self.stream.get_mut().write_all(request).await?;
        let status_line = self.read_line().await?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let line = self.read_line().await?;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else { return Err(invalid(format!("bad header {line:?}"))) };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| invalid(format!("bad length {value:?}")))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
                self.reusable = false;
            }
        }
        let body = match (chunked, length) {
            (true, _) => self.read_chunked().await?,
            (false, Some(length)) => self.read_exact(length).await?,
            (false, None) if status < 200 || status == 204 || status == 304 => Vec::new(),
            (false, None) => {
                self.reusable = false;
                let mut body = Vec::new();
                (&mut self.stream).take(BODY_MAX_BYTES as u64 + 1).read_to_end(&mut body).await?;
                body
            }
        };
        if body.len() > BODY_MAX_BYTES {
            return Err(invalid("answer body too large".to_owned()));
        }
        Ok(Answer { status, body })
    }

    /// Reads one CRLF-terminated line and returns it without the line end.
    async fn read_line(&mut self) -> io::Result<String> {
        self.line.clear();
        let read = (&mut self.stream).take(LINE_MAX_BYTES).read_line(&mut self.line).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if !self.line.ends_with('\n') {
            return Err(invalid("line too long".to_owned()));
        }
        Ok(self.line.trim_end_matches(['\r', '\n']).to_owned())
    }

    async fn read_exact(&mut self, length: usize) -> io::Result<Vec<u8>> {
        if length > BODY_MAX_BYTES {
            return Err(invalid(format!("answer body of {length} bytes too large")));
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok(body)
    }

    async fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let size_line = self.read_line().await?;
            let size = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("bad chunk size {size:?}")))?;
            if size == 0 {
                // Trailers, if any, end with an empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > BODY_MAX_BYTES {
                return Err(invalid("answer body too large".to_owned()));
            }
            body.extend(self.read_exact(size).await?);
            if !self.read_line().await?.is_empty() {
                return Err(invalid("chunk without its line end".to_owned()));
            }
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    /// A keep-alive server that answers `/ok` with 200, `/chunked` with a
    /// chunked 200 and anything else with 503.
    async fn serve() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("bound address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    while stream.read_line(&mut line).await.is_ok_and(|read| read > 0) {
                        let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                        line.clear();
                        // Requests here have no body: skip the headers.
                        while stream.read_line(&mut line).await.is_ok_and(|read| read > 2) {
                            line.clear();
                        }
                        let answer: &[u8] = match path.as_str() {
                            "/ok" => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                            "/chunked" => {
                                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n"
                            }
                            _ => b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy",
                        };
                        if stream.get_mut().write_all(answer).await.is_err() {
                            return;
                        }
                        line.clear();
                    }
                });
            }
        });
        address
    }

    #[tokio::test]
    async fn successes_are_timed_and_other_statuses_are_errors() {
        let address = serve().await;
        let ok = run(address, &Request::get("/ok"), 2, Duration::from_millis(200)).await;
        assert!(ok.requests_per_s > 0.0 && ok.p50.is_some() && ok.p99.is_some());
        assert_eq!(ok.errors, 0);

        let failing = run(address, &Request::get("/fail"), 2, Duration::from_millis(200)).await;
        assert_eq!(failing.requests_per_s, 0.0);
        assert_eq!((failing.p50, failing.p99), (None, None));
        assert!(failing.errors > 0);
    }

    #[tokio::test]
    async fn a_chunked_body_is_joined_and_a_closed_port_is_an_error() {
        let address = serve().await;
        let answer = send(address, &Request::get("/chunked"), Duration::from_secs(5)).await.expect("an answer");
        assert_eq!((answer.status, answer.body.as_slice()), (200, b"ok!!!".as_slice()));

        let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("bound address");
        assert!(send(closed, &Request::get("/ok"), Duration::from_secs(5)).await.is_err());
    }
}

//! The load generator the server benchmarks share: keep-alive HTTP/1.1
//! connections from this process to one agent, each sending its next
//! request as soon as the last answer arrived, for a fixed time.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long each load runs.
pub const RUN: Duration = Duration::from_secs(4);

/// Sends `request` over `connections` keep-alive connections for `RUN` and
/// returns throughput and latency percentiles. Any answer but `ok_status` fails the bench.
pub async fn load(
    bind: &'static str,
    request: Vec<u8>,
    connections: usize,
    ok_status: &'static str,
) -> (f64, Duration, Duration) {
    let deadline = Instant::now() + RUN;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect((bind, 4646)).await.expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let mut buffer = vec![0u8; 64 * 1024];
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    stream.write_all(&request).await.expect("send");
                    let status = read_response(&mut stream, &mut buffer).await;
                    assert_eq!(status, ok_status, "unexpected status");
                    samples.push(started.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.expect("worker"));
    }
    samples.sort_unstable();
    let rate = samples.len() as f64 / RUN.as_secs_f64();
    (rate, samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns its status code.
async fn read_response(stream: &mut TcpStream, buffer: &mut [u8]) -> String {
    let mut filled = 0;
    loop {
        let read = stream.read(&mut buffer[filled..]).await.expect("read");
        assert!(read > 0, "connection closed");
        filled += read;
        let Some(head_end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = std::str::from_utf8(&buffer[..head_end]).expect("ascii head");
        let status = head[9..12].to_owned();
        let length: usize = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
            .map_or(0, |v| v.parse().expect("length"));
        while filled < head_end + 4 + length {
            let read = stream.read(&mut buffer[filled..]).await.expect("read body");
            assert!(read > 0, "connection closed in body");
            filled += read;
        }
        return status;
    }
}

/// A GET request for `bind`, with extra header lines (`"Name: value\r\n"`).
pub fn get(bind: &str, path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {bind}\r\n{headers}\r\n").into_bytes()
}

pub fn put(bind: &str, path: &str, body: &str) -> Vec<u8> {
    format!("PUT {path} HTTP/1.1\r\nHost: {bind}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

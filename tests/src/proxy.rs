//! A network between laptops and the real server that can fail on purpose: an HTTP/1.1 proxy
//! on 127.0.0.1 that forwards every request to the server unchanged, except the requests a test
//! tells it to refuse, which it answers itself with `503 Service Unavailable` as a broken link or
//! an overloaded front end would. One request per connection (`Connection: close`), which every
//! Harbour client handles.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A proxy in front of `upstream` (`http://127.0.0.1:PORT`).
pub struct FailingProxy {
    /// The address laptops are given instead of the server's.
    pub url: String,
    refused: Arc<Mutex<Vec<(String, String)>>>,
    refusals: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FailingProxy {
    pub fn start(upstream: &str) -> FailingProxy {
        let upstream = upstream.strip_prefix("http://").expect("the server listens on http://127.0.0.1").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let refused: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let refusals = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (refused, refusals, stop) = (Arc::clone(&refused), Arc::clone(&refusals), Arc::clone(&stop));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (upstream, refused, refusals) = (upstream.clone(), Arc::clone(&refused), Arc::clone(&refusals));
                    std::thread::spawn(move || {
                        let _ = relay(stream, &upstream, &refused, &refusals);
                    });
                }
            });
        }
        FailingProxy { url, refused, refusals, stop }
    }

    /// From now on, answers `method path` (the path without its query) with 503.
    pub fn refuse(&self, method: &str, path: &str) {
        self.refused.lock().unwrap().push((method.to_owned(), path.to_owned()));
    }

    /// Forwards everything again.
    pub fn refuse_nothing(&self) {
        self.refused.lock().unwrap().clear();
    }

    /// How many requests were answered with 503 so far.
    pub fn refusals(&self) -> usize {
        self.refusals.load(Ordering::SeqCst)
    }
}

impl Drop for FailingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread so that it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// Reads one request from `client`, then answers it with 503 or with the server's answer.
fn relay(
    mut client: TcpStream,
    upstream: &str,
    refused: &Mutex<Vec<(String, String)>>,
    refusals: &AtomicUsize,
) -> std::io::Result<()> {
    let (head, body) = read_request(&mut client)?;
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    let refuse = refused.lock().unwrap().iter().any(|(m, p)| m == method && p == path);
    if refuse {
        refusals.fetch_add(1, Ordering::SeqCst);
        let body =
            br#"{"error":"unavailable","message":"The proxy in front of the server refused this request on purpose."}"#;
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        client.write_all(answer.as_bytes())?;
        client.write_all(body)?;
        return client.flush();
    }
    // The same request with `Connection: close`, so that the server's answer ends at EOF.
    let mut forwarded = String::new();
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(forwarded.as_bytes())?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    client.write_all(&answer)?;
    client.flush()
}

/// The request's head (up to its blank line) and its body (by `Content-Length`).
fn read_request(client: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let read = client.read(&mut chunk)?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize = head
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let read = client.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Ok((head, body))
}

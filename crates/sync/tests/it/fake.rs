//! A hostile server for the client's tests: a few lines of raw HTTP/1.1 on 127.0.0.1 that
//! answer whatever a test scripts (a mock of a broken or malicious harbour-server, named as such).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// One request as the fake server read it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The body, decompressed if the client compressed it.
    pub fn json_body(&self) -> serde_json::Value {
        let plain = match self.header("content-encoding") {
            Some("zstd") => zstd::decode_all(self.body.as_slice()).unwrap(),
            _ => self.body.clone(),
        };
        serde_json::from_slice(&plain).unwrap()
    }
}

/// What the fake server answers.
pub enum Reply {
    /// A complete body with these headers.
    Body { status: u16, headers: Vec<(&'static str, String)>, body: Vec<u8> },
    /// `len` zero bytes, written a megabyte at a time and never held whole; with
    /// `content_length` false, sent chunked (no length announced).
    Zeros { len: usize, content_length: bool },
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::Body {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body: serde_json::to_vec(&body).unwrap(),
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A fake server on a free port of 127.0.0.1; every request it got is kept in `requests`.
pub struct FakeServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeServer {
    pub async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (handler, seen) = (Arc::clone(&handler), Arc::clone(&seen));
                tokio::spawn(async move {
                    let _ = serve(stream, &*handler, &seen).await;
                });
            }
        });
        FakeServer { url, requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(mut stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<Request>>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (request_line.next().unwrap_or_default(), request_line.next().unwrap_or_default());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let request = Request { method: method.to_owned(), path: path.to_owned(), headers, body };
    let reply = handler(&request);
    seen.lock().unwrap().push(request);
    match reply {
        Reply::Body { status, headers, body } => {
            let mut head = format!("HTTP/1.1 {status} Fake\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Reply::Zeros { len, content_length } => {
            let framing =
                if content_length { format!("Content-Length: {len}") } else { "Transfer-Encoding: chunked".into() };
            let head =
                format!("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n{framing}\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            let megabyte = vec![b'0'; 1024 * 1024];
            let mut sent = 0;
            while sent < len {
                let part = &megabyte[..(len - sent).min(megabyte.len())];
                if content_length {
                    stream.write_all(part).await?;
                } else {
                    stream.write_all(format!("{:x}\r\n", part.len()).as_bytes()).await?;
                    stream.write_all(part).await?;
                    stream.write_all(b"\r\n").await?;
                }
                sent += part.len();
            }
            if !content_length {
                stream.write_all(b"0\r\n\r\n").await?;
            }
        }
    }
    stream.shutdown().await
}

//! The server under hostile or careless clients: many idle connections, slow headers, every
//! connection busy, odd requests answered with JSON sentences, another process holding the
//! SQLite write lock, logs and output that fit where they go.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use harbour_sync::client::ClientError;
use harbour_wire::protocol::ErrorBody;
use uuid::Uuid;

use crate::support::{BIN, Case, Deployment, Server};

fn sqlite_server(extra: &[&str]) -> (Server, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let bootstrap = Server::init(&db);
    let server = Server::start(&db, &dir.path().join("server.log"), extra);
    (server, bootstrap, dir)
}

fn log_of(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("server.log")).unwrap()
}

fn address(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// The soft and hard limits on open files of this process (Linux).
fn open_files() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits.lines().find(|line| line.starts_with("Max open files")).unwrap();
    let mut numbers = line["Max open files".len()..].split_whitespace().map(|n| n.parse().unwrap_or(u64::MAX));
    (numbers.next().unwrap(), numbers.next().unwrap())
}

/// Raise this test process's open-files soft limit to `wanted` (at most the hard limit) with
/// util-linux's `prlimit`; returns the limit in force.
fn raise_open_files(wanted: u64) -> u64 {
    let (soft, hard) = open_files();
    if soft >= wanted {
        return soft;
    }
    let target = wanted.min(hard);
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string(), &format!("--nofile={target}:{hard}")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit could not raise the open-files limit");
    open_files().0
}

/// Is the server's end of `stream` closed (end of file, or reset)? Waits up to `wait`.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(error) => matches!(
            error.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
        ),
    }
}

/// Read one HTTP/1.1 response (status, lowercase headers, body) from a raw connection.
fn read_response(stream: &mut TcpStream) -> (u16, Vec<(String, String)>, String) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).expect("a response");
        assert!(n > 0, "the connection closed before a response: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize =
        headers.iter().find(|(name, _)| name == "content-length").map(|(_, v)| v.parse().unwrap()).unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the body was cut short");
        raw.extend_from_slice(&chunk[..n]);
    }
    (status, headers, String::from_utf8_lossy(&raw[head_end..head_end + length]).into_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_do_not_lock_a_device_out() {
    const CAP: usize = 200;
    // 2,000, or HARBOUR_IDLE_CONNECTIONS (tests/long.sh holds 20,000).
    let wanted: u64 =
        std::env::var("HARBOUR_IDLE_CONNECTIONS").ok().and_then(|text| text.parse().ok()).unwrap_or(2_000);
    let limit = raise_open_files(wanted + 300);
    let idle = wanted.min(limit.saturating_sub(300)) as usize;
    assert!(
        idle >= 1_000.min(wanted as usize),
        "this machine allows only {limit} open files: cannot hold enough idle connections"
    );
    let (server, bootstrap, dir) = sqlite_server(&[
        "--max-connections",
        &CAP.to_string(),
        "--header-timeout-secs",
        "300",
        "--idle-timeout-secs",
        "300",
    ]);
    let target = address(&server);
    let mut hogs: Vec<TcpStream> = (0..idle).map(|_| TcpStream::connect(&target).unwrap()).collect();

    // A real device registers, pushes and pulls as if nothing were happening.
    let started = Instant::now();
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    let batch: Vec<_> = (0..5).map(|i| case.seal(&d.clinic_device, "note.added", &format!("note {i}"))).collect();
    d.clinic_device.client.push(&batch).await.unwrap();
    let pulled = crate::support::pull_all(&d.admin.client, None).await;
    assert_eq!(pulled, batch);
    assert!(started.elapsed() < Duration::from_secs(20), "syncing took {:?}", started.elapsed());

    // The server kept at most its cap: the oldest idle connections were closed to make room.
    let closed =
        hogs.iter_mut().filter_map(|stream| closed_by_server(stream, Duration::from_millis(5)).then_some(())).count();
    assert!(closed >= idle - CAP, "only {closed} of {idle} idle connections were closed");
    let log = log_of(&dir);
    assert!(log.contains("connection limit reached"), "the cap is logged:\n{log}");
    assert!(!log.contains('\u{1b}'), "a log file has no colour escape codes");
}

#[tokio::test]
async fn when_every_connection_is_busy_a_new_one_gets_503_with_retry_after() {
    let (server, bootstrap, dir) = sqlite_server(&["--max-connections", "4", "--request-timeout-secs", "30"]);
    let d = Deployment::register(&server, &bootstrap).await;
    drop(d.anonymous);
    let token = d.tokens[1].clone();
    let target = address(&server);
    // Four pushes whose bodies never finish: each connection is busy in its handler. The
    // registration's own idle connections make room for them.
    let busy: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = TcpStream::connect(&target).unwrap();
            write!(
                stream,
                "POST /v1/events HTTP/1.1\r\nHost: harbour\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"events\""
            )
            .unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    let mut refused = TcpStream::connect(&target).unwrap();
    write!(refused, "GET /v1/health HTTP/1.1\r\nHost: harbour\r\n\r\n").unwrap();
    let (status, headers, body) = read_response(&mut refused);
    assert_eq!(status, 503, "{body}");
    assert_eq!(header(&headers, "retry-after"), Some("5"));
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let error: ErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(error.error, "server_busy");
    assert!(error.message.contains("Try again in 5 seconds"), "{}", error.message);
    assert!(closed_by_server(&mut refused, Duration::from_secs(3)), "a refused connection is closed");

    // One busy client goes away: the next client is served.
    drop(busy);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = http.get(format!("{}/v1/health", server.url)).send().await.unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the server stayed busy after its clients left");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(log_of(&dir).contains("connection limit reached"));
}

#[test]
fn slow_headers_silence_and_idle_keep_alive_are_cut_off() {
    let (server, _bootstrap, _dir) = sqlite_server(&["--header-timeout-secs", "2", "--idle-timeout-secs", "4"]);
    let target = address(&server);

    // One header byte every 300 ms: dropped at the header deadline, though bytes keep coming.
    let mut slow = TcpStream::connect(&target).unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nX-Slow: ").unwrap();
    let dropped_after = loop {
        std::thread::sleep(Duration::from_millis(300));
        let sent = slow.write_all(b"a");
        if sent.is_err() || closed_by_server(&mut slow, Duration::from_millis(1)) {
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "a slow-header client stayed connected 10 s");
    };
    assert!(dropped_after >= Duration::from_millis(1_900), "dropped too early: {dropped_after:?}");
    assert!(dropped_after <= Duration::from_millis(3_500), "dropped late: {dropped_after:?}");

    // A connection that never says anything: the same deadline.
    let mut silent = TcpStream::connect(&target).unwrap();
    let started = Instant::now();
    assert!(closed_by_server(&mut silent, Duration::from_secs(6)));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1_900) && waited <= Duration::from_millis(3_500), "{waited:?}");

    // After a full answer, a keep-alive connection may wait the idle time, not the header time.
    let mut kept = TcpStream::connect(&target).unwrap();
    kept.write_all(b"GET /v1/health HTTP/1.1\r\nHost: harbour\r\n\r\n").unwrap();
    let (status, _, _) = read_response(&mut kept);
    assert_eq!(status, 200);
    let answered = Instant::now();
    assert!(closed_by_server(&mut kept, Duration::from_secs(8)));
    let idle = answered.elapsed();
    assert!(idle >= Duration::from_millis(3_800) && idle <= Duration::from_millis(5_500), "{idle:?}");
}

#[tokio::test]
async fn every_error_is_a_json_sentence_that_fits_the_endpoint() {
    let (server, bootstrap, dir) = sqlite_server(&["--max-body-bytes", "65536", "--request-timeout-secs", "2"]);
    let d = Deployment::register(&server, &bootstrap).await;
    let token = d.tokens[0].clone();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.url);

    async fn refused(response: reqwest::Response, status: u16, code: &str) -> String {
        assert_eq!(response.status().as_u16(), status);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let body: ErrorBody = response.json().await.unwrap();
        assert_eq!(body.error, code, "{}", body.message);
        assert!(body.message.ends_with('.'), "a sentence: {}", body.message);
        body.message
    }

    // Query parameters: named, refused when out of range, never clamped.
    let events = |query: &str| http.get(url(&format!("/v1/events?{query}"))).bearer_auth(&token).send();
    for (query, named) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("after=minus-one", "after"),
        ("after=-1", "after"),
        ("after=9223372036854775808", "after"),
    ] {
        let message = refused(events(query).await.unwrap(), 400, "invalid_query").await;
        assert!(message.contains(&format!("parameter {named} ")), "{query}: {message}");
    }
    for query in ["limit=1", "limit=1000", "after=9223372036854775807", "after=0&limit=500"] {
        assert_eq!(events(query).await.unwrap().status(), 200, "{query} is in the document's range");
    }

    // Path ids, named.
    let response = http
        .post(url("/v1/cases/not-a-case/grants"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "team_id": Uuid::now_v7() }))
        .send()
        .await
        .unwrap();
    assert!(refused(response, 400, "invalid_path").await.contains("case id"));
    let response = http.post(url("/v1/devices/12/revoke")).bearer_auth(&token).send().await.unwrap();
    assert!(refused(response, 400, "invalid_path").await.contains("device id"));

    // Too large: the sentence fits the endpoint.
    let huge = format!("{{\"pad\": \"{}\"}}", "a".repeat(100_000));
    let response = http.post(url("/v1/events")).bearer_auth(&token).json(&huge).send().await.unwrap();
    assert!(refused(response, 413, "body_too_large").await.contains("fewer events per batch"));
    let response = http
        .post(url("/v1/deployment"))
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    let message = refused(response, 413, "body_too_large").await;
    assert!(!message.contains("events") && !message.contains("batch"), "{message}");

    // A redemption the server cannot use does not speak of a batch either.
    let invitation = d.admin.client.create_invitation(d.clinic.id, false, None).await.unwrap();
    let response = http
        .post(url("/v1/invitations/redeem"))
        .bearer_auth(&invitation.invitation_token)
        .json(&serde_json::json!({ "device_id": d.clinic_device.id }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let body: serde_json::Value = response.json().await.unwrap();
    let message = body["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty() && !message.contains("batch"), "{message}");

    // Method, endpoint, headers.
    let response = http.post(url("/v1/health")).send().await.unwrap();
    assert!(response.headers().contains_key("allow"));
    refused(response, 405, "method_not_allowed").await;
    refused(http.get(url("/v2/anything")).send().await.unwrap(), 404, "not_found").await;
    let mut crowded = http.get(url("/v1/health"));
    for i in 0..150 {
        crowded = crowded.header(format!("x-extra-{i}"), "1");
    }
    refused(crowded.send().await.unwrap(), 431, "headers_too_large").await;
    let response = http.get(url("/v1/health")).header("x-big", "b".repeat(40_000)).send().await.unwrap();
    refused(response, 431, "headers_too_large").await;

    // A body that never finishes: 408 with a sentence, on a raw connection.
    let mut stream = TcpStream::connect(address(&server)).unwrap();
    write!(
        stream,
        "POST /v1/events HTTP/1.1\r\nHost: harbour\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{{"
    )
    .unwrap();
    let (status, headers, body) = read_response(&mut stream);
    assert_eq!(status, 408);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let error: ErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(error.error, "timeout");

    assert!(!log_of(&dir).contains('\u{1b}'), "no colour escape codes in a log file");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    Server::init(&db);
    let server = Server::start(&db, &dir.path().join("server.log"), &["--log-format", "json"]);
    let response = reqwest::get(format!("{}/v1/health", server.url)).await.unwrap();
    assert_eq!(response.status(), 200);
    drop(server);
    let log = log_of(&dir);
    assert!(log.lines().count() >= 2, "{log}");
    for line in log.lines() {
        let object: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(object["fields"]["message"].is_string(), "{line}");
    }
}

#[tokio::test]
async fn a_held_write_lock_stalls_neither_health_nor_pulls() {
    let (server, bootstrap, dir) = sqlite_server(&["--request-timeout-secs", "4"]);
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    let first = case.seal(&d.clinic_device, "case.created", "x");
    d.clinic_device.client.push(std::slice::from_ref(&first)).await.unwrap();

    // Another process's connection takes the write lock and keeps it.
    let outsider = rusqlite::Connection::open(dir.path().join("harbour.db")).unwrap();
    outsider.execute_batch("BEGIN IMMEDIATE; DELETE FROM settings WHERE key = 'nothing';").unwrap();

    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(d.anonymous.health().await.unwrap().status, "ok");
        assert_eq!(d.admin.client.pull(0, None).await.unwrap().events, vec![first.clone()]);
        assert!(started.elapsed() < Duration::from_millis(500), "health and pull waited {:?}", started.elapsed());
    }
    // A push waits for the lock at most half the request time, then says so (503, not 408).
    let started = Instant::now();
    let second = case.seal(&d.clinic_device, "note.added", "y");
    let error = d.clinic_device.client.push(std::slice::from_ref(&second)).await.unwrap_err();
    assert!(matches!(error, ClientError::ServerError { status: 503, .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_millis(3_500), "{:?}", started.elapsed());

    outsider.execute_batch("ROLLBACK").unwrap();
    d.clinic_device.client.push(&[second]).await.unwrap();
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = std::process::Command::new(BIN)
        .args(["init", "--db", &db])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}

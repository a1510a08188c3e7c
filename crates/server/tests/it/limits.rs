//! Attacks on the real `harbour-server` process: an oversized event, a burst over a device's
//! quota, pages that would be huge, `/metrics` asked for without a token, PostgreSQL TLS
//! asked of a server that has none. Each is refused with a JSON sentence, and nothing changes.

use std::process::Command;
use std::time::Duration;

use harbour_sync::client::ClientError;
use harbour_wire::SealedEvent;
use harbour_wire::protocol::{ErrorBody, MAX_PULL_PAGE_BYTES, MAX_SEALED_EVENT_BYTES};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{
    BIN, Case, Deployment, Device, METRICS_TOKEN, Server, fresh_postgres_database, postgres_url, pull_all,
};

/// AES-GCM adds a 16-byte tag: a plaintext of `size - 16` bytes seals to `size` bytes.
fn event_of_size(case: &Case, device: &Device, size: usize) -> SealedEvent {
    let event = case.seal(device, "note.added", &"n".repeat(size - 16));
    assert_eq!(event.ciphertext.len(), size);
    event
}

/// A push sent straight over HTTP, past the client's own checks (as an attacker would).
async fn raw_push(server: &Server, token: &str, events: &[SealedEvent]) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/events", server.url))
        .bearer_auth(token)
        .json(&serde_json::json!({ "events": events }))
        .send()
        .await
        .unwrap()
}

fn started(extra: &[&str]) -> (Server, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let bootstrap = Server::init(&db);
    let server = Server::start(&db, &dir.path().join("server.log"), extra);
    (server, bootstrap, dir)
}

#[tokio::test]
async fn an_oversized_event_is_refused_with_413_naming_it() {
    let (server, bootstrap, _dir) = started(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    let small = case.seal(&d.clinic_device, "case.created", "created");
    let oversized = event_of_size(&case, &d.clinic_device, MAX_SEALED_EVENT_BYTES + 1);

    let response = raw_push(&server, &d.tokens[1], &[small, oversized.clone()]).await;
    assert_eq!(response.status(), 413);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error, "event_too_large");
    assert_eq!(
        body.message,
        format!(
            "Event {} of case {} is {} bytes sealed, more than the {MAX_SEALED_EVENT_BYTES} bytes an event may hold; \
             nothing was stored.",
            oversized.id,
            case.id,
            MAX_SEALED_EVENT_BYTES + 1
        )
    );
    assert!(pull_all(&d.admin.client, None).await.is_empty(), "nothing of the batch was stored");

    // The largest allowed event is an ordinary event.
    let largest = event_of_size(&case, &d.clinic_device, MAX_SEALED_EVENT_BYTES);
    d.clinic_device.client.push(std::slice::from_ref(&largest)).await.unwrap();
    assert_eq!(pull_all(&d.admin.client, None).await, vec![largest]);
}

#[tokio::test]
async fn pull_pages_stop_before_four_mebibytes_and_say_there_is_more() {
    let (server, bootstrap, _dir) = started(&[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    let events: Vec<_> =
        (0..6).map(|_| event_of_size(&case, &d.clinic_device, MAX_SEALED_EVENT_BYTES - 1000)).collect();
    for pair in events.chunks(2) {
        d.clinic_device.client.push(pair).await.unwrap();
    }
    let mut sizes = Vec::new();
    let mut cursor = 0;
    let mut pulled = Vec::new();
    loop {
        let page = d.admin.client.pull(cursor, Some(1000)).await.unwrap();
        let bytes: usize = page.events.iter().map(|event| event.ciphertext.len()).sum();
        assert!(bytes <= MAX_PULL_PAGE_BYTES, "a page of {bytes} bytes");
        sizes.push(page.events.len());
        pulled.extend(page.events);
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(sizes, [4, 2]);
    assert_eq!(pulled, events);
}

#[tokio::test]
async fn a_burst_over_the_events_quota_is_refused_with_429_and_retry_after() {
    let (server, bootstrap, _dir) = started(&["--quota-events-per-minute", "5"]);
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    for _ in 0..5 {
        d.clinic_device.client.push(&[case.seal(&d.clinic_device, "note.added", "note")]).await.unwrap();
    }
    let response = raw_push(&server, &d.tokens[1], &[case.seal(&d.clinic_device, "note.added", "one too many")]).await;
    assert_eq!(response.status(), 429);
    // One event a 12 seconds refills the bucket of five a minute.
    assert_eq!(response.headers()["retry-after"], "12");
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error, "quota_exceeded");
    assert_eq!(
        body.message,
        "This device sent more than 5 events in a minute; nothing of this batch was stored. Send it again in 12 seconds."
    );
    let error = d.clinic_device.client.push(&[case.seal(&d.clinic_device, "note.added", "again")]).await.unwrap_err();
    assert!(matches!(error, ClientError::TooManyRequests { .. }), "{error:?}");
    assert!(error.retry_after().unwrap() >= Duration::from_secs(11), "{error:?}");
    assert_eq!(pull_all(&d.admin.client, None).await.len(), 5, "the refused pushes stored nothing");
    // Another device has its own quota.
    let other = Case::new();
    d.admin.client.push(&[other.seal(&d.admin, "case.created", "created")]).await.unwrap();
}

#[tokio::test]
async fn a_device_over_its_bytes_per_day_waits_for_tomorrow() {
    let (server, bootstrap, _dir) = started(&["--quota-bytes-per-day", "3000"]);
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    d.clinic_device.client.push(&[event_of_size(&case, &d.clinic_device, 2000)]).await.unwrap();
    let response = raw_push(&server, &d.tokens[1], &[event_of_size(&case, &d.clinic_device, 2000)]).await;
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&wait), "Retry-After {wait}");
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error, "quota_exceeded");
    assert!(body.message.starts_with("This device sent more than 3000 bytes of events today"), "{}", body.message);
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_are_not_served_publicly_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    Server::init(&db);
    let server = Server::start_with(&db, &dir.path().join("server.log"), &[]);
    let (status, body) = get(&format!("{}/metrics", server.url), None).await;
    assert_eq!(status, 404);
    assert!(!body.contains("harbour_"), "{body}");
    let (status, body) = get(&format!("{}/metrics", server.url), Some(METRICS_TOKEN)).await;
    assert_eq!(status, 404, "no token is configured, so none opens it: {body}");
}

#[tokio::test]
async fn metrics_need_the_metrics_token() {
    let (server, _bootstrap, _dir) = started(&[]);
    let url = format!("{}/metrics", server.url);
    for token in [None, Some("wrong"), Some(&METRICS_TOKEN[..METRICS_TOKEN.len() - 1])] {
        let (status, body) = get(&url, token).await;
        assert_eq!(status, 401, "{token:?}");
        let body: ErrorBody = serde_json::from_str(&body).unwrap();
        assert_eq!(body.error, "metrics_token");
    }
    let (status, body) = get(&url, Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(body.contains("harbour_http_requests_total"), "{body}");
}

#[tokio::test]
async fn metrics_can_have_a_loopback_listener_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    Server::init(&db);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_with(&db, &dir.path().join("server.log"), &["--metrics-listen", &listen]);
    let (status, _) = get(&format!("{}/metrics", server.url), None).await;
    assert_eq!(status, 404, "not on the public listener");
    let mut answered = None;
    for _ in 0..50 {
        if let Ok(response) = reqwest::get(format!("http://{listen}/metrics")).await {
            answered = Some((response.status().as_u16(), response.text().await.unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = answered.expect("the metrics listener answers");
    assert_eq!(status, 200);
    assert!(body.contains("harbour_pushes_total"), "{body}");
    let (status, _) = get(&format!("http://{listen}/v1/health"), None).await;
    assert_eq!(status, 404, "the metrics listener serves the metrics only");
}

#[test]
fn a_public_metrics_listener_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    Server::init(&db);
    let output = Command::new(BIN)
        .args(["serve", "--db", &db, "--listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--metrics-listen must be a loopback address"), "{stderr}");
}

/// A PostgreSQL server without TLS answers `N` to the client's SSLRequest; with
/// `sslmode=require` Harbour must then refuse to go on in clear, and say why.
#[tokio::test]
async fn sslmode_require_is_refused_by_a_postgres_without_tls() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 8];
            if stream.read_exact(&mut request).await.is_ok() {
                // 80877103: the SSLRequest code.
                assert_eq!(&request[4..], &80_877_103u32.to_be_bytes());
                let _ = stream.write_all(b"N").await;
            }
        }
    });
    let url = format!("postgres://harbour@127.0.0.1:{port}/harbour?sslmode=require");
    let error = harbour_server::store::open(&url).await.err().expect("require without TLS is refused");
    assert_eq!(
        error.to_string(),
        "database error: the PostgreSQL server does not offer TLS, but the URL's sslmode requires it: turn ssl on \
         in the server's postgresql.conf, or (on a trusted network only) use sslmode=disable"
    );

    // The real server that tests/run.sh starts has no TLS either: the same refusal, through the binary.
    if let Some(url) = postgres_url() {
        let db = fresh_postgres_database(&url).await;
        let output = Command::new(BIN).args(["init", "--db", &format!("{db}?sslmode=require")]).output().unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("the PostgreSQL server does not offer TLS"), "{stderr}");
    }
}

#[tokio::test]
async fn sslmode_disable_works_against_the_real_postgres() {
    let Some(url) = postgres_url() else { return };
    let db = format!("{}?sslmode=disable", fresh_postgres_database(&url).await);
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = Server::init(&db);
    let server = Server::start(&db, &dir.path().join("server.log"), &[]);
    let d = Deployment::register(&server, &bootstrap).await;
    let case = Case::new();
    d.clinic_device.client.push(&[case.seal(&d.clinic_device, "case.created", "created")]).await.unwrap();
    assert_eq!(pull_all(&d.admin.client, None).await.len(), 1);
}

#[test]
fn an_unknown_sslmode_is_refused_with_a_sentence() {
    let output = Command::new(BIN)
        .args(["init", "--db", "postgres://harbour@127.0.0.1:1/harbour?sslmode=verify-ca"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "the PostgreSQL URL's sslmode \"verify-ca\" is not supported: use disable, prefer, require or verify-full"
        ),
        "{stderr}"
    );
}

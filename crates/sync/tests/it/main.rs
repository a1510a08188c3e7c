//! The sync client against a hostile or broken server: each test is an attack that must end in
//! a clear refusal, never in memory filled or a change lost.

mod fake;

use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use harbour_core::model::CaseFields;
use harbour_core::{CreateOptions, Workspace};
use harbour_sync::client::{Client, ClientError, MAX_RESPONSE_BYTES, MAX_SEALED_EVENT_BYTES};
use harbour_wire::{Hlc, SEALED_FORMAT, SealedEvent};
use serde_json::json;
use uuid::Uuid;

use crate::fake::{FakeServer, Reply};

const HUNDRED_MIB: usize = 100 * 1024 * 1024;

fn assert_too_large(error: &ClientError, url: &str) {
    assert!(matches!(error, ClientError::ResponseTooLarge { limit, .. } if *limit == MAX_RESPONSE_BYTES), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "The server at {url} sent an answer larger than {MAX_RESPONSE_BYTES} bytes, far more than Harbour ever \
             asks for, and it was refused: the server may be misconfigured or not a Harbour server."
        )
    );
}

#[tokio::test]
async fn a_server_answering_100_mib_is_refused_before_it_fills_memory() {
    for content_length in [true, false] {
        let server = FakeServer::start(move |_| Reply::Zeros { len: HUNDRED_MIB, content_length }).await;
        let client = Client::new(&server.url).unwrap();
        let started = Instant::now();
        let error = client.health().await.unwrap_err();
        assert_too_large(&error, &server.url);
        assert!(started.elapsed() < Duration::from_secs(20), "refused in {:?}", started.elapsed());
    }
}

/// A few hundred kilobytes that inflate to 200 MiB: the cap counts what comes out of the
/// decompressor, not what crossed the network.
#[tokio::test]
async fn a_compression_bomb_is_refused_by_its_decompressed_size() {
    let inflated = 200 * 1024 * 1024;
    let megabyte = vec![b' '; 1024 * 1024];
    let mut zstd_bomb = zstd::stream::Encoder::new(Vec::new(), 19).unwrap();
    let mut gzip_bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..inflated / megabyte.len() {
        zstd_bomb.write_all(&megabyte).unwrap();
        gzip_bomb.write_all(&megabyte).unwrap();
    }
    let bombs = [("zstd", zstd_bomb.finish().unwrap()), ("gzip", gzip_bomb.finish().unwrap())];
    for (encoding, bomb) in bombs {
        assert!(bomb.len() < 1024 * 1024, "{encoding}: the bomb is small on the wire ({} bytes)", bomb.len());
        let server = FakeServer::start(move |_| Reply::Body {
            status: 200,
            headers: vec![("Content-Type", "application/json".into()), ("Content-Encoding", encoding.into())],
            body: bomb.clone(),
        })
        .await;
        let client = Client::new(&server.url).unwrap();
        let error = client.pull(0, None).await.unwrap_err();
        assert_too_large(&error, &server.url);
    }
}

fn sealed(ciphertext_len: usize) -> SealedEvent {
    SealedEvent {
        format: SEALED_FORMAT,
        id: Uuid::now_v7(),
        case_id: Uuid::now_v7(),
        kind: "note.added".into(),
        device_id: Uuid::now_v7(),
        device_seq: 1,
        hlc: Hlc { wall_ms: 1_764_279_012_345, counter: 0 },
        key_id: Uuid::now_v7(),
        nonce: vec![0; 12],
        ciphertext: vec![7; ciphertext_len],
    }
}

#[tokio::test]
async fn an_oversized_event_in_a_page_is_refused() {
    let oversized = sealed(MAX_SEALED_EVENT_BYTES + 1);
    let (event_id, case_id) = (oversized.id, oversized.case_id);
    let page = json!({ "events": [sealed(100), oversized], "next_cursor": 2, "more": false });
    let server = FakeServer::start(move |_| Reply::json(200, page.clone())).await;
    let error = Client::new(&server.url).unwrap().pull(0, None).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::OversizedEvent { event_id: e, case_id: c, bytes, .. }
            if *e == event_id && *c == case_id && *bytes == MAX_SEALED_EVENT_BYTES + 1),
        "{error:?}"
    );
    assert!(error.to_string().contains(&format!("event {event_id} of case {case_id}")), "{error}");

    // An event of exactly the largest size is a normal event.
    let page = json!({ "events": [sealed(MAX_SEALED_EVENT_BYTES)], "next_cursor": 1, "more": false });
    let server = FakeServer::start(move |_| Reply::json(200, page.clone())).await;
    assert_eq!(Client::new(&server.url).unwrap().pull(0, None).await.unwrap().events.len(), 1);
}

#[tokio::test]
async fn an_event_too_large_to_send_is_refused_before_sending() {
    let server = FakeServer::start(|_| Reply::json(200, json!({ "events": [] }))).await;
    let client = Client::new(&server.url).unwrap().with_token("device-token");
    let too_large = sealed(MAX_SEALED_EVENT_BYTES + 1);
    let error = client.push(&[sealed(10), too_large.clone()]).await.unwrap_err();
    assert!(matches!(&error, ClientError::EventTooLarge { event_id, .. } if *event_id == too_large.id), "{error:?}");
    assert!(!error.is_transient(), "retrying an event that can never be accepted is pointless");
    assert!(server.requests().is_empty(), "nothing was sent");
}

/// A server that refuses a push with 429 and `Retry-After: 1`, then takes it: the sync waits
/// the second out and sends the batch again, instead of failing or hammering the server.
#[tokio::test]
async fn a_push_refused_with_retry_after_is_sent_again_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let options = CreateOptions { kdf: harbour_core::crypto::KdfParams::INSECURE_FAST_FOR_TESTS, ..Default::default() };
    let mut workspace = Workspace::create(&dir.path().join("ws"), "correct horse battery staple", &options).unwrap();
    workspace.create_case(CaseFields::named("Quota Test").unwrap()).unwrap();
    let pending = workspace.pending_count().unwrap();
    assert!(pending > 0);

    let pushes = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&pushes);
    let server = FakeServer::start(move |request| match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/directory") => Reply::json(404, json!({ "error": "no_directory", "message": "None yet." })),
        ("GET", "/v1/wipe") | ("GET", "/v1/services") => Reply::Body { status: 204, headers: vec![], body: vec![] },
        ("POST", "/v1/events") if counted.fetch_add(1, Ordering::SeqCst) == 0 => Reply::Body {
            status: 429,
            headers: vec![("Content-Type", "application/json".into()), ("Retry-After", "1".into())],
            body: serde_json::to_vec(&json!({
                "error": "quota_exceeded",
                "message": "This device sent more than 5 events in a minute."
            }))
            .unwrap(),
        },
        ("POST", "/v1/events") => {
            let events = request.json_body()["events"].as_array().unwrap().clone();
            let acknowledged: Vec<_> = events
                .iter()
                .enumerate()
                .map(|(seq, event)| json!({ "id": event["id"], "seq": seq + 1, "already_stored": false }))
                .collect();
            Reply::json(200, json!({ "events": acknowledged }))
        }
        _ => Reply::json(200, json!({ "events": [], "next_cursor": 0, "more": false })),
    })
    .await;

    let client = Client::new(&server.url).unwrap().with_token("device-token");
    let workspace = Mutex::new(workspace);
    let started = Instant::now();
    let summary = harbour_sync::sync_once(&workspace, &client, &mut |_| {}).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "the Retry-After second was waited");
    assert_eq!(pushes.load(Ordering::SeqCst), 2, "refused once, then sent again");
    assert_eq!(summary.pushed, pending);
    assert_eq!(workspace.lock().unwrap().pending_count().unwrap(), 0);
}

/// A longer Retry-After ends the sync with a transient error that carries the wait, which the
/// background loop honours.
#[tokio::test]
async fn a_long_retry_after_is_reported_with_its_wait() {
    let server = FakeServer::start(|_| Reply::Body {
        status: 429,
        headers: vec![("Content-Type", "application/json".into()), ("Retry-After", "3600".into())],
        body: serde_json::to_vec(&json!({ "error": "quota_exceeded", "message": "Too much today." })).unwrap(),
    })
    .await;
    let error = Client::new(&server.url).unwrap().with_token("t").push(&[sealed(10)]).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    assert!(error.is_transient());
    assert_eq!(error.to_string(), "The server asks this laptop to wait: Too much today.");
}

/// A fake server whose feed is `pages` pages of one event each (cursor n after page n), and
/// which answers 500 to the pull after cursor `broken_after` while `broken` is set.
async fn feed_server(
    pages: u64,
    broken_after: u64,
    broken: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> FakeServer {
    let feed: Vec<SealedEvent> = (0..pages).map(|_| sealed(40)).collect();
    FakeServer::start(move |request| match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/directory") => Reply::json(404, json!({ "error": "no_directory", "message": "None yet." })),
        ("GET", "/v1/wipe") | ("GET", "/v1/services") => Reply::Body { status: 204, headers: vec![], body: vec![] },
        ("GET", path) if path.starts_with("/v1/events?") => {
            let after: u64 = path
                .split(['?', '&'])
                .find_map(|part| part.strip_prefix("after="))
                .and_then(|after| after.parse().ok())
                .unwrap();
            if after == broken_after && broken.load(Ordering::SeqCst) {
                return Reply::json(500, json!({ "error": "internal", "message": "The server failed." }));
            }
            let events: Vec<&SealedEvent> = feed.iter().skip(after as usize).take(1).collect();
            Reply::json(
                200,
                json!({ "events": events, "next_cursor": after + events.len() as u64, "more": after + 1 < pages }),
            )
        }
        _ => Reply::json(200, json!({ "events": [], "next_cursor": 0, "more": false })),
    })
    .await
}

fn bare_workspace(dir: &std::path::Path) -> Mutex<Workspace> {
    let options = CreateOptions { kdf: harbour_core::crypto::KdfParams::INSECURE_FAST_FOR_TESTS, ..Default::default() };
    Mutex::new(Workspace::create(&dir.join("ws"), "correct horse battery staple", &options).unwrap())
}

/// Pull pages are applied `PULL_PAGES_TOGETHER` at a time, each group in one transaction with
/// the cursor after its last page: progress is reported once a group (10 pages: 4 + 4 + 2).
#[tokio::test]
async fn pulled_pages_are_applied_four_together_with_the_cursor_after_them() {
    assert_eq!(harbour_sync::engine::PULL_PAGES_TOGETHER, 4);
    let server = feed_server(10, u64::MAX, Default::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let workspace = bare_workspace(dir.path());
    let client = Client::new(&server.url).unwrap().with_token("device-token");
    let mut applied = Vec::new();
    let summary = harbour_sync::sync_once(&workspace, &client, &mut |progress| {
        if progress.phase == harbour_sync::engine::Phase::Pulling {
            applied.push(progress.pulled);
        }
    })
    .await
    .unwrap();
    assert_eq!(applied, [4, 8, 10]);
    assert_eq!((summary.pulled, summary.stored), (10, 10));
    assert_eq!(workspace.lock().unwrap().sync_cursor().unwrap(), 10);
}

/// A fetch that fails part-way through a group: the pages that arrived are applied with the
/// cursor after them, the sync reports the failure, and the next sync starts after them.
#[tokio::test]
async fn pages_pulled_before_a_failure_are_applied_and_not_pulled_again() {
    let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    // The feed's 7th page (after cursor 6) fails: the second group brings pages 5 and 6 only.
    let server = feed_server(10, 6, std::sync::Arc::clone(&broken)).await;
    let dir = tempfile::tempdir().unwrap();
    let workspace = bare_workspace(dir.path());
    let client = Client::new(&server.url).unwrap().with_token("device-token");
    let mut applied = Vec::new();
    let error = harbour_sync::sync_once(&workspace, &client, &mut |progress| {
        if progress.phase == harbour_sync::engine::Phase::Pulling {
            applied.push(progress.pulled);
        }
    })
    .await
    .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(applied, [4, 6]);
    assert_eq!(workspace.lock().unwrap().sync_cursor().unwrap(), 6);

    broken.store(false, Ordering::SeqCst);
    let summary = harbour_sync::sync_once(&workspace, &client, &mut |_| {}).await.unwrap();
    assert_eq!((summary.pulled, summary.stored), (4, 4), "pages 7 to 10, none twice");
    assert_eq!(workspace.lock().unwrap().sync_cursor().unwrap(), 10);
    let pulls_after_six = server.requests().iter().filter(|request| request.path.contains("after=6&")).count();
    assert_eq!(pulls_after_six, 2, "the failed page was asked for again, once");
}

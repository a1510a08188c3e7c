//! HTTP client for every endpoint of `harbour-server` (protocol v1).
//!
//! Request bodies larger than a few hundred bytes are sent zstd-compressed; responses are
//! accepted gzip- or zstd-compressed. Errors are [`ClientError`]s whose messages are sentences a
//! clinic nurse can act on; the token never appears in them nor in `Debug` output.
//!
//! Nothing the server sends is trusted to be small: every answer is read in chunks up to
//! [`MAX_RESPONSE_BYTES`] after decompression, and a pulled event over [`MAX_SEALED_EVENT_BYTES`]
//! is refused. Plain `http://` is refused except to this machine (loopback), unless insecure
//! HTTP was allowed explicitly ([`ClientBuilder::allow_insecure_http`], the
//! `HARBOUR_ALLOW_INSECURE_HTTP=1` environment variable, or [`allow_insecure_http_in_this_process`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use harbour_wire::SealedEvent;
use harbour_wire::identity::{DeviceCertificate, SignedDocument};
use harbour_wire::protocol::{
    CreateInvitationRequest, CreateInvitationResponse, DeploymentInfo, DeviceInfo, DeviceList, ErrorBody, GrantRequest,
    GrantResponse, Health, InvitationInfo, InvitationList, PublishDirectoryResponse, PullResponse, PushRequest,
    PushResponse, RedeemInvitationRequest, RedeemInvitationResponse, RegisterDeploymentRequest,
    RegisterDeploymentResponse, SignedDirectory,
};
pub use harbour_wire::protocol::{MAX_RESPONSE_BYTES, MAX_SEALED_EVENT_BYTES};
use harbour_wire::root::MAX_SERVICE_DIRECTORY_BYTES;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Bodies at least this large are compressed before sending.
const COMPRESS_FROM_BYTES: usize = 512;
const ZSTD_LEVEL: i32 = 3;
/// Largest error body read from a refusal (a sentence, not a document).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// The environment variable that allows plain `http://` to a server that is not this machine.
pub const ALLOW_INSECURE_HTTP_ENV: &str = "HARBOUR_ALLOW_INSECURE_HTTP";

static INSECURE_HTTP_ALLOWED: AtomicBool = AtomicBool::new(false);

/// Allow plain `http://` to any server for every client this process makes afterwards (the
/// command line's `--allow-insecure-http`). The caller warns the person.
pub fn allow_insecure_http_in_this_process() {
    INSECURE_HTTP_ALLOWED.store(true, Ordering::SeqCst);
}

/// Whether plain `http://` to another machine was allowed (flag or environment variable).
pub fn insecure_http_allowed() -> bool {
    INSECURE_HTTP_ALLOWED.load(Ordering::SeqCst)
        || std::env::var(ALLOW_INSECURE_HTTP_ENV).is_ok_and(|value| matches!(value.trim(), "1" | "true" | "yes"))
}

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The configured server address cannot be used.
    #[error("The server address \"{url}\" is not a valid web address: check the settings.")]
    InvalidUrl { url: String },
    /// A plain `http://` address of another machine: anyone on the way could read and change
    /// what is sent.
    #[error(
        "The server address \"{url}\" uses plain http://, which anyone on the network could read and alter: use https://. (Only for a test network: --allow-insecure-http or HARBOUR_ALLOW_INSECURE_HTTP=1.)"
    )]
    InsecureUrl { url: String },
    /// The server answered with more than [`MAX_RESPONSE_BYTES`] (after decompression).
    #[error(
        "The server at {url} sent an answer larger than {limit} bytes, far more than Harbour ever asks for, and it was refused: the server may be misconfigured or not a Harbour server."
    )]
    ResponseTooLarge { url: String, limit: usize },
    /// A pulled event is larger than any event may be: refused, nothing was applied.
    #[error(
        "The server at {url} sent event {event_id} of case {case_id} with {bytes} bytes of ciphertext, more than the {MAX_SEALED_EVENT_BYTES} an event may hold; it was refused and nothing of that page was applied. Tell your administrator."
    )]
    OversizedEvent { url: String, event_id: Uuid, case_id: Uuid, bytes: usize },
    /// An event of this laptop is too large to send; the server would refuse it.
    #[error(
        "Event {event_id} of case {case_id} is {bytes} bytes sealed, more than the {MAX_SEALED_EVENT_BYTES} an event may hold, so it cannot be sent."
    )]
    EventTooLarge { event_id: Uuid, case_id: Uuid, bytes: usize },
    /// 429: this device sent too much; the server says when to try again.
    #[error("The server asks this laptop to wait: {message}")]
    TooManyRequests { message: String, retry_after: Duration },
    /// No connection could be made, or it dropped before an answer.
    #[error("The server at {url} could not be reached: check the connection and try again.")]
    Unreachable { url: String },
    /// The server did not answer in time (or abandoned the request: 408).
    #[error("The server at {url} took too long to answer: check the connection and try again.")]
    Timeout { url: String },
    /// 401 for a device token: unknown or revoked.
    #[error("The server refused this laptop: ask your administrator to re-invite it.")]
    Unauthorized { url: String },
    /// 403: the device is known but may not do this.
    #[error("The server does not allow this: {message}")]
    Forbidden { code: String, message: String },
    /// Any other refusal (4xx) with the server's own sentence; nothing was changed.
    #[error("The server refused the request: {message}")]
    Rejected { status: u16, code: String, message: String },
    /// 5xx: the server failed; nothing was changed.
    #[error("The server at {url} had a problem (HTTP {status}): try again later.")]
    ServerError { url: String, status: u16 },
    /// The answer could not be understood.
    #[error(
        "The server at {url} answered in a way this version of Harbour does not understand: it may need an update."
    )]
    InvalidResponse { url: String, detail: String },
    /// The HTTP client itself could not be set up (e.g. an unreadable certificate).
    #[error("The secure connection could not be set up: {detail}")]
    Setup { detail: String },
}

impl ClientError {
    /// The server's machine code (`case_not_visible`, `invitation_used` …), for a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Forbidden { code, .. } | ClientError::Rejected { code, .. } => Some(code),
            ClientError::Unauthorized { .. } => Some("unauthorized"),
            _ => None,
        }
    }

    /// Worth trying again later unchanged (network trouble, a busy or failing server).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. }
                | ClientError::Timeout { .. }
                | ClientError::ServerError { .. }
                | ClientError::TooManyRequests { .. }
        ) || matches!(self, ClientError::Rejected { status: 429, .. })
    }

    /// How long the server asked to wait before trying again (429 with `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Settings for a [`Client`].
pub struct ClientBuilder {
    base_url: String,
    token: Option<String>,
    extra_roots_pem: Vec<Vec<u8>>,
    timeout: Duration,
    connect_timeout: Duration,
    allow_insecure_http: bool,
}

impl ClientBuilder {
    /// Allow plain `http://` to a server that is not this machine (a test network only).
    pub fn allow_insecure_http(mut self, allow: bool) -> ClientBuilder {
        self.allow_insecure_http = allow;
        self
    }

    /// Authenticate with this device (or invitation) token.
    pub fn token(mut self, token: &str) -> ClientBuilder {
        self.token = Some(token.to_owned());
        self
    }

    /// Trust this PEM certificate too (a deployment's own certificate authority).
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> ClientBuilder {
        self.extra_roots_pem.push(pem.to_vec());
        self
    }

    /// Time allowed for a whole request and its answer.
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Result<Client, ClientError> {
        let base_url = checked_url(&self.base_url, self.allow_insecure_http)?;
        let mut http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("harbour-sync/", env!("CARGO_PKG_VERSION")));
        for pem in &self.extra_roots_pem {
            let certificate =
                reqwest::Certificate::from_pem(pem).map_err(|e| ClientError::Setup { detail: e.to_string() })?;
            http = http.add_root_certificate(certificate);
        }
        let http = http.build().map_err(|e| ClientError::Setup { detail: e.to_string() })?;
        Ok(Client { http, base_url, token: self.token, allow_insecure_http: self.allow_insecure_http })
    }
}

/// `url` without a trailing slash, if it is `https://`, or `http://` to this machine (or
/// anywhere, when `allow_insecure` or the process-wide switch says so).
fn checked_url(url: &str, allow_insecure: bool) -> Result<String, ClientError> {
    let base_url = url.trim().trim_end_matches('/').to_owned();
    let parsed = reqwest::Url::parse(&base_url).map_err(|_| ClientError::InvalidUrl { url: base_url.clone() })?;
    match parsed.scheme() {
        "https" => Ok(base_url),
        "http" if is_loopback(&parsed) || allow_insecure || insecure_http_allowed() => Ok(base_url),
        "http" => Err(ClientError::InsecureUrl { url: base_url }),
        _ => Err(ClientError::InvalidUrl { url: base_url }),
    }
}

/// 127.0.0.0/8, ::1 or `localhost`: the request never leaves this machine.
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A connection to one server, optionally as one device.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
    allow_insecure_http: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl Client {
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            token: None,
            extra_roots_pem: Vec::new(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            allow_insecure_http: false,
        }
    }

    /// An anonymous client (enough for health and registration).
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        Client::builder(base_url).build()
    }

    /// The same connection, authenticated with `token`.
    pub fn with_token(&self, token: &str) -> Client {
        Client { token: Some(token.to_owned()), ..self.clone() }
    }

    /// The same settings and token, for a server at another address.
    pub fn with_base_url(&self, base_url: &str) -> Result<Client, ClientError> {
        let base_url = checked_url(base_url, self.allow_insecure_http)?;
        Ok(Client { base_url, ..self.clone() })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.send(Method::GET, "/v1/health", None::<&()>).await
    }

    /// `POST /v1/deployment`: register with the bootstrap token; returns the admin's token.
    pub async fn register_deployment(
        &self,
        request: &RegisterDeploymentRequest,
    ) -> Result<RegisterDeploymentResponse, ClientError> {
        self.send(Method::POST, "/v1/deployment", Some(request)).await
    }

    /// `GET /v1/deployment`.
    pub async fn deployment(&self) -> Result<DeploymentInfo, ClientError> {
        self.send(Method::GET, "/v1/deployment", None::<&()>).await
    }

    /// `GET /v1/directory`: verify its signature against the root key before trusting it.
    pub async fn directory(&self) -> Result<SignedDirectory, ClientError> {
        self.send(Method::GET, "/v1/directory", None::<&()>).await
    }

    /// `PUT /v1/directory` (administrators).
    pub async fn publish_directory(
        &self,
        directory: &SignedDirectory,
    ) -> Result<PublishDirectoryResponse, ClientError> {
        self.send(Method::PUT, "/v1/directory", Some(directory)).await
    }

    /// `GET /v1/services`: the root-signed service directory the server relays, or `None` when
    /// none was published yet (204). Verify it against the root key before trusting it. A
    /// document larger than any server accepts is refused unread.
    pub async fn service_directory(&self) -> Result<Option<SignedDocument>, ClientError> {
        let response = self.request(Method::GET, "/v1/services", None::<&()>).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        // The document travels as a JSON string: escaping may double it, the signature adds little.
        let bytes = self.read_capped(response, 2 * MAX_SERVICE_DIRECTORY_BYTES + 4096).await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::InvalidResponse { url: self.base_url.clone(), detail: e.to_string() })
    }

    /// `PUT /v1/services` (administrators): a newer root-signed service directory.
    pub async fn publish_service_directory(
        &self,
        directory: &SignedDocument,
    ) -> Result<PublishDirectoryResponse, ClientError> {
        self.send(Method::PUT, "/v1/services", Some(directory)).await
    }

    /// `POST /v1/invitations` (administrators): an invitation into `team_id` that waits
    /// `expires_in_days` (1 to `MAX_INVITATION_DAYS`; the server's default, 7, when `None`).
    pub async fn create_invitation(
        &self,
        team_id: Uuid,
        admin: bool,
        expires_in_days: Option<u32>,
    ) -> Result<CreateInvitationResponse, ClientError> {
        let request = CreateInvitationRequest { team_id, admin, expires_in_days };
        self.send(Method::POST, "/v1/invitations", Some(&request)).await
    }

    /// `GET /v1/invitations` (administrators): every invitation and where it stands.
    pub async fn invitations(&self) -> Result<Vec<InvitationInfo>, ClientError> {
        let list: InvitationList = self.send(Method::GET, "/v1/invitations", None::<&()>).await?;
        Ok(list.invitations)
    }

    /// `POST /v1/invitations/{invitation_id}/cancel` (administrators). Cancelling twice is
    /// harmless; a used invitation is refused (`invitation_used`).
    pub async fn cancel_invitation(&self, invitation_id: Uuid) -> Result<(), ClientError> {
        let path = format!("/v1/invitations/{invitation_id}/cancel");
        self.request(Method::POST, &path, None::<&()>).await?;
        Ok(())
    }

    /// `POST /v1/invitations/redeem`, with this client's token being the invitation's. Returns
    /// the new device and its own token (made now): use a client with that token from then on.
    pub async fn redeem_invitation(
        &self,
        device_id: Uuid,
        certificate: &DeviceCertificate,
    ) -> Result<RedeemInvitationResponse, ClientError> {
        let request = RedeemInvitationRequest { device_id, certificate: certificate.clone() };
        self.send(Method::POST, "/v1/invitations/redeem", Some(&request)).await
    }

    /// `POST /v1/events`: returns only after the server committed the whole batch.
    pub async fn push(&self, events: &[SealedEvent]) -> Result<PushResponse, ClientError> {
        if let Some(event) = events.iter().find(|event| event.ciphertext.len() > MAX_SEALED_EVENT_BYTES) {
            return Err(ClientError::EventTooLarge {
                event_id: event.id,
                case_id: event.case_id,
                bytes: event.ciphertext.len(),
            });
        }
        let request = PushRequest { events: events.to_vec() };
        self.send(Method::POST, "/v1/events", Some(&request)).await
    }

    /// `GET /v1/events?after=..&limit=..`: one page of this device's team feed.
    pub async fn pull(&self, after: u64, limit: Option<u32>) -> Result<PullResponse, ClientError> {
        Ok(self.pull_counted(after, limit).await?.0)
    }

    /// [`Client::pull`], with the size of the page's JSON body in bytes.
    pub async fn pull_counted(&self, after: u64, limit: Option<u32>) -> Result<(PullResponse, u64), ClientError> {
        let path = match limit {
            Some(limit) => format!("/v1/events?after={after}&limit={limit}"),
            None => format!("/v1/events?after={after}"),
        };
        let (page, bytes): (PullResponse, u64) = self.send_counted(Method::GET, &path, None::<&()>).await?;
        if let Some(event) = page.events.iter().find(|event| event.ciphertext.len() > MAX_SEALED_EVENT_BYTES) {
            return Err(ClientError::OversizedEvent {
                url: self.base_url.clone(),
                event_id: event.id,
                case_id: event.case_id,
                bytes: event.ciphertext.len(),
            });
        }
        Ok((page, bytes))
    }

    /// `POST /v1/cases/{case_id}/grants`.
    pub async fn grant(&self, case_id: Uuid, team_id: Uuid) -> Result<GrantResponse, ClientError> {
        let request = GrantRequest { team_id };
        self.send(Method::POST, &format!("/v1/cases/{case_id}/grants"), Some(&request)).await
    }

    /// `GET /v1/devices` (administrators).
    pub async fn devices(&self) -> Result<Vec<DeviceInfo>, ClientError> {
        let list: DeviceList = self.send(Method::GET, "/v1/devices", None::<&()>).await?;
        Ok(list.devices)
    }

    /// `POST /v1/devices/{device_id}/revoke` (administrators).
    pub async fn revoke_device(&self, device_id: Uuid) -> Result<(), ClientError> {
        let path = format!("/v1/devices/{device_id}/revoke");
        self.request(Method::POST, &path, None::<&()>).await?;
        Ok(())
    }

    /// `POST /v1/devices/certificate`: store this device's certificate, for a device made
    /// before certificates (the administrator's first laptop). Sending the same one again is
    /// harmless; another one is refused (`certificate_exists`).
    pub async fn upload_certificate(&self, certificate: &DeviceCertificate) -> Result<(), ClientError> {
        self.request(Method::POST, "/v1/devices/certificate", Some(certificate)).await?;
        Ok(())
    }

    /// `POST /v1/devices/{device_id}/wipe` (administrators): hand over a root-signed wipe order.
    pub async fn order_wipe(&self, device_id: Uuid, order: &SignedDocument) -> Result<(), ClientError> {
        self.request(Method::POST, &format!("/v1/devices/{device_id}/wipe"), Some(order)).await?;
        Ok(())
    }

    /// `GET /v1/wipe`: the wipe order waiting for this laptop, if any (NOT verified: the
    /// laptop checks it against its pinned root key before obeying).
    pub async fn wipe_order(&self) -> Result<Option<SignedDocument>, ClientError> {
        let response = self.request(Method::GET, "/v1/wipe", None::<&()>).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let bytes = self.read_capped(response, MAX_ERROR_BODY_BYTES).await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::InvalidResponse { url: self.base_url.clone(), detail: e.to_string() })
    }

    /// `POST /v1/wipe/report`: a wiped laptop's signed report (no token needed).
    pub async fn report_wipe(&self, report: &SignedDocument) -> Result<(), ClientError> {
        self.request(Method::POST, "/v1/wipe/report", Some(report)).await?;
        Ok(())
    }

    /// `GET /v1/openapi.json`.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.send(Method::GET, "/v1/openapi.json", None::<&()>).await
    }

    /// `GET /metrics` (Prometheus text), with the server's metrics token (`--metrics-token`),
    /// or none on the metrics listener of its own (`--metrics-listen`).
    pub async fn metrics(&self, metrics_token: Option<&str>) -> Result<String, ClientError> {
        let client = Client { token: metrics_token.map(str::to_owned), ..self.clone() };
        let response = client.request(Method::GET, "/metrics", None::<&()>).await?;
        let bytes = self.read_capped(response, MAX_RESPONSE_BYTES).await?;
        String::from_utf8(bytes)
            .map_err(|e| ClientError::InvalidResponse { url: self.base_url.clone(), detail: e.to_string() })
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        Ok(self.send_counted(method, path, body).await?.0)
    }

    /// [`Client::send`], with the size of the answer's body (decompressed) in bytes.
    async fn send_counted<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(T, u64), ClientError> {
        let response = self.request(method, path, body).await?;
        let bytes = self.read_capped(response, MAX_RESPONSE_BYTES).await?;
        let answer = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::InvalidResponse { url: self.base_url.clone(), detail: e.to_string() })?;
        Ok((answer, bytes.len() as u64))
    }

    /// Send one request; a non-2xx answer becomes the matching [`ClientError`].
    async fn request<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut request = self.http.request(method, format!("{}{}", self.base_url, path));
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(body) = body {
            let json = serde_json::to_vec(body)
                .map_err(|e| ClientError::Setup { detail: format!("the request could not be encoded: {e}") })?;
            request = request.header(CONTENT_TYPE, "application/json");
            request = if json.len() >= COMPRESS_FROM_BYTES {
                let compressed = zstd::bulk::compress(&json, ZSTD_LEVEL)
                    .map_err(|e| ClientError::Setup { detail: format!("the request could not be compressed: {e}") })?;
                request.header(CONTENT_ENCODING, "zstd").body(compressed)
            } else {
                request.body(json)
            };
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let error: Option<ErrorBody> = self
            .read_capped(response, MAX_ERROR_BODY_BYTES)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        Err(self.refusal(status, error, retry_after))
    }

    /// The body of `response`, decompressed, read chunk by chunk and abandoned as soon as it
    /// passes `limit` bytes: a server cannot make this laptop hold more than that.
    async fn read_capped(&self, mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ClientError> {
        let too_large = || ClientError::ResponseTooLarge { url: self.base_url.clone(), limit };
        // A Content-Length over the limit is refused before anything is read. (With a
        // compressed body reqwest does not report one: the decompressed chunks are counted.)
        if response.content_length().is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            // A body that breaks off (the server stopped or the link dropped mid-answer) fails
            // to decompress: that is a broken connection, worth retrying, not a server to update.
            let chunk = response.chunk().await.map_err(|e| match self.transport(e) {
                ClientError::InvalidResponse { url, .. } => ClientError::Unreachable { url },
                other => other,
            })?;
            let Some(chunk) = chunk else { return Ok(body) };
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
    }

    fn refusal(&self, status: StatusCode, error: Option<ErrorBody>, retry_after: Option<Duration>) -> ClientError {
        let url = self.base_url.clone();
        let (code, message) = match error {
            Some(body) => (body.error, body.message),
            None => ("unknown".to_owned(), format!("HTTP {status}")),
        };
        match status {
            StatusCode::UNAUTHORIZED if code == "unauthorized" => ClientError::Unauthorized { url },
            StatusCode::FORBIDDEN => ClientError::Forbidden { code, message },
            StatusCode::REQUEST_TIMEOUT => ClientError::Timeout { url },
            // Without a usable Retry-After, a minute: the server's quotas refill over one.
            StatusCode::TOO_MANY_REQUESTS => ClientError::TooManyRequests {
                message,
                retry_after: retry_after.unwrap_or(Duration::from_secs(60)).min(Duration::from_secs(24 * 60 * 60)),
            },
            _ if status.is_server_error() => ClientError::ServerError { url, status: status.as_u16() },
            _ => ClientError::Rejected { status: status.as_u16(), code, message },
        }
    }

    fn transport(&self, error: reqwest::Error) -> ClientError {
        let url = self.base_url.clone();
        if error.is_timeout() {
            ClientError::Timeout { url }
        } else if error.is_decode() {
            ClientError::InvalidResponse { url, detail: error.to_string() }
        } else {
            ClientError::Unreachable { url }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_refused_with_a_sentence() {
        let error = Client::new("not a url").unwrap_err();
        assert_eq!(
            error.to_string(),
            "The server address \"not a url\" is not a valid web address: check the settings."
        );
        assert!(matches!(Client::new("ftp://example.org"), Err(ClientError::InvalidUrl { .. })));
    }

    /// A network attacker reads and rewrites plain HTTP: only this machine may be spoken to so.
    #[test]
    fn plain_http_is_refused_except_to_this_machine() {
        for url in
            ["http://harbour.example.org", "http://10.0.0.5:8443", "http://[2001:db8::1]/", "http://localhost.evil.org"]
        {
            let error = Client::new(url).unwrap_err();
            assert!(matches!(error, ClientError::InsecureUrl { .. }), "{url}: {error:?}");
            assert!(error.to_string().contains("uses plain http://"), "{error}");
            assert!(Client::builder(url).allow_insecure_http(true).build().is_ok(), "{url}");
        }
        for url in [
            "http://127.0.0.1:8443",
            "http://127.1.2.3",
            "http://[::1]:8443",
            "http://localhost:1",
            "http://LOCALHOST",
            "https://harbour.example.org",
        ] {
            assert!(Client::new(url).is_ok(), "{url}");
        }
        let local = Client::new("http://127.0.0.1:1").unwrap();
        assert!(matches!(local.with_base_url("http://harbour.example.org"), Err(ClientError::InsecureUrl { .. })));
        assert!(local.with_base_url("https://harbour.example.org").is_ok());
    }

    #[test]
    fn debug_output_hides_the_token() {
        let client = Client::builder("http://127.0.0.1:1").token("secret-token").build().unwrap();
        assert!(!format!("{client:?}").contains("secret-token"));
    }

    #[tokio::test]
    async fn a_server_that_is_down_is_unreachable() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let error = client.health().await.unwrap_err();
        assert!(matches!(error, ClientError::Unreachable { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "The server at http://127.0.0.1:1 could not be reached: check the connection and try again."
        );
        assert!(error.is_transient());
    }
}

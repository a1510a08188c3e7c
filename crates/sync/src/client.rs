//! HTTP client for every endpoint of `harbour-server` (protocol v1).
//!
//! Request bodies larger than a few hundred bytes are sent zstd-compressed; responses are
//! accepted gzip- or zstd-compressed. Errors are [`ClientError`]s whose messages are sentences a
//! clinic nurse can act on; the token never appears in them nor in `Debug` output.

use std::time::Duration;

use harbour_wire::SealedEvent;
use harbour_wire::identity::DeviceCertificate;
use harbour_wire::protocol::{
    CreateInvitationRequest, CreateInvitationResponse, DeploymentInfo, DeviceInfo, DeviceList, ErrorBody, GrantRequest,
    GrantResponse, Health, InvitationInfo, InvitationList, PublishDirectoryResponse, PullResponse, PushRequest,
    PushResponse, RedeemInvitationRequest, RedeemInvitationResponse, RegisterDeploymentRequest,
    RegisterDeploymentResponse, SignedDirectory,
};
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Bodies at least this large are compressed before sending.
const COMPRESS_FROM_BYTES: usize = 512;
const ZSTD_LEVEL: i32 = 3;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The configured server address cannot be used.
    #[error("The server address \"{url}\" is not a valid web address: check the settings.")]
    InvalidUrl { url: String },
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
        matches!(self, ClientError::Unreachable { .. } | ClientError::Timeout { .. } | ClientError::ServerError { .. })
            || matches!(self, ClientError::Rejected { status: 429, .. })
    }
}

/// Settings for a [`Client`].
pub struct ClientBuilder {
    base_url: String,
    token: Option<String>,
    extra_roots_pem: Vec<Vec<u8>>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl ClientBuilder {
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
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url).map_err(|_| ClientError::InvalidUrl { url: base_url.clone() })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::InvalidUrl { url: base_url });
        }
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
        Ok(Client { http, base_url, token: self.token })
    }
}

/// A connection to one server, optionally as one device.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
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
        }
    }

    /// An anonymous client (enough for health and registration).
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        Client::builder(base_url).build()
    }

    /// The same connection, authenticated with `token`.
    pub fn with_token(&self, token: &str) -> Client {
        Client { http: self.http.clone(), base_url: self.base_url.clone(), token: Some(token.to_owned()) }
    }

    /// The same settings and token, for a server at another address.
    pub fn with_base_url(&self, base_url: &str) -> Result<Client, ClientError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base_url).map_err(|_| ClientError::InvalidUrl { url: base_url.clone() })?;
        Ok(Client { http: self.http.clone(), base_url, token: self.token.clone() })
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
        self.send_counted(Method::GET, &path, None::<&()>).await
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

    /// `GET /v1/openapi.json`.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.send(Method::GET, "/v1/openapi.json", None::<&()>).await
    }

    /// `GET /metrics` (Prometheus text).
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let response = self.request(Method::GET, "/metrics", None::<&()>).await?;
        response.text().await.map_err(|e| self.transport(e))
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
        // A body that breaks off (the server stopped or the link dropped mid-answer) fails to
        // decompress: that is a broken connection, worth retrying, not a server to update.
        let bytes = response.bytes().await.map_err(|e| match self.transport(e) {
            ClientError::InvalidResponse { url, .. } => ClientError::Unreachable { url },
            other => other,
        })?;
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
        let error: Option<ErrorBody> =
            response.bytes().await.ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
        Err(self.refusal(status, error))
    }

    fn refusal(&self, status: StatusCode, error: Option<ErrorBody>) -> ClientError {
        let url = self.base_url.clone();
        let (code, message) = match error {
            Some(body) => (body.error, body.message),
            None => ("unknown".to_owned(), format!("HTTP {status}")),
        };
        match status {
            StatusCode::UNAUTHORIZED if code == "unauthorized" => ClientError::Unauthorized { url },
            StatusCode::FORBIDDEN => ClientError::Forbidden { code, message },
            StatusCode::REQUEST_TIMEOUT => ClientError::Timeout { url },
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

//! The HTTP API (`/v1`): routing, authentication, validation at the edge, and the mapping of
//! every refusal to a JSON [`ErrorBody`].
//!
//! Handlers answer only after the store has committed, so an acknowledged push is durable.
//! Nothing here logs a token, a payload or a team name.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::VerifyingKey;
use harbour_wire::protocol::{
    DEFAULT_PULL_LIMIT, DeploymentInfo, DeviceList, ErrorBody, GrantRequest, GrantResponse, Health, MAX_PULL_LIMIT,
    MAX_PULL_PAGE_BYTES, MAX_PUSH_EVENTS, MAX_SEALED_EVENT_BYTES, PublishDirectoryResponse, PullQuery, PullResponse,
    PushRequest, PushResponse, RegisterDeploymentRequest, RegisterDeploymentResponse, SignedDirectory, Team,
};
use harbour_wire::root::RootSignedError;
use harbour_wire::{SEALED_FORMAT, SealedEvent};
use serde::de::DeserializeOwned;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::timeout::TimeoutLayer;
use uuid::Uuid;

use crate::metrics::{Metrics, MetricsAccess};
use crate::quota::{Exceeded, Quota, Quotas};
use crate::store::{Credential, Device, Missing, NewDeployment, Store, StoreError};
use crate::token::{Token, TokenHash};

/// Every route, as (method, path) in OpenAPI's notation; `openapi.json` must describe each.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/deployment"),
    ("get", "/v1/deployment"),
    ("get", "/v1/directory"),
    ("put", "/v1/directory"),
    ("get", "/v1/services"),
    ("put", "/v1/services"),
    ("post", "/v1/invitations"),
    ("get", "/v1/invitations"),
    ("post", "/v1/invitations/redeem"),
    ("post", "/v1/invitations/{invitation_id}/cancel"),
    ("post", "/v1/events"),
    ("get", "/v1/events"),
    ("post", "/v1/cases/{case_id}/grants"),
    ("get", "/v1/devices"),
    ("post", "/v1/devices/{device_id}/revoke"),
    ("post", "/v1/devices/certificate"),
    ("post", "/v1/devices/{device_id}/wipe"),
    ("get", "/v1/wipe"),
    ("post", "/v1/wipe/report"),
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("get", "/metrics"),
];

/// Request headers the API accepts at most (a JSON 431 above), and their total size in bytes.
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The OpenAPI document, kept beside the crate's manifest.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Limits that protect the server from a large or slow client.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body after decompression.
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// What each device may push.
    pub quota: Quota,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_body_bytes: 16 * 1024 * 1024, request_timeout: Duration::from_secs(30), quota: Quota::default() }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub quotas: Arc<Quotas>,
    /// Who may read `/metrics` on this router.
    pub metrics_access: MetricsAccess,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, limits: &Limits, metrics_access: MetricsAccess) -> AppState {
        AppState {
            store,
            metrics: Arc::new(Metrics::default()),
            quotas: Arc::new(Quotas::new(limits.quota)),
            metrics_access,
        }
    }
}

/// The whole application, ready to serve.
pub fn router(state: AppState, limits: Limits) -> Router {
    let metrics = Arc::clone(&state.metrics);
    Router::new()
        .route("/v1/deployment", post(register_deployment).get(deployment))
        .route("/v1/directory", get(directory).put(publish_directory))
        .route("/v1/events", post(push).get(pull))
        .route("/v1/cases/{case_id}/grants", post(grant))
        .route("/v1/devices", get(list_devices))
        .route("/v1/devices/{device_id}/revoke", post(revoke_device))
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics_text))
        .merge(crate::enrolment::routes())
        .merge(crate::wipe::routes())
        .merge(crate::services::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(RequestDecompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(header_limits))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(metrics, observe))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A refusal: HTTP status, stable code and a sentence for a person.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Seconds for a `Retry-After` header (a 429).
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "This device is not known to the server or was revoked: ask your administrator to re-invite it.",
        )
    }

    fn admin_only() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_only",
            "Only an administrator's device of the ministry team may do this.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.to_string(), message: self.message };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound(Missing::Token) => ApiError::unauthorized(),
            StoreError::NotFound(Missing::Deployment) => ApiError::new(
                StatusCode::CONFLICT,
                "not_registered",
                "The deployment is not registered yet: register it with the bootstrap token first.",
            ),
            StoreError::NotFound(Missing::Directory) => {
                ApiError::new(StatusCode::NOT_FOUND, "no_directory", "No team directory has been published yet.")
            }
            StoreError::NotFound(Missing::Team) => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_team",
                "That team is not in the published team directory.",
            ),
            StoreError::NotFound(Missing::Case) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_case", "The server holds no events of that case.")
            }
            StoreError::NotFound(Missing::Device) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_device", "No device has that id.")
            }
            StoreError::NotFound(Missing::Invitation) => {
                ApiError::new(StatusCode::NOT_FOUND, "unknown_invitation", "No invitation has that id.")
            }
            StoreError::NotFound(Missing::WipeOrder) => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_wipe",
                "No wipe order waits for that laptop; nothing was stored.",
            ),
            StoreError::AlreadyInitialized => {
                ApiError::new(StatusCode::CONFLICT, "already_initialized", "The server is already initialized.")
            }
            StoreError::BootstrapRefused => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bootstrap_refused",
                "The bootstrap token is wrong or was already used to register this deployment.",
            ),
            StoreError::StaleDirectory { offered, current } => ApiError::new(
                StatusCode::CONFLICT,
                "stale_directory",
                format!("The team directory version {offered} is not newer than the published version {current}."),
            ),
            StoreError::StaleServiceDirectory { offered, current } => ApiError::new(
                StatusCode::CONFLICT,
                "stale_service_directory",
                format!(
                    "The service directory version {offered} is not newer than the published version {current}; nothing was changed."
                ),
            ),
            StoreError::InvitationUsed => ApiError::new(
                StatusCode::CONFLICT,
                "invitation_used",
                "This invitation was already used: ask your administrator for a new one.",
            ),
            StoreError::InvitationExpired => ApiError::new(
                StatusCode::GONE,
                "invitation_expired",
                "This invitation has expired; ask your administrator for a new one.",
            ),
            StoreError::InvitationCancelled => ApiError::new(
                StatusCode::GONE,
                "invitation_cancelled",
                "This invitation was cancelled by your administrator; ask them for a new one.",
            ),
            StoreError::DeviceAlreadyEnrolled(device_id) => ApiError::new(
                StatusCode::CONFLICT,
                "device_enrolled",
                format!("A laptop with the id {device_id} is already enrolled; nothing was changed."),
            ),
            StoreError::CertificateAlreadyStored(_) => ApiError::new(
                StatusCode::CONFLICT,
                "certificate_exists",
                "This laptop already has another certificate on the server; nothing was changed.",
            ),
            StoreError::CaseNotVisible(case_id) => ApiError::new(
                StatusCode::FORBIDDEN,
                "case_not_visible",
                format!("This device's team has no access to case {case_id}."),
            ),
            StoreError::Conflict(message) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("The server refused this because {message}; nothing was changed."),
            ),
            StoreError::Backend(detail) => {
                tracing::error!(error = %detail, "database failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "The server could not reach its database; nothing was changed. Try again later.",
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Extractors

/// JSON body whose every rejection is a JSON [`ErrorBody`].
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let path = request.uri().path().to_owned();
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection, &path)),
        }
    }
}

/// What to say about a body over `--max-body-bytes`, by endpoint.
fn too_large_message(path: &str) -> &'static str {
    match path {
        "/v1/events" => "The batch is too large for this server: send fewer events per batch.",
        "/v1/directory" => {
            "The team directory is too large for this server: ask its operator to raise --max-body-bytes."
        }
        "/v1/services" => "The service directory is larger than this server accepts: shorten its texts.",
        _ => "The request body is far larger than this endpoint takes: check what is being sent.",
    }
}

fn json_rejection(rejection: JsonRejection, path: &str) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The request body must be JSON, sent with Content-Type: application/json.",
        ),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("malformed_json", "The request body is not valid JSON.")
        }
        JsonRejection::JsonDataError(error) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("The request body does not have the expected fields ({}).", error.body_text()),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", too_large_message(path))
        }
        other => ApiError::bad_request(
            "unreadable_body",
            format!("The request body could not be read ({}).", other.body_text()),
        ),
    }
}

/// The bearer token of a request, hashed at once.
pub(crate) fn bearer(parts: &Parts) -> Result<TokenHash, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(ApiError::unauthorized)?;
    Ok(TokenHash::of(value))
}

/// An enrolled, not revoked device.
pub struct AuthDevice(pub Device);

impl FromRequestParts<AppState> for AuthDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let hash = bearer(parts)?;
        match state.store.authenticate(&hash).await? {
            Credential::Device(device) if !device.revoked => Ok(AuthDevice(device)),
            Credential::Device(_) | Credential::Invitation(_) => Err(ApiError::unauthorized()),
        }
    }
}

/// An administrator's device.
pub struct AdminDevice(pub Device);

impl FromRequestParts<AppState> for AdminDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthDevice(device) = AuthDevice::from_request_parts(parts, state).await?;
        if !device.admin {
            return Err(ApiError::admin_only());
        }
        Ok(AdminDevice(device))
    }
}

/// An id in the path (`/v1/cases/{case_id}/...`), refused with a sentence naming it.
pub struct ApiPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for ApiPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let name = if parts.uri.path().starts_with("/v1/cases/") { "case id" } else { "device id" };
        match Path::<Uuid>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(ApiPath(id)),
            Err(_) => Err(ApiError::bad_request(
                "invalid_path",
                format!(
                    "The {name} in the address is not a valid id: it must be a UUID such as 0190c5e2-7b3a-7cc0-8f1e-2b4c6d8e0a12."
                ),
            )),
        }
    }
}

/// The query of a pull, each parameter checked against its range and named when refused.
pub struct PullParams(pub PullQuery);

impl<S: Send + Sync> FromRequestParts<S> for PullParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
        let query: PullQuery = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let parameter = error.path().to_string();
            query_error(if parameter == "." { "after" } else { &parameter })
        })?;
        if let Some(limit) = query.limit
            && !(1..=MAX_PULL_LIMIT).contains(&limit)
        {
            return Err(query_error("limit"));
        }
        if query.after > i64::MAX as u64 {
            return Err(query_error("after"));
        }
        Ok(PullParams(query))
    }
}

/// A query parameter out of its range or not a number, named.
fn query_error(parameter: &str) -> ApiError {
    let message = match parameter {
        "limit" => format!(
            "The query parameter limit must be a whole number from 1 to {MAX_PULL_LIMIT} (events per page); leave it out for {DEFAULT_PULL_LIMIT}."
        ),
        "after" => format!(
            "The query parameter after must be a whole number from 0 to {}: the next_cursor of the previous page, or 0 for the beginning.",
            i64::MAX
        ),
        other => format!("The query parameter {other} is not valid."),
    };
    ApiError::bad_request("invalid_query", message)
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn register_deployment(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RegisterDeploymentRequest>,
) -> Result<Json<RegisterDeploymentResponse>, ApiError> {
    verifying_key(&request.root_public_key)?;
    check_team(&request.ministry_team)?;
    let token = Token::generate();
    let deployment = NewDeployment {
        deployment_id: request.deployment_id,
        root_public_key: request.root_public_key,
        ministry_team: request.ministry_team,
        admin_device_id: request.admin_device_id,
        admin_token: token.hash(),
    };
    state.store.register_deployment(&TokenHash::of(&request.bootstrap_token), &deployment).await?;
    tracing::info!(
        deployment_id = %deployment.deployment_id,
        device_id = %deployment.admin_device_id,
        "deployment registered"
    );
    Ok(Json(RegisterDeploymentResponse { device_token: token.into_string() }))
}

async fn deployment(
    State(state): State<AppState>,
    AuthDevice(_device): AuthDevice,
) -> Result<Json<DeploymentInfo>, ApiError> {
    let deployment = state.store.deployment().await?;
    Ok(Json(DeploymentInfo {
        deployment_id: deployment.deployment_id,
        root_public_key: deployment.root_public_key,
        ministry_team_id: deployment.ministry_team_id,
    }))
}

async fn directory(
    State(state): State<AppState>,
    AuthDevice(_device): AuthDevice,
) -> Result<Json<SignedDirectory>, ApiError> {
    Ok(Json(state.store.directory().await?))
}

async fn publish_directory(
    State(state): State<AppState>,
    AdminDevice(device): AdminDevice,
    ApiJson(signed): ApiJson<SignedDirectory>,
) -> Result<Json<PublishDirectoryResponse>, ApiError> {
    let deployment = state.store.deployment().await?;
    let directory =
        signed.verify(&deployment.root_public_key, deployment.deployment_id).map_err(|error| match error {
            RootSignedError::NotSignedByRoot => ApiError::bad_request(
                "bad_signature",
                "The team directory is not signed by this deployment's root key; nothing was changed.",
            ),
            RootSignedError::OtherDeployment => {
                ApiError::bad_request("wrong_deployment", "The team directory belongs to another deployment.")
            }
            RootSignedError::Malformed => {
                ApiError::bad_request("invalid_directory", "The signed team directory is not valid JSON.")
            }
        })?;
    if !directory.teams.iter().any(|team| team.id == deployment.ministry_team_id) {
        return Err(ApiError::bad_request("invalid_directory", "The team directory must list the ministry team."));
    }
    let mut ids = std::collections::HashSet::new();
    for team in &directory.teams {
        check_team(team)?;
        if !ids.insert(team.id) {
            return Err(ApiError::bad_request("invalid_directory", "The team directory lists the same team twice."));
        }
    }
    state.store.publish_directory(directory.version, &signed, &directory.teams).await?;
    tracing::info!(
        version = directory.version,
        teams = directory.teams.len(),
        device_id = %device.id,
        "team directory published"
    );
    Ok(Json(PublishDirectoryResponse { version: directory.version }))
}

async fn push(
    State(state): State<AppState>,
    crate::wipe::PushingDevice(device): crate::wipe::PushingDevice,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    if request.events.len() > MAX_PUSH_EVENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("A batch may hold at most {MAX_PUSH_EVENTS} events."),
        ));
    }
    for event in &request.events {
        check_event(&device, event)?;
    }
    let bytes: u64 = request.events.iter().map(|event| event.ciphertext.len() as u64).sum();
    state.quotas.charge(device.id, request.events.len(), bytes).map_err(quota_exceeded)?;
    let pushed = state.store.push_events(&device, &request.events).await?;
    let replayed = pushed.iter().filter(|event| event.already_stored).count();
    state.metrics.record_push(pushed.len() - replayed, replayed);
    tracing::info!(
        device_id = %device.id,
        stored = pushed.len() - replayed,
        already_stored = replayed,
        "events pushed"
    );
    Ok(Json(PushResponse { events: pushed }))
}

async fn pull(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    PullParams(query): PullParams,
) -> Result<Json<PullResponse>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PULL_LIMIT).clamp(1, MAX_PULL_LIMIT);
    let page = state.store.pull_events(device.team_id, query.after, limit, MAX_PULL_PAGE_BYTES as u64).await?;
    state.metrics.record_pull(page.events.len());
    tracing::debug!(device_id = %device.id, events = page.events.len(), more = page.more, "events pulled");
    Ok(Json(PullResponse { events: page.events, next_cursor: page.next_cursor, more: page.more }))
}

async fn grant(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    ApiPath(case_id): ApiPath,
    ApiJson(request): ApiJson<GrantRequest>,
) -> Result<Json<GrantResponse>, ApiError> {
    let backfilled = state.store.grant_case(device.team_id, case_id, request.team_id).await?;
    tracing::info!(
        case_id = %case_id,
        team_id = %request.team_id,
        device_id = %device.id,
        backfilled,
        "case granted"
    );
    Ok(Json(GrantResponse { case_id, team_id: request.team_id, backfilled }))
}

async fn list_devices(
    State(state): State<AppState>,
    AdminDevice(_device): AdminDevice,
) -> Result<Json<DeviceList>, ApiError> {
    Ok(Json(DeviceList { devices: state.store.list_devices().await? }))
}

async fn revoke_device(
    State(state): State<AppState>,
    AdminDevice(device): AdminDevice,
    ApiPath(device_id): ApiPath,
) -> Result<StatusCode, ApiError> {
    if device_id == device.id {
        return Err(ApiError::bad_request(
            "cannot_revoke_self",
            "A device cannot revoke itself: ask another administrator.",
        ));
    }
    state.store.revoke_device(device_id).await?;
    tracing::info!(revoked_device_id = %device_id, device_id = %device.id, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// How long health waits for the database before answering 503: a monitor is never left
/// hanging (SQLite's ping uses a read connection, which never waits for a writer).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    match tokio::time::timeout(HEALTH_TIMEOUT, state.store.ping()).await {
        Ok(answer) => answer?,
        Err(_) => {
            tracing::error!("health: the database did not answer within {HEALTH_TIMEOUT:?}");
            return Err(StoreError::Backend("no answer in time".into()).into());
        }
    }
    Ok(Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() }))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn metrics_text(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    match &state.metrics_access {
        // Not served here at all: only on its own loopback listener, or nowhere.
        MetricsAccess::Hidden => return Err(not_found().await),
        MetricsAccess::Open => {}
        MetricsAccess::Token(expected) => {
            let offered = headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(str::trim);
            if !offered.is_some_and(|token| expected.matches(token)) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "metrics_token",
                    "The metrics need the metrics token (Authorization: Bearer ...) set with --metrics-token.",
                ));
            }
        }
    }
    let stored = state.store.event_count().await.ok();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(stored))
        .into_response())
}

/// The router of the separate metrics listener (`--metrics-listen`): `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics_text)).fallback(not_found).with_state(state)
}

fn quota_exceeded(exceeded: Exceeded) -> ApiError {
    let seconds = exceeded.retry_after().as_secs();
    let message = match exceeded {
        Exceeded::EventsPerMinute { limit, .. } => format!(
            "This device sent more than {limit} events in a minute; nothing of this batch was stored. \
             Send it again in {seconds} seconds."
        ),
        Exceeded::BytesPerDay { limit, .. } => format!(
            "This device sent more than {limit} bytes of events today; nothing of this batch was stored. \
             Send it again in {seconds} seconds, or ask the administrator to raise --quota-bytes-per-day."
        ),
    };
    ApiError { retry_after: Some(seconds), ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message) }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "There is no such endpoint on this server.")
}

// ---------------------------------------------------------------------------------------------
// Validation at the edge

fn verifying_key(bytes: &[u8]) -> Result<VerifyingKey, ApiError> {
    let bytes: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| ApiError::bad_request("invalid_key", "The root public key must be 32 bytes (Ed25519)."))?;
    VerifyingKey::from_bytes(bytes)
        .map_err(|_| ApiError::bad_request("invalid_key", "The root public key is not a valid Ed25519 key."))
}

fn check_team(team: &Team) -> Result<(), ApiError> {
    if team.public_key.len() != 32 {
        return Err(ApiError::bad_request("invalid_team", "A team's public key must be 32 bytes (X25519)."));
    }
    if team.name.trim().is_empty() || team.name.chars().count() > 200 {
        return Err(ApiError::bad_request("invalid_team", "A team's name must be between 1 and 200 characters."));
    }
    Ok(())
}

fn check_event(device: &Device, event: &SealedEvent) -> Result<(), ApiError> {
    if event.device_id != device.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_device",
            "A device may push only its own events; nothing was stored.",
        ));
    }
    let invalid = |what: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
            format!("Event {} is not valid ({what}); nothing was stored.", event.id),
        )
    };
    if event.format != SEALED_FORMAT {
        return Err(invalid("unknown sealed-event format"));
    }
    if event.device_seq == 0 || event.device_seq > i64::MAX as u64 {
        return Err(invalid("device sequence number out of range"));
    }
    if event.hlc.wall_ms > i64::MAX as u64 {
        return Err(invalid("clock reading out of range"));
    }
    if event.kind.is_empty()
        || event.kind.len() > 64
        || !event.kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
    {
        return Err(invalid("kind must be 1 to 64 letters, digits, dots or underscores"));
    }
    if event.nonce.len() != 12 {
        return Err(invalid("nonce must be 12 bytes"));
    }
    if event.ciphertext.len() < 16 {
        return Err(invalid("ciphertext is shorter than an authentication tag"));
    }
    if event.ciphertext.len() > MAX_SEALED_EVENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "event_too_large",
            format!(
                "Event {} of case {} is {} bytes sealed, more than the {MAX_SEALED_EVENT_BYTES} bytes an event may \
                 hold; nothing was stored.",
                event.id,
                event.case_id,
                event.ciphertext.len()
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Middleware

/// Replace any non-JSON error (from a layer or an extractor axum owns) with an [`ErrorBody`].
async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => (
            "bad_request",
            "The request was not understood: check its address, headers and body against /v1/openapi.json.",
        ),
        StatusCode::NOT_FOUND => {
            ("not_found", "There is no such endpoint on this server: the endpoints are listed in /v1/openapi.json.")
        }
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This endpoint does not accept that method: the Allow header lists the ones it does.",
        ),
        StatusCode::REQUEST_TIMEOUT => {
            ("timeout", "The request took too long and was abandoned; it is safe to send it again.")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", too_large_message(&path)),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "The request body must be JSON, uncompressed or compressed with gzip or zstd.")
        }
        _ if status.is_server_error() => ("server_error", "The server failed; nothing was changed. Try again later."),
        _ => ("bad_request", "The request was refused: check it against /v1/openapi.json."),
    };
    let mut fresh = ApiError::new(status, code, message).into_response();
    // Keep the headers a client may rely on (e.g. `Allow` on a 405).
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
}

/// Refuse a request with too many or too large headers with a JSON 431 (hyper's own limit,
/// higher, would answer without a body).
async fn header_limits(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "The request's headers are too large: at most {MAX_HEADERS} headers and {} KiB in all are accepted.",
                MAX_HEADER_BYTES / 1024
            ),
        )
        .into_response();
    }
    next.run(request).await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value: &HeaderValue| value.to_str().is_ok_and(|value| value.starts_with("application/json")))
}

/// One structured log line and one metric per request: method, path, status, duration.
/// The path holds ids only; headers (tokens) and bodies are never logged.
async fn observe(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics.record_request(status);
    tracing::info!(
        %method,
        path = %path,
        status,
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_lists_every_route() {
        let document: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        for (method, path) in ROUTES {
            assert!(document["paths"][path][method].is_object(), "openapi.json does not describe {method} {path}");
        }
        let described: usize =
            document["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
        assert_eq!(described, ROUTES.len(), "openapi.json describes a route the server lacks");
    }
}

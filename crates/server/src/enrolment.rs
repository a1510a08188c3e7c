//! Enrolment: invitations (made, listed, cancelled by administrators), their redemption by a
//! new laptop, and the certificates that tie each laptop's signing key to the root key.
//!
//! Redemption is the one request a stranger can make with a guessed token, so it checks
//! everything it can before writing: the invitation's status, then the laptop's certificate
//! against the deployment's root key and the invitation itself. Failed attempts (an unknown
//! token, a certificate that does not verify) are rate-limited per client address and for the
//! whole server. The device's own token is made here, at redemption, and shown only to it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use harbour_wire::identity::DeviceCertificate;
use harbour_wire::protocol::{
    CreateInvitationRequest, CreateInvitationResponse, DEFAULT_INVITATION_DAYS, InvitationList, InvitationStatus,
    MAX_INVITATION_DAYS, RedeemInvitationRequest, RedeemInvitationResponse,
};
use uuid::Uuid;

use crate::api::{AdminDevice, ApiError, ApiJson, AppState, AuthDevice, bearer};
use crate::ratelimit::{FailureLimiter, Limited};
use crate::store::{Missing, NewInvitation, StoreError, now_ms};
use crate::token::{Token, TokenHash};

/// Failed redemptions allowed per client address within [`FAILURE_WINDOW`].
pub const REDEEM_FAILURES_PER_ADDRESS: usize = 10;
/// Failed redemptions allowed from all addresses together within [`FAILURE_WINDOW`].
pub const REDEEM_FAILURES_GLOBAL: usize = 100;
/// The sliding window of the redemption limits.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The enrolment routes, each with its own limiter of failed redemptions.
pub fn routes() -> Router<AppState> {
    let limiter = Arc::new(FailureLimiter::new(REDEEM_FAILURES_PER_ADDRESS, REDEEM_FAILURES_GLOBAL, FAILURE_WINDOW));
    Router::new()
        .route("/v1/invitations", post(create_invitation).get(list_invitations))
        .route("/v1/invitations/redeem", post(redeem_invitation))
        .route("/v1/invitations/{invitation_id}/cancel", post(cancel_invitation))
        .route("/v1/devices/certificate", post(upload_certificate))
        .layer(Extension(limiter))
}

/// The client's address, when the server was started with connection information (behind a
/// reverse proxy it is the proxy's, and only the global limit tells clients apart).
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())))
    }
}

/// The bearer token of a redemption, if any (its absence is a failed attempt, not a rejection).
pub struct RedeemToken(Option<TokenHash>);

impl<S: Send + Sync> FromRequestParts<S> for RedeemToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RedeemToken(bearer(parts).ok()))
    }
}

/// A refused redemption: an [`ApiError`], or too many failed attempts (429 with Retry-After).
pub enum RedeemRefusal {
    Api(ApiError),
    Limited(Limited),
}

impl From<ApiError> for RedeemRefusal {
    fn from(error: ApiError) -> RedeemRefusal {
        RedeemRefusal::Api(error)
    }
}

impl From<StoreError> for RedeemRefusal {
    fn from(error: StoreError) -> RedeemRefusal {
        RedeemRefusal::Api(error.into())
    }
}

impl IntoResponse for RedeemRefusal {
    fn into_response(self) -> Response {
        match self {
            RedeemRefusal::Api(error) => error.into_response(),
            RedeemRefusal::Limited(limited) => {
                let seconds = limited.retry_after().as_secs_f64().ceil().max(1.0) as u64;
                let mut response = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    format!(
                        "Too many invitations were refused in the last minute; wait {seconds} seconds, \
                         check the invitation and try again."
                    ),
                )
                .into_response();
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
        }
    }
}

fn certificate_mismatch() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "certificate_mismatch",
        "This invitation's certificate does not match it; ask your administrator for a new invitation.",
    )
}

async fn create_invitation(
    State(state): State<AppState>,
    AdminDevice(device): AdminDevice,
    ApiJson(request): ApiJson<CreateInvitationRequest>,
) -> Result<Json<CreateInvitationResponse>, ApiError> {
    let days = request.expires_in_days.unwrap_or(DEFAULT_INVITATION_DAYS);
    if !(1..=MAX_INVITATION_DAYS).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            format!("The invitation's validity (expires_in_days) must be between 1 and {MAX_INVITATION_DAYS} days."),
        ));
    }
    let deployment = state.store.deployment().await?;
    if request.admin && request.team_id != deployment.ministry_team_id {
        return Err(ApiError::bad_request(
            "admin_outside_ministry",
            "Only a device of the ministry team can be an administrator.",
        ));
    }
    let token = Token::generate();
    let invitation = NewInvitation {
        id: Uuid::now_v7(),
        team_id: request.team_id,
        admin: request.admin,
        token: token.hash(),
        created_by: device.id,
        expires_at_ms: now_ms() as u64 + u64::from(days) * DAY_MS,
    };
    state.store.create_invitation(&invitation).await?;
    tracing::info!(
        invitation_id = %invitation.id,
        team_id = %invitation.team_id,
        admin = invitation.admin,
        days,
        device_id = %device.id,
        "invitation created"
    );
    Ok(Json(CreateInvitationResponse {
        invitation_id: invitation.id,
        team_id: invitation.team_id,
        admin: invitation.admin,
        invitation_token: token.into_string(),
        expires_at_ms: invitation.expires_at_ms,
    }))
}

async fn list_invitations(
    State(state): State<AppState>,
    AdminDevice(_device): AdminDevice,
) -> Result<Json<InvitationList>, ApiError> {
    Ok(Json(InvitationList { invitations: state.store.list_invitations().await? }))
}

async fn cancel_invitation(
    State(state): State<AppState>,
    AdminDevice(device): AdminDevice,
    Path(invitation_id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    match state.store.cancel_invitation(invitation_id).await {
        Ok(()) => {}
        Err(StoreError::InvitationUsed) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "invitation_used",
                "This invitation was already used, so it cannot be cancelled: revoke the laptop that used it instead.",
            ));
        }
        Err(other) => return Err(other.into()),
    }
    tracing::info!(invitation_id = %invitation_id, device_id = %device.id, "invitation cancelled");
    Ok(StatusCode::NO_CONTENT)
}

async fn redeem_invitation(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<FailureLimiter>>,
    ClientAddress(address): ClientAddress,
    RedeemToken(token): RedeemToken,
    ApiJson(request): ApiJson<RedeemInvitationRequest>,
) -> Result<Json<RedeemInvitationResponse>, RedeemRefusal> {
    if let Err(limited) = limiter.check(address) {
        // Addresses are not secrets; tokens and certificates are never logged.
        match (limited, address) {
            (Limited::Address { .. }, Some(address)) => {
                tracing::warn!(%address, "invitation redemptions limited: too many failures from one address")
            }
            _ => tracing::warn!("invitation redemptions limited: too many failures on the whole server"),
        }
        return Err(RedeemRefusal::Limited(limited));
    }
    let failed = |error: ApiError| {
        limiter.record_failure(address);
        RedeemRefusal::Api(error)
    };
    let Some(token) = token else {
        return Err(failed(ApiError::unauthorized()));
    };
    let invitation = match state.store.invitation_by_token(&token).await {
        Ok(invitation) => invitation,
        Err(StoreError::NotFound(Missing::Token)) => return Err(failed(ApiError::unauthorized())),
        Err(other) => return Err(other.into()),
    };
    match invitation.status {
        InvitationStatus::Pending => {}
        InvitationStatus::Redeemed => return Err(StoreError::InvitationUsed.into()),
        InvitationStatus::Cancelled => return Err(StoreError::InvitationCancelled.into()),
        InvitationStatus::Expired => return Err(StoreError::InvitationExpired.into()),
    }
    let deployment = state.store.deployment().await?;
    let certified = request
        .certificate
        .verify(&deployment.root_public_key, deployment.deployment_id)
        .map_err(|_| failed(certificate_mismatch()))?;
    if certified.device_id != request.device_id
        || certified.invitation_id != invitation.invitation_id
        || certified.team_id != invitation.team_id
        || certified.admin != invitation.admin
    {
        return Err(failed(certificate_mismatch()));
    }
    let device_token = Token::generate();
    let device =
        state.store.redeem_invitation(&token, request.device_id, &device_token.hash(), &request.certificate).await?;
    tracing::info!(
        invitation_id = %invitation.invitation_id,
        device_id = %device.device_id,
        team_id = %device.team_id,
        "invitation redeemed"
    );
    Ok(Json(RedeemInvitationResponse { device, device_token: device_token.into_string() }))
}

async fn upload_certificate(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    ApiJson(certificate): ApiJson<DeviceCertificate>,
) -> Result<StatusCode, ApiError> {
    let deployment = state.store.deployment().await?;
    let not_this_laptops = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "certificate_mismatch",
            "This certificate is not this laptop's, or not signed by this deployment's root key; nothing was stored.",
        )
    };
    let certified =
        certificate.verify(&deployment.root_public_key, deployment.deployment_id).map_err(|_| not_this_laptops())?;
    if certified.device_id != device.id || certified.team_id != device.team_id || certified.admin != device.admin {
        return Err(not_this_laptops());
    }
    state.store.set_device_certificate(device.id, &certificate).await?;
    tracing::info!(device_id = %device.id, "device certificate stored");
    Ok(StatusCode::NO_CONTENT)
}

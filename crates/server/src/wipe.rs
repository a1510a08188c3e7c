//! Remote wipe, relayed: the administrator's root-signed order for a lost laptop, fetched by
//! that laptop at its next contact (even once revoked), and the laptop's signed report.
//!
//! The server checks both signatures before storing, but its checks are not what protects a
//! laptop: the laptop verifies the order against the root key it pinned, so a server (or anyone
//! who took it over) can neither wipe a laptop nor fake that one was wiped. An order that says
//! "send first" lets the laptop push what it has waiting even after it was revoked, until it
//! reports; the report revokes it if it was not already.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use harbour_wire::identity::SignedDocument;
use harbour_wire::wipe::{WipeError, WipeReport, verify_order, verify_report};

use crate::api::{AdminDevice, ApiError, ApiJson, ApiPath, AppState, bearer};
use crate::store::{Credential, Device, NewWipeOrder, WipeDone};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/devices/{device_id}/wipe", post(order_wipe))
        .route("/v1/wipe", get(wipe_order))
        .route("/v1/wipe/report", post(wipe_report))
}

fn refused(error: WipeError) -> ApiError {
    let message = match error {
        WipeError::NotSignedByRoot => {
            "The wipe order is not signed by this deployment's root key; nothing was stored. Order it again from an administrator's laptop."
        }
        WipeError::OtherDeployment => "The wipe order is for another deployment; nothing was stored.",
        WipeError::OtherDevice => {
            "The wipe order names another laptop than the one in the address; nothing was stored."
        }
        WipeError::BadReportSignature => {
            "The wipe report is not signed by the laptop's certified key; nothing was stored."
        }
        WipeError::Malformed => "The wipe document is damaged; nothing was stored.",
    };
    ApiError::new(StatusCode::FORBIDDEN, "wipe_refused", message)
}

/// `POST /v1/devices/{device_id}/wipe`: an administrator's laptop hands over the signed order.
async fn order_wipe(
    State(state): State<AppState>,
    AdminDevice(admin): AdminDevice,
    ApiPath(device_id): ApiPath,
    ApiJson(signed): ApiJson<SignedDocument>,
) -> Result<StatusCode, ApiError> {
    if device_id == admin.id {
        return Err(ApiError::bad_request(
            "cannot_wipe_self",
            "A laptop cannot order its own wipe: ask another administrator.",
        ));
    }
    let deployment = state.store.deployment().await?;
    let order =
        verify_order(&signed, &deployment.root_public_key, deployment.deployment_id, device_id).map_err(refused)?;
    let signed_order = serde_json::to_string(&signed)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    state
        .store
        .order_wipe(&NewWipeOrder { device_id, order_id: order.order_id, send_first: order.send_first, signed_order })
        .await?;
    tracing::info!(wiped_device_id = %device_id, device_id = %admin.id, send_first = order.send_first, "wipe ordered");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/wipe`: the order waiting for the asking laptop (200), or none (204). A revoked
/// laptop may ask: a lost laptop is usually revoked before it is found online.
async fn wipe_order(State(state): State<AppState>, CallingDevice(device): CallingDevice) -> Result<Response, ApiError> {
    match state.store.pending_wipe(device.id).await? {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(pending) => {
            let signed: SignedDocument = serde_json::from_str(&pending.signed_order)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
            tracing::info!(device_id = %device.id, "wipe order handed to its laptop");
            Ok(Json(signed).into_response())
        }
    }
}

/// `POST /v1/wipe/report`: the wiped laptop's report, authenticated by its signature alone (its
/// token may be gone with everything else). Records the wipe as done and revokes the laptop.
async fn wipe_report(
    State(state): State<AppState>,
    ApiJson(signed): ApiJson<SignedDocument>,
) -> Result<StatusCode, ApiError> {
    let claimed: WipeReport = serde_json::from_str(&signed.document).map_err(|_| refused(WipeError::Malformed))?;
    let deployment = state.store.deployment().await?;
    let unknown = || {
        ApiError::new(StatusCode::NOT_FOUND, "unknown_wipe", "No wipe order waits for that laptop; nothing was stored.")
    };
    let device = state.store.list_devices().await?.into_iter().find(|device| device.device_id == claimed.device_id);
    let certificate = device.and_then(|device| device.certificate).ok_or_else(unknown)?;
    let certified = certificate
        .verify(&deployment.root_public_key, deployment.deployment_id)
        .map_err(|_| refused(WipeError::BadReportSignature))?;
    let report = verify_report(&signed, &certified.public_key).map_err(refused)?;
    if certified.device_id != report.device_id {
        return Err(refused(WipeError::BadReportSignature));
    }
    let text = serde_json::to_string(&signed)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    state
        .store
        .wipe_done(&WipeDone {
            device_id: report.device_id,
            order_id: report.order_id,
            sent_first: report.sent_first,
            destroyed_unsent: report.destroyed_unsent,
            report: text,
        })
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound(_) => unknown(),
            other => other.into(),
        })?;
    tracing::info!(device_id = %report.device_id, destroyed_unsent = report.destroyed_unsent, "laptop reported its wipe");
    Ok(StatusCode::NO_CONTENT)
}

/// Any enrolled device, revoked or not (only the wipe endpoints accept a revoked one).
pub(crate) struct CallingDevice(pub Device);

impl FromRequestParts<AppState> for CallingDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let hash = bearer(parts)?;
        match state.store.authenticate(&hash).await? {
            Credential::Device(device) => Ok(CallingDevice(device)),
            Credential::Invitation(_) => Err(ApiError::unauthorized()),
        }
    }
}

/// A device that may push: not revoked, or revoked with a wipe order that says to send first
/// (until the laptop reports the wipe).
pub(crate) struct PushingDevice(pub Device);

impl FromRequestParts<AppState> for PushingDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CallingDevice(device) = CallingDevice::from_request_parts(parts, state).await?;
        if !device.revoked {
            return Ok(PushingDevice(device));
        }
        match state.store.pending_wipe(device.id).await? {
            Some(pending) if pending.send_first => Ok(PushingDevice(device)),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

//! The service directory, relayed: where a referral goes (services, contacts, hours, their
//! translations), as the administrator's laptop signed it with the deployment's root key.
//!
//! `PUT /v1/services` takes a newer version from an administrator's laptop; `GET /v1/services`
//! serves the latest to every enrolled laptop. The server checks the signature against the root
//! public key it registered (the same check as the team directory's, `harbour_wire::root`), the
//! deployment, the size and that the version is newer, but it holds no root key: it can neither
//! make a directory nor change one, and every laptop checks again against the key it pinned.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use harbour_wire::identity::SignedDocument;
use harbour_wire::protocol::PublishDirectoryResponse;
use harbour_wire::root::{MAX_SERVICE_DIRECTORY_BYTES, RootSignedError, ServiceDirectoryDocument};

use crate::api::{AdminDevice, ApiError, ApiJson, AppState, AuthDevice};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/services", get(service_directory).put(publish_service_directory))
}

/// `GET /v1/services`: the latest signed service directory (200), or none published yet (204).
async fn service_directory(
    State(state): State<AppState>,
    AuthDevice(_device): AuthDevice,
) -> Result<Response, ApiError> {
    Ok(match state.store.service_directory().await? {
        Some(signed) => Json(signed).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `PUT /v1/services` (administrators' laptops): a newer signed service directory.
async fn publish_service_directory(
    State(state): State<AppState>,
    AdminDevice(device): AdminDevice,
    ApiJson(signed): ApiJson<SignedDocument>,
) -> Result<Json<PublishDirectoryResponse>, ApiError> {
    if signed.document.len() > MAX_SERVICE_DIRECTORY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "service_directory_too_large",
            format!(
                "The service directory is {} KiB; at most {} KiB is accepted. Shorten its texts or remove services no longer used.",
                signed.document.len() / 1024,
                MAX_SERVICE_DIRECTORY_BYTES / 1024
            ),
        ));
    }
    let deployment = state.store.deployment().await?;
    let document: ServiceDirectoryDocument = harbour_wire::root::verify(
        &signed.document,
        &signed.signature,
        &deployment.root_public_key,
        deployment.deployment_id,
    )
    .map_err(refused)?;
    if document.version == 0 {
        return Err(ApiError::bad_request(
            "invalid_service_directory",
            "The service directory's version must be 1 or more; nothing was changed.",
        ));
    }
    // Sealed for the laptops (a string), or in clear for a deployment without a directory key.
    if !(document.directory.is_string() || document.directory.is_object()) {
        return Err(ApiError::bad_request(
            "invalid_service_directory",
            "The signed service directory holds no directory (its directory field must be a sealed string or a JSON object); nothing was changed.",
        ));
    }
    state.store.publish_service_directory(document.version, &signed).await?;
    tracing::info!(version = document.version, device_id = %device.id, "service directory published");
    Ok(Json(PublishDirectoryResponse { version: document.version }))
}

fn refused(error: RootSignedError) -> ApiError {
    match error {
        RootSignedError::NotSignedByRoot => ApiError::bad_request(
            "bad_signature",
            "The service directory is not signed by this deployment's root key; nothing was changed.",
        ),
        RootSignedError::OtherDeployment => ApiError::bad_request(
            "wrong_deployment",
            "The service directory belongs to another deployment; nothing was changed.",
        ),
        RootSignedError::Malformed => ApiError::bad_request(
            "invalid_service_directory",
            "The signed service directory is not a service directory document (deployment_id, version, directory); nothing was changed.",
        ),
    }
}

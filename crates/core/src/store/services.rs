//! The service directory on a laptop: where a referral goes, each service's contact, hours and
//! texts translated into es and fr.
//!
//! Who edits it: the person on a standalone laptop (the directory is theirs alone), and in an
//! organisation the administrator's laptop, which signs each version with the deployment's root
//! key ([`ServiceDirectoryDocument`], the same checks as the team directory: `harbour_wire::root`),
//! the directory inside sealed under the deployment's directory key like team names, so the
//! server relays a shelter's contact without reading it.
//! The sync publishes a version newer than the server's (`PUT /v1/services`); every other
//! laptop of the organisation takes the server's (`GET /v1/services`) only if it verifies
//! against the root key it pinned at enrolment and is newer than the signed version it holds,
//! so a server can neither forge a directory nor bring back an older one. Taking one and
//! refusing one are both audited (`directory.receive`, `directory.refuse`).

use harbour_wire::identity::SignedDocument;
use harbour_wire::root::{
    MAX_SERVICE_DIRECTORY_BYTES, RootSignedError, ServiceDirectoryDocument, verify_service_directory,
};
use rusqlite::{OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::{Workspace, set_meta};
use crate::deployment;
use crate::directory::{Directory, DirectoryError, Service};
use crate::error::{Error, Result};

/// The directory in use (a [`Directory`] as JSON).
pub(super) const DIRECTORY_KEY: &str = "service_directory";
/// The root-signed version held ([`SignedDocument`] as JSON), made here or received: what an
/// administrator's laptop publishes, and the version below which nothing is taken.
pub(super) const PUBLISHED_KEY: &str = "service_directory_published";
/// The signature of an earlier layout (the directory's text alone); dropped at the next save.
const OLD_SIGNATURE_KEY: &str = "service_directory_signature";
/// SHA-256 of the last document refused, so that a server serving it at every sync leaves one
/// audit entry, not one a minute.
const REFUSED_KEY: &str = "service_directory_refused";

/// What became of a service directory received from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceDirectoryReceived {
    /// Verified and newer than the one held: it is the directory now.
    Taken { version: u64 },
    /// Verified, but the version held here already, or older than the one this laptop signed
    /// itself and will publish; `offered` is its version.
    NotNewer { offered: u64 },
    /// Not taken, and worth telling: not signed by this deployment's root key (forged, altered,
    /// signed by another key or for another deployment), not a valid directory, or older than
    /// the signed version held (replayed). The laptop keeps its own.
    Refused { why: Refusal },
    /// Verified and newer than the base, on an administrator's laptop whose own edits the
    /// server had not acknowledged (another administrator published first): taken, and this
    /// laptop's edits re-applied on top as `version`, to publish next. `to_check` are the
    /// services both changed, kept as the server had them (`services_rebase`).
    Rebased { taken: u64, version: u64, to_check: Vec<String> },
}

/// Why a received service directory was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotSignedByRoot,
    Invalid,
    Older { offered: u64, held: u64 },
}

impl Refusal {
    fn audit_detail(self) -> String {
        match self {
            Refusal::NotSignedByRoot => "not signed by the deployment's root key".to_owned(),
            Refusal::Invalid => "not a valid service directory".to_owned(),
            Refusal::Older { offered, held } => format!("version {offered} is older than version {held} held"),
        }
    }
}

impl Workspace {
    /// Whether the service directory may be edited on this laptop.
    pub fn may_edit_directory(&self) -> bool {
        self.membership().is_none_or(|membership| membership.root_key.is_some())
    }

    /// This workspace's service directory: the one saved or received, else the Saint Lucia template.
    pub fn service_directory(&self) -> Result<Directory> {
        match self.meta(DIRECTORY_KEY)? {
            Some(json) => Directory::from_json(&json).map_err(|_| Error::Corrupt("service directory".into())),
            None => Ok(Directory::saint_lucia_template().clone()),
        }
    }

    /// Adds `service`, or replaces the one with its id, and stores the new directory version.
    pub fn save_service(&mut self, service: Service) -> Result<Directory> {
        if !self.may_edit_directory() {
            return Err(Error::DirectoryNotEditable);
        }
        let mut directory = self.service_directory()?;
        // Saving a service another administrator changed at the same time is checking it.
        self.service_directory_checked(Some(&service.id))?;
        match directory.services.iter_mut().find(|kept| kept.id == service.id) {
            Some(kept) => *kept = service,
            None => directory.services.push(service),
        }
        directory.version += 1;
        self.set_service_directory(directory)
    }

    /// Replaces the service directory (audited as `directory.import`) and returns it as stored.
    /// On an administrator's laptop it is signed with the deployment's root key, its version
    /// raised above the last one signed if it is not already (a server refuses an older one).
    /// Refused on a laptop of an organisation that is not the administrator's.
    pub fn set_service_directory(&mut self, mut directory: Directory) -> Result<Directory> {
        if !self.may_edit_directory() {
            return Err(Error::DirectoryNotEditable);
        }
        let held = self.published_service_directory()?.map_or(0, |(document, _)| document.version);
        if held > 0 && u64::from(directory.version) <= held {
            directory.version = u32::try_from(held + 1).map_err(|_| directory_too_new())?;
        }
        // The same checks as a file import, for a directory built in code.
        let json = directory.to_json();
        Directory::from_json(&json).map_err(invalid)?;
        let signed = self.sign_service_directory(&directory)?;
        let detail = format!("{} v{}", directory.deployment, directory.version);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_meta(&tx, DIRECTORY_KEY, &json)?;
        match &signed {
            Some(signed) => set_meta(&tx, PUBLISHED_KEY, &serde_json::to_string(signed).expect("serializes"))?,
            None => {
                tx.execute("DELETE FROM meta WHERE key = ?1", [PUBLISHED_KEY])?;
            }
        }
        tx.execute("DELETE FROM meta WHERE key = ?1", [OLD_SIGNATURE_KEY])?;
        crate::audit::append(&tx, chrono::Utc::now(), &self.worker, "directory.import", None, &detail)?;
        tx.commit()?;
        Ok(directory)
    }

    /// Whether the stored service directory is the one signed by this deployment's root key
    /// (made here or received): `None` when it is unsigned or this laptop belongs to no deployment.
    pub fn service_directory_signed(&self) -> Result<Option<bool>> {
        let Some(membership) = self.membership() else { return Ok(None) };
        let Some(text) = self.meta(PUBLISHED_KEY)? else { return Ok(None) };
        let signed: SignedDocument =
            serde_json::from_str(&text).map_err(|_| Error::Corrupt("signed service directory".into()))?;
        let Ok(document) = verify_service_directory(&signed, &membership.root_public_key, membership.deployment_id)
        else {
            return Ok(Some(false));
        };
        let signed_directory = self.directory_in(&document);
        Ok(Some(signed_directory.is_some_and(|signed| Some(signed) == self.service_directory().ok())))
    }

    /// The signed version to publish, on an administrator's laptop whose directory is newer than
    /// `server_version` (the server's, 0 when it has none). A directory saved before this laptop
    /// joined a deployment, or before directories were published, is signed now.
    pub fn service_directory_to_publish(&mut self, server_version: u64) -> Result<Option<SignedDocument>> {
        if self.membership().is_none_or(|membership| membership.root_key.is_none()) {
            return Ok(None);
        }
        let directory = self.service_directory()?;
        if u64::from(directory.version) <= server_version {
            return Ok(None);
        }
        if let Some((document, signed)) = self.published_service_directory()?
            && document.version == u64::from(directory.version)
            && self.directory_in(&document).as_ref() == Some(&directory)
        {
            return Ok(Some(signed));
        }
        let signed = self.sign_service_directory(&directory)?.expect("an administrator's laptop signs");
        set_meta(&self.conn, PUBLISHED_KEY, &serde_json::to_string(&signed).expect("serializes"))?;
        Ok(Some(signed))
    }

    /// Takes a service directory from the server if it verifies against the pinned root key, is
    /// a valid directory, and is newer than the signed version held; otherwise keeps the one held.
    /// A taken one is audited `directory.receive`, a refused one `directory.refuse` (once per
    /// document).
    pub fn accept_service_directory(&mut self, signed: &SignedDocument) -> Result<ServiceDirectoryReceived> {
        let membership = self.membership().ok_or_else(|| {
            Error::invalid("deployment", "this laptop does not belong to a deployment; join one first")
        })?;
        let signer = membership.root_key.is_some();
        let document = match verify_service_directory(signed, &membership.root_public_key, membership.deployment_id) {
            Ok(document) => document,
            Err(RootSignedError::NotSignedByRoot | RootSignedError::OtherDeployment) => {
                return self.refuse_service_directory(signed, Refusal::NotSignedByRoot);
            }
            Err(RootSignedError::Malformed) => return self.refuse_service_directory(signed, Refusal::Invalid),
        };
        let Some(directory) = self.directory_in(&document) else {
            return self.refuse_service_directory(signed, Refusal::Invalid);
        };
        if u64::from(directory.version) != document.version {
            return self.refuse_service_directory(signed, Refusal::Invalid);
        }
        let published = self.published_service_directory()?;
        if signer
            && let Some(rebased) =
                self.rebase_service_directory(signed, &directory, document.version, published.as_ref())?
        {
            return Ok(rebased);
        }
        let held = published.map_or(0, |(held, _)| held.version);
        if document.version <= held {
            // An administrator's laptop publishes its own newer version right after.
            if document.version == held || signer {
                return Ok(ServiceDirectoryReceived::NotNewer { offered: document.version });
            }
            return self.refuse_service_directory(signed, Refusal::Older { offered: document.version, held });
        }
        let detail = format!("{} v{}", directory.deployment, directory.version);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_meta(&tx, DIRECTORY_KEY, &directory.to_json())?;
        set_meta(&tx, PUBLISHED_KEY, &serde_json::to_string(signed).expect("serializes"))?;
        set_meta(&tx, super::services_rebase::BASE_KEY, &directory.to_json())?;
        tx.execute("DELETE FROM meta WHERE key = ?1", [OLD_SIGNATURE_KEY])?;
        crate::audit::append(&tx, chrono::Utc::now(), &self.worker, "directory.receive", None, &detail)?;
        tx.commit()?;
        Ok(ServiceDirectoryReceived::Taken { version: document.version })
    }

    /// The root-signed version held, as parsed (not verified again: it was when it was stored).
    fn published_service_directory(&self) -> Result<Option<(ServiceDirectoryDocument, SignedDocument)>> {
        let Some(text) = self.meta(PUBLISHED_KEY)? else { return Ok(None) };
        let corrupt = || Error::Corrupt("signed service directory".into());
        let signed: SignedDocument = serde_json::from_str(&text).map_err(|_| corrupt())?;
        let document: ServiceDirectoryDocument = serde_json::from_str(&signed.document).map_err(|_| corrupt())?;
        Ok(Some((document, signed)))
    }

    /// `directory` signed with the root key, on an administrator's laptop (`None` elsewhere).
    pub(super) fn sign_service_directory(&self, directory: &Directory) -> Result<Option<SignedDocument>> {
        let Some(membership) = self.membership() else { return Ok(None) };
        let Some(root) = membership.root_key.as_ref() else { return Ok(None) };
        let version = u64::from(directory.version);
        // Sealed for the organisation's laptops: a shelter's contact is not the server's to read.
        let directory = match membership.directory_key.as_ref() {
            Some(key) => serde_json::Value::String(deployment::seal_text(
                key,
                &deployment::service_directory_context(membership.deployment_id, version),
                &directory.to_json(),
            )),
            // A deployment made before names were sealed has no directory key.
            None => serde_json::to_value(directory).expect("a directory serializes"),
        };
        let document = ServiceDirectoryDocument { deployment_id: membership.deployment_id, version, directory };
        let signed = root.sign_document(&document);
        if signed.document.len() > MAX_SERVICE_DIRECTORY_BYTES {
            return Err(Error::invalid(
                "service directory",
                format!(
                    "the directory is {} KiB, more than the {} KiB other laptops accept; shorten its texts or remove services that are no longer used",
                    signed.document.len() / 1024,
                    MAX_SERVICE_DIRECTORY_BYTES / 1024
                ),
            ));
        }
        Ok(Some(signed))
    }

    /// The directory a verified document carries: opened with the deployment's directory key
    /// when sealed (as every laptop of the organisation holds it), read as it is otherwise.
    /// `None` when it cannot be opened or is not a valid directory.
    pub(super) fn directory_in(&self, document: &ServiceDirectoryDocument) -> Option<Directory> {
        let json = match &document.directory {
            serde_json::Value::String(sealed) => {
                let membership = self.membership()?;
                let context = deployment::service_directory_context(document.deployment_id, document.version);
                deployment::open_text(membership.directory_key.as_ref()?, &context, sealed)?
            }
            clear => clear.to_string(),
        };
        Directory::from_json(&json).ok()
    }

    fn refuse_service_directory(&mut self, signed: &SignedDocument, why: Refusal) -> Result<ServiceDirectoryReceived> {
        let mut hash = Sha256::new();
        hash.update(signed.document.as_bytes());
        hash.update(&signed.signature);
        let hash = hex::encode(hash.finalize());
        if self.meta(REFUSED_KEY)?.as_deref() != Some(hash.as_str()) {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            set_meta(&tx, REFUSED_KEY, &hash)?;
            crate::audit::append(&tx, chrono::Utc::now(), &self.worker, "directory.refuse", None, &why.audit_detail())?;
            tx.commit()?;
        }
        Ok(ServiceDirectoryReceived::Refused { why })
    }

    pub(super) fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0)).optional()?)
    }
}

fn invalid(error: DirectoryError) -> Error {
    match error {
        DirectoryError::Invalid { at, message } => Error::invalid("service directory", format!("{at}: {message}")),
        other => Error::invalid("service directory", other.to_string()),
    }
}

fn directory_too_new() -> Error {
    Error::invalid("service directory", "its version cannot be raised any further; start again from a new template")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KdfParams;
    use crate::directory::ServiceTexts;
    use crate::store::CreateOptions;

    #[test]
    fn a_standalone_laptop_edits_a_service_with_its_translations() {
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
        let mut workspace = Workspace::create(dir.path(), "a long test passphrase", &options).unwrap();
        assert!(workspace.may_edit_directory());
        let before = workspace.service_directory().unwrap();
        let mut service = before.services[0].clone();
        service.contact = "Desk sergeant, Castries station".into();
        service.translations.insert(
            "es".into(),
            ServiceTexts {
                contact: Some("Sargento de guardia, comisaría de Castries".into()),
                ..ServiceTexts::default()
            },
        );
        let after = workspace.save_service(service.clone()).unwrap();
        assert_eq!(after.version, before.version + 1);
        assert_eq!(workspace.service_directory().unwrap().service(&service.id), Some(&service));
        assert_eq!(after.services.len(), before.services.len(), "an edit replaces, it does not add");
        assert_eq!(workspace.service_directory_signed().unwrap(), None, "a standalone laptop signs nothing");
        assert_eq!(workspace.service_directory_to_publish(0).unwrap(), None);

        service.translations.insert("de".into(), ServiceTexts::default());
        let refused = workspace.save_service(service).unwrap_err().to_string();
        assert!(refused.contains("translations are given for es and fr"), "{refused}");
        let audit = workspace.audit_log(5).unwrap();
        assert!(audit.iter().any(|entry| entry.action == "directory.import"));
    }

    #[test]
    fn an_administrators_laptop_signs_each_version_above_the_last_and_publishes_only_newer() {
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
        let mut workspace = Workspace::create(dir.path(), "a long test passphrase", &options).unwrap();
        let plan = workspace.plan_deployment("https://harbour.example.org", "Ministry").unwrap();
        workspace.complete_deployment(plan, "device-token-for-tests").unwrap();
        // Signed at once, from the version the laptop had before it made the deployment.
        let first = workspace.service_directory_to_publish(0).unwrap().expect("a newer version to publish");
        assert_eq!(workspace.service_directory_signed().unwrap(), Some(true));
        assert_eq!(workspace.service_directory_to_publish(0).unwrap(), Some(first.clone()), "signed once, kept");
        assert_eq!(workspace.service_directory_to_publish(1).unwrap(), None, "the server holds it already");

        // An imported file whose version is not above the one signed is raised above it.
        let imported = workspace.set_service_directory(Directory::saint_lucia_template().clone()).unwrap();
        assert_eq!(imported.version, 2);
        let second = workspace.service_directory_to_publish(1).unwrap().expect("version 2 to publish");
        let document: ServiceDirectoryDocument = serde_json::from_str(&second.document).unwrap();
        assert_eq!(document.version, 2);
        // Its own earlier version, offered back by the server, changes nothing here.
        assert_eq!(
            workspace.accept_service_directory(&first).unwrap(),
            ServiceDirectoryReceived::NotNewer { offered: 1 }
        );
        assert_eq!(workspace.service_directory().unwrap().version, 2);
    }
}

//! Two administrators' laptops that both edited the service directory while offline sign the
//! same next version; the server keeps the first one published and refuses the second (409).
//! The second laptop must neither lose its administrator's edit silently nor retry forever:
//! at its next sync it takes the newer verified directory from the server and re-applies its
//! own edits on top, service by service, as the next version, which it then publishes. A service
//! both administrators changed keeps the version already published (other laptops may hold it)
//! and is listed for this laptop's administrator to check (Settings, and a sync notice).
//!
//! What "its own edits" are is measured against the base: the directory last agreed with the
//! server (taken from it, or published to it and acknowledged), kept under `BASE_KEY`.

use harbour_wire::identity::SignedDocument;
use harbour_wire::root::ServiceDirectoryDocument;
use rusqlite::TransactionBehavior;

use super::services::ServiceDirectoryReceived;
use super::{Workspace, set_meta};
use crate::directory::{Directory, Service};
use crate::error::{Error, Result};

/// The directory last agreed with the server (a [`Directory`] as JSON).
pub(super) const BASE_KEY: &str = "service_directory_base";
/// The ids of the services another administrator changed at the same time as this laptop's,
/// still to be checked here (a JSON array).
const TO_CHECK_KEY: &str = "service_directory_to_check";

/// `ours` re-applied on top of `theirs`, both made from `base`: every service `ours` added,
/// changed or removed is taken from `ours` unless `theirs` changed it too; those are kept as
/// `theirs` has them and returned (by id) to be checked. The version is `theirs`'s.
pub fn rebase_directory(base: &Directory, ours: &Directory, theirs: &Directory) -> (Directory, Vec<String>) {
    fn find<'a>(directory: &'a Directory, id: &str) -> Option<&'a Service> {
        directory.services.iter().find(|service| service.id == id)
    }
    let mut merged = theirs.clone();
    let mut to_check = Vec::new();
    for service in &ours.services {
        let before = find(base, &service.id);
        let other = find(theirs, &service.id);
        if before == Some(service) || other == Some(service) {
            continue; // not changed here, or the same change made on both laptops
        }
        if other != before {
            to_check.push(service.id.clone());
            continue;
        }
        match merged.services.iter_mut().find(|kept| kept.id == service.id) {
            Some(kept) => *kept = service.clone(),
            None => merged.services.push(service.clone()),
        }
    }
    for service in &base.services {
        if find(ours, &service.id).is_some() {
            continue;
        }
        match find(theirs, &service.id) {
            Some(other) if other == service => merged.services.retain(|kept| kept.id != service.id),
            Some(_) => to_check.push(service.id.clone()),
            None => {}
        }
    }
    (merged, to_check)
}

impl Workspace {
    /// On an administrator's laptop holding `held` (its signed version) with edits the server has
    /// not acknowledged: `theirs`, verified, newer than the base and not this laptop's own, is
    /// taken and this laptop's edits are re-applied on top as the next version (audited
    /// `directory.rebase`). `None` when there is nothing to re-apply (the caller goes on as before).
    pub(super) fn rebase_service_directory(
        &mut self,
        signed: &SignedDocument,
        theirs: &Directory,
        offered: u64,
        held: Option<&(ServiceDirectoryDocument, SignedDocument)>,
    ) -> Result<Option<ServiceDirectoryReceived>> {
        let Some((held, held_signed)) = held else { return Ok(None) };
        if held_signed == signed {
            return Ok(None);
        }
        let base = self.service_directory_base()?;
        let base_version = base.as_ref().map_or(0, |base| u64::from(base.version));
        // Nothing unacknowledged here, or the server is behind this laptop (it publishes next).
        if held.version <= base_version || offered <= base_version {
            return Ok(None);
        }
        let base = match base {
            Some(base) => base,
            // Laptops made before the base was kept: both versions came from the template when
            // they carry the same number; otherwise this laptop's is newer and is published.
            None if offered == held.version => Directory::saint_lucia_template().clone(),
            None => return Ok(None),
        };
        let ours = self.service_directory()?;
        let (mut merged, to_check) = rebase_directory(&base, &ours, theirs);
        let version = offered.max(held.version) + 1;
        merged.version = u32::try_from(version)
            .map_err(|_| Error::invalid("service directory", "its version cannot be raised any further"))?;
        let signed_merged = self.sign_service_directory(&merged)?.expect("an administrator's laptop signs");
        let mut checking = self.service_directory_to_check()?;
        for id in &to_check {
            if !checking.contains(id) {
                checking.push(id.clone());
            }
        }
        let detail = format!(
            "{} v{offered} taken, this laptop's edits kept as v{version}, {} services to check",
            theirs.deployment,
            to_check.len()
        );
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_meta(&tx, super::services::DIRECTORY_KEY, &merged.to_json())?;
        set_meta(&tx, super::services::PUBLISHED_KEY, &serde_json::to_string(&signed_merged).expect("serializes"))?;
        set_meta(&tx, BASE_KEY, &theirs.to_json())?;
        set_meta(&tx, TO_CHECK_KEY, &serde_json::to_string(&checking).expect("serializes"))?;
        crate::audit::append(&tx, chrono::Utc::now(), &self.worker, "directory.rebase", None, &detail)?;
        tx.commit()?;
        Ok(Some(ServiceDirectoryReceived::Rebased { taken: offered, version, to_check }))
    }

    /// The server acknowledged `signed` (published without a refusal): it is the base now.
    pub fn service_directory_acknowledged(&mut self, signed: &SignedDocument) -> Result<()> {
        let Some(membership) = self.membership() else { return Ok(()) };
        let Ok(document) =
            harbour_wire::root::verify_service_directory(signed, &membership.root_public_key, membership.deployment_id)
        else {
            return Ok(());
        };
        if let Some(directory) = self.directory_in(&document) {
            set_meta(&self.conn, BASE_KEY, &directory.to_json())?;
        }
        Ok(())
    }

    /// The services another administrator changed while this laptop changed them too, kept as
    /// the other administrator published them and still to be checked here (ids, in order).
    pub fn service_directory_to_check(&self) -> Result<Vec<String>> {
        match self.meta(TO_CHECK_KEY)? {
            Some(json) => serde_json::from_str(&json).map_err(|_| Error::Corrupt("services to check".into())),
            None => Ok(Vec::new()),
        }
    }

    /// The administrator checked `id` (saving it counts), or every service when `id` is `None`.
    pub fn service_directory_checked(&mut self, id: Option<&str>) -> Result<()> {
        let mut checking = self.service_directory_to_check()?;
        let before = checking.len();
        checking.retain(|kept| id.is_some_and(|id| kept != id));
        if checking.len() != before {
            set_meta(&self.conn, TO_CHECK_KEY, &serde_json::to_string(&checking).expect("serializes"))?;
        }
        Ok(())
    }

    fn service_directory_base(&self) -> Result<Option<Directory>> {
        self.meta(BASE_KEY)?
            .map(|json| Directory::from_json(&json).map_err(|_| Error::Corrupt("service directory base".into())))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(directory: &Directory, index: usize, contact: &str) -> Directory {
        let mut directory = directory.clone();
        directory.services[index].contact = contact.into();
        directory
    }

    #[test]
    fn edits_of_different_services_are_both_kept_and_a_service_both_changed_is_to_check() {
        let base = Directory::saint_lucia_template().clone();
        let theirs = edited(&edited(&base, 0, "Their desk"), 2, "Their shelter line");
        let ours = edited(&edited(&base, 1, "Our clinic desk"), 2, "Our shelter line");
        let (merged, to_check) = rebase_directory(&base, &ours, &theirs);
        assert_eq!(merged.services[0].contact, "Their desk", "their edit is kept");
        assert_eq!(merged.services[1].contact, "Our clinic desk", "ours is re-applied");
        assert_eq!(merged.services[2].contact, "Their shelter line", "a service both changed keeps the published one");
        assert_eq!(to_check, [base.services[2].id.clone()]);
        assert_eq!(merged.services.len(), base.services.len());

        // The same change on both laptops is no conflict; an untouched directory changes nothing.
        let (same, none) = rebase_directory(&base, &theirs, &theirs);
        assert_eq!((same, none), (theirs.clone(), Vec::<String>::new()));
        let (taken, none) = rebase_directory(&base, &base, &theirs);
        assert_eq!((taken, none), (theirs, Vec::<String>::new()));
    }

    #[test]
    fn a_service_added_here_is_kept_and_one_removed_here_goes_unless_it_was_changed_there() {
        let base = Directory::saint_lucia_template().clone();
        let mut ours = base.clone();
        let mut added = base.services[0].clone();
        added.id = "new-legal-clinic".into();
        ours.services.push(added.clone());
        let removed = ours.services.remove(1);
        let (merged, to_check) = rebase_directory(&base, &ours, &base);
        assert!(merged.services.contains(&added));
        assert!(!merged.services.iter().any(|service| service.id == removed.id));
        assert!(to_check.is_empty());

        let theirs = edited(&base, 1, "Their new hours");
        let (merged, to_check) = rebase_directory(&base, &ours, &theirs);
        assert!(merged.services.iter().any(|service| service.id == removed.id), "their edit is not dropped");
        assert_eq!(to_check, [removed.id]);
    }
}

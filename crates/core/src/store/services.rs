//! Editing the service directory from the app, one service at a time. Who may: the person on a
//! standalone laptop (the directory is theirs alone), and in an organisation the administrator's
//! laptop, which holds the root key that signs the directory. Every save raises the directory's
//! version and goes through [`Workspace::set_service_directory`] (checked, signed, audited).

use super::Workspace;
use crate::directory::{Directory, Service};
use crate::error::{Error, Result};

impl Workspace {
    /// Whether the service directory may be edited on this laptop.
    pub fn may_edit_directory(&self) -> bool {
        self.membership().is_none_or(|membership| membership.root_key.is_some())
    }

    /// Adds `service`, or replaces the one with its id, and stores the new directory version.
    pub fn save_service(&mut self, service: Service) -> Result<Directory> {
        if !self.may_edit_directory() {
            return Err(Error::DirectoryNotEditable);
        }
        let mut directory = self.service_directory()?;
        match directory.services.iter_mut().find(|kept| kept.id == service.id) {
            Some(kept) => *kept = service,
            None => directory.services.push(service),
        }
        directory.version += 1;
        self.set_service_directory(directory.clone())?;
        Ok(directory)
    }
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

        service.translations.insert("de".into(), ServiceTexts::default());
        let refused = workspace.save_service(service).unwrap_err().to_string();
        assert!(refused.contains("translations are given for es and fr"), "{refused}");
        let audit = workspace.audit_log(5).unwrap();
        assert!(audit.iter().any(|entry| entry.action == "directory.import"));
    }
}

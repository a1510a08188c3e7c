//! A referral's printed letter and case summary (PDF), saved where the worker says: the same
//! `Workspace::referral_letter` as `harbour referral letter`, so it carries only what the
//! person's consent covers and is audited the same way (`referral.export`). The app has no
//! file dialog (no dialog plugin: the window may not touch files), so the worker types a path,
//! or leaves it empty for the documented default: `Harbour letters` in their Documents folder
//! (the home folder when there is none), named after the case code, the referral and the
//! language. A file is never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use harbour_core::forms::Lang;
use harbour_core::letter::letter_pdf;
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::Session;

/// The folder a letter goes to when the worker names none, below Documents (or home).
pub const DEFAULT_FOLDER: &str = "Harbour letters";

#[derive(Deserialize)]
pub struct LetterInput {
    /// The letter's language: en, es or fr.
    pub lang: String,
    /// Where to write it (absolute, a new file); empty or absent: the default folder.
    pub path: Option<String>,
}

#[derive(Serialize)]
pub struct LetterSaved {
    pub path: PathBuf,
    pub bytes: usize,
}

#[tauri::command(async)]
pub fn save_referral_letter(
    session: State<'_, Session>,
    id: String,
    referral: String,
    input: LetterInput,
) -> CommandResult<LetterSaved> {
    let lang = Lang::parse(input.lang.trim())
        .ok_or_else(|| CommandError::invalid("lang", "choose the letter's language: English, Spanish or French"))?;
    let referral = referral
        .parse::<harbour_core::EntryId>()
        .map_err(|_| CommandError::invalid("referral", "choose one of the case's referrals"))?;
    let chosen = input.path.as_deref().map(str::trim).filter(|path| !path.is_empty()).map(PathBuf::from);
    if chosen.as_ref().is_some_and(|path| !path.is_absolute()) {
        return Err(CommandError::invalid(
            "path",
            "give the whole path of the letter, such as /media/usb/letter.pdf, or leave it empty",
        ));
    }
    // Refused before the letter is made, so a refusal is not recorded as an export.
    if let Some(path) = chosen.as_ref().filter(|path| path.exists()) {
        return Err(harbour_core::Error::FileExists(path.clone()).into());
    }
    session.with(|workspace| {
        let case_id = workspace.resolve(&id)?;
        // What `Workspace::referral_letter` does, keeping the packet's case code for the name.
        let packet = workspace.referral_packet(case_id, referral)?;
        let pdf = letter_pdf(&packet, lang, chrono::Utc::now().date_naive())?;
        let path = match chosen {
            Some(path) => write_new(&path, &pdf).map(|()| path)?,
            None => {
                let code = packet.case_code.to_string();
                write_in_default_folder(&default_folder(), &code, &referral.to_string(), lang, &pdf)?
            }
        };
        Ok(LetterSaved { path, bytes: pdf.len() })
    })
}

/// `Harbour letters` below the worker's Documents folder (or home, or the current folder).
pub fn default_folder() -> PathBuf {
    dirs::document_dir().or_else(dirs::home_dir).unwrap_or_default().join(DEFAULT_FOLDER)
}

/// Writes the letter under a name of its own in `folder` (made if needed): the case code, the
/// referral's first characters and the language, numbered when that name is taken.
fn write_in_default_folder(
    folder: &Path,
    code: &str,
    referral: &str,
    lang: Lang,
    pdf: &[u8],
) -> harbour_core::Result<PathBuf> {
    std::fs::create_dir_all(folder).map_err(|source| harbour_core::Error::Io { path: folder.into(), source })?;
    let stem = format!("referral-{code}-{}-{}", &referral[..8.min(referral.len())], lang.code());
    for n in 1..100 {
        let name = if n == 1 { format!("{stem}.pdf") } else { format!("{stem}-{n}.pdf") };
        let path = folder.join(name);
        match write_new(&path, pdf) {
            Ok(()) => return Ok(path),
            Err(harbour_core::Error::FileExists(_)) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(harbour_core::Error::FileExists(folder.join(format!("{stem}.pdf"))))
}

/// Creates `path` (never replacing a file), readable by this user only, with `pdf`.
fn write_new(path: &Path, pdf: &[u8]) -> harbour_core::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let io = |source| harbour_core::Error::Io { path: path.into(), source };
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(harbour_core::Error::FileExists(path.into()));
        }
        Err(error) => return Err(io(error)),
    };
    file.write_all(pdf).and_then(|()| file.sync_all()).map_err(|error| {
        let _ = std::fs::remove_file(path);
        io(error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_never_replaces_a_file_and_takes_the_next_free_name() {
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("letter.pdf");
        std::fs::write(&taken, b"kept").unwrap();
        assert!(matches!(write_new(&taken, b"%PDF"), Err(harbour_core::Error::FileExists(_))));
        assert_eq!(std::fs::read(&taken).unwrap(), b"kept");

        let folder = dir.path().join("letters");
        let first = write_in_default_folder(&folder, "LC-7K3P-Q9", "0190aaaa-bbbb", Lang::Es, b"%PDF-1").unwrap();
        let second = write_in_default_folder(&folder, "LC-7K3P-Q9", "0190aaaa-bbbb", Lang::Es, b"%PDF-2").unwrap();
        assert_eq!(first.file_name().unwrap(), "referral-LC-7K3P-Q9-0190aaaa-es.pdf");
        assert_eq!(second.file_name().unwrap(), "referral-LC-7K3P-Q9-0190aaaa-es-2.pdf");
        assert_eq!(std::fs::read(&first).unwrap(), b"%PDF-1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&second).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}

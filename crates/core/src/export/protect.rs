//! How an identifiable export leaves the laptop: encrypted to a passphrase in the age format
//! (age-encryption.org/v1, scrypt recipient), which the recipient opens with `age -d`, `rage -d`
//! or `harbour export open`; or, only when asked explicitly, in clear.
//!
//! Encryption happens while the file is written (age's `StreamWriter` over the file), so no clear
//! copy of the export ever reaches the disk, not even a temporary one.
//!
//! The passphrase's scrypt (about a second of one core, the work factor age's own tools use) runs
//! on a thread of its own from the moment the sink is created, while the export reads its cases
//! on the caller's thread; what is written before it ends is held in memory, never on disk.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::iter;
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};

use age::secrecy::SecretString;

use crate::error::{Error, Result};

/// scrypt's work factor (log2 N) for an export's passphrase: the age reference implementation's
/// default, a second or less on a laptop, 256 MiB of memory.
pub const WORK_FACTOR: u8 = 18;

/// The largest work factor accepted when opening an export (a hostile file cannot make the
/// opener compute for hours).
const MAX_WORK_FACTOR: u8 = 22;

/// The shortest passphrase accepted for an export.
pub const MIN_EXPORT_PASSPHRASE_CHARS: usize = 8;

/// How an export is written.
#[derive(Clone)]
pub enum Protection {
    /// Encrypted to this passphrase (age, scrypt).
    Passphrase(SecretString),
    /// In clear: the person asked for it, and was warned.
    Plaintext,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protection::Passphrase(_) => "Protection::Passphrase(..)",
            Protection::Plaintext => "Protection::Plaintext",
        })
    }
}

impl Protection {
    /// An export passphrase, checked for length.
    pub fn passphrase(passphrase: &str) -> Result<Protection> {
        if passphrase.chars().count() < MIN_EXPORT_PASSPHRASE_CHARS {
            return Err(Error::invalid(
                "export passphrase",
                format!(
                    "use at least {MIN_EXPORT_PASSPHRASE_CHARS} characters, and give it to the recipient by another way than the file"
                ),
            ));
        }
        Ok(Protection::Passphrase(SecretString::from(passphrase.to_owned())))
    }

    pub fn is_encrypted(&self) -> bool {
        matches!(self, Protection::Passphrase(_))
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Protection::Passphrase(_) => "age",
            Protection::Plaintext => "plaintext",
        }
    }
}

/// The file an export is written to: created new (an existing file is never replaced), and
/// removed again if the export fails before [`Sink::finish`].
pub struct Sink {
    path: PathBuf,
    writer: Option<Writer>,
}

enum Writer {
    Plain(BufWriter<File>),
    /// The passphrase's key is still being derived: what is written waits in memory.
    Deriving(Box<Deriving>),
    Sealed(age::stream::StreamWriter<BufWriter<File>>),
}

struct Deriving {
    encryptor: JoinHandle<std::result::Result<age::Encryptor, age::EncryptError>>,
    file: BufWriter<File>,
    held: Vec<u8>,
}

impl Deriving {
    /// Waits for the key, writes the age header and what was held, and goes on encrypting.
    fn seal(self) -> io::Result<age::stream::StreamWriter<BufWriter<File>>> {
        let encryptor = self
            .encryptor
            .join()
            .map_err(|_| io::Error::other("the export's key derivation stopped"))?
            .map_err(|_| io::Error::other("the export passphrase could not be used to encrypt the export"))?;
        let mut sealed = encryptor.wrap_output(self.file)?;
        sealed.write_all(&self.held)?;
        Ok(sealed)
    }
}

impl Sink {
    /// Creates the file at once (an existing one is refused); an encrypted sink starts deriving
    /// its key on another thread.
    pub fn create(path: &Path, protection: &Protection) -> Result<Sink> {
        let file = create_new(path)?;
        let mut sink = Sink { path: path.to_owned(), writer: None };
        let buffered = BufWriter::with_capacity(256 * 1024, file);
        sink.writer = Some(match protection {
            Protection::Plaintext => Writer::Plain(buffered),
            Protection::Passphrase(passphrase) => {
                let passphrase = passphrase.clone();
                let encryptor = thread::Builder::new()
                    .name("export-key".into())
                    .spawn(move || {
                        let mut recipient = age::scrypt::Recipient::new(passphrase);
                        recipient.set_work_factor(WORK_FACTOR);
                        age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
                    })
                    .map_err(|error| Error::io(path, error))?;
                Writer::Deriving(Box::new(Deriving { encryptor, file: buffered, held: Vec::new() }))
            }
        });
        Ok(sink)
    }

    /// Ends the file (age's last chunk) and makes it durable.
    pub fn finish(mut self) -> Result<()> {
        let path = self.path.clone();
        let buffered = match self.writer.take().expect("a sink is finished once") {
            Writer::Plain(buffered) => buffered,
            Writer::Deriving(deriving) => {
                deriving.seal().and_then(|sealed| sealed.finish()).map_err(|error| Error::io(&path, error))?
            }
            Writer::Sealed(sealed) => sealed.finish().map_err(|error| Error::io(&path, error))?,
        };
        let file = buffered.into_inner().map_err(|error| Error::io(&path, error.into_error()))?;
        file.sync_all().map_err(|error| Error::io(&path, error))?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self.writer.as_mut().expect("not finished") {
            Writer::Plain(writer) => writer.write(bytes),
            Writer::Deriving(deriving) => {
                deriving.held.extend_from_slice(bytes);
                if deriving.encryptor.is_finished() {
                    let Some(Writer::Deriving(deriving)) = self.writer.take() else { unreachable!() };
                    self.writer = Some(Writer::Sealed(deriving.seal()?));
                }
                Ok(bytes.len())
            }
            Writer::Sealed(writer) => writer.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut().expect("not finished") {
            Writer::Plain(writer) => writer.flush(),
            // Held in memory until the key is there; `finish` writes it.
            Writer::Deriving(_) => Ok(()),
            Writer::Sealed(writer) => writer.flush(),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Not finished: an incomplete export is removed rather than left to be mistaken for one.
        if !self.path.as_os_str().is_empty() {
            drop(self.writer.take());
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Decrypts an export written by Harbour (or any age file encrypted to a passphrase) from `input`
/// to the new file `out`. A wrong passphrase is [`Error::ExportPassphrase`]; a file that is not
/// age, or was cut short or altered, is refused and `out` is removed.
pub fn open_export(input: &Path, passphrase: &str, out: &Path) -> Result<u64> {
    let file = File::open(input).map_err(|error| Error::io(input, error))?;
    let decryptor =
        age::Decryptor::new_buffered(BufReader::new(file)).map_err(|_| Error::NotAnExport(input.to_owned()))?;
    if !decryptor.is_scrypt() {
        return Err(Error::NotAnExport(input.to_owned()));
    }
    let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let mut reader = decryptor.decrypt(iter::once(&identity as &dyn age::Identity)).map_err(|error| match error {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed => Error::ExportPassphrase,
        age::DecryptError::ExcessiveWork { .. } => Error::Damaged {
            path: input.to_owned(),
            why: "it asks for far more work to open than Harbour's exports do".into(),
        },
        _ => Error::Damaged { path: input.to_owned(), why: "its header could not be read".into() },
    })?;
    let mut sink = Sink::create(out, &Protection::Plaintext)?;
    let copied = io::copy(&mut reader, &mut sink).map_err(|error| match error.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            Error::Damaged { path: input.to_owned(), why: "it was cut short or altered after it was written".into() }
        }
        _ => Error::io(out, error),
    })?;
    sink.finish()?;
    Ok(copied)
}

/// Writes `bytes` to the new file `path`, readable by its owner only: an existing file is
/// refused ([`Error::FileExists`]), never replaced, and a write that fails leaves no file. For
/// what is meant to be written in clear (a letter to print, a report's suppressed table).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = create_new(path)?;
    if let Err(error) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(Error::io(path, error));
    }
    Ok(())
}

/// Creates `path` for writing; an existing file is refused, never replaced.
pub(crate) fn create_new(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|error| match error.kind() {
        io::ErrorKind::AlreadyExists => Error::FileExists(path.to_owned()),
        _ => Error::io(path, error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes made while the key is derived, and after, come out whole and in order; a wrong
    /// passphrase is told as such.
    #[test]
    fn what_is_written_while_the_key_is_derived_is_encrypted_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = dir.path().join("export.age");
        let protection = Protection::passphrase("correct horse battery").unwrap();
        let mut sink = Sink::create(&sealed, &protection).unwrap();
        let mut expected = Vec::new();
        // Early writes are held while scrypt runs on its own thread…
        for row in 0..100u32 {
            let line = format!("row {row}\n");
            sink.write_all(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        assert!(matches!(sink.writer, Some(Writer::Deriving(_))), "the key takes longer than a hundred writes");
        // …later ones go through the age stream once it is ready.
        let Some(Writer::Deriving(deriving)) = &sink.writer else { unreachable!() };
        while !deriving.encryptor.is_finished() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        for row in 100..70_000u32 {
            let line = format!("row {row}\n");
            sink.write_all(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        assert!(matches!(sink.writer, Some(Writer::Sealed(_))));
        sink.finish().unwrap();
        let written = std::fs::read(&sealed).unwrap();
        assert!(written.starts_with(b"age-encryption.org/v1\n"));
        assert!(memchr::memmem::find(&written, b"row 1\n").is_none(), "nothing in clear");

        let opened = dir.path().join("opened.csv");
        assert!(matches!(open_export(&sealed, "wrong horse battery", &opened), Err(Error::ExportPassphrase)));
        assert!(!opened.exists());
        assert_eq!(open_export(&sealed, "correct horse battery", &opened).unwrap(), expected.len() as u64);
        assert_eq!(std::fs::read(&opened).unwrap(), expected);
    }

    /// An export abandoned before its key is ready leaves no file.
    #[test]
    fn an_unfinished_encrypted_export_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.age");
        let mut sink = Sink::create(&path, &Protection::passphrase("correct horse battery").unwrap()).unwrap();
        sink.write_all(b"a row\n").unwrap();
        assert!(path.exists());
        drop(sink);
        assert!(!path.exists());
    }
}

//! How an identifiable export leaves the laptop: encrypted to a passphrase in the age format
//! (age-encryption.org/v1, scrypt recipient), which the recipient opens with `age -d`, `rage -d`
//! or `harbour export open`; or, only when asked explicitly, in clear.
//!
//! Encryption happens while the file is written (age's `StreamWriter` over the file), so no clear
//! copy of the export ever reaches the disk, not even a temporary one.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::iter;
use std::path::{Path, PathBuf};

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
    Sealed(age::stream::StreamWriter<BufWriter<File>>),
}

impl Sink {
    pub fn create(path: &Path, protection: &Protection) -> Result<Sink> {
        let file = create_new(path)?;
        let mut sink = Sink { path: path.to_owned(), writer: None };
        let buffered = BufWriter::with_capacity(256 * 1024, file);
        sink.writer = Some(match protection {
            Protection::Plaintext => Writer::Plain(buffered),
            Protection::Passphrase(passphrase) => {
                let mut recipient = age::scrypt::Recipient::new(passphrase.clone());
                recipient.set_work_factor(WORK_FACTOR);
                let encryptor = age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
                    .map_err(|_| Error::invalid("export passphrase", "could not be used to encrypt the export"))?;
                Writer::Sealed(encryptor.wrap_output(buffered).map_err(|error| Error::io(path, error))?)
            }
        });
        Ok(sink)
    }

    /// Ends the file (age's last chunk) and makes it durable.
    pub fn finish(mut self) -> Result<()> {
        let path = self.path.clone();
        let buffered = match self.writer.take().expect("a sink is finished once") {
            Writer::Plain(buffered) => buffered,
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
            Writer::Sealed(writer) => writer.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut().expect("not finished") {
            Writer::Plain(writer) => writer.flush(),
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

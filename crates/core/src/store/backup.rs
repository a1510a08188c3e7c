//! Backup and restore of a whole workspace in one file, for a laptop that works alone: made
//! while the app may be running, restored on a new laptop with the passphrase.
//!
//! The file (`*.hbk`):
//! ```text
//! "HARBOUR-BACKUP1\n"            16 bytes
//! header length                  u32, little-endian
//! header                         JSON: format, created_at, schema, keyfile_len, database_len
//! keyfile.json                   as on disk: the secrets sealed under Argon2id(passphrase)
//! harbour.db snapshot            SQLCipher, under the workspace's own database key
//! HMAC-SHA256                    32 bytes, over everything before it
//! ```
//! Nothing in it is in clear: the key file is sealed to the passphrase and the snapshot is the
//! encrypted database, copied as it is on disk while one read transaction holds it still (so a
//! consistent snapshot even while another process writes; SQLite's online backup when the file
//! cannot be held still). The HMAC key is derived from the
//! workspace's master key (HKDF-SHA256), so only someone with the passphrase can check it or
//! make a valid one: a backup cut short or altered anywhere is refused before anything of it
//! is used.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{DB_FILE, SCHEMA_VERSION, Workspace, create_private_dir, keyed_connection};
use crate::crypto::Secret;
use crate::error::{Error, Result};
use crate::export::protect::create_new;
use crate::keyfile;

const MAGIC: &[u8; 16] = b"HARBOUR-BACKUP1\n";
const FORMAT: u32 = 1;
const MAC_LEN: u64 = 32;
const MAX_HEADER: u32 = 64 * 1024;
const SNAPSHOT_FILE: &str = "backup-snapshot.tmp";

/// What a backup wrote.
#[derive(Clone, Debug, Serialize)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub bytes: u64,
    pub cases: i64,
}

/// What a restore did.
#[derive(Clone, Debug, Serialize)]
pub struct RestoreSummary {
    pub dir: PathBuf,
    pub cases: i64,
    pub audit_entries: i64,
    /// The workspace that was there before, kept under this name (with `replace`).
    pub moved_aside: Option<PathBuf>,
    /// The backup is of a laptop of a deployment: the old laptop must not sync again.
    pub deployment_member: bool,
    pub created_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    created_at: String,
    schema: i64,
    keyfile_len: u64,
    database_len: u64,
}

impl Workspace {
    /// Writes a backup of this workspace to the new file `out` and records `backup.create` in
    /// the audit log. An existing `out` is refused; a failed backup leaves no file.
    pub fn backup(&mut self, out: &Path) -> Result<BackupSummary> {
        let snapshot = self.dir.join(SNAPSHOT_FILE);
        let _ = fs::remove_file(&snapshot);
        let result = self.write_backup(&snapshot, out);
        let _ = fs::remove_file(&snapshot);
        let bytes = result?;
        let cases = self.case_count()?;
        if let Err(error) = self.audit_now("backup.create", None, &format!("cases={cases} bytes={bytes}")) {
            let _ = fs::remove_file(out);
            return Err(error);
        }
        Ok(BackupSummary { path: out.to_owned(), bytes, cases })
    }

    fn write_backup(&mut self, snapshot: &Path, out: &Path) -> Result<u64> {
        // The database file is already encrypted under the workspace's key: when it can be held
        // still (see `freeze_database`), it is copied as it is, in one read, into the HMAC and the
        // backup file. Otherwise (another connection keeps the WAL busy) SQLite's online backup
        // makes a snapshot file first, which costs a decryption and an encryption of every page.
        let database = self.dir.join(DB_FILE);
        let frozen = self.freeze_database(&database)?;
        let result = (|| {
            let source = if frozen {
                database.clone()
            } else {
                self.snapshot_with_backup_api(snapshot)?;
                snapshot.to_owned()
            };
            let mut file = File::open(&source).map_err(|error| Error::io(&source, error))?;
            let database_len = file.metadata().map_err(|error| Error::io(&source, error))?.len();
            self.write_backup_file(&mut file, database_len, out)
        })();
        if frozen {
            // The read transaction that held the file still ends once it is copied.
            self.conn.execute_batch("COMMIT")?;
        }
        result
    }

    /// Holds the database file still, when it can be, and says whether it does: every change
    /// moved into it from the WAL (a TRUNCATE checkpoint), then a read transaction begun while
    /// the WAL is still empty. Such a reader reads the file alone, and SQLite lets no checkpoint
    /// write into the file until it ends, while other connections may go on writing (to the
    /// WAL). Not when another connection wrote first or kept the checkpoint from completing;
    /// no transaction is left open then.
    fn freeze_database(&mut self, database: &Path) -> Result<bool> {
        let wal = database.with_file_name(format!("{DB_FILE}-wal"));
        let busy: i64 = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy != 0 {
            return Ok(false);
        }
        // The read transaction begins with its first read.
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let wal_len = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get::<_, i64>(0))
            .map_err(Error::from)
            .and_then(|_| match fs::metadata(&wal) {
                Ok(metadata) => Ok(metadata.len()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0),
                Err(error) => Err(Error::io(&wal, error)),
            });
        match wal_len {
            Ok(0) => Ok(true),
            other => {
                self.conn.execute_batch("COMMIT")?;
                other.map(|_| false)
            }
        }
    }

    /// SQLite's online backup in one step: one read transaction (a consistent snapshot while
    /// another process writes), every page copied into the new file `snapshot` under the same key.
    fn snapshot_with_backup_api(&mut self, snapshot: &Path) -> Result<()> {
        let mut copy = keyed_connection(snapshot, &self.secrets.db_key)?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut copy)?;
        // Busy or locked only while another connection holds a write lock on the copy's
        // side, which nothing does; tried again a few times all the same.
        let mut tries = 0;
        while backup.step(-1)? != rusqlite::backup::StepResult::Done {
            tries += 1;
            if tries > 50 {
                return Err(Error::io(snapshot, io::Error::other("the database stayed busy for 5 seconds")));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }

    /// Writes the backup file: magic, header, key file, the `database_len` bytes of `database`,
    /// and the HMAC of all of it, computed as it is written; then makes it durable.
    fn write_backup_file(&self, database: &mut File, database_len: u64, out: &Path) -> Result<u64> {
        let keyfile_path = keyfile::path(&self.dir);
        let keyfile = fs::read(&keyfile_path).map_err(|error| Error::io(&keyfile_path, error))?;
        let header = Header {
            format: FORMAT,
            created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            schema: SCHEMA_VERSION,
            keyfile_len: keyfile.len() as u64,
            database_len,
        };
        let header = serde_json::to_vec(&header).expect("a header serializes");
        let file = create_new(out)?;
        let mut writer = MacWriter { inner: file, mac: mac(&self.secrets.master_key) };
        let written = (|| -> io::Result<u64> {
            let mut head = Vec::with_capacity(16 + 4 + header.len() + keyfile.len());
            head.extend_from_slice(MAGIC);
            head.extend_from_slice(&(header.len() as u32).to_le_bytes());
            head.extend_from_slice(&header);
            head.extend_from_slice(&keyfile);
            writer.write_all(&head)?;
            // Large reads and writes straight between the files (no buffer in between).
            let mut chunk = vec![0u8; 4 << 20];
            let mut left = database_len;
            while left > 0 {
                let want = left.min(chunk.len() as u64) as usize;
                database.read_exact(&mut chunk[..want]).map_err(|error| match error.kind() {
                    io::ErrorKind::UnexpectedEof => io::Error::other("the snapshot changed while it was copied"),
                    _ => error,
                })?;
                writer.write_all(&chunk[..want])?;
                left -= want as u64;
            }
            let tag = writer.mac.clone().finalize().into_bytes();
            writer.inner.write_all(&tag)?;
            writer.inner.sync_all()?;
            Ok(writer.inner.metadata()?.len())
        })();
        written.map_err(|error| {
            let _ = fs::remove_file(out);
            Error::io(out, error)
        })
    }

    /// Restores the backup `backup` into `dir` with the passphrase it was made under. A
    /// workspace already in `dir` is refused unless `replace`, and then kept aside, never
    /// deleted. The backup is checked whole (length, HMAC) before anything is used; the restored
    /// database is opened, its integrity and audit chain checked, and `backup.restore` recorded.
    pub fn restore(backup: &Path, passphrase: &str, dir: &Path, replace: bool) -> Result<RestoreSummary> {
        if Workspace::exists(dir) && !replace {
            return Err(Error::WorkspaceExists(dir.to_owned()));
        }
        let damaged = |why: &str| Error::Damaged { path: backup.to_owned(), why: why.to_owned() };
        let mut file = File::open(backup).map_err(|error| Error::io(backup, error))?;
        let total = file.metadata().map_err(|error| Error::io(backup, error))?.len();
        let mut magic = [0u8; 16];
        if file.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Err(damaged("it is not a Harbour backup (it does not start as one)"));
        }
        let mut length = [0u8; 4];
        file.read_exact(&mut length).map_err(|_| damaged("it was cut short"))?;
        let header_len = u32::from_le_bytes(length);
        if header_len > MAX_HEADER {
            return Err(damaged("its header is unreadable"));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header).map_err(|_| damaged("it was cut short"))?;
        let header: Header = serde_json::from_slice(&header).map_err(|_| damaged("its header is unreadable"))?;
        if header.format != FORMAT {
            return Err(damaged("it was made by a newer Harbour; install the newer Harbour to restore it"));
        }
        if header.schema > SCHEMA_VERSION {
            return Err(Error::NewerSchema { found: header.schema, known: SCHEMA_VERSION });
        }
        let expected = (16 + 4 + header_len as u64)
            .checked_add(header.keyfile_len)
            .and_then(|n| n.checked_add(header.database_len))
            .and_then(|n| n.checked_add(MAC_LEN))
            .ok_or_else(|| damaged("its header is unreadable"))?;
        if total < expected {
            return Err(damaged("it was cut short (it is smaller than it says)"));
        }
        if total > expected {
            return Err(damaged("it has bytes after its end"));
        }
        if header.keyfile_len > 1024 * 1024 {
            return Err(damaged("its header is unreadable"));
        }
        let mut keyfile_bytes = vec![0u8; header.keyfile_len as usize];
        file.read_exact(&mut keyfile_bytes).map_err(|_| damaged("it was cut short"))?;

        let staging = staging_dir(dir)?;
        let result = (|| -> Result<RestoreSummary> {
            fs::write(keyfile::path(&staging), &keyfile_bytes).map_err(|error| Error::io(&staging, error))?;
            let (secrets, _) = keyfile::unlock(&staging, passphrase).map_err(|error| match error {
                Error::KeyFile { .. } => damaged("its key file is unreadable"),
                other => other,
            })?;
            // The whole file is authenticated before its database is used.
            let mut mac = mac(&secrets.master_key);
            file.seek(SeekFrom::Start(0)).map_err(|error| Error::io(backup, error))?;
            let mut authenticated = BufReader::with_capacity(1 << 20, &mut file).take(expected - MAC_LEN);
            io::copy(&mut authenticated, &mut MacSink(&mut mac)).map_err(|error| Error::io(backup, error))?;
            // The buffered reader read ahead: the tag is read from its own offset.
            file.seek(SeekFrom::Start(expected - MAC_LEN)).map_err(|error| Error::io(backup, error))?;
            let mut tag = [0u8; MAC_LEN as usize];
            file.read_exact(&mut tag).map_err(|_| damaged("it was cut short"))?;
            mac.verify_slice(&tag).map_err(|_| damaged("it was altered after it was made"))?;
            drop(secrets);
            let database_start = 16 + 4 + header_len as u64 + header.keyfile_len;
            file.seek(SeekFrom::Start(database_start)).map_err(|error| Error::io(backup, error))?;
            let target = staging.join(DB_FILE);
            let mut database = create_new(&target)?;
            io::copy(&mut (&mut file).take(header.database_len), &mut database)
                .and_then(|_| database.sync_all())
                .map_err(|error| Error::io(&target, error))?;
            let mut restored = Workspace::unlock(&staging, passphrase)?;
            let integrity = restored.integrity_check()?;
            if integrity != "ok" {
                return Err(damaged("its database does not pass SQLite's integrity check"));
            }
            let audit_entries = restored.verify_audit()?;
            restored.audit_now("backup.restore", None, &format!("made={}", header.created_at))?;
            let summary = RestoreSummary {
                dir: dir.to_owned(),
                cases: restored.case_count()?,
                audit_entries: audit_entries + 1,
                moved_aside: None,
                deployment_member: restored.secrets.membership.is_some(),
                created_at: header.created_at.clone(),
            };
            drop(restored);
            Ok(summary)
        })();
        let mut summary = match result {
            Ok(summary) => summary,
            Err(error) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(error);
            }
        };
        if Workspace::exists(dir) {
            let aside = aside_name(dir);
            fs::rename(dir, &aside).map_err(|error| Error::io(dir, error))?;
            summary.moved_aside = Some(aside);
        }
        move_into(&staging, dir)?;
        Ok(summary)
    }
}

/// A new private directory beside `dir` to restore into before the result is moved in place.
fn staging_dir(dir: &Path) -> Result<PathBuf> {
    let name = dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "harbour".into());
    let staging = dir.with_file_name(format!(".{name}.restoring-{}", uuid::Uuid::new_v4().simple()));
    create_private_dir(&staging)?;
    Ok(staging)
}

fn aside_name(dir: &Path) -> PathBuf {
    let name = dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "harbour".into());
    dir.with_file_name(format!("{name}.before-restore-{}", Utc::now().format("%Y%m%dT%H%M%SZ")))
}

/// Moves the restored files into `dir` (created if needed), the key file last: a workspace
/// without its key file is never mistaken for a complete one.
fn move_into(staging: &Path, dir: &Path) -> Result<()> {
    create_private_dir(dir)?;
    let mut names: Vec<PathBuf> = fs::read_dir(staging)
        .map_err(|error| Error::io(staging, error))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    let keyfile_name = keyfile::path(staging);
    names.sort_by_key(|path| *path == keyfile_name);
    for path in names {
        let target = dir.join(path.file_name().expect("a directory entry has a name"));
        fs::rename(&path, &target).map_err(|error| Error::io(&target, error))?;
    }
    fs::remove_dir(staging).map_err(|error| Error::io(staging, error))
}

type BackupMac = Hmac<Sha256>;

fn mac(master: &Secret) -> BackupMac {
    let hkdf = hkdf::Hkdf::<Sha256>::new(None, master.expose());
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    hkdf.expand(b"harbour-backup-mac-v1", key.as_mut()).expect("32 bytes is a valid HKDF-SHA256 length");
    <BackupMac as Mac>::new_from_slice(key.as_ref()).expect("HMAC takes any key length")
}

/// Writes through to the file and into the HMAC.
struct MacWriter<W: Write> {
    inner: W,
    mac: BackupMac,
}

impl<W: Write> Write for MacWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.mac.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct MacSink<'a>(&'a mut BackupMac);

impl Write for MacSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KdfParams;
    use crate::model::CaseFields;
    use crate::store::CreateOptions;

    const PASSPHRASE: &str = "correct horse battery staple";

    fn cases(count: usize, name: &str) -> Vec<CaseFields> {
        (0..count).map(|index| CaseFields::named(&format!("{name} {index}")).unwrap()).collect()
    }

    /// Another connection to the same workspace (as the desktop app and the CLI at once).
    fn second(dir: &Path) -> Workspace {
        Workspace::unlock(dir, PASSPHRASE).unwrap()
    }

    fn restored_cases(backup: &Path, into: &Path) -> i64 {
        let summary = Workspace::restore(backup, PASSPHRASE, into, false).unwrap();
        let restored = Workspace::unlock(into, PASSPHRASE).unwrap();
        assert_eq!(restored.integrity_check().unwrap(), "ok");
        assert_eq!(restored.case_count().unwrap(), summary.cases);
        summary.cases
    }

    /// The database file copied as it is holds every change made before, including those of
    /// another connection still in the WAL; a change made while it is copied is not in it.
    #[test]
    fn a_backup_holds_every_change_made_before_it_from_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..Default::default() };
        let path = dir.path().join("ws");
        let mut workspace = Workspace::create(&path, PASSPHRASE, &options).unwrap();
        workspace.create_cases(cases(50, "Before")).unwrap();
        let mut other = second(&path);
        other.create_cases(cases(7, "Other")).unwrap();
        assert!(fs::metadata(path.join(format!("{DB_FILE}-wal"))).unwrap().len() > 0, "changes wait in the WAL");

        assert!(workspace.freeze_database(&path.join(DB_FILE)).unwrap(), "a quiet workspace is held still");
        // Another connection writes while the file is held: to the WAL, not into the file.
        let before = fs::read(path.join(DB_FILE)).unwrap();
        other.create_cases(cases(5, "During")).unwrap();
        assert_eq!(fs::read(path.join(DB_FILE)).unwrap(), before, "the database file did not change");
        workspace.conn.execute_batch("COMMIT").unwrap();

        let backup = dir.path().join("one.hbk");
        workspace.backup(&backup).unwrap();
        assert!(!path.join(SNAPSHOT_FILE).exists(), "no snapshot file is left");
        assert_eq!(restored_cases(&backup, &dir.path().join("restored")), 62);
    }

    /// When another connection reads an older snapshot, the WAL cannot be emptied and the file
    /// cannot be held still: SQLite's online backup makes the snapshot instead, just as whole.
    #[test]
    fn a_busy_workspace_is_backed_up_through_sqlites_online_backup() {
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..Default::default() };
        let path = dir.path().join("ws");
        let mut workspace = Workspace::create(&path, PASSPHRASE, &options).unwrap();
        workspace.create_cases(cases(20, "Before")).unwrap();
        let reader = second(&path);
        reader.conn.execute_batch("BEGIN").unwrap();
        assert_eq!(reader.case_count().unwrap(), 20);
        workspace.create_cases(cases(3, "After")).unwrap();
        // The checkpoint waits for the reader no longer than this.
        workspace.conn.busy_timeout(std::time::Duration::from_millis(50)).unwrap();

        assert!(!workspace.freeze_database(&path.join(DB_FILE)).unwrap(), "the reader keeps the WAL");
        let backup = dir.path().join("busy.hbk");
        workspace.backup(&backup).unwrap();
        reader.conn.execute_batch("COMMIT").unwrap();
        assert!(!path.join(SNAPSHOT_FILE).exists(), "the snapshot file is removed");
        assert_eq!(restored_cases(&backup, &dir.path().join("restored")), 23);
    }
}

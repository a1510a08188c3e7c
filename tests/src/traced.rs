//! Every file a process and its threads and children open for writing or create, seen as it
//! happens with `strace -f` (tests/run.sh installs it), so that a temporary file made and deleted
//! within the run is seen too — a scan of the disk afterwards cannot see it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The system calls that create, open for writing, rename into place or link a file.
const CALLS: &str = "open,openat,openat2,creat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,mknod,mknodat,\
                     mkdir,mkdirat,truncate";

/// What a traced run did.
pub struct Traced {
    pub output: Output,
    /// Every path opened for writing (`O_WRONLY`, `O_RDWR`, `O_CREAT`, `O_TRUNC`, `O_TMPFILE`),
    /// created, truncated, or made the target of a rename or link, in the order it happened;
    /// each as resolved by the kernel (strace's `-y`).
    pub written: Vec<PathBuf>,
}

/// Runs `command` under `strace -f` and lists what it wrote. Panics when strace is missing or
/// its log cannot be read, so a missing tool never passes for a clean run.
pub fn traced(command: &Command) -> Traced {
    let log_dir = tempfile::tempdir().expect("a folder for strace's log");
    let log = log_dir.path().join("strace.log");
    let mut strace = Command::new("strace");
    strace.args(["-f", "-qq", "-y", "-s", "4096", "-e"]).arg(format!("trace={CALLS}")).arg("-o").arg(&log);
    strace.arg("--").arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => strace.env(key, value),
            None => strace.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        strace.current_dir(dir);
    }
    let output = strace.output().expect("strace runs (apt-get install strace; tests/run.sh installs it)");
    let text = std::fs::read_to_string(&log).expect("strace wrote its log");
    assert!(!text.is_empty(), "strace traced nothing: is ptrace allowed here?");
    Traced { output, written: written_paths(&text) }
}

/// The paths written, from an `strace -f -y` log.
pub fn written_paths(log: &str) -> Vec<PathBuf> {
    let mut pending: HashMap<String, String> = HashMap::new();
    let mut written = Vec::new();
    for line in log.lines() {
        let Some((pid, call)) = line.split_once(' ') else { continue };
        let call = call.trim_start();
        // A call interrupted by another thread's is logged in two halves.
        if let Some(start) = call.strip_suffix("<unfinished ...>") {
            pending.insert(pid.to_owned(), start.to_owned());
            continue;
        }
        let whole = match call.strip_prefix("<... ") {
            Some(rest) => {
                let Some((_, after)) = rest.split_once(" resumed>") else { continue };
                format!("{}{after}", pending.remove(pid).unwrap_or_default())
            }
            None => call.to_owned(),
        };
        if let Some(path) = written_by(&whole) {
            written.push(path);
        }
    }
    written
}

/// The path one complete, successful call wrote, if it wrote one.
fn written_by(call: &str) -> Option<PathBuf> {
    let (name, rest) = call.split_once('(')?;
    let (arguments, result) = rest.rsplit_once(") = ")?;
    if result.starts_with('-') {
        return None;
    }
    match name {
        "open" | "openat" | "openat2" => {
            const WRITING: &[&str] = &["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_TMPFILE"];
            WRITING.iter().any(|flag| arguments.contains(flag)).then(|| opened(result))?
        }
        "creat" => opened(result),
        "truncate" | "mkdir" | "symlink" | "mknod" => resolved(arguments, 0, None),
        "mkdirat" | "mknodat" => resolved(arguments, 1, Some(0)),
        "rename" | "link" => resolved(arguments, 1, None),
        "renameat" | "renameat2" | "linkat" => resolved(arguments, 3, Some(2)),
        "symlinkat" => resolved(arguments, 2, Some(1)),
        _ => None,
    }
}

/// The file a successful open returned, as `-y` prints it: `3</the/path>`.
fn opened(result: &str) -> Option<PathBuf> {
    let start = result.find('<')?;
    let end = result.rfind('>')?;
    Some(PathBuf::from(&result[start + 1..end]))
}

/// The path argument at `index` (a quoted string), joined to the folder of the directory
/// descriptor at `dir_index` (`AT_FDCWD</cwd>` or `5</a/folder>`) when it is relative.
fn resolved(arguments: &str, index: usize, dir_index: Option<usize>) -> Option<PathBuf> {
    let parts = split_arguments(arguments);
    let path = unquote(parts.get(index)?)?;
    if path.is_absolute() {
        return Some(path);
    }
    let folder = dir_index.and_then(|at| parts.get(at)).and_then(|fd| opened(fd)).unwrap_or_default();
    Some(Path::new(&folder).join(path))
}

/// Splits strace's argument list at the commas outside quotes and `<…>` annotations.
fn split_arguments(arguments: &str) -> Vec<String> {
    let (mut parts, mut current) = (Vec::new(), String::new());
    let (mut quoted, mut escaped, mut angle) = (false, false, 0usize);
    for character in arguments.chars() {
        match character {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle += 1,
            '>' if !quoted => angle = angle.saturating_sub(1),
            ',' if !quoted && angle == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(character);
    }
    parts.push(current.trim().to_owned());
    parts
}

/// A path as strace quotes it (printable ASCII as is, other bytes as `\xNN`, `\"` and `\\`).
fn unquote(quoted: &str) -> Option<PathBuf> {
    let inner = &quoted.strip_prefix('"')?[..quoted.rfind('"')?.checked_sub(1)?];
    let mut bytes = Vec::new();
    let mut chars = inner.chars();
    while let Some(character) = chars.next() {
        if character != '\\' {
            let mut buffer = [0; 4];
            bytes.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        match chars.next()? {
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                bytes.push(u8::from_str_radix(&hex, 16).ok()?);
            }
            'n' => bytes.push(b'\n'),
            't' => bytes.push(b'\t'),
            other => bytes.push(other as u8),
        }
    }
    use std::os::unix::ffi::OsStringExt as _;
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_gives_every_path_written_and_none_only_read() {
        let log = r#"101 openat(AT_FDCWD</w>, "/w/ws/harbour.db", O_RDWR|O_CREAT|O_CLOEXEC, 0644) = 3</w/ws/harbour.db>
101 openat(AT_FDCWD</w>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>
102 openat(AT_FDCWD</w>, "/tmp/x", O_RDWR|O_CREAT|O_EXCL, 0600 <unfinished ...>
101 openat(AT_FDCWD</w>, "missing", O_WRONLY|O_CREAT, 0600) = -1 ENOENT (No such file or directory)
102 <... openat resumed>) = 4</tmp/x>
101 openat(AT_FDCWD</w>, "/tmp", O_RDWR|O_TMPFILE, 0600) = 5</tmp/#12 (deleted)>
101 renameat2(AT_FDCWD</w>, "out.part", 7</w/exports>, "out \"a\".csv", RENAME_NOREPLACE) = 0
101 unlink("/tmp/x") = 0
101 mkdir("scratch", 0700) = 0"#;
        assert_eq!(
            written_paths(log),
            [
                PathBuf::from("/w/ws/harbour.db"),
                PathBuf::from("/tmp/x"),
                PathBuf::from("/tmp/#12 (deleted)"),
                PathBuf::from("/w/exports/out \"a\".csv"),
                PathBuf::from("scratch"),
            ]
        );
    }
}

//! Where a passphrase comes from: a file, an environment variable, or a prompt — never an argument,
//! which other users of the laptop could read in the process list.

use std::path::Path;

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

/// The passphrase that unlocks the workspace.
pub fn current(file: Option<&Path>) -> Result<Zeroizing<String>> {
    if let Some(file) = file {
        return from_file(file);
    }
    if let Ok(value) = std::env::var("HARBOUR_PASSPHRASE") {
        return Ok(Zeroizing::new(value));
    }
    prompt("Passphrase: ")
}

/// A new passphrase: from a file or `env_var`, else typed twice.
pub fn new(file: Option<&Path>, env_var: &str) -> Result<Zeroizing<String>> {
    if let Some(file) = file {
        return from_file(file);
    }
    if let Ok(value) = std::env::var(env_var) {
        return Ok(Zeroizing::new(value));
    }
    eprintln!("Choose a passphrase of at least 8 characters. There is no way to recover the data without it.");
    let first = prompt("New passphrase: ")?;
    let second = prompt("Type it again: ")?;
    if first != second {
        bail!("the two passphrases differ; nothing was changed");
    }
    Ok(first)
}

fn from_file(file: &Path) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file)
            .with_context(|| format!("could not read the passphrase file {}", file.display()))?,
    );
    let line = text.lines().next().unwrap_or("");
    Ok(Zeroizing::new(line.to_owned()))
}

fn prompt(label: &str) -> Result<Zeroizing<String>> {
    rpassword::prompt_password(label).map(Zeroizing::new).context(
        "no passphrase: set HARBOUR_PASSPHRASE, give --passphrase-file, or run harbour in a terminal to be asked",
    )
}

//! Used by the crash-safety test: unlocks a workspace and records changes in a loop, printing
//! one line per change only after the change has returned (is durable), until it is killed.
//!
//! Usage: crash-writer DATA_DIR CASE_ID (passphrase in HARBOUR_PASSPHRASE)

use std::io::Write;

use harbour_core::model::{CaseFields, FieldValue, RiskLevel};
use harbour_core::{CaseId, Workspace};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(case)) = (args.next(), args.next()) else {
        eprintln!("usage: crash-writer DATA_DIR CASE_ID");
        std::process::exit(2);
    };
    let passphrase = std::env::var("HARBOUR_PASSPHRASE").expect("HARBOUR_PASSPHRASE is set");
    let mut workspace = Workspace::unlock(dir.as_ref(), &passphrase).expect("the workspace unlocks");
    let case_id: CaseId = case.parse().expect("a case id");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for round in 0u64.. {
        let line = match round % 5 {
            0 => {
                let state = workspace.create_case(CaseFields::named(&format!("Crash case {round}")).unwrap()).unwrap();
                format!("case {}", state.id)
            }
            1 => {
                let risk = if round % 2 == 0 { RiskLevel::High } else { RiskLevel::Low };
                workspace.update_case(case_id, vec![FieldValue::RiskLevel(Some(risk))], None).unwrap();
                format!("update {round}")
            }
            _ => {
                let (note_id, _) = workspace.add_note(case_id, &format!("note {round}")).unwrap();
                format!("note {note_id}")
            }
        };
        writeln!(out, "{line}").and_then(|()| out.flush()).expect("stdout is open");
    }
}

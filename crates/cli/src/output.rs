//! What the commands print: text for people, or JSON with `--json`.

use chrono::{TimeZone, Utc};
use harbour_core::audit::AuditEntry;
use harbour_core::fold::{CaseState, Stamp};
use harbour_core::model::CaseFields;
use harbour_core::{CaseSummary, Workspace};
use serde_json::json;

pub struct Output {
    pub json: bool,
}

impl Output {
    fn print_json(&self, value: &serde_json::Value) {
        println!("{}", serde_json::to_string_pretty(value).expect("JSON values always serialize"));
    }

    pub fn value(&self, value: &serde_json::Value) {
        self.print_json(value);
    }

    pub fn message(&self, text: &str) {
        if self.json {
            self.print_json(&json!({ "ok": true, "message": text }));
        } else {
            println!("{text}");
        }
    }

    pub fn created_workspace(&self, workspace: &Workspace) {
        if self.json {
            self.print_json(&json!({
                "data_dir": workspace.dir(),
                "device_id": workspace.device_id(),
                "worker": workspace.worker(),
            }));
        } else {
            println!("Created a new Harbour workspace in {}.", workspace.dir().display());
            println!("Keep the passphrase safe: without it the data cannot be opened.");
        }
    }

    pub fn case_created(&self, state: &CaseState) {
        if self.json {
            self.print_json(&summary_json(state));
        } else {
            println!("Created case {} ({})", state.code, state.fields.name);
            println!("id: {}", state.id);
        }
    }

    pub fn case_updated(&self, state: &CaseState) {
        if self.json {
            self.print_json(&summary_json(state));
        } else {
            println!("Case {} is {}.", state.code, state.fields.status.label().to_lowercase());
            if state.needs_review() {
                println!("Needs review: fields were changed on two devices at once (see `harbour case show`).");
            }
        }
    }

    pub fn entry_added(&self, kind: &str, id: &str, state: &CaseState) {
        if self.json {
            self.print_json(&json!({ "kind": kind, "id": id, "case_id": state.id, "code": state.code }));
        } else {
            println!("Recorded the {kind} on case {}.", state.code);
            println!("id: {id}");
        }
    }

    pub fn case_list(&self, cases: &[CaseSummary]) {
        if self.json {
            self.print_json(&serde_json::to_value(cases).expect("summaries serialize"));
            return;
        }
        if cases.is_empty() {
            println!("No cases found.");
            return;
        }
        for case in cases {
            let review = if case.needs_review { "  needs review" } else { "" };
            println!(
                "{:<12} {:<16} {:<30} {}{review}",
                case.code,
                case.status.as_str(),
                case.name,
                &case.updated_at[..10]
            );
        }
    }

    pub fn case(&self, state: &CaseState) {
        if self.json {
            let mut value = serde_json::to_value(state).expect("a case serializes");
            value["needs_review"] = json!(state.needs_review());
            self.print_json(&value);
            return;
        }
        let fields = &state.fields;
        println!("Case {}  —  {}", state.code, fields.name);
        println!("id: {}", state.id);
        print_fields(fields);
        println!("Created {} · last change {}", when(&state.created), when(&state.updated));
        if state.needs_review() {
            println!("\nNEEDS REVIEW — fields changed on two devices at once:");
            for conflict in &state.conflicts {
                println!("  {}:", conflict.field);
                for version in &conflict.versions {
                    let value = serde_json::to_string(&version.value).unwrap_or_default();
                    println!(
                        "    {value}  by {} at {}  (keep with --keep {})",
                        version.stamp.author,
                        when(&version.stamp),
                        version.stamp.event_id
                    );
                }
            }
        }
        if !state.notes.is_empty() {
            println!("\nNotes:");
            for note in &state.notes {
                println!("  {} · {}: {}", when(&note.recorded), note.recorded.author, note.entry.text);
            }
        }
        if !state.consents.is_empty() {
            println!("\nConsents:");
            for consent in &state.consents {
                let scope: Vec<&str> = consent.entry.scope.iter().map(|scope| scope.as_str()).collect();
                println!(
                    "  {} · shares {} with {} (given {}, {:?})  id {}",
                    when(&consent.recorded),
                    scope.join(", "),
                    consent.entry.shared_with,
                    consent.entry.given_on,
                    consent.entry.method,
                    consent.entry.id
                );
            }
        }
        if !state.referrals.is_empty() {
            println!("\nReferrals:");
            for referral in &state.referrals {
                println!(
                    "  {} · {} ({}), {}, {}  id {}",
                    when(&referral.recorded),
                    referral.referral.service,
                    referral.referral.service_type.label(),
                    referral.referral.urgency.as_str(),
                    referral.status.as_str(),
                    referral.referral.id
                );
            }
        }
        if !state.screenings.is_empty() {
            println!("\nScreenings:");
            for screening in &state.screenings {
                let level = screening.entry.result.get("level").and_then(|level| level.as_str()).unwrap_or("-");
                println!(
                    "  {} · {} v{}: {level}",
                    when(&screening.recorded),
                    screening.entry.form_id,
                    screening.entry.form_version
                );
            }
        }
        println!("\nHistory:");
        for entry in &state.history {
            let set: Vec<&str> = entry.set.iter().map(|value| value.field().as_str()).collect();
            let set = if set.is_empty() { String::new() } else { format!(" [{}]", set.join(", ")) };
            let reason = entry.reason.as_deref().map(|reason| format!(" — {reason}")).unwrap_or_default();
            let concurrent = if entry.concurrent { " (concurrent)" } else { "" };
            println!("  {} · {} · {}{set}{reason}{concurrent}", when(&entry.stamp), entry.stamp.author, entry.kind);
        }
    }

    pub fn audit(&self, entries: &[AuditEntry]) {
        if self.json {
            self.print_json(&serde_json::to_value(entries).expect("audit entries serialize"));
            return;
        }
        for entry in entries {
            println!(
                "{:>6}  {}  {:<12} {:<18} {} {}",
                entry.seq,
                entry.at,
                entry.actor,
                entry.action,
                entry.case_id.as_deref().unwrap_or(""),
                entry.detail
            );
        }
    }

    pub fn audit_verified(&self, count: i64) {
        if self.json {
            self.print_json(&json!({ "ok": true, "entries": count }));
        } else {
            println!("The audit log is intact: {count} entries, none changed or removed.");
        }
    }
}

fn summary_json(state: &CaseState) -> serde_json::Value {
    json!({
        "id": state.id,
        "code": state.code,
        "name": state.fields.name,
        "status": state.fields.status,
        "risk_level": state.fields.risk_level,
        "needs_review": state.needs_review(),
        "created_at": iso(state.created.at_ms()),
        "updated_at": iso(state.updated.at_ms()),
    })
}

fn print_fields(fields: &CaseFields) {
    let list = |items: Vec<&str>| {
        if items.is_empty() { "-".to_owned() } else { items.join(", ") }
    };
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    println!("status: {}", fields.status.label());
    println!("risk level: {}", or_dash(fields.risk_level.map(|risk| risk.label().to_owned())));
    println!("aliases: {}", list(fields.aliases.iter().map(String::as_str).collect()));
    println!("sex: {}", or_dash(fields.sex.map(|sex| sex.label().to_owned())));
    println!("birth date: {}", or_dash(fields.birth_date.map(|date| date.to_string())));
    println!(
        "estimated age: {}",
        or_dash(fields.estimated_age.map(|age| format!("{} (estimated {})", age.years, age.as_of)))
    );
    println!("nationalities: {}", list(fields.nationalities.iter().map(|c| c.as_str()).collect()));
    println!("languages: {}", list(fields.languages.iter().map(|l| l.as_str()).collect()));
    println!("phone: {}", or_dash(fields.phone.as_ref().map(|p| p.as_str().to_owned())));
    println!("location: {}", or_dash(fields.location.clone()));
    println!("exploitation types: {}", list(fields.exploitation_types.iter().map(|t| t.label()).collect()));
    println!("means of control: {}", list(fields.means_of_control.iter().map(|m| m.label()).collect()));
    println!("team: {} · worker: {}", or_dash(fields.assigned_team.clone()), or_dash(fields.assigned_worker.clone()));
}

fn iso(ms: u64) -> String {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn when(stamp: &Stamp) -> String {
    Utc.timestamp_millis_opt(stamp.at_ms() as i64).single().unwrap_or_default().format("%Y-%m-%d %H:%M").to_string()
}

/// The one line printed for an error: core's sentence, with any context in front.
pub fn sentence(error: &anyhow::Error) -> String {
    format!("{error:#}")
}

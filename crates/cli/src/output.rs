//! What the commands print: text for people, or JSON with `--json`.

use chrono::{TimeZone, Utc};
use harbour_core::audit::AuditEntry;
use harbour_core::directory::Directory;
use harbour_core::fold::{CaseState, Stamp};
use harbour_core::forms::{Form, Lang, ScreeningResult, Strings, colon};
use harbour_core::model::CaseFields;
use harbour_core::model::{ConsentScope, Screening};
use harbour_core::store::{DuplicateCandidate, ReferralPacket};
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
                if let Some(receipt) = &referral.delivered {
                    println!("    delivered to the receiving team on {}", when(&receipt.recorded));
                }
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
        crate::desk::print_case_facts(state);
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

    /// Each laptop's audit log as it reached this laptop: its chain's state, then its newest
    /// `limit` entries (all of them with --json).
    pub fn device_audits(&self, logs: &[harbour_core::store::DeviceAudit], limit: usize) {
        if self.json {
            self.print_json(&serde_json::to_value(logs).expect("audit logs serialize"));
            return;
        }
        for log in logs {
            let state = log.problem.as_deref().unwrap_or("complete: no entry changed or missing");
            println!("Laptop {} · {} entries · {state}", log.device_id, log.entries.len());
            let skip = log.entries.len().saturating_sub(limit);
            self.audit(&log.entries[skip..]);
            println!();
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
    println!(
        "identification: {} · on {} · by {}",
        or_dash(fields.identification_status.map(|status| status.label().to_owned())),
        or_dash(fields.identification_date.map(|date| date.to_string())),
        or_dash(fields.identified_by.map(|by| by.label().to_owned()))
    );
    println!(
        "country of exploitation: {}",
        or_dash(fields.country_of_exploitation.as_ref().map(|c| c.as_str().to_owned()))
    );
    println!("recruited through: {}", list(fields.recruitment_methods.iter().map(|m| m.label()).collect()));
    println!("recruiter relationship: {}", or_dash(fields.recruiter_relation.map(|r| r.label().to_owned())));
    println!("labour sectors: {}", list(fields.labour_sectors.iter().map(|s| s.label()).collect()));
}

fn iso(ms: u64) -> String {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A moment as people read it, in UTC: `2026-12-08 14:30 UTC`.
pub fn format_ms(ms: u64) -> String {
    Utc.timestamp_millis_opt(ms as i64).single().unwrap_or_default().format("%Y-%m-%d %H:%M UTC").to_string()
}

fn when(stamp: &Stamp) -> String {
    Utc.timestamp_millis_opt(stamp.at_ms() as i64).single().unwrap_or_default().format("%Y-%m-%d %H:%M").to_string()
}

/// The one line printed for an error: core's sentence, with any context in front.
pub fn sentence(error: &anyhow::Error) -> String {
    format!("{error:#}")
}

// ----- forms, screenings, the service directory, referral packets, duplicates -----

impl Output {
    /// A new case, after the duplicate check: possible duplicates go to stderr as a warning (codes,
    /// scores and reasons only, never another person's name) and, with `--json`, into the output.
    pub fn case_created_with_duplicates(&self, state: &CaseState, duplicates: &[DuplicateCandidate]) {
        let strings = Strings::builtin();
        for duplicate in duplicates {
            let reasons: Vec<&str> =
                duplicate.reasons.iter().map(|reason| strings.text(reason.translation_key(), Lang::En)).collect();
            eprintln!(
                "warning: this may be the same person as case {} (score {}: {}); compare with `harbour case show {}`",
                duplicate.code,
                duplicate.score,
                reasons.join(", ").to_lowercase(),
                duplicate.code
            );
        }
        if self.json {
            let mut value = summary_json(state);
            value["possible_duplicates"] = serde_json::to_value(duplicates).expect("duplicates serialize");
            self.print_json(&value);
        } else {
            self.case_created(state);
        }
    }

    pub fn forms(&self, forms: &[&Form], lang: Lang) {
        if self.json {
            let list: Vec<serde_json::Value> = forms
                .iter()
                .map(|form| {
                    json!({
                        "id": form.id,
                        "version": form.version,
                        "title": form.title.get(lang),
                        "description": form.description.get(lang),
                        "questions": form.questions().count(),
                    })
                })
                .collect();
            self.print_json(&json!(list));
            return;
        }
        for form in forms {
            println!("{:<20} v{:<3} {}", form.id, form.version, form.title.get(lang));
        }
    }

    pub fn form(&self, form: &Form, lang: Lang) {
        if self.json {
            self.print_json(&serde_json::to_value(form).expect("a form serializes"));
            return;
        }
        let strings = Strings::builtin();
        println!("{} ({})", form.title.get(lang), form.label());
        println!("{}\n", form.description.get(lang));
        println!("{}\n", form.opening_text(lang, strings));
        for section in &form.sections {
            println!("== {}", section.title.get(lang));
            if let Some(intro) = &section.intro {
                println!("{}", intro.get(lang));
            }
            for question in &section.questions {
                let required = if question.required { " (required)" } else { "" };
                let shown_if = if question.show_if.is_some() { " (asked only after some answers)" } else { "" };
                println!("\n[{}]{required}{shown_if}", question.id);
                println!("{}", form.question_text(question, lang, strings));
            }
            println!();
        }
        if let Some(closing) = &form.closing_script {
            println!("{}", closing.get(lang));
        }
    }

    pub fn screening_recorded(
        &self,
        state: &CaseState,
        screening: &Screening,
        form: &Form,
        result: &ScreeningResult,
        directory: &Directory,
        lang: Lang,
    ) {
        let strings = Strings::builtin();
        let services = directory.suggest(result);
        if self.json {
            let reasons: Vec<serde_json::Value> = result
                .reasons
                .iter()
                .map(|reason| {
                    let mut value = serde_json::to_value(reason).expect("a reason serializes");
                    value["text"] = json!(form.string(strings, &reason.key, lang));
                    value
                })
                .collect();
            self.print_json(&json!({
                "id": screening.id,
                "case_id": state.id,
                "code": state.code,
                "form_id": screening.form_id,
                "form_version": screening.form_version,
                "level": result.level,
                "level_text": result.level_text(strings, lang),
                "next_step": strings.text(&result.level.next_step_key(), lang),
                "reasons": reasons,
                "declined": result.declined,
                "service_types": result.suggested_services,
                "suggested_services": services,
                "codes": result.codes,
            }));
            return;
        }
        println!("Recorded the screening ({}) on case {}.", form.label(), state.code);
        println!("id: {}\n", screening.id);
        print!("{}", form.result_report(result, lang, strings));
        if !result.suggested_services.is_empty() {
            println!("\n{}{}", strings.text("directory.title", lang), colon(lang).trim_end());
            for line in directory.suggest_report(result, lang, strings).lines() {
                println!("  {line}");
            }
        }
    }

    pub fn directory(&self, directory: &Directory, lang: Lang) {
        if self.json {
            self.print_json(&serde_json::to_value(directory).expect("a directory serializes"));
        } else {
            print!("{}", directory.report(lang, Strings::builtin()));
        }
    }

    pub fn directory_imported(&self, directory: &Directory, signed: Option<bool>) {
        if self.json {
            self.print_json(&json!({
                "deployment": directory.deployment,
                "version": directory.version,
                "services": directory.services.len(),
                "signed": signed == Some(true),
            }));
            return;
        }
        println!(
            "Imported the service directory {} v{} ({} services).",
            directory.deployment,
            directory.version,
            directory.services.len()
        );
        if signed == Some(true) {
            println!("It is signed with this deployment's root key.");
        }
    }

    pub fn referral_packet(&self, packet: &ReferralPacket) {
        if self.json {
            self.print_json(&serde_json::to_value(packet).expect("a referral packet serializes"));
            return;
        }
        let referral = &packet.referral;
        let scope: Vec<&str> = packet.consent.scope.iter().map(|scope| scope.as_str()).collect();
        println!("Referral of case {} to {} ({})", packet.case_code, referral.service, referral.service_type.label());
        println!("id: {}", referral.id);
        println!(
            "urgency: {} · reason: {} · status: {}",
            referral.urgency.as_str(),
            referral.reason.as_str(),
            packet.status.as_str()
        );
        if let Some(details) = &referral.details {
            println!("details: {details}");
        }
        println!(
            "consent: {} ({:?}, given {}) to share {}",
            packet.consent.shared_with,
            packet.consent.method,
            packet.consent.given_on,
            scope.join(", ")
        );
        if let Some(identity) = &packet.identity {
            println!("\nIdentity:");
            println!("  name: {}", identity.name);
            if !identity.aliases.is_empty() {
                println!("  aliases: {}", identity.aliases.join(", "));
            }
            if let Some(sex) = identity.sex {
                println!("  sex: {}", sex.label());
            }
            if let Some(date) = identity.birth_date {
                println!("  birth date: {date}");
            }
            if let Some(age) = &identity.estimated_age {
                println!("  estimated age: {} (estimated {})", age.years, age.as_of);
            }
        }
        if let Some(contact) = &packet.contact {
            println!("\nContact:");
            println!("  phone: {}", contact.phone.as_ref().map_or("-", |phone| phone.as_str()));
            println!("  location: {}", contact.location.as_deref().unwrap_or("-"));
        }
        if let Some(summary) = &packet.case_summary {
            let list = |items: Vec<&str>| if items.is_empty() { "-".to_owned() } else { items.join(", ") };
            println!("\nCase summary:");
            println!("  status: {}", summary.status.label());
            println!("  risk level: {}", summary.risk_level.map_or("-", |risk| risk.label()));
            println!("  exploitation types: {}", list(summary.exploitation_types.iter().map(|t| t.label()).collect()));
            println!("  means of control: {}", list(summary.means_of_control.iter().map(|m| m.label()).collect()));
        }
        if !packet.screenings.is_empty() {
            println!("\nScreenings:");
            for screening in &packet.screenings {
                let level = screening.result.get("level").and_then(|level| level.as_str()).unwrap_or("-");
                println!(
                    "  {} · {} v{}: {level}",
                    &screening.recorded_at[..10],
                    screening.form_id,
                    screening.form_version
                );
            }
        }
        if !packet.notes.is_empty() {
            println!("\nNotes:");
            for note in &packet.notes {
                println!("  {}: {}", &note.recorded_at[..10], note.text);
            }
        }
        let withheld: Vec<&str> = [ConsentScope::Identity, ConsentScope::Contact, ConsentScope::CaseSummary]
            .into_iter()
            .chain([ConsentScope::Screenings, ConsentScope::Notes])
            .filter(|scope| !packet.consent.scope.contains(scope))
            .map(|scope| scope.as_str())
            .collect();
        if !withheld.is_empty() {
            println!("\nNot shared (no consent): {}", withheld.join(", "));
        }
    }
}

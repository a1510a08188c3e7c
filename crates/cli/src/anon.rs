//! Data out of Harbour on purpose: `harbour export ctdc` (the anonymised CTDC data set, in
//! clear), `harbour export htcds` (a consented transfer, encrypted unless asked otherwise) and
//! `harbour referral letter` (the printed letter). Messages are in the language of
//! `HARBOUR_LANG` (en, es or fr; else the system's `LANG`; else English).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use harbour_core::Workspace;
use harbour_core::anon::{CtdcExport, CtdcRelease, DEFAULT_K};
use harbour_core::forms::Lang;
use harbour_core::htcds::{HtcdsExport, LeftOutReason};
use serde_json::json;

use crate::output::Output;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// The CTDC-coded anonymised data set of the victims (written in clear, as CSV): no
    /// combination of its values describes fewer than k people. When that cannot be met
    /// without destroying the data, the aggregate tables are written instead.
    Ctdc {
        #[arg(long, value_name = "FILE.csv")]
        out: PathBuf,
        /// The smallest number of people any combination of released values may describe.
        #[arg(long, default_value_t = DEFAULT_K)]
        k: u64,
    },
    /// HTCDS v2.0-shaped JSON of the chosen cases (every case when none is named), only of
    /// those whose consent covers the transfer to the organisation named by --to (identity and
    /// case summary, shared with that organisation); the rest are listed as left out, with why.
    /// Encrypted in the age format to a passphrase (HARBOUR_EXPORT_PASSPHRASE or a prompt)
    /// unless --plaintext is given.
    Htcds {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The organisation receiving the transfer, as the consents name it (`consent add
        /// --with`) or as the service directory lists it. Left out: the one organisation the
        /// consents name, or, when they name several or none, the command asks for it.
        #[arg(long, value_name = "ORGANISATION")]
        to: Option<String>,
        /// Write the file in clear: anyone who gets it can read it.
        #[arg(long)]
        plaintext: bool,
        /// Case codes or ids.
        #[arg(value_name = "CASE")]
        cases: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum ReferralLetterCommand {
    /// The printed referral letter (PDF) with the case summary the service may see: only what
    /// the person's consent for this referral covers (recorded in the audit log as an export).
    Letter {
        case: String,
        /// The referral's id, as printed by `harbour referral add`.
        referral: String,
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
        /// The letter's language: en, es or fr.
        #[arg(long, default_value = "en")]
        lang: String,
    },
}

pub fn referral_letter(command: ReferralLetterCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    let ReferralLetterCommand::Letter { case, referral, out: path, lang: letter_lang } = command;
    let said = lang();
    let letter_lang = Lang::parse(&letter_lang).ok_or_else(|| {
        harbour_core::Error::invalid(
            "lang",
            say(
                said,
                format!("\"{letter_lang}\" is not a language of the letter; use en, es or fr"),
                format!("\"{letter_lang}\" no es un idioma de la carta; use en, es o fr"),
                format!("\"{letter_lang}\" n'est pas une langue de la lettre ; utilisez en, es ou fr"),
            ),
        )
    })?;
    let case_id = workspace.resolve(&case)?;
    let referral_id = referral.parse::<harbour_core::EntryId>().map_err(|_| {
        harbour_core::Error::invalid("referral", "give the referral's id as printed by `harbour referral add`")
    })?;
    // A new file only, as every export: an existing file is refused, never replaced.
    crate::export::refuse_existing(&path)?;
    let pdf = workspace.referral_letter(case_id, referral_id, letter_lang)?;
    harbour_core::export::write_new(&path, &pdf)?;
    if out.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "path": path, "rows": 1, "bytes": pdf.len(), "lang": letter_lang.code() })
            )?
        );
        return Ok(());
    }
    out.message(&say(
        said,
        format!("Wrote {}: the letter holds what the person agreed to share, in clear. Print it, then delete the file.", path.display()),
        format!("Se escribió {}: la carta contiene lo que la persona aceptó compartir, sin cifrar. Imprímala y luego borre el archivo.", path.display()),
        format!("{} a été écrit : la lettre contient en clair ce que la personne a accepté de partager. Imprimez-la, puis supprimez le fichier.", path.display()),
    ));
    Ok(())
}

/// The language of this command's messages.
pub fn lang() -> Lang {
    ["HARBOUR_LANG", "LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .and_then(|value| Lang::parse(&value))
        .unwrap_or(Lang::En)
}

/// One sentence in the three languages.
fn say(lang: Lang, en: String, es: String, fr: String) -> String {
    match lang {
        Lang::En => en,
        Lang::Es => es,
        Lang::Fr => fr,
    }
}

pub fn export(command: ExportCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    match command {
        ExportCommand::Ctdc { out: path, k } => {
            let export = workspace.export_ctdc(&path, k)?;
            ctdc_written(&path, &export, out);
        }
        ExportCommand::Htcds { out: path, to, plaintext, cases } => {
            // Named by --to, or, when it is left out, the one organisation the consents name
            // (several, or none: the person must say which).
            let recipient = match to.filter(|name| !name.trim().is_empty()) {
                Some(name) => name,
                None => match <[String; 1]>::try_from(workspace.htcds_consented_recipients()?) {
                    Ok([only]) => only,
                    Err(_) => return Err(no_recipient(&workspace)?.into()),
                },
            };
            let ids = cases.iter().map(|case| workspace.resolve(case)).collect::<Result<Vec<_>, _>>()?;
            crate::export::refuse_existing(&path)?;
            let protection = identifiable_protection(&path, plaintext)?;
            let export = workspace.export_htcds(&ids, &recipient, &protection, &path)?;
            htcds_written(&path, &export, plaintext, out);
        }
    }
    Ok(())
}

/// The refusal of a transfer that does not say to whom it goes: what to add, and the names
/// the consents and the service directory give.
fn no_recipient(workspace: &Workspace) -> Result<harbour_core::Error> {
    let names = workspace.htcds_recipients()?.iter().map(|name| format!("\"{name}\"")).collect::<Vec<_>>().join(", ");
    let lang = lang();
    let mut problem = say(
        lang,
        "say which organisation receives the transfer: add --to ORGANISATION (a consent covers the transfer only when it was given for that organisation). Nothing was written.".into(),
        "diga qué organización recibe la transferencia: añada --to ORGANIZACIÓN (un consentimiento cubre la transferencia solo si se dio para esa organización). No se escribió nada.".into(),
        "dites quelle organisation reçoit le transfert : ajoutez --to ORGANISATION (un consentement ne couvre le transfert que s'il a été donné pour cette organisation). Rien n'a été écrit.".into(),
    );
    if !names.is_empty() {
        problem.push(' ');
        problem.push_str(&say(
            lang,
            format!("Consents and the service directory name: {names}."),
            format!("Los consentimientos y el directorio de servicios nombran: {names}."),
            format!("Les consentements et l'annuaire des services nomment : {names}."),
        ));
    }
    Ok(harbour_core::Error::invalid("to", problem))
}

/// How an identifiable export is written: encrypted in the age format to a passphrase
/// (`HARBOUR_EXPORT_PASSPHRASE`, else typed twice), or in clear when `plaintext` is chosen,
/// with a warning. Core writes the file (nothing in clear touches the disk on the encrypted path).
fn identifiable_protection(path: &Path, plaintext: bool) -> Result<harbour_core::export::Protection> {
    if !plaintext {
        let passphrase = crate::export::export_passphrase(true)?;
        return Ok(harbour_core::export::Protection::passphrase(&passphrase)?);
    }
    eprintln!(
        "{}",
        say(
            lang(),
            format!("Warning: {} is written in clear; anyone who gets the file can read it.", path.display()),
            format!(
                "Atención: {} se escribe sin cifrar; cualquiera que obtenga el archivo puede leerlo.",
                path.display()
            ),
            format!("Attention : {} est écrit en clair ; quiconque obtient le fichier peut le lire.", path.display()),
        )
    );
    Ok(harbour_core::export::Protection::Plaintext)
}

fn htcds_written(path: &Path, export: &HtcdsExport, plaintext: bool, out: &Output) {
    let codes = |reason: LeftOutReason| -> Vec<&str> {
        export.left_out.iter().filter(|left| left.reason == reason).map(|left| left.code.as_str()).collect()
    };
    if out.json {
        let value = json!({
            "path": path,
            "encrypted": !plaintext,
            "recipient": export.recipient,
            "rows": export.included.len(),
            "withheld_records": export.left_out.len(),
            "included": export.included.iter().map(|code| code.as_str()).collect::<Vec<_>>(),
            "left_out": export.left_out_codes(),
            "left_out_reasons": export.left_out.iter().map(|left| json!({"case": left.code.as_str(), "reason": left.reason.as_str()})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON"));
        return;
    }
    let (path, count, to) = (path.display(), export.included.len(), &export.recipient);
    let how = match (plaintext, lang()) {
        (false, Lang::En) => "encrypted in the age format (open it with `age -d`)",
        (false, Lang::Es) => "cifrado en formato age (se abre con `age -d`)",
        (false, Lang::Fr) => "chiffré au format age (s'ouvre avec `age -d`)",
        (true, Lang::En) => "in clear",
        (true, Lang::Es) => "sin cifrar",
        (true, Lang::Fr) => "en clair",
    };
    out.message(&say(
        lang(),
        format!("Wrote {path}, {how}: {count} cases whose consent covers the transfer to {to}."),
        format!("Se escribió {path}, {how}: {count} casos cuyo consentimiento cubre la transferencia a {to}."),
        format!("{path} a été écrit, {how} : {count} dossiers dont le consentement couvre le transfert à {to}."),
    ));
    let not_consented = codes(LeftOutReason::NotConsented).join(", ");
    if !not_consented.is_empty() {
        out.message(&say(
            lang(),
            format!("Left out, their consent does not cover identity and case summary: {not_consented}."),
            format!("Quedaron fuera, su consentimiento no cubre la identidad y el resumen del caso: {not_consented}."),
            format!(
                "Laissés de côté, leur consentement ne couvre pas l'identité et le résumé du dossier : {not_consented}."
            ),
        ));
    }
    let elsewhere = codes(LeftOutReason::OtherRecipient).join(", ");
    if !elsewhere.is_empty() {
        out.message(&say(
            lang(),
            format!("Left out, their consent was given for another organisation than {to}: {elsewhere}."),
            format!("Quedaron fuera, su consentimiento se dio para otra organización que {to}: {elsewhere}."),
            format!(
                "Laissés de côté, leur consentement a été donné pour une autre organisation que {to} : {elsewhere}."
            ),
        ));
    }
}

fn ctdc_written(path: &Path, export: &CtdcExport, out: &Output) {
    if out.json {
        let value = json!({
            "path": path,
            "release": export.release,
            "k": export.k,
            "people": export.people,
            "rows": export.rows,
            "generalised_values": export.generalised_values,
            "suppressed_values": export.suppressed_values,
            "changed_records": export.changed_records,
            "withheld_records": export.withheld_records,
            "generalisations": export.generalisations,
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON"));
        return;
    }
    let lang = lang();
    let (path, k, people, rows) = (path.display(), export.k, export.people, export.rows);
    let (generalised, suppressed, changed, withheld) =
        (export.generalised_values, export.suppressed_values, export.changed_records, export.withheld_records);
    let text = match export.release {
        CtdcRelease::Records => say(
            lang,
            format!(
                "Wrote {path}: {rows} records of {people} victims, no combination of values describing fewer than {k} people. \
                 {generalised} values were generalised and {suppressed} suppressed (-99) in {changed} records; {withheld} records were withheld."
            ),
            format!(
                "Se escribió {path}: {rows} registros de {people} víctimas; ninguna combinación de valores describe a menos de {k} personas. \
                 Se generalizaron {generalised} valores y se suprimieron {suppressed} (-99) en {changed} registros; se retuvieron {withheld} registros."
            ),
            format!(
                "{path} a été écrit : {rows} enregistrements de {people} victimes, aucune combinaison de valeurs ne décrit moins de {k} personnes. \
                 {generalised} valeurs ont été généralisées et {suppressed} supprimées (-99) dans {changed} enregistrements ; {withheld} enregistrements ont été retenus."
            ),
        ),
        release => {
            let why = match release {
                CtdcRelease::AggregatesTooFewPeople => say(
                    lang,
                    format!("there are fewer than {k} victims"),
                    format!("hay menos de {k} víctimas"),
                    format!("il y a moins de {k} victimes"),
                ),
                CtdcRelease::AggregatesTooManyWithheld => say(
                    lang,
                    "more than a tenth of the records would have been withheld".into(),
                    "se habría retenido más de una décima parte de los registros".into(),
                    "plus d'un dixième des enregistrements auraient été retenus".into(),
                ),
                _ => say(
                    lang,
                    "more than half of the known values would have been lost".into(),
                    "se habría perdido más de la mitad de los valores conocidos".into(),
                    "plus de la moitié des valeurs connues auraient été perdues".into(),
                ),
            };
            say(
                lang,
                format!(
                    "The record-level data set was refused ({why}): it could not describe at least {k} people in every combination without destroying the data. \
                     Wrote the aggregate tables to {path} instead, counts under {k} shown as <{k} ({suppressed} cells hidden)."
                ),
                format!(
                    "Se rechazó el conjunto de datos por registro ({why}): no podía describir al menos {k} personas en cada combinación sin destruir los datos. \
                     En su lugar se escribieron las tablas agregadas en {path}, con los recuentos menores de {k} mostrados como <{k} ({suppressed} celdas ocultas)."
                ),
                format!(
                    "Le jeu de données par enregistrement a été refusé ({why}) : il ne pouvait pas décrire au moins {k} personnes dans chaque combinaison sans détruire les données. \
                     Les tableaux agrégés ont été écrits dans {path} à la place, les effectifs inférieurs à {k} affichés comme <{k} ({suppressed} cellules masquées)."
                ),
            )
        }
    };
    out.message(&text);
}

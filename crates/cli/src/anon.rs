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
    }
    Ok(())
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

//! The printed referral letter (PDF) in English, Spanish or French: a letter to the service,
//! then the case summary its reader may see — only what the person's consent for this
//! referral covers ([`ReferralPacket`]). Nothing the person did not agree to share is read
//! into it. Typeset with krilla (text shaped and the font subset and embedded, so accents print
//! and the text can be copied back out); the font is DejaVu Sans (`assets/fonts`, its licence
//! beside it).

use chrono::{NaiveDate, Utc};
use krilla::Document;
use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

use crate::error::{Error, Result};
use crate::forms::{Lang, Strings, service_type_key};
use crate::ids::{CaseId, EntryId};
use crate::store::{ReferralPacket, Workspace};

const REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// A4, in points.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
const SIZE: f32 = 10.0;
const LEADING: f32 = 14.0;
/// Characters on a line at `SIZE` (DejaVu Sans is about 0.55 em a character on average).
const LINE_CHARS: usize = 80;

impl Workspace {
    /// The referral letter of `referral` on `case_id` as a PDF. Recorded in the audit log as
    /// the referral's export (`referral.export`, with the consent's scope), as the packet is.
    pub fn referral_letter(&mut self, case_id: CaseId, referral_id: EntryId, lang: Lang) -> Result<Vec<u8>> {
        let packet = self.referral_packet(case_id, referral_id)?;
        letter_pdf(&packet, lang, Utc::now().date_naive())
    }
}

/// The letter's words, in the three languages.
fn words(key: &str, lang: Lang) -> &'static str {
    let (en, es, fr) = match key {
        "title" => ("Referral letter", "Carta de derivación", "Lettre d'orientation"),
        "to" => ("To", "Para", "À"),
        "date" => ("Date", "Fecha", "Date"),
        "case" => ("Case code", "Código del caso", "Code du dossier"),
        "service_type" => ("Service requested", "Servicio solicitado", "Service demandé"),
        "reason" => ("Reason", "Motivo", "Motif"),
        "urgency" => ("Urgency", "Urgencia", "Urgence"),
        "details" => ("Details", "Detalles", "Précisions"),
        "intro" => (
            "We refer the person described below to your service. Please write back quoting the case code above, never the person's name.",
            "Derivamos a su servicio a la persona descrita a continuación. Responda indicando el código del caso, nunca el nombre de la persona.",
            "Nous orientons vers votre service la personne décrite ci-dessous. Merci de répondre en citant le code du dossier, jamais le nom de la personne.",
        ),
        "consent" => ("Consent", "Consentimiento", "Consentement"),
        "consent_text" => (
            "The person agreed on {date} ({method}) to share with {with} only the following:",
            "La persona aceptó el {date} ({method}) compartir con {with} solo lo siguiente:",
            "La personne a accepté le {date} ({method}) de partager avec {with} uniquement ce qui suit :",
        ),
        "summary" => ("Case summary", "Resumen del caso", "Résumé du dossier"),
        "identity" => ("Identity", "Identidad", "Identité"),
        "name" => ("Name", "Nombre", "Nom"),
        "aliases" => ("Other names", "Otros nombres", "Autres noms"),
        "sex" => ("Sex", "Sexo", "Sexe"),
        "birth_date" => ("Date of birth", "Fecha de nacimiento", "Date de naissance"),
        "age" => ("Estimated age", "Edad estimada", "Âge estimé"),
        "years_on" => ("{years} years on {date}", "{years} años el {date}", "{years} ans au {date}"),
        "contact" => ("Contact", "Contacto", "Contact"),
        "phone" => ("Phone", "Teléfono", "Téléphone"),
        "location" => ("Location", "Ubicación", "Lieu"),
        "status" => ("Status", "Estado", "Statut"),
        "risk" => ("Risk level", "Nivel de riesgo", "Niveau de risque"),
        "exploitation" => ("Forms of exploitation", "Formas de explotación", "Formes d'exploitation"),
        "control" => ("Means of control", "Medios de control", "Moyens de contrôle"),
        "screenings" => ("Screenings", "Evaluaciones", "Évaluations"),
        "notes" => ("Notes", "Notas", "Notes"),
        "none" => ("(none recorded)", "(nada registrado)", "(rien d'enregistré)"),
        "withheld" => (
            "What the person did not agree to share is not in this letter. Keep it confidential and do not pass it on.",
            "Lo que la persona no aceptó compartir no figura en esta carta. Manténgala confidencial y no la transmita.",
            "Ce que la personne n'a pas accepté de partager ne figure pas dans cette lettre. Gardez-la confidentielle et ne la transmettez pas.",
        ),
        _ => ("?", "?", "?"),
    };
    match lang {
        Lang::En => en,
        Lang::Es => es,
        Lang::Fr => fr,
    }
}

/// A line of the letter: a heading, a label with its value, or a paragraph.
enum Line {
    Heading(String),
    Field(String, String),
    Text(String),
    Gap,
}

/// The letter as lines, in `lang` (the words a PDF test reads back).
fn lines(packet: &ReferralPacket, lang: Lang, today: NaiveDate) -> Vec<Line> {
    let strings = Strings::builtin();
    let w = |key| words(key, lang).to_owned();
    let code = |list: &str, value: &str| strings.text_owned_key(&format!("code.{list}.{value}"), lang).to_owned();
    let list = |values: Vec<String>| if values.is_empty() { w("none") } else { values.join(", ") };
    let referral = &packet.referral;
    let mut out = vec![
        Line::Heading(w("title")),
        Line::Gap,
        Line::Field(w("to"), referral.service.clone()),
        Line::Field(w("date"), today.to_string()),
        Line::Field(w("case"), packet.case_code.as_str().to_owned()),
        Line::Field(
            w("service_type"),
            strings.text_owned_key(&service_type_key(referral.service_type), lang).to_owned(),
        ),
        Line::Field(w("reason"), code("referral_reason", referral.reason.as_str())),
        Line::Field(w("urgency"), code("urgency", referral.urgency.as_str())),
    ];
    if let Some(details) = &referral.details {
        out.push(Line::Field(w("details"), details.clone()));
    }
    out.extend([Line::Gap, Line::Text(w("intro")), Line::Gap, Line::Heading(w("consent"))]);
    let consent = &packet.consent;
    out.push(Line::Text(
        w("consent_text")
            .replace("{date}", &consent.given_on.to_string())
            .replace("{method}", &code("consent_method", consent_method(consent.method)))
            .replace("{with}", &consent.shared_with),
    ));
    for scope in &consent.scope {
        out.push(Line::Text(format!("• {}", code("consent_scope", scope.as_str()))));
    }
    out.extend([Line::Gap, Line::Heading(w("summary"))]);
    if let Some(identity) = &packet.identity {
        out.push(Line::Heading(w("identity")));
        out.push(Line::Field(w("name"), identity.name.clone()));
        if !identity.aliases.is_empty() {
            out.push(Line::Field(w("aliases"), identity.aliases.join(", ")));
        }
        if let Some(sex) = identity.sex {
            out.push(Line::Field(w("sex"), code("sex", sex.as_str())));
        }
        if let Some(born) = identity.birth_date {
            out.push(Line::Field(w("birth_date"), born.to_string()));
        }
        if let Some(age) = &identity.estimated_age {
            let text =
                w("years_on").replace("{years}", &age.years.to_string()).replace("{date}", &age.as_of.to_string());
            out.push(Line::Field(w("age"), text));
        }
    }
    if let Some(contact) = &packet.contact {
        out.push(Line::Heading(w("contact")));
        out.push(Line::Field(w("phone"), contact.phone.as_ref().map_or_else(|| w("none"), |p| p.as_str().to_owned())));
        out.push(Line::Field(w("location"), contact.location.clone().unwrap_or_else(|| w("none"))));
    }
    if let Some(summary) = &packet.case_summary {
        out.push(Line::Heading(code("consent_scope", "case_summary")));
        out.push(Line::Field(w("status"), code("case_status", summary.status.as_str())));
        if let Some(risk) = summary.risk_level {
            out.push(Line::Field(w("risk"), code("risk_level", risk.as_str())));
        }
        let kinds = summary.exploitation_types.iter().map(|kind| code("exploitation_type", kind.as_str())).collect();
        out.push(Line::Field(w("exploitation"), list(kinds)));
        let means = summary.means_of_control.iter().map(|means| code("means_of_control", means.as_str())).collect();
        out.push(Line::Field(w("control"), list(means)));
    }
    if !packet.screenings.is_empty() {
        out.push(Line::Heading(w("screenings")));
        for screening in &packet.screenings {
            let level = screening.result.get("level").and_then(|level| level.as_str()).unwrap_or("");
            let level = strings.get(&format!("level.{level}"), lang).unwrap_or(level);
            out.push(Line::Field(
                format!("{} v{}", screening.form_id, screening.form_version),
                format!("{} — {level}", screening.recorded_at),
            ));
        }
    }
    if !packet.notes.is_empty() {
        out.push(Line::Heading(w("notes")));
        for note in &packet.notes {
            out.push(Line::Field(note.recorded_at.clone(), note.text.clone()));
        }
    }
    out.extend([Line::Gap, Line::Text(w("withheld"))]);
    out
}

fn consent_method(method: crate::model::ConsentMethod) -> &'static str {
    match method {
        crate::model::ConsentMethod::Verbal => "verbal",
        crate::model::ConsentMethod::Written => "written",
    }
}

/// Breaks `text` into lines of at most `width` characters, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        while word.chars().count() > width {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A piece of text placed on a page: x, baseline y from the top, bold, size, text.
type Placed = (f32, f32, bool, f32, String);

/// Text placed on pages.
struct Layout {
    pages: Vec<Vec<Placed>>,
    y: f32,
}

impl Layout {
    /// Places a line `advance` below the last one, on a new page when this one is full.
    fn place(&mut self, x: f32, bold: bool, size: f32, text: String, advance: f32) {
        if self.y + advance > PAGE.1 - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
        self.y += advance;
        self.pages.last_mut().expect("a page").push((x, self.y, bold, size, text));
    }

    /// Places text on the line last placed.
    fn beside(&mut self, x: f32, size: f32, text: String) {
        let y = self.y;
        self.pages.last_mut().expect("a page").push((x, y, false, size, text));
    }
}

/// Typesets the letter.
pub fn letter_pdf(packet: &ReferralPacket, lang: Lang, today: NaiveDate) -> Result<Vec<u8>> {
    let font_error = || Error::Corrupt("the letter's font".into());
    let regular = Font::new(REGULAR.into(), 0).ok_or_else(font_error)?;
    let bold = Font::new(BOLD.into(), 0).ok_or_else(font_error)?;
    let mut document = Document::new();
    let mut layout = Layout { pages: vec![Vec::new()], y: MARGIN };
    let label_width = 22;
    for line in lines(packet, lang, today) {
        match line {
            Line::Heading(text) => layout.place(MARGIN, true, SIZE + 2.0, text, LEADING * 1.5),
            Line::Gap => layout.y += LEADING / 2.0,
            Line::Text(text) => {
                for part in wrap(&text, LINE_CHARS) {
                    layout.place(MARGIN, false, SIZE, part, LEADING);
                }
            }
            Line::Field(label, value) => {
                let label_lines = wrap(&label, label_width);
                let value_lines = wrap(&value, LINE_CHARS - label_width - 2);
                for index in 0..label_lines.len().max(value_lines.len()) {
                    layout.place(MARGIN, true, SIZE, label_lines.get(index).cloned().unwrap_or_default(), LEADING);
                    // The value on the same line, beside its label.
                    layout.beside(MARGIN + 150.0, SIZE, value_lines.get(index).cloned().unwrap_or_default());
                }
            }
        }
    }
    let pages = layout.pages;
    let settings = || PageSettings::from_wh(PAGE.0, PAGE.1).expect("A4 is a valid size");
    for texts in pages {
        let mut page = document.start_page_with(settings());
        let mut surface = page.surface();
        for (x, y, is_bold, size, text) in texts {
            if text.is_empty() {
                continue;
            }
            let font = if is_bold { bold.clone() } else { regular.clone() };
            surface.draw_text(Point::from_xy(x, y), font, size, &text, false, TextDirection::Auto);
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|error| Error::Corrupt(format!("the letter could not be typeset ({error:?})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_and_sentences_wrap() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), vec![""]);
    }

    #[test]
    fn every_word_is_in_three_languages() {
        for key in ["title", "intro", "consent_text", "withheld", "years_on", "none"] {
            for lang in Lang::ALL {
                assert_ne!(words(key, lang), "?");
            }
        }
        assert_ne!(words("title", Lang::Es), words("title", Lang::Fr));
    }
}

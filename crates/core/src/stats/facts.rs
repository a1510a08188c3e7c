//! What the figures read of a case: coded values and dates only, never a name, a note or an
//! answer. Derived from the case's projection whenever it is written (`store::facts`), so the
//! figures over 100,000 cases read one small row per case instead of folding or parsing whole
//! cases. Facts are a cache: they can always be derived again from the projection.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::fold::CaseState;
use crate::ids::EntryId;
use crate::model::{
    CaseStatus, Country, ExploitationType, Field, FieldValue, IdentificationStatus, JusticeStage, LabourSector,
    MeansOfControl, RecruiterRelation, RecruitmentMethod, ReferralStatus, ServiceType, Sex,
};

/// The facts of one case that the figures count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub status: CaseStatus,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_review: bool,
    /// When the case was recorded, and last changed: milliseconds since 1970.
    pub created_ms: i64,
    /// The day the case counts from: its intake date, else the day it was recorded.
    pub registered_on: NaiveDate,
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identification: Option<IdentificationStatus>,
    /// The identification date field, else the day the status was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    pub age_band: AgeBand,
    /// The first nationality recorded (people are counted once, under their first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<Country>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exploitation: Vec<ExploitationType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors: Vec<LabourSector>,
    /// What the CTDC data set codes besides (schema 6 derived them for every stored case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub means_of_control: Vec<MeansOfControl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_of_exploitation: Option<Country>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recruiter_relation: Option<RecruiterRelation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recruitment_methods: Vec<RecruitmentMethod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referrals: Vec<ReferralFact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screenings: Vec<ScreeningFact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub justice: Vec<JusticeFact>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perpetrators: Vec<PerpetratorFact>,
    /// The services the person received (a facts row written before they were counted has
    /// none: schema 8 derived every stored case's facts again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceFact>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralFact {
    pub id: EntryId,
    pub service_type: ServiceType,
    pub status: ReferralStatus,
    pub sent_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreeningFact {
    pub id: EntryId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub recorded_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JusticeFact {
    pub stage: JusticeStage,
    /// The step's date, else the day it was recorded.
    pub on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perpetrator: Option<EntryId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerpetratorFact {
    pub id: EntryId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
}

/// A service the person received: what the task force and the US TIP report count as
/// "assisted".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFact {
    pub id: EntryId,
    pub service_type: ServiceType,
    /// The day it began.
    pub from: NaiveDate,
    /// The day it ended, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

impl ServiceFact {
    /// Whether the person received it on some day from `from` to `to` (both included, open
    /// ends unbounded): it began by `to` and ended (else began) on or after `from`. A service
    /// without an end counts on the day it began only.
    pub fn during(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> bool {
        received_during(self.from, self.until.unwrap_or(self.from), from, to)
    }
}

/// Whether a service received from `began` to `ended` falls in part within `from`–`to`.
pub fn received_during(began: NaiveDate, ended: NaiveDate, from: Option<NaiveDate>, to: Option<NaiveDate>) -> bool {
    to.is_none_or(|to| began <= to) && from.is_none_or(|from| ended.max(began) >= from)
}

/// CTDC `ageBroad`: the person's age when the case was registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AgeBand {
    #[serde(rename = "0-8")]
    UpTo8,
    #[serde(rename = "9-17")]
    From9To17,
    #[serde(rename = "18-20")]
    From18To20,
    #[serde(rename = "21-23")]
    From21To23,
    #[serde(rename = "24-26")]
    From24To26,
    #[serde(rename = "27-29")]
    From27To29,
    #[serde(rename = "30-38")]
    From30To38,
    #[serde(rename = "39-47")]
    From39To47,
    #[serde(rename = "48+")]
    From48,
    #[serde(rename = "unknown")]
    Unknown,
}

impl AgeBand {
    pub const ALL: &'static [AgeBand] = &[
        AgeBand::UpTo8,
        AgeBand::From9To17,
        AgeBand::From18To20,
        AgeBand::From21To23,
        AgeBand::From24To26,
        AgeBand::From27To29,
        AgeBand::From30To38,
        AgeBand::From39To47,
        AgeBand::From48,
        AgeBand::Unknown,
    ];

    pub fn of_age(years: i64) -> AgeBand {
        match years {
            i64::MIN..=-1 => AgeBand::Unknown,
            0..=8 => AgeBand::UpTo8,
            9..=17 => AgeBand::From9To17,
            18..=20 => AgeBand::From18To20,
            21..=23 => AgeBand::From21To23,
            24..=26 => AgeBand::From24To26,
            27..=29 => AgeBand::From27To29,
            30..=38 => AgeBand::From30To38,
            39..=47 => AgeBand::From39To47,
            _ => AgeBand::From48,
        }
    }

    /// Harbour's name of the band (`18-20`), as in the figures' JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AgeBand::UpTo8 => "0-8",
            AgeBand::From9To17 => "9-17",
            AgeBand::From18To20 => "18-20",
            AgeBand::From21To23 => "21-23",
            AgeBand::From24To26 => "24-26",
            AgeBand::From27To29 => "27-29",
            AgeBand::From30To38 => "30-38",
            AgeBand::From39To47 => "39-47",
            AgeBand::From48 => "48+",
            AgeBand::Unknown => "unknown",
        }
    }

    /// The CTDC codebook's value (`18--20`); missing is `-99`.
    pub fn ctdc_code(self) -> &'static str {
        match self {
            AgeBand::UpTo8 => "0--8",
            AgeBand::From9To17 => "9--17",
            AgeBand::From18To20 => "18--20",
            AgeBand::From21To23 => "21--23",
            AgeBand::From24To26 => "24--26",
            AgeBand::From27To29 => "27--29",
            AgeBand::From30To38 => "30--38",
            AgeBand::From39To47 => "39--47",
            AgeBand::From48 => "48+",
            AgeBand::Unknown => "-99",
        }
    }

    /// A child at registration (under 18), an adult, or not known.
    pub fn is_minor(self) -> Option<bool> {
        match self {
            AgeBand::Unknown => None,
            AgeBand::UpTo8 | AgeBand::From9To17 => Some(true),
            _ => Some(false),
        }
    }
}

/// Whole years from `born` to `on`.
pub fn years_between(born: NaiveDate, on: NaiveDate) -> i64 {
    let mut years = i64::from(on.year() - born.year());
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    years
}

pub fn day_of_ms(ms: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().date_naive()
}

impl CaseFacts {
    /// The facts of a case as it stands (`needs_review` as the case list shows it).
    pub fn of(state: &CaseState, needs_review: bool) -> CaseFacts {
        let fields = &state.fields;
        let created_ms = state.created.at_ms() as i64;
        let registered = fields.intake_date.unwrap_or_else(|| day_of_ms(created_ms));
        let age_band = match (fields.birth_date, fields.estimated_age) {
            (Some(born), _) => AgeBand::of_age(years_between(born, registered)),
            (None, Some(estimate)) => {
                AgeBand::of_age(i64::from(estimate.years) + years_between(estimate.as_of, registered).max(0))
            }
            (None, None) => AgeBand::Unknown,
        };
        let status_recorded_on = state
            .heads
            .get(&Field::IdentificationStatus)
            .and_then(|versions| versions.iter().max_by_key(|version| version.stamp.order()))
            .filter(|version| matches!(version.value, FieldValue::IdentificationStatus(Some(_))))
            .map(|version| day_of_ms(version.stamp.at_ms() as i64));
        let identified_on = fields.identification_status.and(fields.identification_date.or(status_recorded_on));
        CaseFacts {
            team: fields.assigned_team.clone(),
            status: fields.status,
            needs_review,
            created_ms,
            registered_on: registered,
            updated_ms: state.updated.at_ms() as i64,
            identification: fields.identification_status,
            identified_on,
            sex: fields.sex,
            age_band,
            nationality: fields.nationalities.first().cloned(),
            exploitation: fields.exploitation_types.clone(),
            sectors: fields.labour_sectors.clone(),
            means_of_control: fields.means_of_control.clone(),
            country_of_exploitation: fields.country_of_exploitation.clone(),
            recruiter_relation: fields.recruiter_relation,
            recruitment_methods: fields.recruitment_methods.clone(),
            referrals: state
                .referrals
                .iter()
                .map(|referral| ReferralFact {
                    id: referral.referral.id,
                    service_type: referral.referral.service_type,
                    status: referral.status,
                    sent_ms: referral.recorded.at_ms() as i64,
                    accepted_ms: referral
                        .status_history
                        .iter()
                        .filter(|change| change.status == ReferralStatus::Accepted)
                        .map(|change| change.recorded.at_ms() as i64)
                        .min(),
                })
                .collect(),
            screenings: state
                .screening_outcomes
                .iter()
                .map(|outcome| ScreeningFact {
                    id: outcome.id,
                    level: outcome.level.clone(),
                    recorded_ms: outcome.recorded_ms as i64,
                })
                .collect(),
            justice: state
                .justice
                .iter()
                .map(|step| JusticeFact {
                    stage: step.entry.stage,
                    on: step.entry.date.unwrap_or_else(|| day_of_ms(step.recorded.at_ms() as i64)),
                    perpetrator: step.entry.perpetrator,
                })
                .collect(),
            perpetrators: state
                .perpetrators
                .iter()
                .map(|perpetrator| PerpetratorFact { id: perpetrator.entry.id, sex: perpetrator.entry.sex })
                .collect(),
            services: state
                .services
                .iter()
                .map(|service| ServiceFact {
                    id: service.entry.id,
                    service_type: service.entry.service_type,
                    from: service.entry.date,
                    until: service.entry.until,
                })
                .collect(),
        }
    }

    /// A victim for the reports: presumed or identified.
    pub fn is_victim(&self) -> bool {
        matches!(self.identification, Some(IdentificationStatus::Presumed | IdentificationStatus::Identified))
    }

    /// The person's form of exploitation, one per person ([`form_of`]).
    pub fn form(&self) -> &'static str {
        form_of(&self.exploitation)
    }

    /// The labour sector, one per person ([`sector_of`]).
    pub fn sector(&self) -> &'static str {
        sector_of(&self.sectors)
    }
}

/// The form of exploitation of a person with these types recorded: the single type recorded,
/// or `sex_and_labour` when both sexual exploitation and forced labour are, or `multiple`, or
/// `not_recorded`.
pub fn form_of(exploitation: &[ExploitationType]) -> &'static str {
    let sexual_and_labour = |kind: &ExploitationType| {
        matches!(
            kind,
            ExploitationType::SexAndLabour | ExploitationType::SexualExploitation | ExploitationType::ForcedLabour
        )
    };
    let has = |kind| exploitation.contains(&kind);
    match exploitation {
        [] => "not_recorded",
        [one] => one.as_str(),
        kinds
            if kinds.iter().all(sexual_and_labour)
                && (has(ExploitationType::SexAndLabour)
                    || (has(ExploitationType::SexualExploitation) && has(ExploitationType::ForcedLabour))) =>
        {
            ExploitationType::SexAndLabour.as_str()
        }
        _ => "multiple",
    }
}

/// The labour sector of a person with these sectors recorded: the single sector, `multiple`,
/// or `none`.
pub fn sector_of(sectors: &[LabourSector]) -> &'static str {
    match sectors {
        [] => "none",
        [one] => one.as_str(),
        _ => "multiple",
    }
}

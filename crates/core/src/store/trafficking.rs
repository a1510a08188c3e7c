//! The facts the annual figures need, recorded as append-only entries of a case: the stages
//! of the trafficking process, the justice response, perpetrators (coded, never named) and the
//! services a person received. Each is a sealed event like every other change, so it syncs and
//! merges without conflict (two laptops adding entries both add them).
//!
//! Audit details are the coded stage or type only.

use chrono::NaiveDate;

use super::Workspace;
use crate::error::{Error, Result};
use crate::event::Change;
use crate::fold::CaseState;
use crate::ids::{CaseId, EntryId};
use crate::model::{
    ApproxDate, Country, Fault, JusticeStage, JusticeStep, Perpetrator, PerpetratorRole, ProcessEvent, ProcessStage,
    RecruiterRelation, ServiceReceived, ServiceType, Sex, values,
};

/// A stage of the trafficking process as typed by a worker.
#[derive(Clone, Debug)]
pub struct ProcessInput {
    pub stage: ProcessStage,
    pub country: Country,
    pub place: Option<String>,
    pub from: Option<ApproxDate>,
    pub to: Option<ApproxDate>,
}

/// A step of the justice response as typed by a worker.
#[derive(Clone, Debug)]
pub struct JusticeInput {
    pub stage: JusticeStage,
    pub date: Option<NaiveDate>,
    pub perpetrator: Option<EntryId>,
    pub sentence_months: Option<u32>,
}

/// A perpetrator as typed by a worker: coded values only.
#[derive(Clone, Debug)]
pub struct PerpetratorInput {
    pub roles: Vec<PerpetratorRole>,
    pub sex: Option<Sex>,
    pub nationality: Option<Country>,
    pub relationship: Option<RecruiterRelation>,
}

impl Workspace {
    /// Records where and when the person was recruited, moved or exploited.
    pub fn add_process_event(&mut self, case_id: CaseId, input: ProcessInput) -> Result<(EntryId, CaseState)> {
        if let (Some(from), Some(to)) = (input.from, input.to)
            && to.earliest() < from.earliest()
        {
            return Err(Error::refused(
                "to",
                Fault::EndBeforeStart,
                "the end is before the start; give the start in --from and the end in --to",
            ));
        }
        let event = ProcessEvent {
            id: EntryId::new(),
            stage: input.stage,
            country: input.country,
            place: input.place.as_deref().map(|place| values::short_text("place", place)).transpose()?,
            from: input.from,
            to: input.to,
        };
        let id = event.id;
        let state = self.record(case_id, Change::ProcessEventAdded { event }, "process.add", input.stage.as_str())?;
        Ok((id, state))
    }

    /// Records a step of the justice response. A named perpetrator must be on the case; a
    /// sentence belongs to a conviction only.
    pub fn add_justice_step(&mut self, case_id: CaseId, input: JusticeInput) -> Result<(EntryId, CaseState)> {
        let state = self.state(case_id)?;
        if let Some(perpetrator) = input.perpetrator
            && !state.perpetrators.iter().any(|known| known.entry.id == perpetrator)
        {
            return Err(Error::refused(
                "perpetrator",
                Fault::NotAllowed,
                "no perpetrator with that id on this case; record one first (harbour perpetrator add)",
            ));
        }
        if input.sentence_months.is_some() && input.stage != JusticeStage::Convicted {
            return Err(Error::refused(
                "sentence",
                Fault::OnlyWithConviction,
                "a sentence is recorded with a conviction only (--stage convicted)",
            ));
        }
        if let Some(date) = input.date
            && date > values::today()
        {
            return Err(Error::refused("date", Fault::DateInFuture, "the date is in the future"));
        }
        let step = JusticeStep {
            id: EntryId::new(),
            stage: input.stage,
            date: input.date,
            perpetrator: input.perpetrator,
            sentence_months: input.sentence_months,
        };
        let id = step.id;
        let state = self.record_on(state, Change::JusticeStepAdded { step }, "justice.add", input.stage.as_str())?;
        Ok((id, state))
    }

    /// Records a perpetrator as a minimal coded record (role, sex, nationality, relationship).
    pub fn add_perpetrator(&mut self, case_id: CaseId, input: PerpetratorInput) -> Result<(EntryId, CaseState)> {
        if input.roles.is_empty() {
            return Err(Error::refused(
                "role",
                Fault::Empty,
                format!("say what the perpetrator did; use one or more of: {}", PerpetratorRole::allowed()),
            ));
        }
        let perpetrator = Perpetrator {
            id: EntryId::new(),
            roles: input.roles,
            sex: input.sex,
            nationality: input.nationality,
            relationship: input.relationship,
        };
        let id = perpetrator.id;
        Ok((id, self.record(case_id, Change::PerpetratorAdded { perpetrator }, "perpetrator.add", "")?))
    }

    /// Records a service the person received, from `date` (and until `until`, when it ended).
    pub fn add_service_received(
        &mut self,
        case_id: CaseId,
        service_type: ServiceType,
        date: NaiveDate,
        until: Option<NaiveDate>,
    ) -> Result<(EntryId, CaseState)> {
        if date > values::today() {
            return Err(Error::refused("date", Fault::DateInFuture, "the date is in the future"));
        }
        if until.is_some_and(|until| until < date) {
            return Err(Error::refused("until", Fault::EndBeforeStart, "the end is before the start date"));
        }
        let service = ServiceReceived { id: EntryId::new(), service_type, date, until };
        let id = service.id;
        Ok((id, self.record(case_id, Change::ServiceReceived { service }, "service.add", service_type.as_str())?))
    }
}

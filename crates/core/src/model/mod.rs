//! The domain model, in the users' words.

pub mod case;
pub mod codes;
pub mod entries;
pub mod fault;
pub mod values;

pub use case::{CaseFields, Field, FieldValue};
pub use codes::*;
pub use entries::{
    Consent, ConsentMethod, ConsentScope, JusticeStep, Note, Perpetrator, ProcessEvent, Referral, ReferralStatus,
    Screening, ServiceReceived,
};
pub use fault::Fault;
pub use values::{AgeEstimate, ApproxDate, Country, Language, Phone};

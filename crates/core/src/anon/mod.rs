//! Data that leaves Harbour on purpose: the CTDC-coded anonymised data set (`ctdc`), with the
//! UN M49 regions its citizenship is generalised to (`regions`). What is identifiable (the
//! HTCDS transfer, the referral letter) lives in `crate::htcds` and `crate::letter`.

pub mod ctdc;
pub mod regions;

pub use ctdc::{CtdcExport, CtdcRelease, DEFAULT_K};

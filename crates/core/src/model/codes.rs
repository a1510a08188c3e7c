//! Coded values from the international standards: HTCDS (UN Migration / IOM Human Trafficking
//! Case Data Standard) and the CTDC codebook. Each value is stored as its snake_case name and
//! knows its standard code, so statistics can be produced without translation tables.

use serde::{Deserialize, Serialize};

/// Defines a closed list of values with its snake_case name, its standard code and its
/// English label, and parsing that accepts the name in any case with `-` or `_`.
macro_rules! coded {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident = $snake:literal, $code:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// What the list is, in words, for error messages.
            pub const WHAT: &'static str = $what;

            /// The snake_case name stored and accepted by Harbour.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $snake),+ }
            }

            /// The value's code in the standard it comes from.
            pub fn standard_code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Parses the snake_case name (`-`, spaces and case are forgiven) or the standard code.
            pub fn parse(text: &str) -> Option<$name> {
                let wanted = text.trim().to_ascii_lowercase().replace(['-', ' ', '/'], "_");
                Self::ALL.iter().copied().find(|value| {
                    value.as_str() == wanted || value.standard_code().eq_ignore_ascii_case(text.trim())
                })
            }

            /// The accepted names, for "allowed values are …" messages.
            pub fn allowed() -> String {
                Self::ALL.iter().map(|value| value.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

coded! {
    /// HTCDS `prs_Gender`.
    Sex, "sex/gender" {
        Female = "female", "Female", "Female";
        Male = "male", "Male", "Male";
        TransgenderNonConforming = "transgender_non_conforming", "Transgender/NonConforming", "Transgender or gender non-conforming";
        Unknown = "unknown", "Unknown", "Unknown";
    }
}

coded! {
    /// HTCDS `cas_Status`.
    CaseStatus, "case status" {
        Active = "active", "Active", "Active";
        FollowUp = "follow_up", "FollowUp", "Follow-up";
        Closed = "closed", "Closed", "Closed";
        ClosedReferred = "closed_referred", "ClosedReferred", "Closed (referred)";
    }
}

coded! {
    /// Harbour's own triage level for a case.
    RiskLevel, "risk level" {
        Low = "low", "low", "Low";
        Medium = "medium", "medium", "Medium";
        High = "high", "high", "High";
    }
}

coded! {
    /// CTDC type-of-exploitation flags.
    ExploitationType, "exploitation type" {
        ForcedLabour = "forced_labour", "isForcedLabour", "Forced labour";
        SexualExploitation = "sexual_exploitation", "isSexualExploit", "Sexual exploitation";
        SexAndLabour = "sex_and_labour", "isSexAndLabour", "Sexual exploitation and forced labour";
        ForcedMarriage = "forced_marriage", "isForcedMarriage", "Forced marriage";
        ForcedMilitary = "forced_military", "isForcedMilitary", "Forced military service";
        OrganRemoval = "organ_removal", "isOrganRemoval", "Organ removal";
        SlaveryAndPractices = "slavery_and_practices", "isSlaveryAndPractices", "Slavery and similar practices";
        Other = "other", "isOtherExploit", "Other exploitation";
    }
}

coded! {
    /// CTDC means-of-control flags (the same 17 values as HTCDS `vic_MethodsOfControl`).
    MeansOfControl, "means of control" {
        DebtBondage = "debt_bondage", "meansOfControlDebtBondage", "Debt bondage";
        TakesEarnings = "takes_earnings", "meansOfControlTakesEarnings", "Takes earnings";
        RestrictsFinancialAccess = "restricts_financial_access", "meansOfControlRestrictsFinancialAccess", "Restricts access to money";
        Threats = "threats", "meansOfControlThreats", "Threats";
        PsychologicalAbuse = "psychological_abuse", "meansOfControlPsychologicalAbuse", "Psychological abuse";
        PhysicalAbuse = "physical_abuse", "meansOfControlPhysicalAbuse", "Physical abuse";
        SexualAbuse = "sexual_abuse", "meansOfControlSexualAbuse", "Sexual abuse";
        FalsePromises = "false_promises", "meansOfControlFalsePromises", "False promises";
        PsychoactiveSubstances = "psychoactive_substances", "meansOfControlPsychoactiveSubstances", "Psychoactive substances";
        RestrictsMovement = "restricts_movement", "meansOfControlRestrictsMovement", "Restricts movement";
        RestrictsMedicalCare = "restricts_medical_care", "meansOfControlRestrictsMedicalCare", "Restricts medical care";
        ExcessiveWorkingHours = "excessive_working_hours", "meansOfControlExcessiveWorkingHours", "Excessive working hours";
        UsesChildren = "uses_children", "meansOfControlUsesChildren", "Uses children";
        ThreatOfLawEnforcement = "threat_of_law_enforcement", "meansOfControlThreatOfLawEnforcement", "Threat of law enforcement";
        WithholdsNecessities = "withholds_necessities", "meansOfControlWithholdsNecessities", "Withholds necessities";
        WithholdsDocuments = "withholds_documents", "meansOfControlWithholdsDocuments", "Withholds identity documents";
        Other = "other", "meansOfControlOther", "Other";
    }
}

coded! {
    /// CTDC `typeOfLabour…` flags.
    LabourSector, "labour sector" {
        Agriculture = "agriculture", "typeOfLabourAgriculture", "Agriculture";
        Aquafarming = "aquafarming", "typeOfLabourAquafarming", "Aquafarming and fishing";
        Begging = "begging", "typeOfLabourBegging", "Begging";
        Construction = "construction", "typeOfLabourConstruction", "Construction";
        DomesticWork = "domestic_work", "typeOfLabourDomesticWork", "Domestic work";
        Hospitality = "hospitality", "typeOfLabourHospitality", "Hospitality";
        IllicitActivities = "illicit_activities", "typeOfLabourIllicitActivities", "Illicit activities";
        Manufacturing = "manufacturing", "typeOfLabourManufacturing", "Manufacturing";
        MiningOrDrilling = "mining_or_drilling", "typeOfLabourMiningOrDrilling", "Mining or drilling";
        Peddling = "peddling", "typeOfLabourPeddling", "Peddling";
        Transportation = "transportation", "typeOfLabourTransportation", "Transportation";
        Other = "other", "typeOfLabourOther", "Other";
        NotSpecified = "not_specified", "typeOfLabourNotSpecified", "Not specified";
    }
}

coded! {
    /// CTDC `typeOfSex…` flags.
    SexualExploitationType, "type of sexual exploitation" {
        Prostitution = "prostitution", "typeOfSexProstitution", "Prostitution";
        Pornography = "pornography", "typeOfSexPornography", "Pornography";
        RemoteInteractiveServices = "remote_interactive_services", "typeOfSexRemoteInteractiveServices", "Remote interactive services";
        PrivateSexualServices = "private_sexual_services", "typeOfSexPrivateSexualServices", "Private sexual services";
    }
}

coded! {
    /// CTDC `recruiterRelation…` flags.
    RecruiterRelation, "recruiter relation" {
        IntimatePartner = "intimate_partner", "recruiterRelationIntimatePartner", "Intimate partner";
        Friend = "friend", "recruiterRelationFriend", "Friend";
        Family = "family", "recruiterRelationFamily", "Family member";
        Other = "other", "recruiterRelationOther", "Other";
        Unknown = "unknown", "recruiterRelationUnknown", "Unknown";
    }
}

coded! {
    /// Kinds of service in a referral directory.
    ServiceType, "service type" {
        Shelter = "shelter", "shelter", "Shelter";
        Medical = "medical", "medical", "Medical care";
        Psychosocial = "psychosocial", "psychosocial", "Psychosocial support";
        LegalAid = "legal_aid", "legal_aid", "Legal aid";
        Police = "police", "police", "Police";
        LabourInspection = "labour_inspection", "labour_inspection", "Labour inspection";
        Immigration = "immigration", "immigration", "Immigration";
        Consular = "consular", "consular", "Consular services";
        ReturnAssistance = "return_assistance", "return_assistance", "Return and reintegration";
        Ngo = "ngo", "ngo", "IOM or NGO support";
        Other = "other", "other", "Other";
    }
}

coded! {
    /// How urgent a referral is.
    Urgency, "urgency" {
        Routine = "routine", "routine", "Routine";
        Urgent = "urgent", "urgent", "Urgent";
        Emergency = "emergency", "emergency", "Emergency";
    }
}

coded! {
    /// HTCDS outgoing-referral reason.
    ReferralReason, "referral reason" {
        AdditionalServicesRequired = "additional_services_required", "AdditionalServicesRequired", "Additional services required";
        MigrationOrChangeOfLocation = "migration_or_change_of_location", "MigrationOrChangeOfLocation", "Migration or change of location";
        Other = "other", "Other", "Other";
    }
}

coded! {
    /// HTCDS `vic_MethodOfRecruitment` (draft field; codes are the standard's value names,
    /// CTDC's `isAbduction` flag is the `abduction` value).
    RecruitmentMethod, "recruitment method" {
        Abduction = "abduction", "Abduction", "Abduction";
        EducationalFacility = "educational_facility", "EducationalFacility", "Through a school or college";
        Familial = "familial", "Familial", "Through family";
        Internet = "internet", "Internet", "Internet (social media, online advertisement)";
        MarriageBroker = "marriage_broker", "InternationalMarriageBroker", "International marriage broker";
        IntimatePartner = "intimate_partner", "IntimatePartnerOrMarriageProposition", "Intimate partner or marriage proposal";
        JobOffer = "job_offer", "JobOfferOrAdvertisement", "Job offer or advertisement";
        PosingAsBenefactor = "posing_as_benefactor", "PosingAsBenefactor", "Someone posing as a benefactor";
        PublicArea = "public_area", "PublicArea", "Approached in a public place";
        OfferOfAccommodation = "offer_of_accommodation", "OfferOfAccommodation", "Offer of accommodation";
        Work = "work", "Work", "At work";
        Other = "other", "Other", "Other";
        Unknown = "unknown", "Unknown", "Unknown";
    }
}

coded! {
    /// HTCDS `vic_Vulnerabilities` (draft field).
    Vulnerability, "vulnerability" {
        Addiction = "addiction", "Addiction", "Addiction";
        Caste = "caste", "Caste", "Caste";
        Discrimination = "discrimination", "Discrimination", "Discrimination";
        Poverty = "poverty", "Poverty", "Poverty";
        DisabilityAndPhysicalHealth = "disability_and_physical_health", "DisabilityAndPhysicalHealth", "Disability and physical health";
        MentalHealth = "mental_health", "MentalHealth", "Mental health";
        Migration = "migration", "Migration", "Migration";
        Homelessness = "homelessness", "Homelessness", "Homelessness";
        AbuseSocialMedia = "abuse_social_media", "AbuseSocialMedia", "Abuse through social media";
        AbusePhysical = "abuse_physical", "AbusePhysical", "Physical abuse";
        Education = "education", "Education", "Education";
        WorkEnvironment = "work_environment", "WorkEnvironment", "Work environment";
    }
}

coded! {
    /// Where a person stands as a possible victim (HTCDS `vic_TraffickingStatus`). Until a
    /// person is identified as a victim, Harbour's words are "person" and "case".
    IdentificationStatus, "identification status" {
        Possible = "possible", "Possible", "Possible victim";
        Presumed = "presumed", "Presumed", "Presumed victim";
        Identified = "identified", "Identified", "Identified victim";
        NotAVictim = "not_a_victim", "NotAVictim", "Not a victim";
    }
}

coded! {
    /// Who identified a person: the kind of organisation (HTCDS `org_Type`).
    OrganisationType, "kind of organisation" {
        Ngo = "ngo", "NGO", "NGO";
        LawEnforcement = "law_enforcement", "LawEnforcement", "Law enforcement";
        HealthService = "health_service", "HealthServiceOrganisation", "Health service";
        CentralGovernment = "central_government", "CentralGovernmentOrganisation", "Central government";
        LocalGovernment = "local_government", "LocalGovernmentOrganisation", "Local government";
        ImmigrationService = "immigration_service", "ImmigrationService", "Immigration service";
        LegalService = "legal_service", "LegalService", "Legal service";
        CorporateBusiness = "corporate_business", "CorporateBusiness", "Business";
    }
}

coded! {
    /// A stage of the trafficking process (HTCDS `hte_Type`).
    ProcessStage, "stage of the trafficking process" {
        Recruitment = "recruitment", "Recruitment", "Recruitment";
        Transit = "transit", "Transit", "Transit";
        Exploitation = "exploitation", "Exploitation", "Exploitation";
    }
}

coded! {
    /// A step of the criminal-justice response. No international standard codes these steps;
    /// the names are the ones the US TIP report and UNODC questionnaires count.
    JusticeStage, "justice stage" {
        Reported = "reported", "reported", "Reported to the police";
        Investigation = "investigation", "investigation", "Investigation opened";
        Charged = "charged", "charged", "Charges brought";
        Prosecution = "prosecution", "prosecution", "Prosecution started";
        Convicted = "convicted", "convicted", "Conviction";
        Acquitted = "acquitted", "acquitted", "Acquittal";
        Dismissed = "dismissed", "dismissed", "Case dismissed";
    }
}

coded! {
    /// A perpetrator's role in the process (HTCDS `per_RoleInProcess`).
    PerpetratorRole, "role in the process" {
        TravellingPartner = "travelling_partner", "TravellingPartner", "Travelling partner";
        Transporter = "transporter", "Transporter", "Transporter";
        Recruiter = "recruiter", "RecruiterOrIntermediary", "Recruiter or intermediary";
        BrokerTravelAgent = "broker_travel_agent", "BrokerTravelAgent", "Broker or travel agent";
        TransferredIndividual = "transferred_individual", "TransferredIndividual", "Transferred the person";
        HarbouredIndividual = "harboured_individual", "HarbouredIndividual", "Harboured the person";
        SoldIndividual = "sold_individual", "SoldIndividual", "Sold the person";
        BoughtIndividual = "bought_individual", "BoughtIndividual", "Bought the person";
        ReceivedIndividual = "received_individual", "ReceivedIndividual", "Received the person";
        ControlledIndividual = "controlled_individual", "ControlledIndividual", "Controlled the person";
        Smuggler = "smuggler", "Smuggler", "Smuggler";
        Abuser = "abuser", "Abuser", "Abuser";
        Kidnapper = "kidnapper", "Kidnapper", "Kidnapper";
        Exploiter = "exploiter", "Exploiter", "Exploiter";
        Other = "other", "Other", "Other";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_names_codes_and_forgives_punctuation() {
        assert_eq!(Sex::parse("Female"), Some(Sex::Female));
        assert_eq!(Sex::parse("transgender-non-conforming"), Some(Sex::TransgenderNonConforming));
        assert_eq!(Sex::parse("Transgender/NonConforming"), Some(Sex::TransgenderNonConforming));
        assert_eq!(CaseStatus::parse("follow-up"), Some(CaseStatus::FollowUp));
        assert_eq!(CaseStatus::parse("ClosedReferred"), Some(CaseStatus::ClosedReferred));
        assert_eq!(MeansOfControl::parse("meansOfControlDebtBondage"), Some(MeansOfControl::DebtBondage));
        assert_eq!(RiskLevel::parse("severe"), None);
        assert_eq!(MeansOfControl::ALL.len(), 17);
        assert_eq!(PerpetratorRole::ALL.len(), 15);
        assert_eq!(IdentificationStatus::parse("not-a-victim"), Some(IdentificationStatus::NotAVictim));
        assert_eq!(ProcessStage::parse("Recruitment"), Some(ProcessStage::Recruitment));
    }
}

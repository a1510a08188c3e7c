//! The domain model, in the users' words.

pub mod codes;

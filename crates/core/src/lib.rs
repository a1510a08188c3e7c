//! Harbour's core: the domain model, sealed events and their merge, keys and the encrypted
//! local store. It knows nothing of HTTP, Tauri or the terminal.

pub mod directory;
pub mod forms;
pub mod matching;
pub mod model;

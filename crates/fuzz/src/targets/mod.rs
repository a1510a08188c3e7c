pub(crate) mod directory;
pub(crate) mod forms;
pub(crate) mod grants;
pub(crate) mod identity;
pub(crate) mod invitation;
pub(crate) mod keyfile;
pub(crate) mod payload;
pub(crate) mod wire;

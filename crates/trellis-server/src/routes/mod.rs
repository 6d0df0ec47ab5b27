//! One router per resource; each handler extracts, calls the engine, maps the result.

pub mod auth;
pub mod forms;
pub mod ops;
pub mod packs;
pub mod pages;
pub mod public;
pub mod records;
pub mod rules;
pub mod sheets;
pub mod tasks;
pub mod workflows;

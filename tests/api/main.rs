//! Integration tests: each starts the real server on a random port against a
//! temp SQLite file and against its own PostgreSQL schema, and drives it over
//! HTTP. `both!` runs every test on both backends.

mod fakes;
mod harness;

mod auth;
mod backups;
mod browser;
mod calendar;
mod cli;
mod designers;
mod errors;
mod filter_diff;
mod forms;
mod hardening;
mod language;
mod import_limits;
mod imports;
mod limits;
mod list;
mod openapi;
mod ops;
mod packs;
mod permissions;
mod public_links;
mod publishing;
mod records;
mod rules;
mod sandbox;
mod triggers;
mod upgrade;
mod views;
mod workspace;
mod workflows;

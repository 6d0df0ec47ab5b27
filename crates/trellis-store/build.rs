//! `sqlx::migrate!` embeds the migrations at compile time; without this, a
//! migration file added later is not seen until something else in the crate
//! changes (sqlx's documented build script).
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}

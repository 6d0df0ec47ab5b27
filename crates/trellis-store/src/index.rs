//! Database indexes a form asks for, and their names.
//!
//! Each `indexes` field becomes `ix__FORM__FIELD` on `(<field expr>, id)` of
//! the form's table, so a filter or sort on it seeks instead of scanning; each
//! `unique` key becomes a partial unique index `uq__FORM__F1__F2` over the
//! form's live records, so the database itself refuses duplicates under
//! concurrent writes.
//! Names longer than PostgreSQL's 63 bytes end in a hash instead. Keys are
//! restricted by `trellis_core::key`, which makes them safe to splice into DDL.

use trellis_core::FormDef;

/// One index a form wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub fields: Vec<String>,
    pub unique: bool,
}

/// The prefix of every index belonging to `form`.
pub fn prefixes(form: &str) -> [String; 2] {
    [format!("ix__{form}__"), format!("uq__{form}__")]
}

fn name(kind: &str, form: &str, fields: &[String]) -> String {
    let full = format!("{kind}__{form}__{}", fields.join("__"));
    if full.len() <= 63 {
        return full;
    }
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = full.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    // `#` cannot occur in a key, so a hashed name never equals a readable one.
    format!("{kind}__{form}__#{hash:016x}")
}

/// The indexes `def` wants, unique keys first. Every `x-link` field is
/// indexed too: rollups and "records linked to this one" look children up by it.
pub fn specs(def: &FormDef) -> Vec<IndexSpec> {
    let unique = def.unique.iter().map(|fields| IndexSpec { name: name("uq", &def.key, fields), fields: fields.clone(), unique: true });
    let links = def
        .schema
        .get("properties")
        .and_then(|p| p.as_object())
        .into_iter()
        .flatten()
        .filter(|(k, sub)| sub.get("x-link").is_some_and(|l| l.is_string()) && !def.indexes.contains(k))
        .map(|(k, _)| k.clone());
    let plain = def.indexes.iter().cloned().chain(links).map(|f| {
        let fields = vec![f];
        IndexSpec { name: name("ix", &def.key, &fields), fields, unique: false }
    });
    unique.chain(plain).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_postgres() {
        let def: FormDef = serde_json::from_value(serde_json::json!({
            "key": "customer", "schema": {}, "unique": [["phone"], ["a_very_long_field_name_number_one", "a_very_long_field_name_number_two"]],
            "indexes": ["level"]}))
        .unwrap();
        let names: Vec<_> = specs(&def).into_iter().map(|s| s.name).collect();
        assert_eq!(names[0], "uq__customer__phone");
        assert!(names[1].starts_with("uq__customer__#") && names[1].len() <= 63);
        assert_eq!(names[2], "ix__customer__level");
    }
}

//! Form and field keys. They are spelled the same in the API, in rhai scripts
//! and in SQL index names, so they are restricted to a safe alphabet: a key is
//! lower-case ASCII letters, digits and `_`, starting with a letter. Because of
//! that rule the store may splice a key into DDL (index expressions) without
//! quoting; values are always bound.

/// Longest form key: index names embed it and PostgreSQL cuts names at 63 bytes.
pub const MAX_FORM_KEY: usize = 40;
/// Longest field key.
pub const MAX_FIELD_KEY: usize = 63;

/// Whether `key` is a valid key of at most `max` bytes.
pub fn is_valid(key: &str, max: usize) -> bool {
    let bytes = key.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        // `__` separates form and fields in index names, so it may not appear inside a key.
        && !key.contains("__")
}

/// The explanation shown when a key is refused.
pub fn rule(max: usize) -> String {
    format!("must be 1 to {max} characters of a-z, 0-9 and _ (never two in a row), starting with a letter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        for good in ["customer", "follow_up", "a1", "x"] {
            assert!(is_valid(good, MAX_FORM_KEY), "{good}");
        }
        for bad in ["", "1abc", "Customer", "a-b", "a b", "客户", "_x", "a;drop", "x__y"] {
            assert!(!is_valid(bad, MAX_FORM_KEY), "{bad}");
        }
        assert!(!is_valid(&"a".repeat(41), MAX_FORM_KEY));
        assert!(is_valid(&"a".repeat(40), MAX_FORM_KEY));
    }
}

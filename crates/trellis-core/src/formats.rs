//! The field kinds JSON Schema lacks, spelled as `format` values.
//!
//! String formats (`phone`, `user`, `money` written as text) are registered
//! with the JSON Schema validator. JSON Schema only applies `format` to
//! strings, so the numeric ones (`money`, `rating`, `nps` on numbers) are
//! checked by [`check_numeric`], a small walk over schema and data that
//! [`crate::validate`] runs after the schema.

use serde_json::Value;

/// Formats Trellis adds, and what a field of that format holds.
pub const TRELLIS_FORMATS: &[(&str, &str)] = &[
    ("phone", "a mainland mobile number (13800138000) or an E.164 number (+8613800138000)"),
    ("user", "a user's email or id"),
    ("money", "an amount with at most two decimals"),
    ("rating", "a whole number of stars from 1 to 5 (or to the field's maximum)"),
    ("nps", "a whole number from 0 to 10"),
];

/// Standard formats that Trellis asserts (JSON Schema only annotates them by default).
pub const ASSERTED_STANDARD_FORMATS: &[&str] = &[
    "date", "date-time", "time", "email", "uri", "uuid", "hostname", "ipv4", "ipv6", "duration", "regex",
];

/// A mainland China mobile number (11 digits, `1[3-9]…`) or an E.164 number.
pub fn is_phone(s: &str) -> bool {
    let b = s.as_bytes();
    let mainland = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit);
    let e164 = b.len() >= 9
        && b.len() <= 16
        && b[0] == b'+'
        && (b'1'..=b'9').contains(&b[1])
        && b[1..].iter().all(u8::is_ascii_digit);
    mainland || e164
}

/// Money written as text: an optional minus, digits, and at most two decimals.
pub fn is_money_text(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (!s.contains('.') || (!frac.is_empty() && frac.len() <= 2))
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Money as a JSON number: at most two decimals (tolerating binary fractions).
pub fn is_money_number(n: f64) -> bool {
    n.is_finite() && ((n * 100.0).round() - n * 100.0).abs() < 1e-6
}

/// Checks the numeric Trellis formats in `data` against `schema`, following
/// `properties` and `items`. Returns `(pointer, message)` pairs.
pub fn check_numeric(schema: &Value, data: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
    let Some(s) = schema.as_object() else { return };
    if let (Some(format), Some(n)) = (s.get("format").and_then(Value::as_str), data.as_f64()) {
        // 7.0 is an integer to JSON Schema, so it is to us.
        let is_int = n.fract() == 0.0;
        match format {
            "money" if !is_money_number(n) => {
                out.push((pointer.into(), format!("{n} is not an amount of money: use at most two decimals")));
            }
            // A non-integer is already refused by the schema's "type": "integer".
            "rating" | "nps" if !is_int => {}
            "rating" => {
                let max = s.get("maximum").and_then(Value::as_i64).unwrap_or(5);
                let min = s.get("minimum").and_then(Value::as_i64).unwrap_or(1);
                if (n as i64) < min || (n as i64) > max {
                    out.push((pointer.into(), format!("{n} is not a rating: use a whole number from {min} to {max}")));
                }
            }
            "nps" if !(0.0..=10.0).contains(&n) => {
                out.push((pointer.into(), format!("{n} is not an NPS score: use a whole number from 0 to 10")));
            }
            _ => {}
        }
    }
    if let (Some(props), Some(obj)) = (s.get("properties").and_then(Value::as_object), data.as_object()) {
        for (k, sub) in props {
            // Only numbers, and what may hold them, can be out of bounds: the pointer is built for those alone.
            if let Some(v) = obj.get(k).filter(|v| v.is_number() || v.is_object() || v.is_array()) {
                check_numeric(sub, v, &format!("{pointer}/{}", crate::issue::escape_token(k)), out);
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), data.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            check_numeric(items, v, &format!("{pointer}/{i}"), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phones() {
        for ok in ["13800138000", "19912345678", "+8613800138000", "+14155552671"] {
            assert!(is_phone(ok), "{ok}");
        }
        for bad in ["12800138000", "1380013800", "138001380001", "+0123456789", "+86 138", "phone", "", "+1234567"] {
            assert!(!is_phone(bad), "{bad}");
        }
    }

    #[test]
    fn money() {
        for ok in ["0", "12", "12.5", "-3.25", "1000000.00"] {
            assert!(is_money_text(ok), "{ok}");
        }
        for bad in ["", "12.", ".5", "1.234", "1,000", "abc", "-"] {
            assert!(!is_money_text(bad), "{bad}");
        }
        assert!(is_money_number(19.99) && is_money_number(0.1 + 0.2) && !is_money_number(1.001));
    }

    #[test]
    fn numeric_formats_follow_properties_and_items() {
        let schema = json!({"type": "object", "properties": {
            "stars": {"type": "integer", "format": "rating"},
            "ten": {"type": "integer", "format": "rating", "maximum": 10},
            "nps": {"type": "integer", "format": "nps"},
            "lines": {"type": "array", "items": {"type": "object", "properties": {"price": {"type": "number", "format": "money"}}}}
        }});
        let mut out = vec![];
        check_numeric(&schema, &json!({"stars": 6, "ten": 9, "nps": 11, "lines": [{"price": 1.5}, {"price": 1.555}]}), "", &mut out);
        let pointers: Vec<_> = out.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(pointers, ["/stars", "/nps", "/lines/1/price"]);
    }
}

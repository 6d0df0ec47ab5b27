//! The helper library scripts call: dates, numbers and money, text, and
//! emptiness. Every helper takes `()` (a missing field) without failing and
//! mostly answers `()`, so `days_since(record.last_contact_at)` on a customer
//! never contacted is `()`, not an error. Documented in `docs/scripting.md`.
//!
//! Dates are text: a date is `YYYY-MM-DD`, a time is RFC 3339. Day
//! arithmetic on a time uses its UTC date. "Today" is the UTC date of the
//! evaluation's `now` unless a time zone is given (`today("Asia/Shanghai")`).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use rhai::{Array, Dynamic, Engine, FLOAT, INT, ImmutableString, Map};

use super::current_now;

pub(super) fn register(engine: &mut Engine) {
    register_dates(engine);
    register_numbers(engine);
    register_text(engine);
    register_emptiness(engine);
}

fn now() -> Timestamp {
    // Scripts only run inside `Sandbox::eval`, which sets the time first.
    current_now().unwrap_or(Timestamp::UNIX_EPOCH)
}

fn utc_today() -> Date {
    now().to_zoned(TimeZone::UTC).date()
}

/// Reads the date out of the common ways people write one: `2026-01-31`,
/// `2026/1/31`, `2026.1.31`, `2026年1月31日`, `20260131`, or an RFC 3339 time
/// (its UTC date).
pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    // A time first: jiff would read the date of "…T01:00:00+08:00" as written, not in UTC.
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t.to_zoned(TimeZone::UTC).date());
    }
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n = |r: std::ops::Range<usize>| s[r].parse::<i16>().ok();
        return Date::new(n(0..4)?, n(4..6)? as i8, n(6..8)? as i8).ok();
    }
    let parts: Vec<&str> = s.split(['-', '/', '.', '年', '月', '日']).filter(|p| !p.is_empty()).collect();
    if parts.len() == 3 {
        let y = parts[0].trim().parse::<i16>().ok()?;
        let m = parts[1].trim().parse::<i8>().ok()?;
        let d = parts[2].trim().parse::<i8>().ok()?;
        return Date::new(y, m, d).ok();
    }
    None
}

fn date_of(v: &Dynamic) -> Option<Date> {
    v.read_lock::<ImmutableString>().and_then(|s| parse_date(&s))
}

fn or_unit<T: Into<Dynamic>>(v: Option<T>) -> Dynamic {
    v.map(Into::into).unwrap_or(Dynamic::UNIT)
}

fn days(from: Date, to: Date) -> Option<INT> {
    from.until(to).ok().map(|span| INT::from(span.get_days()))
}

/// The anniversary of `d` on or after `from`. February 29 falls on February 28 in common years.
pub fn next_anniversary(d: Date, from: Date) -> Option<Date> {
    let on = |year: i16| Date::new(year, d.month(), d.day()).or_else(|_| Date::new(year, d.month(), d.day() - 1)).ok();
    let this_year = on(from.year())?;
    if this_year >= from { Some(this_year) } else { on(from.year() + 1) }
}

fn shift(v: &Dynamic, f: impl Fn(Date) -> Option<Date>) -> Dynamic {
    let Some(s) = v.read_lock::<ImmutableString>() else { return Dynamic::UNIT };
    if let Ok(t) = s.parse::<Timestamp>() {
        let z = t.to_zoned(TimeZone::UTC);
        return or_unit(f(z.date()).and_then(|d| d.to_datetime(z.time()).to_zoned(TimeZone::UTC).ok()).map(|z| z.timestamp().to_string()));
    }
    or_unit(parse_date(&s).and_then(f).map(|d| d.to_string()))
}

fn register_dates(engine: &mut Engine) {
    engine.register_fn("now", || now().to_string());
    engine.register_fn("today", || utc_today().to_string());
    engine.register_fn("today", |tz: ImmutableString| -> Result<String, Box<rhai::EvalAltResult>> {
        let zone = TimeZone::get(&tz).map_err(|e| format!("unknown time zone '{tz}': {e}"))?;
        Ok(now().to_zoned(zone).date().to_string())
    });
    engine.register_fn("parse_date", |v: Dynamic| or_unit(date_of(&v).map(|d| d.to_string())));
    engine.register_fn("days_since", |v: Dynamic| or_unit(date_of(&v).and_then(|d| days(d, utc_today()))));
    engine.register_fn("days_until", |v: Dynamic| or_unit(date_of(&v).and_then(|d| days(utc_today(), d))));
    engine.register_fn("days_between", |a: Dynamic, b: Dynamic| or_unit(date_of(&a).zip(date_of(&b)).and_then(|(a, b)| days(a, b))));
    engine.register_fn("age", |v: Dynamic| {
        or_unit(date_of(&v).map(|born| {
            let today = utc_today();
            let before_birthday = (today.month(), today.day()) < (born.month(), born.day());
            INT::from(today.year() - born.year()) - INT::from(before_birthday)
        }))
    });
    // `try_*`: a number typed into a record must not be able to panic the engine.
    engine.register_fn("add_days", |v: Dynamic, n: INT| shift(&v, |d| jiff::Span::new().try_days(n).ok().and_then(|s| d.checked_add(s).ok())));
    engine.register_fn("add_months", |v: Dynamic, n: INT| shift(&v, |d| jiff::Span::new().try_months(n).ok().and_then(|s| d.checked_add(s).ok())));
    engine.register_fn("year", |v: Dynamic| or_unit(date_of(&v).map(|d| INT::from(d.year()))));
    engine.register_fn("month", |v: Dynamic| or_unit(date_of(&v).map(|d| INT::from(d.month()))));
    engine.register_fn("day", |v: Dynamic| or_unit(date_of(&v).map(|d| INT::from(d.day()))));
    // 1 = Monday … 7 = Sunday (ISO 8601).
    engine.register_fn("weekday", |v: Dynamic| or_unit(date_of(&v).map(|d| INT::from(d.weekday().to_monday_one_offset()))));
    engine.register_fn("day_of_year", |v: Dynamic| or_unit(date_of(&v).map(|d| INT::from(d.day_of_year()))));
    engine.register_fn("next_anniversary", |v: Dynamic| or_unit(date_of(&v).and_then(|d| next_anniversary(d, utc_today())).map(|d| d.to_string())));
    engine.register_fn("days_to_anniversary", |v: Dynamic| {
        or_unit(date_of(&v).and_then(|d| next_anniversary(d, utc_today())).and_then(|next| days(utc_today(), next)))
    });
}

/// A number out of a number or out of text as people type it: `1,234.50`, `¥1,234`, ` 12 `.
pub fn number_of(v: &Dynamic) -> Option<FLOAT> {
    if let Some(i) = v.clone().try_cast::<INT>() {
        return Some(i as FLOAT);
    }
    if let Some(f) = v.clone().try_cast::<FLOAT>() {
        return Some(f);
    }
    let s = v.read_lock::<ImmutableString>()?;
    let cleaned: String = s.trim().trim_start_matches(['¥', '￥', '$', '€']).chars().filter(|c| *c != ',' && *c != '，').collect();
    cleaned.trim().parse::<FLOAT>().ok().filter(|f| f.is_finite())
}

fn numbers(arr: &Array) -> impl Iterator<Item = FLOAT> + '_ {
    arr.iter().filter_map(number_of)
}

fn register_numbers(engine: &mut Engine) {
    engine.register_fn("to_number", |v: Dynamic| or_unit(number_of(&v)));
    engine.register_fn("round", |v: Dynamic, digits: INT| {
        or_unit(number_of(&v).map(|f| {
            let p = (10.0 as FLOAT).powi(digits.clamp(0, 12) as i32);
            (f * p).round() / p
        }))
    });
    engine.register_fn("clamp", |v: Dynamic, lo: Dynamic, hi: Dynamic| -> Dynamic {
        match (v.as_int(), lo.as_int(), hi.as_int()) {
            (Ok(v), Ok(lo), Ok(hi)) if lo <= hi => v.clamp(lo, hi).into(),
            _ => or_unit(number_of(&v).zip(number_of(&lo)).zip(number_of(&hi)).filter(|((_, lo), hi)| lo <= hi).map(|((v, lo), hi)| v.clamp(lo, hi))),
        }
    });
    engine.register_fn("percent", |part: Dynamic, whole: Dynamic| {
        or_unit(number_of(&part).zip(number_of(&whole)).filter(|(_, w)| *w != 0.0).map(|(p, w)| p * 100.0 / w))
    });
    engine.register_fn("sum", |arr: Array| numbers(&arr).sum::<FLOAT>());
    engine.register_fn("avg", |arr: Array| {
        let (n, total) = numbers(&arr).fold((0usize, 0.0), |(n, t), x| (n + 1, t + x));
        or_unit((n > 0).then(|| total / n as FLOAT))
    });
    engine.register_fn("min_of", |arr: Array| or_unit(numbers(&arr).reduce(FLOAT::min)));
    engine.register_fn("max_of", |arr: Array| or_unit(numbers(&arr).reduce(FLOAT::max)));
    engine.register_fn("format_money", |v: Dynamic| or_unit(number_of(&v).map(format_money)));
}

/// `1234567.5` → `1,234,567.50`.
pub fn format_money(f: FLOAT) -> String {
    let cents = (f.abs() * 100.0).round() as u128;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{:02}", if f < 0.0 && cents > 0 { "-" } else { "" }, cents % 100)
}

fn text_of(v: &Dynamic) -> String {
    if v.is_unit() { String::new() } else { v.to_string() }
}

fn register_text(engine: &mut Engine) {
    engine.register_fn("text", |v: Dynamic| text_of(&v));
    engine.register_fn("lower", |v: Dynamic| text_of(&v).to_lowercase());
    engine.register_fn("upper", |v: Dynamic| text_of(&v).to_uppercase());
    engine.register_fn("trimmed", |v: Dynamic| text_of(&v).trim().to_owned());
    engine.register_fn("mask_phone", |v: Dynamic| {
        let s = text_of(&v);
        let chars: Vec<char> = s.chars().collect();
        if chars.len() < 7 {
            return s;
        }
        let keep_end = 4;
        let keep_start = 3;
        chars.iter().enumerate().map(|(i, c)| if i >= keep_start && i < chars.len() - keep_end { '*' } else { *c }).collect::<String>()
    });
}

/// `()`, blank text, an empty array or map.
pub fn is_blank(v: &Dynamic) -> bool {
    if v.is_unit() {
        return true;
    }
    if let Some(s) = v.read_lock::<ImmutableString>() {
        return s.trim().is_empty();
    }
    if let Some(a) = v.read_lock::<Array>() {
        return a.is_empty();
    }
    if let Some(m) = v.read_lock::<Map>() {
        return m.is_empty();
    }
    false
}

fn register_emptiness(engine: &mut Engine) {
    engine.register_fn("is_blank", |v: Dynamic| is_blank(&v));
    engine.register_fn("present", |v: Dynamic| !is_blank(&v));
    engine.register_fn("coalesce", |a: Dynamic, b: Dynamic| if is_blank(&a) { b } else { a });
    engine.register_fn("coalesce", |a: Dynamic, b: Dynamic, c: Dynamic| {
        if !is_blank(&a) {
            a
        } else if !is_blank(&b) {
            b
        } else {
            c
        }
    });
    engine.register_fn("count_present", |record: Map, fields: Array| count_present(&record, &fields));
    // The share of `fields` filled in, 0–100, rounded down: 信息完整率.
    engine.register_fn("completeness", |record: Map, fields: Array| -> INT {
        if fields.is_empty() { 100 } else { count_present(&record, &fields) * 100 / fields.len() as INT }
    });
}

fn count_present(record: &Map, fields: &Array) -> INT {
    fields
        .iter()
        .filter(|f| f.read_lock::<ImmutableString>().and_then(|k| record.get(k.as_str()).map(|v| !is_blank(v))).unwrap_or(false))
        .count() as INT
}

#[cfg(test)]
mod tests {
    use super::super::{Inputs, Sandbox};
    use super::*;
    use serde_json::{Map as JsonMap, Value, json};

    fn eval(src: &str, record: Value) -> Value {
        let sb = Sandbox::default();
        let s = sb.compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        sb.run(&s, &Inputs { record: record.as_object().unwrap(), segments: &JsonMap::new(), now: "2026-11-23T08:00:00Z".parse().unwrap() })
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn dates() {
        let r = json!({"born": "1990-11-24", "last": "2026-11-13T10:00:00Z", "leap": "2000-02-29", "end": "2026/12/23"});
        assert_eq!(eval("now()", json!({})), json!("2026-11-23T08:00:00Z"));
        assert_eq!(eval("now", json!({})), json!("2026-11-23T08:00:00Z"));
        assert_eq!(eval("today()", json!({})), json!("2026-11-23"));
        assert_eq!(eval("today(\"Asia/Shanghai\")", json!({})), json!("2026-11-23"));
        assert_eq!(eval("days_since(record.last)", r.clone()), json!(10));
        assert_eq!(eval("days_until(record.end)", r.clone()), json!(30));
        assert_eq!(eval("days_since(record.missing)", r.clone()), Value::Null);
        assert_eq!(eval("age(record.born)", r.clone()), json!(35));
        assert_eq!(eval("add_days(\"2026-01-31\", 1)", r.clone()), json!("2026-02-01"));
        assert_eq!(eval("add_months(\"2026-01-31\", 1)", r.clone()), json!("2026-02-28"));
        assert_eq!(eval("add_days(\"2026-01-31\", 9223372036854775807)", r.clone()), Value::Null);
        assert_eq!(eval("add_months(record.last, -9000000)", r.clone()), Value::Null);
        assert_eq!(eval("add_days(record.last, 2)", r.clone()), json!("2026-11-15T10:00:00Z"));
        assert_eq!(eval("next_anniversary(record.born)", r.clone()), json!("2026-11-24"));
        assert_eq!(eval("days_to_anniversary(record.born)", r.clone()), json!(1));
        assert_eq!(eval("next_anniversary(record.leap)", r.clone()), json!("2027-02-28"));
        assert_eq!(eval("parse_date(\"2026年1月31日\")", r.clone()), json!("2026-01-31"));
        assert_eq!(eval("parse_date(\"20260131\")", r.clone()), json!("2026-01-31"));
        assert_eq!(eval("parse_date(\"2026-11-24T01:00:00+08:00\")", r.clone()), json!("2026-11-23"));
        assert_eq!(eval("parse_date(\"31 Jan\")", r.clone()), Value::Null);
        assert_eq!(eval("[year(record.end), month(record.end), day(record.end), weekday(record.end), day_of_year(\"2026-02-01\")]", r), json!([2026, 12, 23, 3, 32]));
    }

    #[test]
    fn anniversaries_on_feb_29_fall_on_feb_28_in_common_years() {
        let d = Date::new(2000, 2, 29).unwrap();
        assert_eq!(next_anniversary(d, Date::new(2027, 1, 1).unwrap()), Date::new(2027, 2, 28).ok());
        assert_eq!(next_anniversary(d, Date::new(2028, 1, 1).unwrap()), Date::new(2028, 2, 29).ok());
        assert_eq!(next_anniversary(d, Date::new(2027, 3, 1).unwrap()), Date::new(2028, 2, 29).ok());
    }

    #[test]
    fn numbers_and_money() {
        assert_eq!(eval("to_number(\"¥1,234.50\")", json!({})), json!(1234.5));
        assert_eq!(eval("to_number(\"abc\")", json!({})), Value::Null);
        assert_eq!(eval("round(2.3456, 2)", json!({})), json!(2.35));
        assert_eq!(eval("clamp(130, 0, 100)", json!({})), json!(100));
        assert_eq!(eval("clamp(-0.5, 0.0, 1.0)", json!({})), json!(0.0));
        assert_eq!(eval("percent(1, 4)", json!({})), json!(25.0));
        assert_eq!(eval("percent(1, 0)", json!({})), Value::Null);
        assert_eq!(eval("[sum([1, 2.5, ()]), avg([2, 4]), min_of([3, 1]), max_of([3, 1])]", json!({})), json!([3.5, 3.0, 1.0, 3.0]));
        assert_eq!(eval("format_money(1234567.5)", json!({})), json!("1,234,567.50"));
        assert_eq!(eval("max(3, 7)", json!({})), json!(7));
    }

    #[test]
    fn text_and_emptiness() {
        let r = json!({"name": "  Ada ", "phone": "13812345678", "email": "", "tags": []});
        assert_eq!(eval("trimmed(record.name)", r.clone()), json!("Ada"));
        assert_eq!(eval("upper(\"ab\") + lower(\"CD\")", r.clone()), json!("ABcd"));
        assert_eq!(eval("mask_phone(record.phone)", r.clone()), json!("138****5678"));
        assert_eq!(eval("[is_blank(record.email), is_blank(record.tags), present(record.name), present(record.nope)]", r.clone()), json!([true, true, true, false]));
        assert_eq!(eval("coalesce(record.email, record.nope, \"n/a\")", r.clone()), json!("n/a"));
        assert_eq!(eval("completeness(record, [\"name\", \"phone\", \"email\", \"tags\"])", r.clone()), json!(50));
        assert_eq!(eval("count_present(record, [\"name\", \"phone\"])", r), json!(2));
    }
}

//! Working days (工作日): weekends, statutory holidays and the make-up
//! working days that come with them (调休).
//!
//! China's holiday schedule is announced by the State Council each year, so
//! it is data, not a rule: the built-in calendar `cn` carries the schedules
//! tyme4rs knows (2002 to the year it was released), and a calendar
//! definition adds the years announced since, or a team's own days off.
//! Triggers use a calendar to move a moment that falls on a day off to the
//! next (or previous) working day, or to skip it.

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

use crate::issue::Issue;
use crate::key;

/// The calendar every trigger uses unless it names another: China's statutory holidays.
pub const BUILT_IN: &str = "cn";

/// How far to look for a working day before giving up (a calendar with every day off).
const SEARCH_DAYS: i32 = 400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    /// Indexed by days from Monday.
    weekend: [bool; 7],
    /// Holidays (days off that would be working days).
    off: BTreeSet<Date>,
    /// Make-up working days (days that would be off).
    on: BTreeSet<Date>,
}

impl Default for WorkCalendar {
    fn default() -> Self {
        WorkCalendar { weekend: [false, false, false, false, false, true, true], off: BTreeSet::new(), on: BTreeSet::new() }
    }
}

fn date(year: &str, month: &str, day: &str) -> Option<Date> {
    Date::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?).ok()
}

impl WorkCalendar {
    /// Saturdays and Sundays off, with China's statutory holidays and make-up
    /// working days as tyme4rs records them.
    pub fn china() -> WorkCalendar {
        let mut c = WorkCalendar::default();
        // Each entry is 13 characters: YYYYMMDD, 0 (work) or 1 (off), the holiday's index, and its offset.
        let data = tyme4rs::tyme::holiday::LEGAL_HOLIDAY_DATA;
        for i in (0..data.len().saturating_sub(12)).step_by(13) {
            let Some(e) = data.get(i..i + 13) else { continue };
            let Some(d) = date(&e[0..4], &e[4..6], &e[6..8]) else { continue };
            if &e[8..9] == "0" {
                c.on.insert(d);
            } else {
                c.off.insert(d);
            }
        }
        c
    }

    pub fn is_working(&self, d: Date) -> bool {
        if self.on.contains(&d) {
            return true;
        }
        !self.off.contains(&d) && !self.weekend[usize::from(d.weekday().to_monday_zero_offset().unsigned_abs())]
    }

    /// `d` when it is a working day, else the first working day after it.
    pub fn next_working(&self, d: Date) -> Option<Date> {
        self.first_working(d, Date::tomorrow)
    }

    /// `d` when it is a working day, else the last working day before it.
    pub fn previous_working(&self, d: Date) -> Option<Date> {
        self.first_working(d, Date::yesterday)
    }

    fn first_working(&self, d: Date, step: impl Fn(Date) -> Result<Date, jiff::Error>) -> Option<Date> {
        let mut day = d;
        for _ in 0..SEARCH_DAYS {
            if self.is_working(day) {
                return Some(day);
            }
            day = step(day).ok()?;
        }
        None
    }

    /// The last year the calendar lists a holiday or make-up day for: after
    /// it, only weekends are known.
    pub fn last_year(&self) -> Option<i16> {
        self.off.iter().chain(&self.on).map(|d| d.year()).max()
    }
}

/// A calendar definition: days off and make-up working days an admin or a
/// pack adds, on top of the built-in `cn` calendar unless `base` is null.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarDef {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `cn` (the default) starts from China's statutory holidays; null starts from nothing.
    #[serde(default = "default_base", skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Days of the week off; Saturday and Sunday when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekend: Option<Vec<String>>,
    /// Days off: `2027-01-01`, or a range `2027-02-06..2027-02-14` (both ends included).
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Make-up working days (调休), on a weekend: `2027-02-20`.
    #[serde(default)]
    pub workdays: Vec<String>,
}

fn default_base() -> Option<String> {
    Some(BUILT_IN.to_owned())
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// The days of `2027-01-01` or `2027-02-06..2027-02-14`.
fn days(text: &str) -> Result<Vec<Date>, String> {
    let parse = |s: &str| s.trim().parse::<Date>().map_err(|_| format!("'{}' is not a date: write 2027-01-01, or a range 2027-02-06..2027-02-14", s.trim()));
    let Some((from, to)) = text.split_once("..") else { return Ok(vec![parse(text)?]) };
    let (from, to) = (parse(from)?, parse(to)?);
    if to < from || from.until(to).map_or(true, |s| s.get_days() > 366) {
        return Err(format!("'{text}' is not a range of at most a year from an earlier to a later day"));
    }
    let mut out = vec![from];
    let mut d = from;
    while d < to {
        d = d.tomorrow().map_err(|e| e.to_string())?;
        out.push(d);
    }
    Ok(out)
}

/// Checks a calendar definition and builds it; each problem at its pointer.
pub fn compile(def: &CalendarDef) -> Result<WorkCalendar, Vec<Issue>> {
    let mut issues = Vec::new();
    if !key::is_valid(&def.key, key::MAX_FORM_KEY) {
        issues.push(Issue::new("/key", "key", format!("calendar key '{}' {}", def.key, key::rule(key::MAX_FORM_KEY))).zh(format!("日历标识「{}」只能用 1 到 {} 个小写字母、数字和 _ 组成，以字母开头，且不能连续两个 _", def.key, key::MAX_FORM_KEY)));
    }
    let mut cal = match def.base.as_deref() {
        None => WorkCalendar::default(),
        Some(BUILT_IN) => WorkCalendar::china(),
        Some(other) => {
            issues.push(Issue::new("/base", "enum", format!("base '{other}' is not a built-in calendar: use \"{BUILT_IN}\" or null")).zh(format!("基础日历「{other}」不是内置日历：请用 \"{BUILT_IN}\" 或 null")));
            WorkCalendar::default()
        }
    };
    if let Some(names) = &def.weekend {
        cal.weekend = [false; 7];
        for (i, n) in names.iter().enumerate() {
            match weekday(n) {
                Some(w) => cal.weekend[usize::from(w.to_monday_zero_offset().unsigned_abs())] = true,
                None => issues.push(Issue::new(format!("/weekend/{i}"), "enum", format!("'{n}' is not a day of the week: write saturday, sunday, …")).zh(format!("「{n}」不是星期几：请写 saturday、sunday 等"))),
            }
        }
    }
    for (i, text) in def.holidays.iter().enumerate() {
        match days(text) {
            Ok(list) => {
                for d in list {
                    cal.on.remove(&d);
                    cal.off.insert(d);
                }
            }
            Err(m) => issues.push(Issue::new(format!("/holidays/{i}"), "date", m).zh(format!("节假日「{text}」不是有效的日期或区间：请写成 2027-01-01，或不超过一年的区间 2027-02-06..2027-02-14"))),
        }
    }
    for (i, text) in def.workdays.iter().enumerate() {
        match days(text) {
            Ok(list) => {
                for d in list {
                    if def.holidays.iter().filter_map(|h| days(h).ok()).flatten().any(|h| h == d) {
                        issues.push(Issue::new(format!("/workdays/{i}"), "conflict", format!("{d} is listed both as a holiday and as a working day")).zh(format!("{d} 同时被列为节假日和调休工作日")));
                    }
                    cal.off.remove(&d);
                    cal.on.insert(d);
                }
            }
            Err(m) => issues.push(Issue::new(format!("/workdays/{i}"), "date", m).zh(format!("调休日「{text}」不是有效的日期或区间：请写成 2027-01-01，或不超过一年的区间 2027-02-06..2027-02-14"))),
        }
    }
    if issues.is_empty() { Ok(cal) } else { Err(issues) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn the_built_in_calendar_knows_statutory_holidays_and_make_up_days() {
        let cn = WorkCalendar::china();
        // National Day 2026: 1–7 October off, Saturday 10 October a make-up working day (State Council notice, 2025).
        assert!(!cn.is_working(d("2026-10-01")));
        assert!(!cn.is_working(d("2026-10-07")));
        assert!(cn.is_working(d("2026-10-08")));
        assert!(cn.is_working(d("2026-10-10")), "a Saturday worked in exchange (调休)");
        assert!(!cn.is_working(d("2026-10-11")), "an ordinary Sunday");
        // Spring Festival 2026: 15–23 February off; Saturday 14 and Saturday 28 February worked.
        assert!(cn.is_working(d("2026-02-14")));
        assert!(!cn.is_working(d("2026-02-23")));
        assert!(cn.is_working(d("2026-02-28")));
        assert_eq!(cn.next_working(d("2026-10-01")), Some(d("2026-10-08")));
        assert_eq!(cn.previous_working(d("2026-10-04")), Some(d("2026-09-30")));
        assert_eq!(cn.next_working(d("2026-11-23")), Some(d("2026-11-23")), "a Monday is its own next working day");
        assert!(cn.last_year().is_some_and(|y| y >= 2026));
    }

    #[test]
    fn a_definition_adds_years_and_its_own_days() {
        let def: CalendarDef = serde_json::from_value(json!({"key": "cn", "title": "2027 安排",
            "holidays": ["2027-01-01", "2027-02-06..2027-02-13"], "workdays": ["2027-02-20"]}))
        .unwrap();
        let cal = compile(&def).unwrap();
        assert!(!cal.is_working(d("2027-01-01")));
        assert!(!cal.is_working(d("2027-02-08")), "a Monday inside the range");
        assert!(cal.is_working(d("2027-02-20")), "a Saturday listed as worked");
        assert!(!cal.is_working(d("2026-10-05")), "the built-in years are kept");
        let own: CalendarDef = serde_json::from_value(json!({"key": "shop", "base": null, "weekend": ["monday"]})).unwrap();
        let shop = compile(&own).unwrap();
        assert!(shop.is_working(d("2026-10-03")), "no statutory days without a base: a Saturday works");
        assert!(!shop.is_working(d("2026-11-23")), "Monday is this shop's day off");
    }

    #[test]
    fn bad_calendars_are_refused_at_their_pointers() {
        let def: CalendarDef = serde_json::from_value(json!({"key": "Bad Key", "base": "us", "weekend": ["caturday"],
            "holidays": ["2027-13-01", "2027-03-01..2027-02-01", "2027-05-01"], "workdays": ["2027-05-01"]}))
        .unwrap();
        let issues = compile(&def).unwrap_err();
        let pointers: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(pointers, ["/key", "/base", "/weekend/0", "/holidays/0", "/holidays/1", "/workdays/0"], "{issues:?}");
    }
}

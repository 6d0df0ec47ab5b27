//! Festivals and the Chinese lunisolar calendar (农历), computed with
//! tyme4rs for any year it knows (well beyond 1901–2099), not a table typed
//! in for a few years.
//!
//! Lunar festivals fall on a lunar month and day: 春节 1/1, 元宵 1/15, 端午
//! 5/5, 七夕 7/7, 中秋 8/15, 重阳 9/9, and 除夕 the last day of the lunar year.
//! A lunar birthday (农历生日) recurs on its lunar month and day; one born in
//! a leap month is celebrated in the regular month of that number, and one
//! born on the 30th falls on the 29th in years when that month is short.

use jiff::civil::Date;
use tyme4rs::tyme::lunar::LunarDay;
use tyme4rs::tyme::solar::SolarDay;

/// The festivals a trigger can name, with their Chinese names.
pub const FESTIVALS: &[(&str, &str)] = &[
    ("spring_festival", "春节"),
    ("new_years_eve", "除夕"),
    ("lantern", "元宵节"),
    ("dragon_boat", "端午节"),
    ("qixi", "七夕"),
    ("mid_autumn", "中秋节"),
    ("double_ninth", "重阳节"),
    ("new_year", "元旦"),
    ("womens_day", "妇女节"),
    ("labour_day", "劳动节"),
    ("childrens_day", "儿童节"),
    ("teachers_day", "教师节"),
    ("national_day", "国庆节"),
];

fn solar(day: &SolarDay) -> Option<Date> {
    Date::new(i16::try_from(day.get_year()).ok()?, i8::try_from(day.get_month()).ok()?, i8::try_from(day.get_day()).ok()?).ok()
}

fn lunar_to_solar(year: i16, month: isize, day: usize) -> Option<Date> {
    solar(&LunarDay::new(isize::from(year), month, day).ok()?.get_solar_day())
}

/// The day of festival `name` in the solar year `year`.
pub fn festival(name: &str, year: i16) -> Option<Date> {
    let fixed = |m: i8, d: i8| Date::new(year, m, d).ok();
    match name {
        "spring_festival" => lunar_to_solar(year, 1, 1),
        "new_years_eve" => lunar_to_solar(year, 1, 1)?.yesterday().ok(),
        "lantern" => lunar_to_solar(year, 1, 15),
        "dragon_boat" => lunar_to_solar(year, 5, 5),
        "qixi" => lunar_to_solar(year, 7, 7),
        "mid_autumn" => lunar_to_solar(year, 8, 15),
        "double_ninth" => lunar_to_solar(year, 9, 9),
        "new_year" => fixed(1, 1),
        "womens_day" => fixed(3, 8),
        "labour_day" => fixed(5, 1),
        "childrens_day" => fixed(6, 1),
        "teachers_day" => fixed(9, 10),
        "national_day" => fixed(10, 1),
        _ => None,
    }
}

/// Whether `name` is a festival [`festival`] knows.
pub fn is_festival(name: &str) -> bool {
    FESTIVALS.iter().any(|(k, _)| *k == name)
}

/// The solar days in `year` (usually one) on which a lunar birthday born on
/// solar day `born` recurs.
pub fn lunar_anniversaries(born: Date, year: i16) -> Vec<Date> {
    let Some(day) = SolarDay::new(isize::from(born.year()), born.month() as usize, born.day() as usize).ok() else { return Vec::new() };
    let lunar = day.get_lunar_day();
    let month = lunar.get_lunar_month().get_month() as isize;
    let d = lunar.get_day();
    // The lunar years whose months can fall in this solar year.
    let mut out: Vec<Date> = [year - 1, year]
        .into_iter()
        .filter_map(|y| lunar_to_solar(y, month, d).or_else(|| (d == 30).then(|| lunar_to_solar(y, month, 29)).flatten()))
        .filter(|s| s.year() == year)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn lunar_festivals_match_the_published_dates() {
        // Published by the State Council's holiday notices and the Purple Mountain Observatory.
        for (name, year, day) in [
            ("spring_festival", 2025, "2025-01-29"),
            ("spring_festival", 2026, "2026-02-17"),
            ("spring_festival", 2027, "2027-02-06"),
            ("new_years_eve", 2026, "2026-02-16"),
            ("lantern", 2026, "2026-03-03"),
            ("dragon_boat", 2025, "2025-05-31"),
            ("dragon_boat", 2026, "2026-06-19"),
            ("qixi", 2026, "2026-08-19"),
            ("mid_autumn", 2025, "2025-10-06"),
            ("mid_autumn", 2026, "2026-09-25"),
            ("mid_autumn", 2027, "2027-09-15"),
            ("double_ninth", 2026, "2026-10-18"),
            ("spring_festival", 1901, "1901-02-19"),
            ("spring_festival", 2099, "2099-01-21"),
            ("national_day", 2026, "2026-10-01"),
        ] {
            assert_eq!(festival(name, year), Some(date(day)), "{name} {year}");
        }
        assert!(festival("halloween", 2026).is_none());
        assert!(FESTIVALS.iter().all(|(k, _)| festival(k, 2030).is_some()));
    }

    #[test]
    fn a_lunar_birthday_recurs_on_its_lunar_day() {
        // Born 1990-08-15 (solar) = 1990 lunar 6/25; in 2026 lunar 6/25 is 2026-08-07.
        assert_eq!(lunar_anniversaries(date("1990-08-15"), 2026), vec![date("2026-08-07")]);
        // Born on Mid-Autumn: every year on Mid-Autumn.
        assert_eq!(lunar_anniversaries(date("2025-10-06"), 2027), vec![date("2027-09-15")]);
    }
}

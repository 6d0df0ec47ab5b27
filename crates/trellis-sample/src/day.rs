//! Civil dates as day numbers (days since 1970-01-01), enough for the data:
//! adding days, weekdays, and printing dates and China-time timestamps.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(pub i64);

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn to_civil(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl Day {
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Day {
        Day(from_civil(y, m, d))
    }

    pub fn plus(self, days: i64) -> Day {
        Day(self.0 + days)
    }

    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub fn weekday(self) -> i64 {
        (self.0 + 3).rem_euclid(7) + 1
    }

    /// The day itself on a weekday; the Friday before on a weekend (people follow up at work).
    pub fn weekday_or_friday(self) -> Day {
        match self.weekday() {
            6 => self.plus(-1),
            7 => self.plus(-2),
            _ => self,
        }
    }

    /// `YYYYMMDD`.
    pub fn compact(self) -> String {
        let (y, m, d) = to_civil(self.0);
        format!("{y:04}{m:02}{d:02}")
    }

    /// An RFC 3339 time on this day in China time: `2026-05-12T10:30:00+08:00`.
    pub fn at(self, hour: u32, minute: u32) -> String {
        format!("{self}T{hour:02}:{minute:02}:00+08:00")
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = to_civil(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_weekdays() {
        assert_eq!(Day::from_ymd(1970, 1, 1).0, 0);
        assert_eq!(Day::from_ymd(2026, 11, 30).to_string(), "2026-11-30");
        assert_eq!(Day::from_ymd(2026, 11, 30).weekday(), 1, "a Monday");
        assert_eq!(Day::from_ymd(2024, 2, 28).plus(1).to_string(), "2024-02-29");
        assert_eq!(Day::from_ymd(2026, 12, 31).plus(1).compact(), "20270101");
        for z in -800_000..800_000 {
            let (y, m, d) = to_civil(z);
            assert_eq!(from_civil(y, m, d), z);
        }
    }
}

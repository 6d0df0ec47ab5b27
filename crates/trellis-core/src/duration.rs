//! Durations as definitions spell them: `72h`, `7d`, `30m`, `2w`, `1d12h`, `-30d`.
//!
//! A day is 24 hours and a week 7 days: timers count elapsed time from the
//! moment a state was entered, which is what an SLA ("within 72 hours") means.
//! Calendar-aware offsets (a birthday at 09:00 local time) belong to triggers.

use jiff::SignedDuration;

/// Parses a duration such as `72h`, `7d`, `1d12h`, `45m`, `30s`, `2w` or `-30d`.
pub fn parse(text: &str) -> Result<SignedDuration, String> {
    let bad = || format!("'{text}' is not a duration: write a number and a unit, e.g. 72h, 7d, 30m, 2w or 1d12h");
    let s = text.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if s.is_empty() {
        return Err(bad());
    }
    let mut seconds: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        seconds = n.checked_mul(unit).and_then(|v| seconds.checked_add(v)).ok_or_else(|| format!("'{text}' is too long a duration"))?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    // Ten years bounds every reminder anyone has asked for, and keeps times in range.
    if seconds > 10 * 366 * 86_400 {
        return Err(format!("'{text}' is longer than ten years"));
    }
    Ok(SignedDuration::from_secs(if negative { -seconds } else { seconds }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_units_and_their_sums() {
        assert_eq!(parse("72h").unwrap(), SignedDuration::from_hours(72));
        assert_eq!(parse("7d").unwrap(), SignedDuration::from_hours(168));
        assert_eq!(parse("1d12h").unwrap(), SignedDuration::from_hours(36));
        assert_eq!(parse("2w").unwrap(), SignedDuration::from_hours(336));
        assert_eq!(parse("-30d").unwrap(), SignedDuration::from_hours(-720));
        assert_eq!(parse("90m").unwrap(), SignedDuration::from_mins(90));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in ["", "72", "h", "7x", "1.5d", "-", "d7"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("99999w").unwrap_err().contains("ten years"));
    }
}

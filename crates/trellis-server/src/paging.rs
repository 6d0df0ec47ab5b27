//! The `limit` of list routes: a value outside its range is refused with 400
//! naming the parameter, rather than quietly clamped, so a client learns that
//! it asked for something the server does not give.

use axum::http::StatusCode;

use crate::problem::Problem;

/// The page size of most lists (tasks, notifications, deliveries, occurrences, the audit log).
pub const MAX_LIMIT: i64 = 500;

/// `limit` checked to lie in `1..=max`; `None` when the client sent none.
pub fn limit(value: Option<i64>, max: i64) -> Result<Option<i64>, Problem> {
    match value {
        Some(n) if !(1..=max).contains(&n) => {
            Err(Problem { param: Some("limit".into()), ..Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", format!("limit must be between 1 and {max}, not {n}")) })
        }
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_outside_their_range_are_refused() {
        for n in [0, -1, 501, i64::MIN] {
            assert_eq!(super::limit(Some(n), 500).unwrap_err().param.as_deref(), Some("limit"), "{n}");
        }
        for n in [None, Some(1), Some(500)] {
            assert_eq!(super::limit(n, 500).unwrap(), n);
        }
    }
}

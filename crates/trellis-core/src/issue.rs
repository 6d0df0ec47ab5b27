//! The single shape of a reported problem with user input.

use serde::Serialize;

/// One problem found in submitted input: where (`pointer`, a JSON Pointer into
/// what was submitted), what kind (`code`, stable, for programs) and why
/// (`message`, for people). Checks return lists of these; `Err` values of other
/// types are reserved for infrastructure failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub pointer: String,
    pub code: &'static str,
    pub message: String,
    /// Where in a script or template the problem is, when it is in one (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The message in Chinese, for people who read the app in zh-CN (the
    /// HTTP layer picks it by `Accept-Language`); `message` is the English.
    #[serde(skip)]
    pub zh: Option<String>,
}

impl Issue {
    pub fn new(pointer: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Issue { pointer: pointer.into(), code, message: message.into(), line: None, column: None, zh: None }
    }

    /// The same issue with its Chinese message.
    pub fn zh(mut self, message: impl Into<String>) -> Self {
        self.zh = Some(message.into());
        self
    }

    /// The same issue, placed at a line and column of the script or template at `pointer`.
    pub fn at(mut self, line: Option<usize>, column: Option<usize>) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    /// The same issue seen from one level up, e.g. item 3 of a batch.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}

/// Escapes one JSON Pointer reference token (RFC 6901).
pub fn escape_token(token: &str) -> String {
    if token.contains(['~', '/']) { token.replace('~', "~0").replace('/', "~1") } else { token.to_owned() }
}

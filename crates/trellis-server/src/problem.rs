//! RFC 9457 problem details: the one error type of the HTTP layer.
//!
//! Every refusal — from the engine, from a malformed body, from routing —
//! becomes a [`Problem`] with a stable `type`. 5xx details are logged once,
//! here, and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use trellis_core::Issue;
use trellis_engine::EngineError;
use utoipa::ToSchema;

/// Where problem types live; each `type` is this plus a slug.
pub const TYPE_BASE: &str = "https://trellis.dev/problems/";

/// One problem in a 422 answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON Pointer into the submitted data.
    pub pointer: String,
    pub code: String,
    pub message: String,
    /// For a pack: the file inside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// For script errors: where in the script (1-based); for a pack, in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The message in Chinese, sent instead of `message` to zh readers.
    #[serde(skip)]
    pub zh: Option<String>,
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// For 409 on a unique key: its fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<String>>,
    /// For 400 on a query parameter: which one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// For 409 `records-would-fail`: each field the new version requires that
    /// live records lack, `{field, title, missing}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub missing: Option<Value>,
    /// For 412: the record's current revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_rev: Option<i64>,
    /// For 429: seconds until a new attempt is taken (also the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// For zh readers whose problem has no Chinese sentence of its own: the English `detail`, kept for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail_en: Option<String>,
    /// The detail in Chinese, sent instead of `detail` to zh readers.
    #[serde(skip)]
    pub zh: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("{TYPE_BASE}{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
            key: None,
            param: None,
            missing: None,
            current_rev: None, retry_after: None,
            detail_en: None,
            zh: None,
        }
    }

    /// The same problem with its detail in Chinese.
    pub fn zh(mut self, detail: impl Into<String>) -> Problem {
        self.zh = Some(detail.into());
        self
    }

    /// The problem as a reader of `lang` gets it: for zh, the title, the detail
    /// and each field error's message in Chinese (a status's own sentence, with
    /// the English kept in `detail_en`, when the problem has none).
    pub fn localized(mut self, lang: crate::lang::Lang) -> Problem {
        if lang == crate::lang::Lang::Zh {
            self.title = crate::lang::zh_title(self.status).to_owned();
            match self.zh.take() {
                Some(zh) => self.detail = zh,
                None => self.detail_en = Some(std::mem::replace(&mut self.detail, crate::lang::zh_detail(self.status).to_owned())),
            }
            for e in self.errors.iter_mut().flatten() {
                if let Some(zh) = e.zh.take() {
                    e.message = zh;
                }
            }
        }
        self
    }

    pub fn validation(issues: Vec<Issue>) -> Problem {
        let at = |i: &Issue| match (i.line, i.column) {
            (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
            (Some(l), None) => format!(" (line {l})"),
            _ => String::new(),
        };
        let zh_at = |i: &Issue| match (i.line, i.column) {
            (Some(l), Some(c)) => format!("（第 {l} 行第 {c} 列）"),
            (Some(l), None) => format!("（第 {l} 行）"),
            _ => String::new(),
        };
        let (detail, zh) = match issues.as_slice() {
            [one] => (
                format!("{}: {}{}", if one.pointer.is_empty() { "/" } else { &one.pointer }, one.message, at(one)),
                Some(match (&one.zh, one.code) {
                    (Some(m), _) => format!("{m}{}", zh_at(one)),
                    // The script engine's own words stay as they are, framed in the reader's language.
                    (None, "script") => format!("脚本有误{}：{}", zh_at(one), one.message),
                    (None, "template" | "template_limit") => format!("模板有误{}：{}", zh_at(one), one.message),
                    (None, _) => format!("{}：{}{}", if one.pointer.is_empty() { "/" } else { &one.pointer }, one.message, zh_at(one)),
                }),
            ),
            many => (format!("{} problems with the submitted data", many.len()), Some(format!("提交的内容有 {} 处问题", many.len()))),
        };
        let problem = Problem {
            errors: Some(issues.into_iter().map(|i| FieldError { pointer: i.pointer, code: i.code.to_owned(), message: i.message, file: None, line: i.line, column: i.column, zh: i.zh }).collect()),
            ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail)
        };
        match zh {
            Some(zh) => problem.zh(zh),
            None => problem,
        }
    }

    /// A script that does not compile or fails: 422 with its position.
    /// `pointer` says where the script is (`/script` in a trial, `/segments/tier/script` in a form).
    pub fn script(slug: &str, detail: String, pointer: String, e: &trellis_core::script::ScriptError) -> Problem {
        Problem {
            errors: Some(vec![FieldError { pointer, code: "script".into(), message: e.message.clone(), file: None, line: e.line, column: e.column, zh: None }]),
            ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, detail)
        }
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let problem = self.localized(crate::lang::Lang::current());
        let status = problem.status();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = problem.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Problem {
        match e {
            EngineError::Unauthorized(m) => Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", m),
            EngineError::Forbidden(m) => Problem::new(StatusCode::FORBIDDEN, "forbidden", m),
            EngineError::TooMany { message, retry_after } => Problem { retry_after: Some(retry_after), ..Problem::new(StatusCode::TOO_MANY_REQUESTS, "too-many-attempts", message) },
            EngineError::NotFound(m) => Problem::new(StatusCode::NOT_FOUND, "not-found", m),
            EngineError::Gone(m) => Problem::new(StatusCode::GONE, "deleted", m),
            EngineError::LinkGone(m) => Problem::new(StatusCode::GONE, "link-gone", m),
            EngineError::Invalid(issues) => Problem::validation(issues),
            EngineError::Refused(issues) => {
                // The same shape as a validation problem, but 403: the data may be fine, the user may not write it.
                let v = Problem::validation(issues);
                Problem { errors: v.errors, zh: v.zh, ..Problem::new(StatusCode::FORBIDDEN, "forbidden-field", v.detail) }
            }
            EngineError::Pack(issues) => {
                let detail = match issues.as_slice() {
                    [one] => one.to_string(),
                    many => format!("the pack has {} problems; the first: {}", many.len(), many[0]),
                };
                Problem {
                    errors: Some(issues.into_iter().map(|i| FieldError { pointer: String::new(), code: "pack".into(), message: i.message, file: Some(i.file), line: Some(i.line), column: Some(i.column), zh: None }).collect()),
                    ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "pack-invalid", detail)
                }
            }
            // A guard's message is the workflow author's own words: it reads the same in both.
            EngineError::Guard(m) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "guard-failed", m.clone()).zh(m),
            EngineError::Workflow(m) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "workflow-failed", m),
            EngineError::Rule(f) => {
                let zh = format!("规则 {} 运行出错，记录没有保存：{}", f.rule, f.error.message);
                Problem::script("rule-failed", f.message(), f.pointer.clone(), &f.error).zh(zh)
            }
            EngineError::BadRequest { param, message } => {
                Problem { param: Some(param.to_owned()), ..Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", message) }
            }
            EngineError::Query(e) => Problem {
                param: Some(e.param.to_owned()),
                errors: e.pointer.map(|pointer| vec![FieldError { pointer, code: e.param.to_owned(), message: e.message.clone(), file: None, line: None, column: None, zh: None }]),
                ..Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", e.message)
            },
            EngineError::Conflict { message, key, zh } => {
                let slug = if key.is_some() { "unique-violation" } else { "conflict" };
                Problem { key, zh, ..Problem::new(StatusCode::CONFLICT, slug, message) }
            }
            EngineError::RecordsWouldFail { message, zh, missing } => {
                Problem { missing: serde_json::to_value(missing).ok(), ..Problem::new(StatusCode::CONFLICT, "records-would-fail", message).zh(zh) }
            }
            EngineError::Stale { expected, current } => Problem {
                current_rev: Some(current),
                ..Problem::new(
                    StatusCode::PRECONDITION_FAILED,
                    "stale-revision",
                    format!("If-Match named revision {expected} but the record is at revision {current}; reload and retry"),
                )
                .zh(format!("你编辑的是第 {expected} 版，有人已保存到第 {current} 版；请刷新后再改"))
            },
            e @ (EngineError::Store(_) | EngineError::Internal(_)) => {
                tracing::error!(error = %e, "internal error");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side; it has been logged")
            }
        }
    }
}

/// The result type of every handler.
pub type ApiResult<T> = Result<T, Problem>;

/// A JSON object as an OpenAPI schema (records' data, form schemas).
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct JsonObject(pub Value);

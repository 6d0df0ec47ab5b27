//! Message templates (minijinja): notification titles, task titles, emails
//! and webhook bodies.
//!
//! A message's source may start with a line `subject: …`, the email subject
//! (itself a template); the rest is the body. Templates see `record` (the
//! data), `segments`, `form`, `id`, `now` and whatever the caller adds
//! (a workflow adds `workflow` and `state`). Undefined names render as nothing, as in
//! Jinja, so a template written for a field an older record lacks still works.
//! Work is bounded by minijinja's fuel, so a template cannot loop forever,
//! the source by [`MAX_SOURCE`] and the output by [`MAX_OUTPUT`]. What fuel
//! cannot see — one step that doubles a list or a string — is bounded by the
//! engine, which renders in a worker process with a memory limit and a
//! deadline (`trellis_engine::templates`); this module stays pure.

use std::sync::LazyLock;

use minijinja::Environment;
use serde_json::Value;

/// Rendering steps one template may take.
const FUEL: u64 = 50_000;

/// The longest template source accepted, in bytes: a message is a page of
/// text, and a longer source is almost surely a mistake or an attack.
pub const MAX_SOURCE: usize = 64 * 1024;

/// The longest output one template may write, in bytes (a webhook body or an
/// email is far shorter; past this the rendering stops with an error).
pub const MAX_OUTPUT: usize = 1024 * 1024;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env
});

/// A template problem: message, and the line when minijinja knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub line: Option<usize>,
    /// The template ran past a limit (steps, output, memory, time) rather
    /// than meeting a value it could not use.
    pub limit: bool,
}

impl TemplateError {
    fn from_minijinja(e: &minijinja::Error, line_offset: usize) -> Self {
        let message = match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        };
        TemplateError { message, line: e.line().map(|l| l + line_offset), limit: e.kind() == minijinja::ErrorKind::OutOfFuel }
    }

    /// A template that ran past a limit.
    pub fn limit(message: impl Into<String>) -> Self {
        TemplateError { message: message.into(), line: None, limit: true }
    }

    /// "line 3: message", or the message alone.
    pub fn describe(&self) -> String {
        match self.line {
            Some(l) => format!("line {l}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// A message split into its optional subject and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: Option<String>,
    pub body: String,
    /// 1 when the body starts on the second line of the source (after `subject:`).
    body_line_offset: usize,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub body: String,
}

impl Message {
    /// Splits and checks a message's source: both parts must parse.
    pub fn parse(source: &str) -> Result<Message, TemplateError> {
        let (subject, body, offset) = match source.split_once('\n') {
            Some((first, rest)) if first.trim_start().starts_with("subject:") => {
                (Some(first.trim_start()["subject:".len()..].trim().to_owned()), rest.to_owned(), 1)
            }
            _ if source.trim_start().starts_with("subject:") => (Some(source.trim_start()["subject:".len()..].trim().to_owned()), String::new(), 1),
            _ => (None, source.to_owned(), 0),
        };
        if let Some(s) = &subject {
            check(s).map_err(|mut e| {
                e.line = Some(1);
                e
            })?;
        }
        check(&body).map_err(|mut e| {
            e.line = e.line.map(|l| l + offset);
            e
        })?;
        Ok(Message { subject, body, body_line_offset: offset })
    }

    /// The source again (`subject: …` line and body), as [`Message::parse`] reads it.
    pub fn source(&self) -> String {
        match &self.subject {
            Some(s) => format!("subject: {s}\n{}", self.body),
            None => self.body.clone(),
        }
    }

    pub fn render(&self, ctx: &Value) -> Result<Rendered, TemplateError> {
        let subject = self.subject.as_deref().map(|s| render(s, ctx)).transpose()?;
        let body = render(&self.body, ctx).map_err(|mut e| {
            e.line = e.line.map(|l| l + self.body_line_offset);
            e
        })?;
        Ok(Rendered { subject, body })
    }
}

/// Checks that a template parses and is not longer than [`MAX_SOURCE`].
pub fn check(source: &str) -> Result<(), TemplateError> {
    if source.len() > MAX_SOURCE {
        return Err(TemplateError::limit(format!("the template is {} bytes long; at most {MAX_SOURCE} are allowed", source.len())));
    }
    ENV.template_from_str(source).map(|_| ()).map_err(|e| TemplateError::from_minijinja(&e, 0))
}

/// Renders one template against a context; at most [`MAX_OUTPUT`] bytes.
pub fn render(source: &str, ctx: &Value) -> Result<String, TemplateError> {
    check(source)?;
    let tmpl = ENV.template_from_str(source).map_err(|e| TemplateError::from_minijinja(&e, 0))?;
    let mut out = Bounded { buf: Vec::new(), max: MAX_OUTPUT };
    match tmpl.render_captured_to(minijinja::value::Serde(ctx), &mut out) {
        Ok(_) => Ok(String::from_utf8(out.buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
        Err(e) if e.kind() == minijinja::ErrorKind::WriteFailure && out.buf.len() >= MAX_OUTPUT => {
            Err(TemplateError { line: e.line(), ..TemplateError::limit(format!("the output is longer than {} KiB", MAX_OUTPUT / 1024)) })
        }
        Err(e) => Err(TemplateError::from_minijinja(&e, 0)),
    }
}

/// An output buffer that refuses to grow past `max` bytes.
struct Bounded {
    buf: Vec<u8>,
    max: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            self.buf.extend_from_slice(&data[..self.max.saturating_sub(self.buf.len())]);
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn splits_the_subject_and_renders_both() {
        let m = Message::parse("subject: 生日快乐，{{ record.name }}\n亲爱的{{ record.name }}，祝您生日快乐！").unwrap();
        let out = m.render(&json!({"record": {"name": "王芳"}})).unwrap();
        assert_eq!(out.subject.as_deref(), Some("生日快乐，王芳"));
        assert_eq!(out.body, "亲爱的王芳，祝您生日快乐！");
    }

    #[test]
    fn a_bad_template_names_its_line() {
        let e = Message::parse("subject: hi\nline two\n{% if x %}never closed").unwrap_err();
        assert_eq!(e.line, Some(3), "{e:?}");
        assert!(check("{{ unclosed").is_err());
    }

    #[test]
    fn missing_values_render_as_nothing_and_loops_are_bounded() {
        assert_eq!(render("[{{ record.missing }}]", &json!({"record": {}})).unwrap(), "[]");
        let e = render("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", &json!({})).unwrap_err();
        assert!(e.message.contains("fuel") || e.message.contains("range"), "{e:?}");
    }

    #[test]
    fn output_and_source_are_bounded() {
        let e = render("{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}", &json!({})).unwrap_err();
        assert!(e.message.contains("longer than 1024 KiB"), "{e:?}");
        assert_eq!(render("{{ 'x' * 1000 }}", &json!({})).unwrap().len(), 1000);
        let long = "a".repeat(MAX_SOURCE + 1);
        assert!(check(&long).unwrap_err().message.contains("at most"));
        assert!(Message::parse(&long).is_err());
    }
}

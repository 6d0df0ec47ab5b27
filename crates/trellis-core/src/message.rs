//! Message templates (minijinja): notification titles, task titles, emails
//! and webhook bodies.
//!
//! A message's source may start with a line `subject: …`, the email subject
//! (itself a template); the rest is the body. Templates see `record` (the
//! data), `segments`, `form`, `id`, `now` and whatever the caller adds
//! (a workflow adds `workflow` and `state`). Undefined names render as nothing, as in
//! Jinja, so a template written for a field an older record lacks still works.
//! Work is bounded by minijinja's fuel, so a template cannot loop forever.

use std::sync::LazyLock;

use minijinja::Environment;
use serde_json::Value;

/// Rendering steps one template may take.
const FUEL: u64 = 50_000;

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
}

impl TemplateError {
    fn from_minijinja(e: &minijinja::Error, line_offset: usize) -> Self {
        let message = match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        };
        TemplateError { message, line: e.line().map(|l| l + line_offset) }
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

    pub fn render(&self, ctx: &Value) -> Result<Rendered, TemplateError> {
        let subject = self.subject.as_deref().map(|s| render(s, ctx)).transpose()?;
        let body = render(&self.body, ctx).map_err(|mut e| {
            e.line = e.line.map(|l| l + self.body_line_offset);
            e
        })?;
        Ok(Rendered { subject, body })
    }
}

/// Checks that a template parses.
pub fn check(source: &str) -> Result<(), TemplateError> {
    ENV.template_from_str(source).map(|_| ()).map_err(|e| TemplateError::from_minijinja(&e, 0))
}

/// Renders one template against a context.
pub fn render(source: &str, ctx: &Value) -> Result<String, TemplateError> {
    let tmpl = ENV.template_from_str(source).map_err(|e| TemplateError::from_minijinja(&e, 0))?;
    tmpl.render(minijinja::value::Serde(ctx)).map_err(|e| TemplateError::from_minijinja(&e, 0))
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
}

//! Where a JSON Pointer lands in the source text of a JSON file, as a line
//! and column, so a problem found in a parsed definition can be reported at
//! `file:line:column` the way compilers do.
//!
//! serde_json keeps no positions in a `Value`, and the crates that do
//! (spanned values) would mean a second parser for every definition type; a
//! small walk over text already known to be valid JSON is enough here.

/// The position (1-based line and column, counting characters) of the value at
/// `pointer` in `text`, or of the deepest part of the pointer that exists
/// (the object that lacks a required key, say). `text` must be valid JSON.
pub fn locate(text: &str, pointer: &str) -> (usize, usize) {
    position(text, offset(text, pointer))
}

/// The byte offset of the value at `pointer` (or its deepest existing part).
pub fn offset(text: &str, pointer: &str) -> usize {
    let tokens: Vec<String> = if pointer.is_empty() { Vec::new() } else { pointer.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect() };
    let mut w = Walker { s: text.as_bytes(), pos: 0, target: &tokens, best: (0, first_value(text)) };
    w.ws();
    let mut path = Vec::new();
    w.value(&mut path);
    w.best.1
}

/// Where, in the file, line `line` and column `column` (1-based) of the text
/// of the JSON string starting at byte `at` are: a script written inline is
/// one JSON line with `\n` escapes, so its line 3 is further along the same
/// file line. Falls back to the string's start.
pub fn in_string(text: &str, at: usize, line: usize, column: usize) -> (usize, usize) {
    let (l, c) = position(text, at);
    let Some(raw) = text.get(at..).filter(|r| r.starts_with('"')) else { return (l, c) };
    let (mut dl, mut dc) = (1, 1);
    let mut chars = raw.char_indices().skip(1).peekable();
    while let Some((i, ch)) = chars.next() {
        if (dl, dc) >= (line, column) {
            return (l, c + raw[..i].chars().count());
        }
        match ch {
            '"' => break,
            '\\' => match chars.next() {
                Some((_, 'n')) => {
                    dl += 1;
                    dc = 1;
                }
                Some((_, 'u')) => {
                    for _ in 0..4 {
                        chars.next();
                    }
                    dc += 1;
                }
                _ => dc += 1,
            },
            _ => dc += 1,
        }
    }
    (l, c)
}

/// The byte offset of the first non-blank byte (the whole document's value).
fn first_value(text: &str) -> usize {
    text.bytes().position(|b| !b.is_ascii_whitespace()).unwrap_or(0)
}

/// Line and column (1-based) of byte offset `at`.
pub fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Walker<'a> {
    s: &'a [u8],
    pos: usize,
    target: &'a [String],
    /// The longest prefix of the target matched so far, and where its value starts.
    best: (usize, usize),
}

impl Walker<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn at_value(&mut self, path: &[String]) {
        if path.len() > self.best.0 && path.len() <= self.target.len() && self.target[..path.len()] == *path {
            self.best = (path.len(), self.pos);
        }
    }

    fn value(&mut self, path: &mut Vec<String>) {
        self.at_value(path);
        match self.s.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                loop {
                    self.ws();
                    if self.s.get(self.pos) == Some(&b'}') || self.pos >= self.s.len() {
                        self.pos += 1;
                        return;
                    }
                    let key = self.string();
                    self.ws();
                    self.pos += 1; // ':'
                    self.ws();
                    path.push(key);
                    self.value(path);
                    path.pop();
                    self.ws();
                    if self.s.get(self.pos) == Some(&b',') {
                        self.pos += 1;
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut i = 0usize;
                loop {
                    self.ws();
                    if self.s.get(self.pos) == Some(&b']') || self.pos >= self.s.len() {
                        self.pos += 1;
                        return;
                    }
                    path.push(i.to_string());
                    self.value(path);
                    path.pop();
                    i += 1;
                    self.ws();
                    if self.s.get(self.pos) == Some(&b',') {
                        self.pos += 1;
                    }
                }
            }
            Some(b'"') => {
                self.string();
            }
            _ => {
                while self.pos < self.s.len() && !matches!(self.s[self.pos], b',' | b'}' | b']') && !self.s[self.pos].is_ascii_whitespace() {
                    self.pos += 1;
                }
            }
        }
    }

    /// Reads a string token (the cursor on its opening quote) and returns its text.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.s.len() {
            match self.s[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    break;
                }
                _ => self.pos += 1,
            }
        }
        let raw = &self.s[start..self.pos.min(self.s.len())];
        std::str::from_utf8(raw).ok().and_then(|r| serde_json::from_str::<String>(r).ok()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::locate;

    const DOC: &str = "{\n  \"key\": \"customer\",\n  \"schema\": {\n    \"properties\": {\n      \"a/b\": {\"type\": \"strin\"},\n      \"list\": [1, {\"x\": 2}]\n    }\n  }\n}\n";

    #[test]
    fn finds_values_by_pointer() {
        assert_eq!(locate(DOC, ""), (1, 1));
        assert_eq!(locate(DOC, "/key"), (2, 10));
        assert_eq!(locate(DOC, "/schema/properties/a~1b/type"), (5, 23));
        assert_eq!(locate(DOC, "/schema/properties/list/1/x"), (6, 25));
    }

    #[test]
    fn a_missing_key_lands_on_its_nearest_existing_parent() {
        assert_eq!(locate(DOC, "/schema/required"), (3, 13));
        assert_eq!(locate(DOC, "/nothing/here"), (1, 1));
    }

    #[test]
    fn a_place_in_an_inline_script_is_found_past_its_escapes() {
        let doc = "{\"s\": \"let a = 1;\\nlet b = recrd;\"}";
        let at = super::offset(doc, "/s");

        // Line 2, column 9 of the script is `recrd`, at column 28 of the file's one line.
        assert_eq!(super::in_string(doc, at, 2, 9), (1, 28));
        assert_eq!(&doc[27..32], "recrd");
        assert_eq!(super::in_string(doc, at, 1, 1), (1, 8), "the first character after the quote");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(locate("{\"名称\": 1}", "/名称"), (1, 8));
    }
}

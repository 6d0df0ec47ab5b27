//! Just enough CSV: a header, rows of text cells, quoting (RFC 4180) only
//! where a cell needs it, `\n` line ends.

pub struct Table {
    columns: usize,
    text: String,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        let mut t = Table { columns: header.len(), text: String::new() };
        t.line(header.iter().copied());
        t
    }

    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.columns, "a row of {} cells under a header of {}", cells.len(), self.columns);
        self.line(cells.iter().map(String::as_str));
    }

    fn line<'a>(&mut self, cells: impl Iterator<Item = &'a str>) {
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            if cell.contains([',', '"', '\n', '\r']) {
                self.text.push('"');
                self.text.push_str(&cell.replace('"', "\"\""));
                self.text.push('"');
            } else {
                self.text.push_str(cell);
            }
        }
        self.text.push('\n');
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["x,y".into(), "say \"hi\"".into()]);
        t.row(vec![String::new(), "中文".into()]);
        assert_eq!(t.finish(), "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n,中文\n");
    }
}

//! Splits the text of a CSV export into records of trimmed fields, each
//! with the line it starts on.
//!
//! This is RFC 4180 with the tolerance real exports need: a byte-order
//! mark, CRLF or LF (or a lone CR) line ends, spaces around fields, also
//! around quoted ones, and blank lines anywhere. The `csv` crate was not
//! used because its line numbers drift on CRLF files and it reads a quote
//! after a space as a literal character, which splits `"Brooks, Jr."` in
//! two. Line numbers are those a text editor shows, the header being line 1.

/// One record: the line it starts on and its fields, trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Record {
    /// Line the record starts on, counted from 1.
    pub line: usize,
    /// Fields, spaces and tabs around them removed, quotes undone.
    pub fields: Vec<String>,
}

impl Record {
    /// True for a line with nothing but separators and spaces, as
    /// spreadsheets write for empty rows.
    pub fn is_blank(&self) -> bool {
        self.fields.iter().all(String::is_empty)
    }
}

/// A place where the text is not CSV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SyntaxFault {
    /// Line of the fault, counted from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Strips a UTF-8 byte-order mark and checks the rest is UTF-8.
///
/// On failure, returns the line of the first byte that is not UTF-8.
pub(super) fn decode(bytes: &[u8]) -> Result<&str, SyntaxFault> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
        SyntaxFault {
            line,
            message: "the text is not UTF-8".to_owned(),
        }
    })
}

/// Splits `text` into records. A fault ends only the record it is in;
/// the records after it are still read, so that all faults are reported.
pub(super) fn split(text: &str) -> (Vec<Record>, Vec<SyntaxFault>) {
    let mut reader = Splitter {
        chars: text.chars().peekable(),
        line: 1,
    };
    let mut records = Vec::new();
    let mut faults = Vec::new();

    while reader.chars.peek().is_some() {
        let line = reader.line;
        match reader.record() {
            Ok(fields) => records.push(Record { line, fields }),
            Err(fault) => {
                faults.push(fault);
                reader.skip_rest_of_line();
            }
        }
    }
    (records, faults)
}

struct Splitter<'t> {
    chars: std::iter::Peekable<std::str::Chars<'t>>,
    line: usize,
}

impl Splitter<'_> {
    /// Reads the fields up to and including the end of the record.
    fn record(&mut self) -> Result<Vec<String>, SyntaxFault> {
        let mut fields = Vec::new();
        loop {
            self.skip_spaces();
            let field = if self.chars.peek() == Some(&'"') {
                self.quoted()?
            } else {
                self.unquoted()
            };
            fields.push(field);

            // After a field comes a comma, a line end or the end of text.
            self.skip_spaces();
            match self.chars.next() {
                Some(',') => continue,
                None => return Ok(fields),
                Some(c) if self.consume_line_end(c) => return Ok(fields),
                Some(_) => {
                    return Err(SyntaxFault {
                        line: self.line,
                        message: "text after a closing quote; \
                                  a quote inside a quoted field is written twice"
                            .to_owned(),
                    })
                }
            }
        }
    }

    /// Reads a quoted field, the opening quote next; `""` stands for `"`.
    fn quoted(&mut self) -> Result<String, SyntaxFault> {
        let opened_on = self.line;
        self.chars.next();
        let mut field = String::new();
        loop {
            match self.chars.next() {
                None => {
                    return Err(SyntaxFault {
                        line: opened_on,
                        message: "a quoted field is never closed".to_owned(),
                    })
                }
                Some('"') if self.chars.peek() == Some(&'"') => {
                    self.chars.next();
                    field.push('"');
                }
                Some('"') => return Ok(field.trim().to_owned()),
                Some(c) => {
                    // A line end inside quotes belongs to the field, but
                    // still moves the line count on.
                    if c == '\n' || (c == '\r' && self.chars.peek() != Some(&'\n')) {
                        self.line += 1;
                    }
                    field.push(c);
                }
            }
        }
    }

    /// Reads an unquoted field up to the next comma or line end.
    fn unquoted(&mut self) -> String {
        let mut field = String::new();
        while let Some(&c) = self.chars.peek() {
            if c == ',' || c == '\n' || c == '\r' {
                break;
            }
            field.push(c);
            self.chars.next();
        }
        field.trim_end().to_owned()
    }

    fn skip_spaces(&mut self) {
        while matches!(self.chars.peek(), Some(' ' | '\t')) {
            self.chars.next();
        }
    }

    /// If `c` starts a line end, consumes the rest of it (the LF of a
    /// CRLF), counts the line and returns true.
    fn consume_line_end(&mut self, c: char) -> bool {
        match c {
            '\n' => {
                self.line += 1;
                true
            }
            '\r' => {
                if self.chars.peek() == Some(&'\n') {
                    self.chars.next();
                }
                self.line += 1;
                true
            }
            _ => false,
        }
    }

    /// After a fault, resumes at the start of the next line.
    fn skip_rest_of_line(&mut self) {
        while let Some(c) = self.chars.next() {
            if self.consume_line_end(c) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<(usize, Vec<String>)> {
        let (records, faults) = split(text);
        assert_eq!(faults, Vec::new(), "no faults expected in {text:?}");
        records
            .into_iter()
            .map(|record| (record.line, record.fields))
            .collect()
    }

    #[test]
    fn quoted_fields_with_spaces_commas_quotes_and_line_ends() {
        let got = fields("a, \"Brooks, Jr.\" ,c\r\n\"say \"\"hi\"\"\",\"x\ny\",z\n");
        assert_eq!(
            got[0],
            (1, vec!["a".into(), "Brooks, Jr.".into(), "c".into()])
        );
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].1, vec!["say \"hi\"", "x\ny", "z"]);
    }

    #[test]
    fn lines_count_across_crlf_lf_cr_and_blank_lines() {
        let got = fields("h\r\n\r\na\rb\n\nc");
        let lines: Vec<usize> = got.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5, 6]);
        assert!(Record {
            line: 2,
            fields: got[1].1.clone()
        }
        .is_blank());
    }

    #[test]
    fn a_fault_ends_its_record_only() {
        let (records, faults) = split("a,\"b\"x,c\nd,e\n\"open\n");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].line, 2);
        assert_eq!(faults.len(), 2);
        assert_eq!(faults[0].line, 1);
        assert_eq!(faults[1].line, 3);
    }

    #[test]
    fn bom_is_stripped_and_bad_utf8_named_by_line() {
        assert_eq!(decode(b"\xEF\xBB\xBFa,b"), Ok("a,b"));
        let fault = decode(b"a\nb\n\xFF").expect_err("not UTF-8");
        assert_eq!(fault.line, 3);
    }
}

//! A reader for PowerShell module manifests (`.psd1`): the PowerShell data-language subset that
//! manifests use, enough to find the top-level `ModuleVersion` and `PrivateData.PSData.Prerelease`.
//!
//! Handles `#` and `<# #>` comments (so the trailing signature block of a signed manifest),
//! single-quoted strings with `''` escapes, double-quoted strings with `""` and backtick escapes,
//! here-strings, nested hashtables and arrays, CRLF, UTF-8 with or without BOM and UTF-16 LE/BE
//! with BOM. Keys are case-insensitive, as in PowerShell; a duplicate key is an error, as in
//! PowerShell. Anything else that is not a manifest is an error: never a guess.

use std::collections::BTreeMap;

/// Deepest nesting accepted, counting every recursive construct alike: hashtables, arrays,
/// parentheses and `[type]` prefixes. Real manifests nest three levels; a hostile one nested
/// thousands deep would otherwise overflow the stack and kill the agent before it reports.
const MAX_DEPTH: usize = 32;

/// What the scan needs from a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The top-level `ModuleVersion`.
    pub module_version: String,
    /// `PrivateData.PSData.Prerelease`, when set and not empty.
    pub prerelease: Option<String>,
}

/// Why a manifest was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The bytes are not text in any encoding PowerShell accepts.
    #[error("not text: {0}")]
    Encoding(&'static str),
    /// The text is not a PowerShell hashtable.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line of the problem.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// A hashtable without a top-level `ModuleVersion`.
    #[error("no top-level ModuleVersion")]
    NoModuleVersion,
    /// `ModuleVersion` is not a string.
    #[error("ModuleVersion is not a string")]
    ModuleVersionNotString,
}

/// Parses a manifest file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
    let text = decode(bytes)?;
    let table = Parser::new(&text)?.manifest()?;
    let module_version = match table.get("moduleversion") {
        Some(Value::Str(s)) => s.trim().to_owned(),
        Some(_) => return Err(ManifestError::ModuleVersionNotString),
        None => return Err(ManifestError::NoModuleVersion),
    };
    let prerelease = table
        .get("privatedata")
        .and_then(|v| v.table())
        .and_then(|t| t.get("psdata"))
        .and_then(|v| v.table())
        .and_then(|t| t.get("prerelease"))
        .and_then(|v| match v {
            Value::Str(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        });
    Ok(Manifest { module_version, prerelease })
}

/// Decodes by BOM: UTF-8, UTF-16 LE or BE; without a BOM, UTF-8 (lossy, as manifests are ASCII
/// in practice and Windows PowerShell would read the rest as the ANSI code page).
fn decode(bytes: &[u8]) -> Result<String, ManifestError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return Ok(String::from_utf8_lossy(rest).into_owned());
    }
    let utf16 = |rest: &[u8], from: fn([u8; 2]) -> u16| {
        if !rest.len().is_multiple_of(2) {
            return Err(ManifestError::Encoding("UTF-16 text with an odd number of bytes"));
        }
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| from([c[0], c[1]])).collect();
        Ok(String::from_utf16_lossy(&units))
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes);
    }
    if bytes.contains(&0) {
        return Err(ManifestError::Encoding("binary data (NUL bytes) without a UTF-16 byte-order mark"));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Table(BTreeMap<String, Value>),
    Array(Vec<Value>),
}

impl Value {
    fn table(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// `@{`
    TableOpen,
    /// `@(`
    ArrayOpen,
    /// `(`
    ParenOpen,
    /// `}`
    TableClose,
    /// `)`
    ParenClose,
    Equals,
    Comma,
    Semicolon,
    Newline,
    Str(String),
    /// A bare word: number, `$true`, a type literal, an unquoted name.
    Word(String),
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}')
}

fn syntax(line: usize, message: impl Into<String>) -> ManifestError {
    ManifestError::Syntax { line, message: message.into() }
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ManifestError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\n' => {
                tokens.push((Token::Newline, line));
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() || c == '\u{FEFF}' => i += 1,
            '`' if matches!(next, Some('\n' | '\r')) => {
                // Line continuation.
                i += 1;
            }
            '<' if next == Some('#') => {
                let start = line;
                i += 2;
                loop {
                    match chars.get(i) {
                        None => return Err(syntax(start, "unterminated <# comment")),
                        Some('#') if chars.get(i + 1) == Some(&'>') => {
                            i += 2;
                            break;
                        }
                        Some('\n') => line += 1,
                        Some(_) => {}
                    }
                    i += 1;
                }
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '@' if next == Some('{') => {
                tokens.push((Token::TableOpen, line));
                i += 2;
            }
            '@' if next == Some('(') => {
                tokens.push((Token::ArrayOpen, line));
                i += 2;
            }
            '@' if next.is_some_and(|n| is_single_quote(n) || is_double_quote(n)) => {
                let (s, end, lines) = here_string(&chars, i, line)?;
                tokens.push((Token::Str(s), line));
                line += lines;
                i = end;
            }
            '(' => {
                tokens.push((Token::ParenOpen, line));
                i += 1;
            }
            '}' => {
                tokens.push((Token::TableClose, line));
                i += 1;
            }
            ')' => {
                tokens.push((Token::ParenClose, line));
                i += 1;
            }
            '=' => {
                tokens.push((Token::Equals, line));
                i += 1;
            }
            ',' => {
                tokens.push((Token::Comma, line));
                i += 1;
            }
            ';' => {
                tokens.push((Token::Semicolon, line));
                i += 1;
            }
            c if is_single_quote(c) => {
                let start = line;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(syntax(start, "unterminated single-quoted string")),
                        Some(&q) if is_single_quote(q) => {
                            if chars.get(i + 1).is_some_and(|&n| is_single_quote(n)) {
                                s.push('\'');
                                i += 2;
                                continue;
                            }
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push((Token::Str(s), start));
            }
            c if is_double_quote(c) => {
                let start = line;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(syntax(start, "unterminated double-quoted string")),
                        Some('`') => {
                            let escaped =
                                chars.get(i + 1).copied().ok_or_else(|| syntax(line, "string ends with a backtick"))?;
                            s.push(match escaped {
                                'n' => '\n',
                                'r' => '\r',
                                't' => '\t',
                                '0' => '\0',
                                other => other,
                            });
                            i += 2;
                        }
                        Some(&q) if is_double_quote(q) => {
                            if chars.get(i + 1).is_some_and(|&n| is_double_quote(n)) {
                                s.push('"');
                                i += 2;
                                continue;
                            }
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push((Token::Str(s), start));
            }
            _ => {
                let start = i;
                while i < chars.len() {
                    let ch = chars[i];
                    if ch.is_whitespace() || "=;,(){}#\"'".contains(ch) || is_single_quote(ch) || is_double_quote(ch) {
                        break;
                    }
                    i += 1;
                }
                if i == start {
                    return Err(syntax(line, format!("unexpected character {c:?}")));
                }
                tokens.push((Token::Word(chars[start..i].iter().collect()), line));
            }
        }
    }
    Ok(tokens)
}

/// Reads `@'...'@` or `@"..."@` starting at `i`; returns the text, the index after it, and how
/// many lines it spanned. The opening quote must end its line and the closing one start a line.
fn here_string(chars: &[char], i: usize, line: usize) -> Result<(String, usize, usize), ManifestError> {
    let mut j = i + 2;
    while chars.get(j).is_some_and(|c| *c == ' ' || *c == '\t' || *c == '\r') {
        j += 1;
    }
    if chars.get(j) != Some(&'\n') {
        return Err(syntax(line, "a here-string's opening quote must end its line"));
    }
    j += 1;
    let body_start = j;
    let mut lines = 1;
    loop {
        // At the start of a line: is it the closing `'@` / `"@`?
        if chars.get(j).is_some_and(|&c| is_single_quote(c) || is_double_quote(c)) && chars.get(j + 1) == Some(&'@') {
            let mut body: String = chars[body_start..j].iter().collect();
            if body.ends_with('\n') {
                body.pop();
            }
            if body.ends_with('\r') {
                body.pop();
            }
            return Ok((body, j + 2, lines));
        }
        while chars.get(j).is_some_and(|&c| c != '\n') {
            j += 1;
        }
        if j >= chars.len() {
            return Err(syntax(line, "unterminated here-string"));
        }
        j += 1;
        lines += 1;
    }
}

impl Parser {
    fn new(text: &str) -> Result<Self, ManifestError> {
        Ok(Self { tokens: tokenize(text)?, pos: 0 })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.tokens.get(self.pos).or(self.tokens.last()).map_or(1, |(_, l)| *l)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        token
    }

    fn skip(&mut self, what: &[Token]) {
        while self.peek().is_some_and(|t| what.contains(t)) {
            self.pos += 1;
        }
    }

    fn manifest(&mut self) -> Result<BTreeMap<String, Value>, ManifestError> {
        self.skip(&[Token::Newline, Token::Semicolon]);
        match self.next() {
            Some(Token::TableOpen) => {}
            None => return Err(syntax(1, "empty file: expected a manifest starting with @{")),
            Some(other) => {
                return Err(syntax(
                    self.line(),
                    format!("expected @{{ to start the manifest, found {}", describe(&other)),
                ));
            }
        }
        let table = self.table_body(1)?;
        self.skip(&[Token::Newline, Token::Semicolon]);
        if let Some(extra) = self.peek() {
            return Err(syntax(self.line(), format!("unexpected {} after the manifest's closing }}", describe(extra))));
        }
        Ok(table)
    }

    /// Entries up to and including the closing `}`; the opening `@{` is consumed already.
    fn table_body(&mut self, depth: usize) -> Result<BTreeMap<String, Value>, ManifestError> {
        self.enter(depth)?;
        let mut table = BTreeMap::new();
        loop {
            self.skip(&[Token::Newline, Token::Semicolon]);
            let line = self.line();
            let key = match self.next() {
                Some(Token::TableClose) => return Ok(table),
                Some(Token::Word(w) | Token::Str(w)) => w,
                None => return Err(syntax(line, "unterminated hashtable: missing }")),
                Some(other) => return Err(syntax(line, format!("expected a key, found {}", describe(&other)))),
            };
            match self.next() {
                Some(Token::Equals) => {}
                other => {
                    return Err(syntax(
                        line,
                        format!(
                            "expected = after key {key:?}, found {}",
                            other.as_ref().map_or("end of file".into(), describe)
                        ),
                    ));
                }
            }
            let value = self.value(depth)?;
            if table.insert(key.to_ascii_lowercase(), value).is_some() {
                return Err(syntax(line, format!("duplicate key {key:?}")));
            }
            match self.peek() {
                Some(Token::Newline | Token::Semicolon | Token::TableClose) => {}
                None => return Err(syntax(self.line(), "unterminated hashtable: missing }")),
                Some(other) => {
                    return Err(syntax(
                        self.line(),
                        format!("expected a new line or ; after {key:?}, found {}", describe(other)),
                    ));
                }
            }
        }
    }

    /// A value, possibly a comma-separated list (a comma lets the list continue on the next line).
    fn value(&mut self, depth: usize) -> Result<Value, ManifestError> {
        self.skip(&[Token::Newline]);
        let first = self.expr(depth)?;
        if self.peek() != Some(&Token::Comma) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek() == Some(&Token::Comma) {
            self.pos += 1;
            self.skip(&[Token::Newline]);
            items.push(self.expr(depth)?);
        }
        Ok(Value::Array(items))
    }

    /// One value: a string, a word, `@{...}`, `@(...)` or `(...)`, after any `[type]` prefixes.
    /// Every nested construct goes one level deeper, and every level counts against `MAX_DEPTH`.
    fn expr(&mut self, mut depth: usize) -> Result<Value, ManifestError> {
        loop {
            let line = self.line();
            match self.next() {
                Some(Token::Str(s)) => return Ok(Value::Str(s)),
                Some(Token::Word(w)) => {
                    // A type literal such as [version] may prefix a value: `[version]'1.0'`, and
                    // casts chain (`[string][version]'1.0'`). Read iteratively, but counted as
                    // nesting so a chain of ten thousand casts is refused like any deep input.
                    if w.starts_with('[')
                        && w.ends_with(']')
                        && matches!(self.peek(), Some(Token::Str(_) | Token::Word(_)))
                    {
                        depth += 1;
                        self.enter(depth)?;
                        continue;
                    }
                    return Ok(Value::Str(w));
                }
                Some(Token::TableOpen) => return Ok(Value::Table(self.table_body(depth + 1)?)),
                Some(Token::ArrayOpen) => return self.array_body(depth + 1),
                Some(Token::ParenOpen) => {
                    self.enter(depth + 1)?;
                    let value = self.value(depth + 1)?;
                    self.skip(&[Token::Newline]);
                    return match self.next() {
                        Some(Token::ParenClose) => Ok(value),
                        _ => Err(syntax(line, "unterminated (: missing )")),
                    };
                }
                Some(other) => return Err(syntax(line, format!("expected a value, found {}", describe(&other)))),
                None => return Err(syntax(line, "expected a value, found end of file")),
            }
        }
    }

    /// Refuses input nested deeper than `MAX_DEPTH`: the one check every recursive step makes.
    fn enter(&self, depth: usize) -> Result<(), ManifestError> {
        if depth > MAX_DEPTH {
            return Err(syntax(self.line(), format!("nested more than {MAX_DEPTH} levels deep")));
        }
        Ok(())
    }

    /// Items of `@( ... )` separated by commas, new lines or semicolons.
    fn array_body(&mut self, depth: usize) -> Result<Value, ManifestError> {
        self.enter(depth)?;
        let mut items = Vec::new();
        loop {
            self.skip(&[Token::Newline, Token::Semicolon, Token::Comma]);
            if self.peek() == Some(&Token::ParenClose) {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            if self.peek().is_none() {
                return Err(syntax(self.line(), "unterminated @(: missing )"));
            }
            items.push(self.expr(depth)?);
        }
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::TableOpen => "@{".into(),
        Token::ArrayOpen => "@(".into(),
        Token::ParenOpen => "(".into(),
        Token::TableClose => "}".into(),
        Token::ParenClose => ")".into(),
        Token::Equals => "=".into(),
        Token::Comma => ",".into(),
        Token::Semicolon => ";".into(),
        Token::Newline => "a new line".into(),
        Token::Str(s) => format!("string {:?}", truncate(s)),
        Token::Word(w) => format!("{:?}", truncate(w)),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (String, Option<String>) {
        let m = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
        (m.module_version, m.prerelease)
    }

    fn err(bytes: &[u8]) -> String {
        parse(bytes).expect_err("should be rejected").to_string()
    }

    #[test]
    fn only_the_top_level_module_version_counts() {
        let text = "@{\n RequiredModules = @(@{ModuleName = 'Az.Accounts'; ModuleVersion = '5.2.0'; })\n ModuleVersion = '14.3.0'\n}\n";
        assert_eq!(ok(text), ("14.3.0".into(), None));
        let nested_only = "@{ RequiredModules = @(@{ModuleName='Az.Accounts'; ModuleVersion='5.2.0'}) }";
        assert_eq!(err(nested_only.as_bytes()), "no top-level ModuleVersion");
    }

    #[test]
    fn comments_quotes_and_escapes() {
        let text = "<# header\n ModuleVersion = '9.9.9'\n#>\n@{\n# ModuleVersion = '1.1.1'\n'ModuleVersion' = \"2.0.1\" # trailing\nDescription = 'it''s \"quoted\"'\nCopyright = \"(c) `\"Microsoft`\" \"\"Corp\"\"\"\n}\n";
        assert_eq!(ok(text), ("2.0.1".into(), None));
        assert_eq!(ok("@{ moduleversion = 3.1 }"), ("3.1".into(), None));
        assert_eq!(ok("@{ ModuleVersion = [version]'3.2.1' }"), ("3.2.1".into(), None));
    }

    #[test]
    fn prerelease_from_psdata_and_commented_out_in_ga_builds() {
        let pre = "@{ModuleVersion='5.3.0'\nPrivateData = @{\n PSData = @{\n  Tags = 'Azure','ARM',\n   'Accounts'\n  Prerelease = 'preview'\n }\n}\n}";
        assert_eq!(ok(pre), ("5.3.0".into(), Some("preview".into())));
        let ga = "@{ModuleVersion='5.2.0'\nPrivateData = @{ PSData = @{\n  # Prerelease = 'preview'\n  ReleaseNotes = @'\n* multi-line notes\n'@\n}}}";
        assert_eq!(ok(ga), ("5.2.0".into(), None));
    }

    #[test]
    fn encodings_crlf_and_signature_blocks() {
        let text = "@{\r\nModuleVersion = '5.2.0'\r\n}\r\n\r\n# SIG # Begin signature block\r\n# MIIoKgYJKoZIhvcNAQcCoIIoGzCCKBcCAQExDzANBglghkgBZQMEAgEFADB5Bgor\r\n# SIG # End signature block\r\n";
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(parse(&bom).unwrap().module_version, "5.2.0");
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse(&le).unwrap().module_version, "5.2.0");
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(parse(&be).unwrap().module_version, "5.2.0");
        assert_eq!(err(&le[2..]), "not text: binary data (NUL bytes) without a UTF-16 byte-order mark");
        assert_eq!(err(&le[..le.len() - 1]), "not text: UTF-16 text with an odd number of bytes");
    }

    #[test]
    fn garbage_is_rejected_with_a_line_number() {
        assert_eq!(err(b""), "line 1: empty file: expected a manifest starting with @{");
        assert_eq!(err(b"ModuleVersion = '1.0'"), "line 1: expected @{ to start the manifest, found \"ModuleVersion\"");
        assert_eq!(err(b"@{\nModuleVersion = '1.0'\n"), "line 2: unterminated hashtable: missing }");
        assert_eq!(err(b"@{ ModuleVersion = '1.0 }"), "line 1: unterminated single-quoted string");
        assert_eq!(
            err(b"@{\nA = 1\nModuleVersion '1'\n}"),
            "line 3: expected = after key \"ModuleVersion\", found string \"1\""
        );
        assert_eq!(err(b"@{ModuleVersion='1.0'\nmoduleVersion='2.0'}"), "line 2: duplicate key \"moduleVersion\"");
        assert_eq!(err(b"@{ModuleVersion=@{}}"), "ModuleVersion is not a string");
        assert_eq!(
            err(b"@{ModuleVersion='1.0'} trailing"),
            "line 1: unexpected \"trailing\" after the manifest's closing }"
        );
        assert_eq!(err(b"<# never closed\n@{ModuleVersion='1'}"), "line 1: unterminated <# comment");
        let deep = format!("@{{ModuleVersion='1.0'\nX={}1{}}}", "@(".repeat(100), ")".repeat(100));
        assert_eq!(err(deep.as_bytes()), "line 2: nested more than 32 levels deep");
    }

    /// The attack from issue 15: thousands of `(` (or casts, or a mix of every construct) in a
    /// 12 KB manifest overflowed the stack and killed the agent. Every one is a parse error now,
    /// run on a thread with a small stack so a regression fails here rather than passing by luck.
    #[test]
    fn deep_input_of_every_kind_is_an_error_not_a_stack_overflow() {
        let cases = [
            format!("@{{ModuleVersion = {}'1.0'{}}}", "(".repeat(6000), ")".repeat(6000)),
            format!("@{{ModuleVersion = {}'1.0'}}", "[version] ".repeat(6000)),
            format!("@{{ModuleVersion = '1.0'\nX = {}1}}", "( @( @{ A = ".repeat(3000)),
            format!("@{{ModuleVersion = '1.0'\nX = {}", "(".repeat(100_000)),
        ];
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || cases.iter().map(|c| parse(c.as_bytes())).collect::<Vec<_>>())
            .unwrap();
        for result in handle.join().expect("the parser overflowed its stack") {
            let error = result.expect_err("deep input must be refused").to_string();
            assert!(error.contains("nested more than 32 levels deep"), "{error}");
        }
        // Within the limit, nesting of every kind still parses.
        let fine = format!("@{{ModuleVersion = {}[version]'2.1'{}}}", "(".repeat(30), ")".repeat(30));
        assert_eq!(ok(&fine), ("2.1".into(), None));
    }
}

//! The command scanner: finds Azure sign-ins in shell, PowerShell, `cmd` and Python text and
//! returns them with every secret already replaced by `***`.
//!
//! It reads text the way the interpreters would, closely enough to see a sign-in and never so
//! loosely that a comment or an `echo` counts:
//! - logical lines: `\` (sh), `` ` `` (PowerShell) and `^` (cmd) continue a line; a comment line
//!   never continues;
//! - comments: `#` at the start of a word (not for `cmd`), PowerShell `<# ... #>` blocks, `REM`
//!   and `::` for `cmd`;
//! - words: `'...'`, `"..."` (with `\"` and `` `" `` escapes), `(...)`, `{...}` and `$(...)` groups
//!   as one word; commands split at `;`, `|`, `&`, `&&`, `||`;
//! - a command whose first word prints (`echo`, `printf`, `Write-Host`, `Write-Output`, ...) is
//!   text, not a command;
//! - quoted arguments with spaces and groups are scanned again as commands (`bash -c "az login
//!   ..."`, `pwsh -Command "..."`, `sh '...'` in a Jenkinsfile), to a depth limit.
//!
//! Nothing in a [`Hit`] comes from the text except the matched command after redaction: the value
//! after every password, secret, token, key or credential switch is `***` (and literal user
//! names too, unless account names may be reported).

use std::collections::BTreeMap;

use azver_core::JobSignInKind;

/// Longest logical line, in bytes, after joining continuations; the rest is not read.
const MAX_LOGICAL_LINE: usize = 64 * 1024;
/// Most physical lines one logical line may join.
const MAX_CONTINUATIONS: usize = 1000;
/// How deep quoted strings and groups are scanned again as commands.
const MAX_DEPTH: usize = 4;
/// Deepest nesting of brackets inside one word.
const MAX_GROUP_NESTING: usize = 64;
/// Longest command kept in a hit, in characters.
const MAX_COMMAND_CHARS: usize = 512;
/// Most tokens examined per logical line.
const MAX_TOKENS: usize = 4096;
/// Most lines one PowerShell hashtable literal (a splat) may span.
const MAX_HASHTABLE_LINES: usize = 200;
/// Most splatted hashtables remembered per text, and entries per hashtable.
const MAX_SPLATS: usize = 256;
const MAX_SPLAT_ENTRIES: usize = 64;
/// Most arguments of a Python call read.
const MAX_CALL_ARGS: usize = 32;
/// The azure-identity credential that signs in with a user's password (ROPC).
const ROPC_CREDENTIAL: &str = "UsernamePasswordCredential";

/// The language a text is written in; decides continuations and comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// POSIX shells (`sh`, `bash`) and crontab/systemd command lines.
    Shell,
    /// PowerShell scripts.
    PowerShell,
    /// `cmd.exe` batch files.
    Cmd,
    /// Python scripts (`subprocess.run(["az", "login", ...])`, `os.system("...")`).
    Python,
    /// A command line whose interpreter is not known (Task Scheduler arguments, launchd).
    Any,
}

impl Dialect {
    /// The dialect of a script file, from its name and first line.
    pub fn of_script(name: &str, first_line: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        let shebang = first_line.trim().to_ascii_lowercase();
        if lower.ends_with(".ps1") || lower.ends_with(".psm1") || shebang.contains("pwsh") {
            Self::PowerShell
        } else if lower.ends_with(".cmd") || lower.ends_with(".bat") {
            Self::Cmd
        } else if lower.ends_with(".py") || (shebang.starts_with("#!") && shebang.contains("python")) {
            Self::Python
        } else if lower.ends_with(".sh") || lower.ends_with(".bash") || shebang.starts_with("#!") {
            Self::Shell
        } else {
            Self::Any
        }
    }

    fn hash_comments(self) -> bool {
        self != Self::Cmd
    }
}

/// A sign-in found in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// 1-based line of the text where the command starts.
    pub line: u32,
    /// `azure-cli`, `Az`, `AzureRM` or `azure-identity` (Python's `UsernamePasswordCredential`).
    pub product: &'static str,
    /// User password or plaintext secret.
    pub kind: JobSignInKind,
    /// The matched command, redacted.
    pub command: String,
}

/// Finds sign-ins in `text`. `keep_user_names` keeps literal user names (`-u ops@contoso.com`);
/// otherwise they are redacted like secrets.
pub fn scan(text: &str, dialect: Dialect, keep_user_names: bool) -> Vec<Hit> {
    let lines = logical_lines(text, dialect);
    let vars = Vars::collect(&lines, dialect);
    let scanner = Scanner { dialect, vars: &vars, keep_user_names };
    let mut hits = Vec::new();
    for logical in &lines {
        scanner.scan_line(&logical.text, logical.line, 0, &mut hits);
    }
    hits
}

/// The script files a job command runs, as written (`/opt/jobs/sync.sh`, `C:\ops\rotate.ps1`,
/// `~/bin/report.py`): words ending in a script extension, and a command word given by an
/// absolute path. Words with unexpanded variables other than `$HOME` are skipped.
pub fn script_refs(text: &str, dialect: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    for logical in logical_lines(text, dialect) {
        refs_in_line(&logical.text, dialect, 0, &mut out);
    }
    out.dedup();
    out
}

fn refs_in_line(line: &str, dialect: Dialect, depth: usize, out: &mut Vec<String>) {
    for segment in tokenize(line, dialect) {
        let head = head_index(&segment);
        for (i, token) in segment.iter().enumerate() {
            let text = token.text.as_str();
            let lower = text.to_ascii_lowercase();
            let script_ext = [".sh", ".bash", ".ps1", ".cmd", ".bat", ".py"]
                .iter()
                .any(|ext| lower.ends_with(ext) && lower.len() > ext.len());
            let absolute_command =
                Some(i) == head && (text.starts_with('/') || text.get(1..3).is_some_and(|s| s == ":\\" || s == ":/"));
            let expandable = text.starts_with("$HOME/") || text.starts_with("${HOME}/") || text.starts_with("~/");
            let unexpanded = text.contains(['$', '%', '*', '?']) && !expandable;
            if (script_ext || absolute_command) && !unexpanded && !token.group {
                if !out.iter().any(|o| o == text) {
                    out.push(text.to_owned());
                }
            } else if ((token.quoted && text.contains(char::is_whitespace)) || token.group) && depth < MAX_DEPTH {
                refs_in_line(group_inner(token), dialect, depth + 1, out);
            }
        }
    }
}

/// One logical line: physical lines joined at their continuations.
#[derive(Debug)]
struct Logical {
    line: u32,
    text: String,
}

fn logical_lines(text: &str, dialect: Dialect) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut current: Option<Logical> = None;
    let mut joined = 0;
    let mut in_block_comment = false;
    for (index, raw) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut line = raw;
        if matches!(dialect, Dialect::PowerShell | Dialect::Any) {
            // `<# ... #>` block comments may span lines; what lies inside is never a command.
            if in_block_comment {
                match line.find("#>") {
                    Some(end) => {
                        in_block_comment = false;
                        line = line.get(end + 2..).unwrap_or("");
                    }
                    None => continue,
                }
            }
            if let Some(start) = line.find("<#")
                && !line.get(start..).is_some_and(|rest| rest.contains("#>"))
                && !in_quotes_before(line, start)
            {
                in_block_comment = true;
                line = line.get(..start).unwrap_or("");
            }
        }
        let trimmed = line.trim_end();
        let is_comment = {
            let start = trimmed.trim_start();
            (dialect.hash_comments() && start.starts_with('#'))
                || (dialect == Dialect::Any && start.starts_with("//"))
                || (matches!(dialect, Dialect::Cmd | Dialect::Any)
                    && (start.starts_with("::") || start.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("rem "))))
        };
        let continued = !is_comment
            && match trimmed.chars().last() {
                Some('\\') => matches!(dialect, Dialect::Shell | Dialect::Python | Dialect::Any),
                Some('`') => matches!(dialect, Dialect::PowerShell | Dialect::Any),
                Some('^') => matches!(dialect, Dialect::Cmd | Dialect::Any),
                _ => false,
            };
        let body = if continued { trimmed.get(..trimmed.len() - 1).unwrap_or("") } else { trimmed };
        if is_comment && current.is_none() {
            // A comment line is never a command, and never continues.
            continue;
        }
        let logical = current.get_or_insert_with(|| Logical { line: number, text: String::new() });
        if !is_comment {
            if !logical.text.is_empty() {
                logical.text.push(' ');
            }
            let room = MAX_LOGICAL_LINE.saturating_sub(logical.text.len());
            logical.text.push_str(cut_chars(body, room));
        }
        joined += 1;
        if !continued || joined >= MAX_CONTINUATIONS || logical.text.len() >= MAX_LOGICAL_LINE {
            out.extend(current.take());
            joined = 0;
        }
    }
    out.extend(current);
    out
}

/// True when byte `at` of `line` lies inside a quoted string.
fn in_quotes_before(line: &str, at: usize) -> bool {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        if i >= at {
            break;
        }
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    quote.is_some()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut_chars(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// One word of a command.
#[derive(Debug, Clone)]
struct Token {
    /// The word with quotes removed (groups keep their brackets).
    text: String,
    /// Byte span in the line.
    start: usize,
    end: usize,
    /// Any part of it was quoted.
    quoted: bool,
    /// Entirely single-quoted (no variable expansion).
    single: bool,
    /// Contains a bracket group: `(...)`, `{...}`, `$(...)`.
    group: bool,
}

impl Token {
    fn lower(&self) -> String {
        self.text.to_ascii_lowercase()
    }

    /// The switch name without dashes, lower-cased, and the value attached after `sep`
    /// (`--password=x`, `-Credential:$c`) with its byte offset in the line; `None` when the word
    /// is not a switch.
    fn switch(&self, line: &str, sep: char) -> Option<(String, Option<(usize, Token)>)> {
        let text = &self.text;
        let body = text.strip_prefix("--").or_else(|| text.strip_prefix('-'))?;
        if !body.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let raw = line.get(self.start..self.end).unwrap_or("");
        match (body.split_once(sep), raw.find(sep)) {
            (Some((name, value)), Some(at)) => {
                let at = self.start + at + 1;
                let value = Token { text: value.to_owned(), start: at, ..self.clone() };
                Some((name.to_ascii_lowercase(), Some((at, value))))
            }
            _ => Some((body.to_ascii_lowercase(), None)),
        }
    }

    /// `-pVALUE`: a short option with its value attached, as the value word and its offset.
    fn short_attached(&self, line: &str) -> Option<(usize, Token)> {
        let raw = line.get(self.start..self.end)?;
        let value = self.text.strip_prefix('-').filter(|b| !b.starts_with('-'))?.get(1..).filter(|v| !v.is_empty())?;
        let at = if raw.starts_with('-') { self.start + 2 } else { self.start };
        Some((at, Token { text: value.to_owned(), start: at, ..self.clone() }))
    }
}

/// Splits a logical line into commands of words.
fn tokenize(line: &str, dialect: Dialect) -> Vec<Vec<Token>> {
    let python = dialect == Dialect::Python;
    let mut segments = Vec::new();
    let mut segment: Vec<Token> = Vec::new();
    let mut token: Option<Token> = None;
    let mut chars = line.char_indices().peekable();
    let mut count = 0;
    let finish = |token: &mut Option<Token>, segment: &mut Vec<Token>, end: usize| {
        if let Some(mut t) = token.take() {
            t.end = end;
            segment.push(t);
        }
    };
    while let Some((i, c)) = chars.next() {
        count += 1;
        if count > MAX_LOGICAL_LINE || segment.len() > MAX_TOKENS {
            break;
        }
        let at_word_start = token.is_none();
        match c {
            c if c.is_whitespace() || (python && matches!(c, '(' | ')' | '[' | ']' | ',')) => {
                finish(&mut token, &mut segment, i);
            }
            '#' if at_word_start && dialect.hash_comments() => {
                if dialect != Dialect::Cmd && chars.peek().is_some_and(|(_, n)| *n == '>') {
                    continue;
                }
                break;
            }
            // `//` starts a comment in a Jenkinsfile, which Jenkins steps are read as (`Any`).
            '/' if at_word_start && dialect == Dialect::Any && chars.peek().is_some_and(|(_, n)| *n == '/') => break,
            '<' if at_word_start
                && matches!(dialect, Dialect::PowerShell | Dialect::Any)
                && chars.peek().is_some_and(|(_, n)| *n == '#') =>
            {
                // An inline `<# ... #>` comment.
                let rest = line.get(i..).unwrap_or("");
                match rest.find("#>") {
                    Some(end) => {
                        let stop = i + end + 2;
                        while chars.peek().is_some_and(|(j, _)| *j < stop) {
                            chars.next();
                        }
                    }
                    None => break,
                }
            }
            ';' | '|' | '&' | '\n' => {
                finish(&mut token, &mut segment, i);
                if !segment.is_empty() {
                    segments.push(std::mem::take(&mut segment));
                }
            }
            '\'' | '"' => {
                let t = token.get_or_insert_with(|| Token::empty(i));
                if python && t.text.len() <= 2 && t.text.chars().all(|p| "rRbBfFuU".contains(p)) && !t.quoted {
                    // Python string prefixes (`f"..."`, `r'...'`) are not part of the string.
                    t.text.clear();
                }
                let was_empty = t.text.is_empty();
                t.quoted = true;
                while let Some((_, q)) = chars.next() {
                    count += 1;
                    if q == c {
                        if c == '\'' && dialect == Dialect::PowerShell && chars.peek().is_some_and(|(_, n)| *n == '\'')
                        {
                            chars.next();
                            t.text.push('\'');
                            continue;
                        }
                        break;
                    }
                    if c == '"'
                        && (q == '\\' || (q == '`' && dialect != Dialect::Shell))
                        && let Some((_, escaped)) = chars.next_if(|(_, n)| *n == '"' || *n == '\\' || *n == '`')
                    {
                        t.text.push(escaped);
                        continue;
                    }
                    t.text.push(q);
                }
                t.single = (was_empty || t.single) && c == '\'';
            }
            '(' | '{' => {
                let t = token.get_or_insert_with(|| Token::empty(i));
                t.group = true;
                t.text.push(c);
                let mut depth = 1usize;
                let mut quote: Option<char> = None;
                for (_, g) in chars.by_ref() {
                    count += 1;
                    t.text.push(g);
                    match (quote, g) {
                        (Some(q), g) if g == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'' | '"') => quote = Some(g),
                        (None, '(' | '{') => {
                            depth += 1;
                            if depth > MAX_GROUP_NESTING {
                                break;
                            }
                        }
                        (None, ')' | '}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '`' if matches!(dialect, Dialect::PowerShell | Dialect::Any) => {
                // PowerShell's escape character outside quotes.
                let t = token.get_or_insert_with(|| Token::empty(i));
                if let Some((_, escaped)) = chars.next() {
                    t.text.push(escaped);
                }
            }
            _ => token.get_or_insert_with(|| Token::empty(i)).text.push(c),
        }
    }
    let end = line.len();
    finish(&mut token, &mut segment, chars.peek().map_or(end, |(i, _)| *i).min(end));
    if !segment.is_empty() {
        segments.push(segment);
    }
    segments
}

impl Token {
    fn empty(start: usize) -> Self {
        Self { text: String::new(), start, end: start, quoted: false, single: false, group: false }
    }
}

/// The text inside a quoted word or a group, for scanning again.
fn group_inner(token: &Token) -> &str {
    let text = token.text.as_str();
    if token.group {
        let open = text.find(['(', '{']).map_or(0, |i| i + 1);
        let close = text.rfind([')', '}']).filter(|c| *c >= open).unwrap_or(text.len());
        text.get(open..close).unwrap_or("")
    } else {
        text
    }
}

/// Words that run the command after them (with their own options skipped).
const PREFIXES: &[&str] = &[
    "sudo", "doas", "exec", "nohup", "time", "env", "call", "start", "nice", "ionice", ".", "source", "command", "&",
    "timeout", "flock", "chronic", "runuser", "su",
];

/// Words whose arguments are printed, not run.
const PRINTERS: &[&str] = &[
    "echo",
    "echo.",
    "printf",
    "print",
    "logger",
    "write",
    "write-host",
    "write-output",
    "write-verbose",
    "write-information",
    "write-warning",
    "write-debug",
    "write-error",
    "write-progress",
    "rem",
    ":",
    "cat",
    "grep",
    "out-file",
    "add-content",
    "set-content",
];

/// Index of the command word of a segment: after variable assignments and prefix commands.
fn head_index(segment: &[Token]) -> Option<usize> {
    let mut i = 0;
    while let Some(token) = segment.get(i) {
        let lower = token.lower();
        let lower = lower.trim_start_matches('@');
        if segment.get(i + 1).is_some_and(|n| n.text == "=") && !token.quoted {
            i += 2;
            continue;
        }
        if is_assignment(&token.text) || token.text == "=" {
            i += 1;
            continue;
        }
        if PREFIXES.contains(&lower) {
            i += 1;
            // Options of the prefix command, and the value of those that take one.
            while let Some(option) = segment.get(i) {
                let text = option.text.as_str();
                if text.starts_with('-') && !option.quoted {
                    i += if matches!(text, "-u" | "-g" | "--user" | "-c" | "-s" | "-n") && lower != "su" {
                        2
                    } else {
                        1
                    };
                } else if lower == "timeout" && text.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                    i += 1;
                } else {
                    break;
                }
            }
            continue;
        }
        return Some(i);
    }
    None
}

/// `NAME=value` (a shell or `cmd` variable assignment word).
fn is_assignment(text: &str) -> bool {
    let Some((name, _)) = text.split_once('=') else { return false };
    let name = name.strip_prefix('$').unwrap_or(name);
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The variables of a text whose values are literals (`PASS=...`, `$pw = '...'`), and the
/// PowerShell credentials built from literals with `ConvertTo-SecureString -AsPlainText`.
#[derive(Debug, Default)]
struct Vars {
    /// Lower-cased names of variables assigned a literal value.
    literal: Vec<String>,
    /// Lower-cased names of variables holding a secure string or credential made from a literal.
    plaintext: Vec<String>,
    /// PowerShell hashtables by lower-cased variable name, for splatting (`Connect-AzAccount
    /// @params`): their lower-cased keys and values, from `$params = @{ ... }` (over several
    /// lines too) and `$params.Key = value` / `$params['Key'] = value`.
    splats: BTreeMap<String, Vec<(String, Option<Token>)>>,
    /// Python names `UsernamePasswordCredential` is imported as (`import ... as UPC`).
    ropc_aliases: Vec<String>,
}

impl Vars {
    fn collect(lines: &[Logical], dialect: Dialect) -> Self {
        let mut vars = Vars::default();
        let powershell = matches!(dialect, Dialect::PowerShell | Dialect::Any);
        // A hashtable literal still open over several lines.
        let mut open: Option<Hashtable> = None;
        for logical in lines {
            if let Some(mut table) = open.take() {
                table.body.push('\n');
                if table.feed(&logical.text) || table.lines >= MAX_HASHTABLE_LINES {
                    vars.learn_hashtable(&table.name, &table.body);
                } else {
                    open = Some(table);
                }
                continue;
            }
            if powershell && let Some((name, rest)) = hashtable_start(&logical.text) {
                let mut table = Hashtable { name, body: String::new(), depth: 1, quote: None, lines: 0 };
                if table.feed(rest) {
                    vars.learn_hashtable(&table.name, &table.body);
                } else {
                    open = Some(table);
                }
                continue;
            }
            if dialect == Dialect::Python {
                vars.learn_import(&logical.text);
            }
            let segments = tokenize(&logical.text, dialect);
            for segment in &segments {
                vars.learn(segment);
            }
            // `$sec = 'x' | ConvertTo-SecureString -AsPlainText`: the pipeline is the value.
            if let Some([name, equals, ..]) = segments.first().map(Vec::as_slice)
                && equals.text == "="
                && segments.len() > 1
                && vars.securestring_from_literal(logical.text.get(equals.end..).unwrap_or(""))
            {
                vars.plaintext.push(var_key(&name.text));
            }
        }
        if let Some(table) = open {
            vars.learn_hashtable(&table.name, &table.body);
        }
        vars
    }

    /// The entries of a hashtable literal's inside (`Credential = $c; Tenant = 't'`, one per
    /// line or separated by `;`), remembered under the variable `name`.
    fn learn_hashtable(&mut self, name: &str, inner: &str) {
        if self.splats.len() >= MAX_SPLATS && !self.splats.contains_key(name) {
            return;
        }
        let mut entries = Vec::new();
        for segment in tokenize(inner, Dialect::PowerShell) {
            if entries.len() >= MAX_SPLAT_ENTRIES {
                break;
            }
            let Some(first) = segment.first() else { continue };
            let (key, value) = if segment.get(1).is_some_and(|t| t.text == "=") {
                (first.text.clone(), joined_value(segment.get(2..).unwrap_or(&[])))
            } else if let Some((key, value)) = first.text.split_once('=').filter(|_| !first.group) {
                let value = (!value.is_empty()).then(|| Token { text: value.to_owned(), ..first.clone() });
                (key.to_owned(), value.or_else(|| joined_value(segment.get(1..).unwrap_or(&[]))))
            } else {
                continue;
            };
            entries.push((key.trim().to_ascii_lowercase(), value));
        }
        self.splats.insert(name.to_owned(), entries);
    }

    /// `$params.Credential = $c` or `$params['Credential'] = $c`: one more entry of a splat.
    fn learn_member(&mut self, target: &str, value: &[&Token]) -> bool {
        let Some(rest) = target.strip_prefix('$') else { return false };
        let (base, key) = match rest.split_once(['.', '[']) {
            Some((base, key)) => (base, key.trim_end_matches(']')),
            None => return false,
        };
        if base.is_empty() || key.is_empty() {
            return false;
        }
        let base = var_key(base);
        if self.splats.len() >= MAX_SPLATS && !self.splats.contains_key(&base) {
            return true;
        }
        let owned: Vec<Token> = value.iter().map(|t| (*t).clone()).collect();
        let entries = self.splats.entry(base).or_default();
        if entries.len() < MAX_SPLAT_ENTRIES {
            entries.push((key.to_ascii_lowercase(), joined_value(&owned)));
        }
        true
    }

    /// `from azure.identity import UsernamePasswordCredential as UPC`: `UPC` is the ROPC class.
    fn learn_import(&mut self, line: &str) {
        let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')').collect();
        let mut words = words.into_iter().filter(|w| !w.is_empty()).peekable();
        if !matches!(words.peek(), Some(&("from" | "import"))) {
            return;
        }
        while let Some(word) = words.next() {
            if word.rsplit('.').next() == Some(ROPC_CREDENTIAL)
                && words.next_if_eq(&"as").is_some()
                && let Some(alias) = words.next()
                && self.ropc_aliases.len() < MAX_SPLATS
            {
                self.ropc_aliases.push(alias.to_owned());
            }
        }
    }

    fn learn(&mut self, segment: &[Token]) {
        let mut tokens = segment;
        if tokens
            .first()
            .is_some_and(|t| matches!(t.lower().as_str(), "export" | "set" | "local" | "declare" | "readonly"))
        {
            tokens = tokens.get(1..).unwrap_or(&[]);
        }
        let Some(first) = tokens.first() else { return };
        // `NAME=value` as one word, or `$name = value` as three.
        let (name, value): (String, Vec<&Token>) = if tokens.get(1).is_some_and(|t| t.text == "=") {
            (first.text.clone(), tokens.iter().skip(2).collect())
        } else if is_assignment(&first.text) {
            let (name, rest) = first.text.split_once('=').unwrap_or_default();
            if rest.is_empty() {
                (name.to_owned(), tokens.iter().skip(1).collect())
            } else {
                let literal = !rest.starts_with(['$', '%', '!']) && !first.group;
                if literal {
                    self.literal.push(var_key(name));
                }
                return;
            }
        } else {
            return;
        };
        if name.contains(['.', '[']) && self.learn_member(&name, &value) {
            return;
        }
        let key = var_key(&name);
        if key.is_empty() {
            return;
        }
        if let [only] = value.as_slice()
            && only.quoted
            && !only.group
            && (only.single || !only.text.contains('$'))
        {
            self.literal.push(key);
            return;
        }
        let text: String = value.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" ");
        let lower = text.to_ascii_lowercase();
        let credential = lower.contains("pscredential") || lower.contains("networkcredential");
        if self.securestring_from_literal(&text) || (credential && self.references_plaintext(&lower)) {
            self.plaintext.push(key);
        }
    }

    fn references_plaintext(&self, lower_text: &str) -> bool {
        self.plaintext.iter().any(|name| mentions_var(lower_text, name))
    }

    /// True when `text` runs `ConvertTo-SecureString -AsPlainText` on a literal: written out,
    /// a variable assigned one, or piped in from one (`'x' | ConvertTo-SecureString`).
    fn securestring_from_literal(&self, text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        let Some(at) = lower.find("convertto-securestring") else { return false };
        if !lower.contains("-asplaintext") {
            return false;
        }
        let words: Vec<Token> =
            tokenize(text.get(at..).unwrap_or(""), Dialect::PowerShell).into_iter().flatten().collect();
        let argument = words.iter().skip(1).find(|w| !w.text.starts_with('-') || w.quoted);
        let piped = lower.get(..at).is_some_and(|before| before.trim_end().ends_with('|'));
        argument.is_some_and(|w| self.is_literal(w) || w.group && self.securestring_from_literal(group_inner(w)))
            || (piped && argument.is_none_or(|w| w.text.starts_with('-')) && {
                let before = text.get(..at).unwrap_or("");
                tokenize(before, Dialect::PowerShell)
                    .iter()
                    .flatten()
                    .any(|w| self.is_literal(w) && !w.text.starts_with('-'))
            })
    }

    /// True when a credential word holds a secret made from a literal.
    fn is_plaintext(&self, token: &Token) -> bool {
        if token.group {
            return self.securestring_from_literal(group_inner(token)) || self.references_plaintext(&token.lower());
        }
        token.text.starts_with('$') && self.plaintext.contains(&var_key(&token.text))
    }

    /// True when a value word is a literal secret: written out, or a variable assigned one.
    fn is_literal(&self, token: &Token) -> bool {
        let text = token.text.as_str();
        if token.single {
            return !text.is_empty();
        }
        if token.group {
            return self.securestring_from_literal(group_inner(token));
        }
        match text.chars().next() {
            None => false,
            Some('$' | '%' | '!') => {
                let key = var_key(text);
                self.literal.contains(&key) || self.plaintext.contains(&key)
            }
            Some(_) => true,
        }
    }
}

/// The lower-cased name of a variable reference or assignment target: `$Pw`, `${PW}`, `%PW%`,
/// `!PW!`, `$env:PW` all give the bare name.
fn var_key(text: &str) -> String {
    let t = text.trim_start_matches(['$', '%', '!']).trim_end_matches(['%', '!']);
    let t = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(t);
    let t = t.strip_prefix("env:").or_else(|| t.strip_prefix("ENV:")).or_else(|| t.strip_prefix("Env:")).unwrap_or(t);
    t.to_ascii_lowercase()
}

/// True when `$name` (or `${name}`) appears in a lower-cased text as a whole variable.
fn mentions_var(lower_text: &str, name: &str) -> bool {
    for form in [format!("${name}"), format!("${{{name}}}"), format!("%{name}%")] {
        let mut from = 0;
        while let Some(found) = lower_text.get(from..).and_then(|rest| rest.find(&form)) {
            let end = from + found + form.len();
            let next = lower_text.get(end..).and_then(|r| r.chars().next());
            if !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                return true;
            }
            from = end;
        }
    }
    false
}

/// `$name = @{...`: the variable and the text after `@{`.
fn hashtable_start(text: &str) -> Option<(String, &str)> {
    let rest = text.trim_start().strip_prefix('$')?;
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))?;
    let (name, after) = rest.split_at_checked(end)?;
    let body = after.trim_start().strip_prefix('=')?.trim_start().strip_prefix("@{")?;
    (!name.is_empty()).then(|| (var_key(name), body))
}

/// A PowerShell hashtable literal being read, line by line, after its `@{`.
#[derive(Debug)]
struct Hashtable {
    /// The variable it is assigned to (lower-cased).
    name: String,
    /// Its inside so far (at most [`MAX_LOGICAL_LINE`] bytes).
    body: String,
    /// Brackets open, the `@{` included.
    depth: usize,
    /// The quote character of a string still open.
    quote: Option<char>,
    /// Lines read.
    lines: usize,
}

impl Hashtable {
    /// Reads one more line of it; true once its closing `}` is found. Each character is
    /// looked at once, however many lines the literal spans.
    fn feed(&mut self, text: &str) -> bool {
        self.lines += 1;
        for (i, c) in text.char_indices() {
            match (self.quote, c) {
                (Some(q), c) if c == q => self.quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => self.quote = Some(c),
                (None, '{') => self.depth = self.depth.saturating_add(1),
                (None, '}') => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        self.push(text.get(..i).unwrap_or(""));
                        return true;
                    }
                }
                _ => {}
            }
        }
        self.push(text);
        false
    }

    fn push(&mut self, text: &str) {
        let room = MAX_LOGICAL_LINE.saturating_sub(self.body.len());
        self.body.push_str(cut_chars(text, room));
    }
}

/// One value from the words after `=`: the word itself, or several as one group.
fn joined_value(words: &[Token]) -> Option<Token> {
    match words {
        [] => None,
        [only] => Some(only.clone()),
        [first, ..] => {
            let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
            Some(Token {
                text: format!("({})", text.join(" ")),
                group: true,
                quoted: false,
                single: false,
                ..first.clone()
            })
        }
    }
}

struct Scanner<'a> {
    dialect: Dialect,
    vars: &'a Vars,
    keep_user_names: bool,
}

/// The PowerShell sign-in cmdlets and the product each belongs to.
const CMDLETS: &[(&str, &str)] = &[
    ("connect-azaccount", "Az"),
    ("login-azaccount", "Az"),
    ("add-azaccount", "Az"),
    ("connect-azurermaccount", "AzureRM"),
    ("login-azurermaccount", "AzureRM"),
    ("add-azurermaccount", "AzureRM"),
];

impl Scanner<'_> {
    fn scan_line(&self, line: &str, number: u32, depth: usize, hits: &mut Vec<Hit>) {
        for segment in tokenize(line, self.dialect) {
            let Some(head) = head_index(&segment) else { continue };
            let head_word = segment.get(head).map(|t| t.lower()).unwrap_or_default();
            if PRINTERS.contains(&head_word.trim_start_matches('@')) {
                continue;
            }
            if let Some(hit) = (head..segment.len()).find_map(|t| self.sign_in_at(line, &segment, t, number, depth)) {
                hits.push(hit);
                continue;
            }
            if depth >= MAX_DEPTH {
                continue;
            }
            for token in segment.iter().skip(head) {
                if token.group || (token.quoted && token.text.contains(char::is_whitespace)) {
                    let inner = group_inner(token).to_owned();
                    self.scan_line(&inner, number, depth + 1, hits);
                }
            }
        }
    }

    /// A sign-in whose command word is `segment[t]`; `depth` is how deep inside quoted strings
    /// and groups the line is (a Python call inside a string is text, not a call).
    fn sign_in_at(&self, line: &str, segment: &[Token], t: usize, number: u32, depth: usize) -> Option<Hit> {
        let word = segment.get(t)?;
        if word.group {
            return None;
        }
        if self.dialect == Dialect::Python
            && depth == 0
            && let Some(hit) = self.ropc_call(line, word, number)
        {
            return Some(hit);
        }
        let lower = word.lower();
        let base = lower.rsplit(['/', '\\']).next().unwrap_or(&lower);
        if base.trim_end_matches(".exe").trim_end_matches(".cmd").trim_end_matches(".bat") == "az" {
            // `az [--global-flag ...] login ...`
            let login = segment.iter().skip(t + 1).position(|w| !w.text.starts_with("--"))? + t + 1;
            if segment.get(login)?.lower() != "login" {
                return None;
            }
            return self.az_login(line, segment, t, login, number);
        }
        let (_, product) = CMDLETS.iter().find(|(name, _)| *name == base)?;
        self.connect(line, segment, t, product, number)
    }

    /// `UsernamePasswordCredential(client_id, username, password)` (azure-identity's ROPC flow,
    /// also as `azure.identity.UsernamePasswordCredential(...)`, an imported alias, or a keyword
    /// argument's value): a sign-in as a user whatever the arguments. Only a call counts, not
    /// an import or a mention. The rendered call keeps argument names and plain variable names;
    /// the password position and every literal are `***` (a literal user name too, unless
    /// account names may be reported).
    fn ropc_call(&self, line: &str, word: &Token, number: u32) -> Option<Hit> {
        if word.quoted {
            return None;
        }
        let raw = line.get(word.start..word.end)?;
        let callee = raw.rsplit('=').next()?;
        let name = callee.rsplit('.').next()?;
        if name != ROPC_CREDENTIAL && !self.vars.ropc_aliases.iter().any(|a| a == name) {
            return None;
        }
        let after = line.get(word.end..)?;
        let open = word.end + (after.len() - after.trim_start().len());
        let (args, closed) = call_args(line.get(open..)?.strip_prefix('(')?);
        let mut parts = Vec::new();
        for (index, arg) in args.iter().enumerate() {
            let (key, value) = match keyword_arg(arg) {
                Some((key, value)) => (Some(key), value),
                None => (None, *arg),
            };
            let role = match (key, index) {
                (Some(key), _) => key.to_ascii_lowercase(),
                (None, 0) => "client_id".to_owned(),
                (None, 1) => "username".to_owned(),
                (None, _) => "password".to_owned(),
            };
            let kept = if role == "password" || is_secret_name(&role) {
                false
            } else if role == "username" {
                python_name(value) || (self.keep_user_names && plain_string(value))
            } else {
                python_name(value)
            };
            let value = if kept { value } else { "***" };
            parts.push(match key {
                Some(key) => format!("{key}={value}"),
                None => value.to_owned(),
            });
        }
        if !closed {
            parts.push("...".to_owned());
        }
        let command = tidy(format!("{callee}({})", parts.join(", ")));
        Some(Hit { line: number, product: azver_core::AZURE_IDENTITY, kind: JobSignInKind::UserPassword, command })
    }

    fn az_login(&self, line: &str, segment: &[Token], start: usize, login: usize, number: u32) -> Option<Hit> {
        let mut user = false;
        let mut password: Option<Option<Token>> = None;
        let mut non_user = false;
        let mut federated_literal = false;
        let mut redact = Vec::new();
        let mut user_spans = Vec::new();
        let mut i = login + 1;
        while let Some(token) = segment.get(i) {
            i += 1;
            let Some((name, attached)) = token.switch(line, '=') else { continue };
            let short = !token.text.starts_with("--");
            // Short options take their value attached (`-pVALUE`) or as the next word; long ones
            // as `--name=VALUE` or the next word, and may be abbreviated.
            let attached = if short { token.short_attached(line) } else { attached };
            let letter = name.chars().next().unwrap_or('-');
            let long = |full: &str| !short && name.len() >= 3 && full.starts_with(name.as_str());
            let value: Option<Token> = match &attached {
                Some((_, v)) => Some(v.clone()),
                None => segment.get(i).cloned(),
            };
            let is_user = (short && letter == 'u') || long("username");
            let is_password = (short && letter == 'p') || long("password");
            if long("service-principal") || long("identity") {
                non_user = true;
                continue;
            }
            if long("federated-token") {
                non_user = true;
                federated_literal |= value.as_ref().is_some_and(|v| self.vars.is_literal(v));
            }
            if is_password {
                password = Some(value.clone());
            }
            user |= is_user;
            let secret = is_password || (!short && is_secret_name(&name));
            // A user name written out is personal data; a variable holding one is not.
            let named_user = is_user && !self.keep_user_names && value.as_ref().is_some_and(written_out);
            if secret || named_user {
                let span = match attached {
                    Some((at, _)) => Some((at, token.end)),
                    None => segment.get(i).map(|next| {
                        i += 1;
                        (next.start, next.end)
                    }),
                };
                if let Some(span) = span {
                    if secret { redact.push(span) } else { user_spans.push(span) }
                }
            }
        }
        if !non_user {
            // A service principal's `-u` is an application id, not a person.
            redact.extend(user_spans);
        }
        let kind = if non_user {
            let literal = password.flatten().is_some_and(|v| self.vars.is_literal(&v) && !is_certificate_path(&v.text));
            (literal || federated_literal).then_some(JobSignInKind::PlaintextSecret)?
        } else if user && password.is_some() {
            JobSignInKind::UserPassword
        } else {
            return None;
        };
        Some(Hit { line: number, product: azver_core::AZURE_CLI, kind, command: render(line, segment, start, &redact) })
    }

    fn connect(&self, line: &str, segment: &[Token], start: usize, product: &'static str, number: u32) -> Option<Hit> {
        let mut credential: Option<Option<Token>> = None;
        let mut non_user = false;
        let mut redact = Vec::new();
        let mut i = start + 1;
        while let Some(token) = segment.get(i) {
            i += 1;
            if let Some(splatted) = token.text.strip_prefix('@').filter(|_| !token.quoted && !token.group) {
                // Splatting: `@params` passes the hashtable `$params` as parameters. Its keys
                // count as switches; its values are never rendered (the command shows `@params`).
                for (key, value) in self.vars.splats.get(&var_key(splatted)).into_iter().flatten() {
                    let switched_off = value.as_ref().is_some_and(|v| v.text.eq_ignore_ascii_case("$false"));
                    if is_non_user_switch(key) && !switched_off {
                        non_user = true;
                    }
                    if is_credential_switch(key) {
                        credential = Some(value.clone());
                    }
                }
                continue;
            }
            let Some((name, attached)) = token.switch(line, ':') else { continue };
            let prefix_of = |full: &str, min: usize| name.len() >= min && full.starts_with(name.as_str());
            if is_non_user_switch(&name) {
                non_user = true;
            }
            let is_credential = is_credential_switch(&name);
            let value: Option<Token> = match &attached {
                Some((_, v)) => Some(v.clone()),
                None => segment.get(i).cloned(),
            };
            if is_credential {
                credential = Some(value);
            }
            if is_credential || is_secret_name(&name) || prefix_of("federatedtoken", 3) {
                if let Some((at, _)) = attached {
                    redact.push((at, token.end));
                } else if let Some(next) = segment.get(i) {
                    redact.push((next.start, next.end));
                    i += 1;
                }
            }
        }
        let credential = credential?;
        let kind = if non_user {
            credential.is_some_and(|v| self.vars.is_plaintext(&v)).then_some(JobSignInKind::PlaintextSecret)?
        } else {
            JobSignInKind::UserPassword
        };
        Some(Hit { line: number, product, kind, command: render(line, segment, start, &redact) })
    }
}

/// The top-level arguments of a Python call, from just after its `(`, trimmed; and whether
/// its `)` is on this line (a call over several lines is read as far as this line goes).
fn call_args(text: &str) -> (Vec<&str>, bool) {
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut from = 0;
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        if args.len() >= MAX_CALL_ARGS {
            return (args, false);
        }
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                c if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth = depth.saturating_add(1),
            ')' | ']' | '}' if depth > 0 => depth -= 1,
            ')' => {
                let last = text.get(from..i).unwrap_or("").trim();
                if !last.is_empty() {
                    args.push(last);
                }
                return (args, true);
            }
            ',' if depth == 0 => {
                let arg = text.get(from..i).unwrap_or("").trim();
                if !arg.is_empty() {
                    args.push(arg);
                }
                from = i + 1;
            }
            '#' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let last = text.get(from..end).unwrap_or("").trim();
    if !last.is_empty() && args.len() < MAX_CALL_ARGS {
        args.push(last);
    }
    (args, false)
}

/// `name=value` of a keyword argument (not `==`).
fn keyword_arg(arg: &str) -> Option<(&str, &str)> {
    let (key, value) = arg.split_once('=')?;
    let key = key.trim();
    (python_name(key) && !key.contains('.') && !value.starts_with('=')).then(|| (key, value.trim()))
}

/// A plain Python name or attribute (`PASSWORD`, `settings.user`, `**kwargs`): no literal in it.
fn python_name(text: &str) -> bool {
    let text = text.trim_start_matches('*');
    text.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

/// A string literal without interpolation or escapes (`'ops@contoso.com'`).
fn plain_string(text: &str) -> bool {
    let inner = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\''));
    let inner = inner.or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')));
    inner.is_some_and(|i| !i.contains(['\'', '"', '\\', '{', '}']))
}

/// `-ServicePrincipal`, `-Identity`, `-CertificateThumbprint`, `-FederatedToken` (lower-cased,
/// without the dash, abbreviated as PowerShell allows): a sign-in that is not a person's.
fn is_non_user_switch(name: &str) -> bool {
    let prefix_of = |full: &str, min: usize| name.len() >= min && full.starts_with(name);
    prefix_of("serviceprincipal", 4)
        || prefix_of("identity", 3)
        || prefix_of("certificatethumbprint", 5)
        || prefix_of("federatedtoken", 3)
}

/// `-Credential` (lower-cased, without the dash, abbreviated to at least `-Cre`).
fn is_credential_switch(name: &str) -> bool {
    name.len() >= 3 && "credential".starts_with(name)
}

/// True when a word is a value written out, not a variable, expression or group.
fn written_out(token: &Token) -> bool {
    !token.group && !token.text.is_empty() && (token.single || !token.text.starts_with(['$', '%', '!']))
}

/// Switch names whose value is a secret: `-p`, `--password`, `-ClientSecret`, `--sas-token`, ...
fn is_secret_name(name: &str) -> bool {
    name == "p"
        || ["pass", "secret", "token", "cred", "key", "pwd", "sig"].iter().any(|s| name.contains(s))
        || (name.len() >= 3 && "credential".starts_with(name))
}

fn is_certificate_path(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    [".pem", ".pfx", ".p12", ".crt", ".cer"].iter().any(|ext| lower.ends_with(ext))
}

/// The command from word `start` to the end of its segment, with the given spans replaced by `***`.
fn render(line: &str, segment: &[Token], start: usize, redact: &[(usize, usize)]) -> String {
    let Some(from) = segment.get(start).map(|t| t.start) else { return String::new() };
    let to = segment.last().map_or(from, |t| t.end).max(from);
    let mut spans: Vec<(usize, usize)> =
        redact.iter().copied().filter(|(a, b)| a < b && *a >= from && *b <= to).collect();
    spans.sort_unstable();
    let mut out = String::new();
    let mut at = from;
    for (a, b) in spans {
        if a < at {
            continue;
        }
        out.push_str(line.get(at..a).unwrap_or(""));
        out.push_str("***");
        at = b;
    }
    out.push_str(line.get(at..to).unwrap_or(""));
    tidy(out)
}

/// A command as a hit carries it: whitespace collapsed, cut to [`MAX_COMMAND_CHARS`].
fn tidy(out: String) -> String {
    let collapsed: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > MAX_COMMAND_CHARS {
        let mut cut: String = collapsed.chars().take(MAX_COMMAND_CHARS).collect();
        cut.push_str(" ...");
        cut
    } else {
        collapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `text` and returns `(line, product, kind, command)` for each hit.
    fn check(text: &str, dialect: Dialect) -> Vec<(u32, &'static str, &'static str, String)> {
        scan(text, dialect, false)
            .into_iter()
            .map(|h| {
                let kind = match h.kind {
                    JobSignInKind::UserPassword => "user",
                    JobSignInKind::PlaintextSecret => "secret",
                    JobSignInKind::Other => "other",
                };
                (h.line, h.product, kind, h.command)
            })
            .collect()
    }

    #[test]
    fn az_login_with_a_user_and_password_in_every_spelling() {
        let cases = [
            ("az login -u ops@contoso.com -p S3cret!", "az login -u *** -p ***"),
            ("az login --username ops@contoso.com --password 'S3cret!'", "az login --username *** --password ***"),
            ("az login --username=ops@contoso.com --password=S3cret!", "az login --username=*** --password=***"),
            ("az login -uops -pS3cret!", "az login -u*** -p***"),
            (
                "/usr/bin/az login -u \"$AZ_USER\" -p \"$AZ_PASS\" --tenant contoso",
                "/usr/bin/az login -u \"$AZ_USER\" -p *** --tenant contoso",
            ),
            ("sudo -u deploy az login -u $U -p $P > /dev/null 2>&1", "az login -u $U -p *** > /dev/null 2>"),
            ("AZURE_CORE_OUTPUT=none az login -u $U -p $P && az group list", "az login -u $U -p ***"),
            (
                "& 'C:\\Program Files\\Microsoft SDKs\\Azure\\CLI2\\wbin\\az.cmd' login -u $u -p $p",
                "'C:\\Program Files\\Microsoft SDKs\\Azure\\CLI2\\wbin\\az.cmd' login -u $u -p ***",
            ),
        ];
        for (text, command) in cases {
            let hits = check(text, Dialect::Any);
            assert_eq!(hits, vec![(1, "azure-cli", "user", command.to_owned())], "{text}");
        }
    }

    #[test]
    fn continuations_join_lines_and_report_the_first() {
        let sh = "#!/bin/sh\nset -e\naz login \\\n  --username \"$AZ_USER\" \\\n  --password \"$AZ_PASSWORD\"\n";
        assert_eq!(
            check(sh, Dialect::Shell),
            vec![(3, "azure-cli", "user", "az login --username \"$AZ_USER\" --password ***".into())]
        );
        let ps = "$c = Get-Credential\nConnect-AzAccount `\n  -Credential $c `\n  -Tenant contoso\n";
        assert_eq!(
            check(ps, Dialect::PowerShell),
            vec![(2, "Az", "user", "Connect-AzAccount -Credential *** -Tenant contoso".into())]
        );
        let cmd = "@echo off\r\ncall az login ^\r\n -u %AZ_USER% ^\r\n -p %AZ_PASS%\r\n";
        assert_eq!(check(cmd, Dialect::Cmd), vec![(2, "azure-cli", "user", "az login -u %AZ_USER% -p ***".into())]);
    }

    #[test]
    fn powershell_in_any_casing_and_its_azurerm_forms() {
        for (text, product) in [
            ("connect-azaccount -credential $cred", "Az"),
            ("LOGIN-AZACCOUNT -Credential:$cred -SubscriptionId x", "Az"),
            ("Add-AzAccount -Cred $cred", "Az"),
            ("Connect-AzureRmAccount -Credential (Get-Credential)", "AzureRM"),
            ("Login-AzureRmAccount -Credential $c", "AzureRM"),
            ("$ctx = Add-AzureRMAccount -Credential $c", "AzureRM"),
            ("Az.Accounts\\Connect-AzAccount -Credential $c", "Az"),
        ] {
            let hits = check(text, Dialect::PowerShell);
            assert_eq!(hits.len(), 1, "{text}: {hits:?}");
            assert_eq!((hits[0].1, hits[0].2), (product, "user"), "{text}");
            assert!(hits[0].3.contains("***"), "{text}: {}", hits[0].3);
        }
    }

    #[test]
    fn a_credential_built_from_a_plaintext_password_is_redacted() {
        let ps = "$pw = ConvertTo-SecureString 'Hunter2!' -AsPlainText -Force\n\
                  $cred = New-Object System.Management.Automation.PSCredential ('ops@contoso.com', $pw)\n\
                  Connect-AzAccount -Credential $cred\n\
                  Connect-AzAccount -Credential (New-Object PSCredential('u', (ConvertTo-SecureString \"Hunter2!\" -AsPlainText -Force)))\n";
        let hits = check(ps, Dialect::PowerShell);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert_eq!(hits[0].3, "Connect-AzAccount -Credential ***");
        assert_eq!(hits[1], (4, "Az", "user", "Connect-AzAccount -Credential ***".into()));
    }

    #[test]
    fn service_principals_with_literal_secrets_are_the_second_kind() {
        let text = "SECRET='abc~123'\n\
                    az login --service-principal -u app-id -p 'abc~123' --tenant t\n\
                    az login --service-principal -u app-id -p \"$SECRET\" --tenant t\n\
                    az login --service-principal -u app-id -p \"$FROM_VAULT\" --tenant t\n\
                    az login --service-principal -u app-id -p /etc/ssl/app.pem --tenant t\n\
                    az login --identity\n\
                    az login --federated-token \"$(cat $AZURE_FEDERATED_TOKEN_FILE)\" --service-principal -u app -t t\n";
        let hits = check(text, Dialect::Shell);
        assert_eq!(
            hits,
            vec![
                (2, "azure-cli", "secret", "az login --service-principal -u app-id -p *** --tenant t".into()),
                (3, "azure-cli", "secret", "az login --service-principal -u app-id -p *** --tenant t".into()),
            ]
        );
        let ps = "$sec = 'abc~123' | ConvertTo-SecureString -AsPlainText -Force\n\
                  $cred = [pscredential]::new('app-id', $sec)\n\
                  Connect-AzAccount -ServicePrincipal -Credential $cred -Tenant t\n\
                  Connect-AzAccount -ServicePrincipal -Credential $vaultCred -Tenant t\n\
                  Connect-AzAccount -Identity\n\
                  Connect-AzAccount -CertificateThumbprint ABC -ApplicationId app -Tenant t\n\
                  Connect-AzAccount -ServicePrincipal -FederatedToken $token -ApplicationId app -Tenant t\n";
        let hits = check(ps, Dialect::PowerShell);
        assert_eq!(
            hits,
            vec![(3, "Az", "secret", "Connect-AzAccount -ServicePrincipal -Credential *** -Tenant t".into())]
        );
    }

    #[test]
    fn comments_and_printed_text_are_not_sign_ins() {
        let sh = "# az login -u ops -p Hunter2\n\
                  echo \"az login -u ops -p Hunter2\"\n\
                  printf '%s\\n' 'az login -u ops -p Hunter2'\n\
                  logger \"run az login -u ops -p Hunter2\"\n\
                  : <<'DOC'\n\
                  az login -u nobody\n\
                  DOC\n\
                  az login -u interactive-only\n\
                  az account show # az login -u x -p y\n";
        assert_eq!(check(sh, Dialect::Shell), vec![]);
        let ps = "<# Connect-AzAccount -Credential $c\n   more #>\n\
                  Write-Host \"Connect-AzAccount -Credential $c\"\n\
                  Write-Output 'Connect-AzAccount -Credential $c'\n\
                  # Connect-AzAccount -Credential $c\n\
                  Connect-AzAccount <# -Credential $c #> -Identity\n";
        assert_eq!(check(ps, Dialect::PowerShell), vec![]);
        let cmd =
            "REM az login -u ops -p Hunter2\r\n:: az login -u ops -p Hunter2\r\n@echo az login -u ops -p Hunter2\r\n";
        assert_eq!(check(cmd, Dialect::Cmd), vec![]);
    }

    #[test]
    fn nested_commands_are_scanned_again() {
        let text = "bash -lc 'az login -u ops -p Hunter2 && az deployment group create -g rg'";
        assert_eq!(check(text, Dialect::Shell), vec![(1, "azure-cli", "user", "az login -u *** -p ***".into())]);
        let text = "pwsh -NoProfile -Command \"Connect-AzAccount -Credential $c; Get-AzVM\"";
        assert_eq!(check(text, Dialect::Any)[0].3, "Connect-AzAccount -Credential ***");
        let py = "import subprocess, os\n\
                  PASSWORD = os.environ['AZ_PASS']\n\
                  subprocess.run([\"az\", \"login\", \"-u\", USER, \"-p\", PASSWORD], check=True)\n\
                  os.system(f\"az login -u {USER} -p {PASSWORD}\")\n\
                  print(\"az login -u x -p y\")\n";
        let hits = check(py, Dialect::Python);
        assert_eq!(hits.iter().map(|h| (h.0, h.2)).collect::<Vec<_>>(), vec![(3, "user"), (4, "user")]);
        assert!(hits.iter().all(|h| !h.3.contains("PASSWORD}") && h.3.contains("***")), "{hits:?}");
    }

    #[test]
    fn python_username_password_credential_is_a_user_sign_in() {
        let py = "from azure.identity import UsernamePasswordCredential, DefaultAzureCredential\n\
                  import azure.identity as identity\n\
                  from azure.identity.aio import UsernamePasswordCredential as Ropc\n\
                  cred = UsernamePasswordCredential(CLIENT_ID, \"ops@contoso.com\", \"Hunter2!\")\n\
                  cred = identity.UsernamePasswordCredential(client_id=CLIENT_ID, username=USER, password=os.environ[\"PW\"])\n\
                  client = SecretClient(vault_url=URL, credential=UsernamePasswordCredential(CID, USER, PASSWORD))\n\
                  cred = UsernamePasswordCredential(\n    client_id=CLIENT_ID,\n    username=\"ops@contoso.com\",\n    password=\"Hunter2!\",\n)\n\
                  cred = Ropc(CID, USER, 'Hunter2!')  # the aio one\n";
        let hits = check(py, Dialect::Python);
        assert_eq!(
            hits,
            vec![
                (4, "azure-identity", "user", "UsernamePasswordCredential(CLIENT_ID, ***, ***)".into()),
                (
                    5,
                    "azure-identity",
                    "user",
                    "identity.UsernamePasswordCredential(client_id=CLIENT_ID, username=USER, password=***)".into()
                ),
                (6, "azure-identity", "user", "UsernamePasswordCredential(CID, USER, ***)".into()),
                (7, "azure-identity", "user", "UsernamePasswordCredential(...)".into()),
                (12, "azure-identity", "user", "Ropc(CID, USER, ***)".into()),
            ]
        );
        // A literal user name stays only when account names may be reported.
        let kept = scan("UsernamePasswordCredential(CID, 'ops@contoso.com', 'Hunter2!')", Dialect::Python, true);
        assert_eq!(kept[0].command, "UsernamePasswordCredential(CID, 'ops@contoso.com', ***)");
        assert!(scan(py, Dialect::Python, true).iter().all(|h| !h.command.contains("Hunter2")));
    }

    #[test]
    fn python_mentions_that_are_not_a_call_are_not_sign_ins() {
        let py = "# cred = UsernamePasswordCredential(CID, USER, PW)\n\
                  from azure.identity import (UsernamePasswordCredential,\n    ClientSecretCredential)\n\
                  print(\"UsernamePasswordCredential(CID, USER, PW)\")\n\
                  doc = 'use UsernamePasswordCredential(...) only interactively'\n\
                  if isinstance(cred, UsernamePasswordCredential):\n    pass\n\
                  factory = UsernamePasswordCredential\n\
                  cred = ClientSecretCredential(TENANT, CID, SECRET)\n\
                  cred = ManagedIdentityCredential()\n";
        assert_eq!(check(py, Dialect::Python), vec![]);
        // Not Python: the class name in a shell script is no sign-in.
        assert_eq!(check("UsernamePasswordCredential(a, b, c)", Dialect::Shell), vec![]);
    }

    #[test]
    fn powershell_splatting_counts_the_hashtables_keys() {
        let ps = "$pw = ConvertTo-SecureString $env:AZ_PASSWORD -AsPlainText -Force\n\
                  $cred = New-Object System.Management.Automation.PSCredential ($env:AZ_USER, $pw)\n\
                  $params = @{ Credential = $cred; Tenant = 'contoso' }\n\
                  Connect-AzAccount @params\n\
                  $more = @{\n    'Credential' = $cred\n    SubscriptionId = 'x'\n}\n\
                  Connect-AzAccount @more -ErrorAction Stop\n\
                  $late = @{}\n$late.Credential = $cred\n\
                  Connect-AzAccount @late\n\
                  $idx = @{ Tenant = 't' }\n$idx['Cred'] = $cred\n\
                  Login-AzureRmAccount @idx\n";
        assert_eq!(
            check(ps, Dialect::PowerShell),
            vec![
                (4, "Az", "user", "Connect-AzAccount @params".into()),
                (9, "Az", "user", "Connect-AzAccount @more -ErrorAction Stop".into()),
                (12, "Az", "user", "Connect-AzAccount @late".into()),
                (15, "AzureRM", "user", "Login-AzureRmAccount @idx".into()),
            ]
        );
    }

    #[test]
    fn splats_of_service_principals_identities_comments_and_strings_are_not_user_sign_ins() {
        let ps = "$sec = 'abc~123' | ConvertTo-SecureString -AsPlainText -Force\n\
                  $spCred = [pscredential]::new('app-id', $sec)\n\
                  $sp = @{ ServicePrincipal = $true; Credential = $spCred; Tenant = 't' }\n\
                  Connect-AzAccount @sp\n\
                  $vault = @{\n  ServicePrincipal = $true\n  Credential = $fromVault\n}\n\
                  Connect-AzAccount @vault\n\
                  $mi = @{ Identity = $true }\n\
                  Connect-AzAccount @mi\n\
                  $user = @{ Credential = $c }\n\
                  # Connect-AzAccount @user\n\
                  Write-Host \"Connect-AzAccount @user\"\n\
                  Connect-AzAccount @unknown\n\
                  $notsp = @{ ServicePrincipal = $false; Credential = $c }\n\
                  Connect-AzAccount @notsp\n";
        // The service principal with a secret from a literal is the second kind; the one from a
        // vault, the managed identity, the comment, the string and an unknown splat are nothing;
        // `ServicePrincipal = $false` is a user.
        assert_eq!(
            check(ps, Dialect::PowerShell),
            vec![
                (4, "Az", "secret", "Connect-AzAccount @sp".into()),
                (17, "Az", "user", "Connect-AzAccount @notsp".into()),
            ]
        );
        // A hashtable that never closes is read to the end, within its bound.
        let open = format!("$p = @{{\n{}Credential = $c\nConnect-AzAccount @p\n", "X = 1\n".repeat(500));
        assert_eq!(check(&open, Dialect::PowerShell), vec![]);
    }

    #[test]
    fn user_names_stay_when_allowed() {
        let hits = scan("az login -u ops@contoso.com -p x", Dialect::Shell, true);
        assert_eq!(hits[0].command, "az login -u ops@contoso.com -p ***");
    }

    #[test]
    fn script_references() {
        let refs = script_refs(
            "cd /tmp && /usr/local/bin/rotate --now; bash $HOME/bin/sync.sh; pwsh -File 'C:\\ops\\Rotate Keys.ps1'; python3 ~/jobs/report.py; run $DIR/x.sh",
            Dialect::Any,
        );
        assert_eq!(
            refs,
            ["/usr/local/bin/rotate", "$HOME/bin/sync.sh", "C:\\ops\\Rotate Keys.ps1", "~/jobs/report.py"]
        );
    }
}

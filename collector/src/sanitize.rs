//! Agent-supplied text is hostile until shown otherwise. Ingest refuses what no honest host
//! name or id contains ([`check_name`]); every output escapes for its own syntax: terminals
//! ([`Term`]), logs ([`LogText`]), CSV (`reports::csv_cell`), Markdown (`reports::md`), HTML
//! (`http/html.rs`'s `Esc`).

use std::fmt;

/// Characters that change how text around them is displayed without being visible themselves:
/// bidirectional overrides and isolates (which reorder a line, "Trojan Source"), zero-width
/// characters and joiners (which make two names look alike), and other invisible format
/// characters.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Control characters (C0, DEL, C1: ESC, CR, LF, ...) and [`is_invisible`] ones.
pub fn is_forbidden(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// Refuses a host id, report id or name holding a character of [`is_forbidden`]; the message
/// names the field and the character's code point (never the character itself).
pub fn check_name(field: impl fmt::Display, value: &str) -> Result<(), String> {
    match value.char_indices().find(|(_, c)| is_forbidden(*c)) {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "{field} contains U+{:04X} at byte {at}: control, bidirectional and zero-width characters are not \
             accepted in ids and names",
            c as u32
        )),
    }
}

/// Writes `text` with every [`is_forbidden`] character spelled out (`\n`, `\r`, `\t`,
/// `\u{1b}`), so it shows as one inert line on a terminal or in a log.
fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    let mut rest = text;
    while let Some((at, c)) = rest.char_indices().find(|(_, c)| is_forbidden(*c)) {
        out.write_str(rest.get(..at).unwrap_or_default())?;
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            other => write!(out, "\\u{{{:x}}}", other as u32)?,
        }
        rest = rest.get(at + c.len_utf8()..).unwrap_or_default();
    }
    out.write_str(rest)
}

/// Agent text for a terminal: control and invisible characters escaped (`format!("{}", Term(s))`).
#[derive(Debug, Clone, Copy)]
pub struct Term<'a>(pub &'a str);

impl fmt::Display for Term<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0)
    }
}

/// `text` as [`Term`] shows it.
pub fn term(text: &str) -> String {
    Term(text).to_string()
}

/// The longest agent string a log line carries, in bytes (then an ellipsis and the full length).
pub const LOG_TEXT_MAX: usize = 200;

/// Agent text for a log field: escaped like [`Term`] and cut after [`LOG_TEXT_MAX`] bytes, so a
/// 900 KB host name cannot fill the log nor a CR forge a line.
#[derive(Debug, Clone, Copy)]
pub struct LogText<'a>(pub &'a str);

impl fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        if text.len() <= LOG_TEXT_MAX {
            return write_escaped(f, text);
        }
        let mut cut = LOG_TEXT_MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        write_escaped(f, text.get(..cut).unwrap_or_default())?;
        write!(f, "…({} bytes)", text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_control_bidi_or_zero_width_characters_are_refused() {
        for bad in [
            "a\u{1b}[2Jb",
            "line\nforged",
            "cr\r",
            "tab\t",
            "\u{202E}gnp.exe",
            "ad\u{200B}min",
            "\u{FEFF}x",
            "c1\u{9b}",
        ] {
            let error = check_name("report.host.hostname", bad).unwrap_err();
            assert!(error.starts_with("report.host.hostname contains U+"), "{error}");
            assert!(!error.contains(bad), "the message must not carry the character: {error:?}");
        }
        assert_eq!(check_name("f", "\u{202E}x").unwrap_err().split(' ').nth(2), Some("U+202E"));
        for good in ["laptop-01", "build_runner.example.com", "Jürgens-MacBook", "开发机", "WIN-7H2K"] {
            assert_eq!(check_name("f", good), Ok(()));
        }
    }

    #[test]
    fn terminal_and_log_text_are_inert() {
        assert_eq!(term("a\u{1b}[31mred\r\nx\ty"), "a\\u{1b}[31mred\\r\\nx\\ty");
        assert_eq!(term("\u{202E}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(term("C:\\Users\\dev"), "C:\\Users\\dev");
        let huge = "é".repeat(450_000);
        let logged = LogText(&huge).to_string();
        assert!(logged.len() < LOG_TEXT_MAX + 30, "{}", logged.len());
        assert!(logged.ends_with("…(900000 bytes)"), "{logged}");
        assert_eq!(LogText("fake\nINFO line").to_string(), "fake\\nINFO line");
    }
}

//! One line of text for an error and its causes, each said once.
//!
//! `thiserror` messages often embed their source (`"database error: {0}"`) *and* return it from
//! `source()`, so printing the whole chain repeats every cause ("unable to open database file"
//! three times). [`one_line`] walks the chain and drops a cause whose text the line already holds;
//! TOML parse errors, whose `Display` is a multi-line snippet with a caret, become
//! `line L, column C: message` (see [`toml_error`]).

use std::error::Error;

/// Most causes followed; a chain longer than this is cut (a cycle would otherwise never end).
const MAX_DEPTH: usize = 32;

/// `error` and its causes as one line: `outer: cause: root cause`, each text once.
pub fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut line = String::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(error);
    let mut depth = 0;
    while let Some(current) = next {
        depth += 1;
        if depth > MAX_DEPTH {
            break;
        }
        let text = match current.downcast_ref::<toml::de::Error>() {
            Some(toml) => toml.message().trim().to_owned(),
            None => flatten(&current.to_string()),
        };
        if !text.is_empty() && !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        next = current.source();
    }
    line
}

/// A TOML parse error of `text` as `line L, column C: message` (one line, 1-based position).
pub fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = flatten(error.message());
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// Multi-line text on one line: lines trimmed and joined with a space.
fn flatten(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("cannot open database x.db: {0}")]
        Open(#[source] Middle),
    }

    #[derive(Debug, thiserror::Error)]
    enum Middle {
        #[error("database error: {0}")]
        Sqlite(#[from] std::io::Error),
    }

    #[test]
    fn every_cause_once() {
        let io = std::io::Error::other("unable to open database file");
        let error = Outer::Open(Middle::Sqlite(io));
        assert_eq!(one_line(&error), "cannot open database x.db: database error: unable to open database file");
        let bare = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(one_line(&bare), bare.to_string());
    }

    #[test]
    fn toml_errors_name_line_and_column() {
        let text = "a = 1\nb = = 2\n";
        let error = toml::from_str::<toml::Table>(text).unwrap_err();
        let shown = toml_error(text, &error);
        assert!(shown.starts_with("line 2, column "), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
        let chained = one_line(&error);
        assert!(!chained.contains('\n') && !chained.is_empty(), "{chained}");
    }
}

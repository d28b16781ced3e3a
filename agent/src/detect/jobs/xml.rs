//! Text of chosen XML elements (Task Scheduler definitions, Jenkins `config.xml`), with the line
//! where each text starts. Decodes UTF-16 (with or without a byte-order mark) and UTF-8; limits
//! nesting depth. Errors never quote the document: a definition may hold a secret.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deepest element nesting read; real task and job definitions stay under 20.
const MAX_DEPTH: usize = 64;
/// Most elements read from one document.
const MAX_EVENTS: usize = 200_000;

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not text in a known encoding.
    #[error("not UTF-8 or UTF-16 text")]
    Encoding,
    /// Not well-formed XML near the given byte offset.
    #[error("not well-formed XML (near byte {0})")]
    Syntax(u64),
    /// Elements nested deeper than [`MAX_DEPTH`].
    #[error("XML nested deeper than {MAX_DEPTH} elements; not read further")]
    TooDeep,
}

/// The text of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Local names from the root to this element.
    pub path: Vec<String>,
    /// Its text (entities resolved, CDATA included).
    pub text: String,
    /// 1-based line where the text starts.
    pub line: u32,
}

/// Decodes a definition file: UTF-16 LE/BE by byte-order mark (Task Scheduler writes UTF-16 LE
/// with a BOM), UTF-16 LE without one when the second byte is zero, otherwise UTF-8.
pub fn decode(bytes: &[u8]) -> Result<String, XmlError> {
    let utf16 = |body: &[u8], little: bool| {
        let units = body.chunks_exact(2).map(|p| match p {
            [a, b] if little => u16::from_le_bytes([*a, *b]),
            [a, b] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        });
        char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| XmlError::Encoding)
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).map_err(|_| XmlError::Encoding),
        [_, 0, ..] => utf16(bytes, true),
        _ => String::from_utf8(bytes.to_vec()).map_err(|_| XmlError::Encoding),
    }
}

/// Every element for which `keep(path)` holds, with its text. The XML declaration's encoding
/// is ignored: `text` is already decoded.
pub fn elements(text: &str, keep: impl Fn(&[String]) -> bool) -> Result<Vec<Element>, XmlError> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    let mut open: Vec<Option<Element>> = Vec::new();
    let mut out = Vec::new();
    let mut counted = (0usize, 1u32);
    let mut line_at = |pos: usize| {
        let (from, line) = counted;
        let added = text.get(from..pos).map_or(0, |s| s.bytes().filter(|b| *b == b'\n').count());
        counted = (pos.max(from), line.saturating_add(u32::try_from(added).unwrap_or(u32::MAX)));
        counted.1
    };
    for _ in 0..MAX_EVENTS {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|_| XmlError::Syntax(reader.error_position()))?;
        let mut add_text = |s: &str, open: &mut Vec<Option<Element>>| {
            if let Some(Some(element)) = open.last_mut() {
                if element.text.is_empty() {
                    element.line = line_at(before);
                }
                element.text.push_str(s);
            }
        };
        match event {
            Event::Start(e) => {
                if path.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                path.push(e.local_name().into_inner().to_owned());
                let wanted = keep(&path);
                open.push(wanted.then(|| Element { path: path.clone(), text: String::new(), line: 0 }));
            }
            Event::End(_) => {
                path.pop();
                if let Some(Some(mut element)) = open.pop() {
                    if element.line == 0 {
                        element.line = line_at(before);
                    }
                    out.push(element);
                }
            }
            Event::Text(t) => add_text(&t.xml10_content(), &mut open),
            Event::CData(t) => add_text(&t.xml10_content(), &mut open),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => match &*r {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                    Err(_) => None,
                };
                if let Some(c) = resolved {
                    add_text(c.encode_utf8(&mut [0; 4]), &mut open);
                }
            }
            // A document that ends inside an element is cut short, not complete.
            Event::Eof if !path.is_empty() => return Err(XmlError::Syntax(reader.buffer_position())),
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_encoding_task_scheduler_and_jenkins_write() {
        let text = "<a>é</a>";
        let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let be: Vec<u8> = [0xFE, 0xFF].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect();
        let bare: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        for bytes in [le, be, bare, text.as_bytes().to_vec(), [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()] {
            assert_eq!(decode(&bytes).as_deref(), Ok(text));
        }
        assert_eq!(decode(&[0xFF, 0xFE, 0x00, 0xD8]), Err(XmlError::Encoding));
        assert_eq!(decode(&[0xC3]), Err(XmlError::Encoding));
    }

    #[test]
    fn element_text_with_entities_cdata_and_lines() {
        let xml = "<?xml version='1.1'?>\n<p>\n  <cmd>echo &quot;a&amp;b&quot; &#65;</cmd>\n  <cmd><![CDATA[x < y]]></cmd>\n<other>no</other></p>";
        let found = elements(xml, |p| p.last().is_some_and(|n| n == "cmd")).unwrap();
        let got: Vec<(String, u32)> = found.into_iter().map(|e| (e.text, e.line)).collect();
        assert_eq!(got, [("echo \"a&b\" A".to_owned(), 3), ("x < y".to_owned(), 4)]);
        assert!(matches!(elements("<a><b></a>", |_| true), Err(XmlError::Syntax(_))));
        let deep = "<a>".repeat(100);
        assert_eq!(elements(&deep, |_| true), Err(XmlError::TooDeep));
    }
}

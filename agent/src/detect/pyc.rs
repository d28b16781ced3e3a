//! Last-resort version source for Windows MSI and ZIP installs, which ship no dist-info: the
//! `__version__` constant compiled into `azure/cli/core/__init__.pyc`.
//!
//! A `.pyc` is a 16-byte header (magic ending in `\r\n`, flags, source stamp) and a marshalled
//! code object. `__version__ = "2.76.0"` is the module's first assignment, so its value is the
//! first short ASCII string constant (marshal type `z`/`Z`, possibly with the 0x80 reference
//! flag) shaped like `N.N.N`. The file must also mention `__version__`, so an unrelated `.pyc` is
//! never mistaken for the CLI's.

/// Extracts the CLI version from the bytes of `azure/cli/core/__init__.pyc`.
pub fn version_from_pyc(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 16 || &bytes[2..4] != b"\r\n" {
        return None;
    }
    let code = &bytes[16..];
    if !code.windows(b"__version__".len()).any(|w| w == b"__version__") {
        return None;
    }
    let mut i = 0;
    while i + 2 < code.len() {
        let tag = code[i] & 0x7f;
        if tag == b'z' || tag == b'Z' {
            let len = usize::from(code[i + 1]);
            if let Some(text) = code.get(i + 2..i + 2 + len)
                && looks_like_version(text)
            {
                return Some(String::from_utf8_lossy(text).into_owned());
            }
        }
        i += 1;
    }
    None
}

fn looks_like_version(text: &[u8]) -> bool {
    let parts: Vec<&[u8]> = text.split(|b| *b == b'.').collect();
    (3..=4).contains(&parts.len())
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 6 && p.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pyc(body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn finds_the_version_constant() {
        let body = b"\xe3\x00\x00)\x1ez\x062.76.0\xe9\x00\xda\x0b__version__";
        assert_eq!(version_from_pyc(&pyc(body)), Some("2.76.0".into()));
        let flagged = b"\xfa\x062.45.0 __version__";
        assert_eq!(version_from_pyc(&pyc(flagged)), Some("2.45.0".into()));
    }

    #[test]
    fn ignores_files_that_are_not_the_cli_module() {
        assert_eq!(version_from_pyc(&pyc(b"z\x062.76.0 no version name")), None);
        assert_eq!(version_from_pyc(&pyc(b"z\x0412.0 __version__")), None);
        assert_eq!(version_from_pyc(b"z\x062.76.0__version__"), None);
        assert_eq!(version_from_pyc(&pyc(b"z\xff2.7")), None);
    }
}

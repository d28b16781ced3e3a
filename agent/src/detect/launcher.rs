//! `az` launchers, read as text: what a launcher script runs.
//!
//! Every kind of launcher names its environment somewhere in its first few KiB:
//! - a pip/pipx/uv console script: its shebang (`#!/home/a/.local/pipx/venvs/azure-cli/bin/python`);
//! - Microsoft's install script (`InstallAzureCli`): `~/bin/az` runs `<dir>/bin/python -m azure.cli`;
//! - Microsoft's deb: `"$bin_dir"/../../opt/az/bin/python3 -Im azure.cli`;
//! - Microsoft's rpm: `PYTHONPATH="$bin_dir/../lib64/az/lib/python3.9/site-packages" python3 -sm azure.cli`;
//! - Debian's package: `#!/usr/bin/python3` and `runpy.run_module('azure.cli')`;
//! - Homebrew: `exec "/opt/homebrew/Cellar/azure-cli/2.76.0/libexec/bin/python" -m azure.cli`;
//! - Nix: a `makeWrapper` script exporting a `PYTHONPATH` of store site-packages and running
//!   `.az-wrapped`, itself a script;
//! - Windows: `wbin\az.cmd` runs `"%~dp0\..\python.exe"`, pip's `Scripts\az.bat` runs
//!   `"%~dp0\python.exe"`, and Scoop's and Chocolatey's shims run another `az.cmd`.
//!
//! [`read`] pulls those references out of a script's text; the detector checks each against
//! the disk. Version-manager shims (pyenv, asdf, mise) name no environment: they are recognised
//! as such, and the environments they dispatch to are found in the managers' own folders.

#![deny(clippy::string_slice, clippy::indexing_slicing)]

/// What a launcher script refers to, in the order it names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launcher {
    /// Absolute paths of Python interpreters (`/opt/az/bin/python3`, `C:\...\python.exe`).
    pub interpreters: Vec<String>,
    /// Absolute `site-packages`/`dist-packages` folders the script puts on `PYTHONPATH`.
    pub site_packages: Vec<String>,
    /// Other launchers the script runs (`.az-wrapped`, another `az.cmd`).
    pub runs: Vec<String>,
    /// A version manager's shim (pyenv, asdf, mise, rtx): names no environment by design.
    pub shim: bool,
    /// The script runs the CLI (`-m azure.cli`, `azure.cli` imported or run).
    pub runs_cli: bool,
}

/// Longest launcher text read; Nix wrappers list every dependency's site-packages.
pub const MAX_LAUNCHER_BYTES: usize = 64 * 1024;

/// Reads a launcher's text. `bin_dir` is the folder it was found in (what `$bin_dir` and
/// `%~dp0` mean), `windows` the target's path syntax.
pub fn read(text: &str, bin_dir: &str, windows: bool) -> Launcher {
    let text = if windows { expand_dp0(text, bin_dir) } else { expand_bin_dir(text, bin_dir) };
    let mut out = Launcher {
        shim: is_shim(&text),
        runs_cli: text.contains("azure.cli") || text.contains("azure/cli"),
        ..Launcher::default()
    };
    let shebang = text.lines().next().and_then(|l| l.strip_prefix("#!")).and_then(|l| l.split_whitespace().next());
    let tokens = shebang.into_iter().chain(
        text.lines()
            .filter(|l| {
                let l = l.trim_start();
                !(l.starts_with('#') || l.starts_with("::") || l.to_ascii_lowercase().starts_with("rem "))
            })
            .flat_map(|l| tokens(l, windows)),
    );
    for token in tokens {
        let token = token.trim_end_matches(['/', '\\']);
        if !is_absolute(token, windows) || token.contains(['$', '*', '%']) {
            continue;
        }
        let path = fold_dots(token, windows);
        let name = last_component(&path).to_ascii_lowercase();
        let list = if name.ends_with("-packages") {
            &mut out.site_packages
        } else if is_interpreter(&name, &path, windows) {
            &mut out.interpreters
        } else if is_launcher_name(&name) {
            &mut out.runs
        } else {
            continue;
        };
        if !list.contains(&path) {
            list.push(path);
        }
    }
    out
}

/// The words of one script line: a quoted string is one word (a path may hold spaces), split
/// only at the path-list separator (`:`, or `;` on Windows) as in `PYTHONPATH="a:b"`; outside
/// quotes, shell and batch punctuation separates words too.
fn tokens(line: &str, windows: bool) -> Vec<&str> {
    let list_separator = if windows { ';' } else { ':' };
    let unquoted = |c: char| {
        c.is_whitespace()
            || matches!(c, '`' | '=' | ';' | '(' | ')' | '[' | ']' | ',' | '{' | '}')
            || (!windows && c == ':')
    };
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        let Some((before, quote, after)) = rest
            .char_indices()
            .find(|&(_, c)| c == '"' || c == '\'')
            .and_then(|(at, q)| Some((rest.get(..at)?, q, rest.get(at + 1..)?)))
        else {
            out.extend(rest.split(unquoted));
            break;
        };
        out.extend(before.split(unquoted));
        match after.split_once(quote) {
            Some((quoted, tail)) => {
                out.extend(quoted.split(list_separator));
                rest = tail;
            }
            None => {
                out.extend(after.split(unquoted));
                break;
            }
        }
    }
    out.retain(|t| !t.is_empty());
    out
}

fn is_absolute(token: &str, windows: bool) -> bool {
    if windows {
        let mut chars = token.chars();
        // `C:\...`; UNC paths (`\\server\share`) are not followed: launchers live on local disks.
        matches!((chars.next(), chars.next(), chars.next()), (Some(d), Some(':'), Some('\\' | '/')) if d.is_ascii_alphabetic())
    } else {
        token.starts_with('/')
    }
}

fn last_component(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn is_interpreter(name: &str, path: &str, windows: bool) -> bool {
    if windows {
        name == "python.exe" || name == "pythonw.exe" || (name.starts_with("python3") && name.ends_with(".exe"))
    } else {
        name.starts_with("python") && path.contains("/bin/")
    }
}

fn is_launcher_name(name: &str) -> bool {
    let name = name.trim_start_matches('.');
    name == "az" || name == "az-wrapped" || name == "az.cmd" || name == "az.bat" || name == "az.exe"
}

/// pyenv's, asdf's and mise's shims dispatch by name at run time.
fn is_shim(text: &str) -> bool {
    let head = text.lines().take(12).collect::<Vec<_>>().join("\n");
    head.contains("pyenv\" exec")
        || head.contains("pyenv exec")
        || head.contains("asdf exec")
        || head.contains("# asdf-plugin:")
        || head.contains("mise exec")
        || head.contains("rtx exec")
}

/// Replaces `$bin_dir` (quoted or not, `${bin_dir}`) with the launcher's folder: Microsoft's
/// deb and rpm launchers name their paths relative to it.
fn expand_bin_dir(script: &str, bin_dir: &str) -> String {
    let bin_dir = bin_dir.trim_end_matches('/');
    script.replace("\"$bin_dir\"", bin_dir).replace("${bin_dir}", bin_dir).replace("$bin_dir", bin_dir)
}

/// Replaces `%~dp0` (the batch file's folder, with a trailing backslash) with `bin_dir`.
fn expand_dp0(script: &str, bin_dir: &str) -> String {
    let bin_dir = format!("{}\\", bin_dir.trim_end_matches(['\\', '/']));
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some((before, after)) = split_once_ignore_case(rest, "%~dp0") {
        out.push_str(before);
        out.push_str(&bin_dir);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `str::split_once` for an ASCII needle, ignoring ASCII case; never slices inside a character.
fn split_once_ignore_case<'a>(text: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let at = text.char_indices().map(|(i, _)| i).find(|&i| {
        text.get(i..).is_some_and(|rest| rest.get(..needle.len()).is_some_and(|s| s.eq_ignore_ascii_case(needle)))
    })?;
    Some((text.get(..at)?, text.get(at + needle.len()..)?))
}

/// Folds `.` and `..` lexically: `/usr/bin/../../opt/az` → `/opt/az`, `C:\x\wbin\\..\python.exe`
/// → `C:\x\python.exe`. `..` never climbs above the root or the drive.
pub fn fold_dots(path: &str, windows: bool) -> String {
    let (prefix, rest) = if windows {
        match path.get(..2).filter(|p| p.ends_with(':') && p.starts_with(|c: char| c.is_ascii_alphabetic())) {
            Some(drive) => (drive.to_owned(), path.get(2..).unwrap_or("")),
            None => (String::new(), path),
        }
    } else {
        (String::new(), path)
    };
    let separators: &[char] = if windows { &['\\', '/'] } else { &['/'] };
    let mut parts: Vec<&str> = Vec::new();
    for part in rest.split(separators) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let sep = if windows { "\\" } else { "/" };
    format!("{prefix}{sep}{}", parts.join(sep))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, bin_dir: &str, windows: bool, interpreters: &[&str], sites: &[&str], runs: &[&str]) {
        let got = read(text, bin_dir, windows);
        assert_eq!(got.interpreters, interpreters, "interpreters of {text:?}");
        assert_eq!(got.site_packages, sites, "site-packages of {text:?}");
        assert_eq!(got.runs, runs, "runs of {text:?}");
    }

    #[test]
    fn each_launcher_kind_names_its_environment() {
        // pip/pipx console script.
        check(
            "#!/home/a/.local/pipx/venvs/azure-cli/bin/python\n# -*- coding: utf-8 -*-\nimport re\n",
            "/home/a/.local/bin",
            false,
            &["/home/a/.local/pipx/venvs/azure-cli/bin/python"],
            &[],
            &[],
        );
        // Microsoft's install script's dispatch script.
        check(
            "#!/usr/bin/env bash\n/home/a/lib/azure-cli/bin/python -m azure.cli \"$@\"\n",
            "/home/a/bin",
            false,
            &["/home/a/lib/azure-cli/bin/python"],
            &[],
            &[],
        );
        // Microsoft's deb, relative to $bin_dir.
        check(
            "#!/usr/bin/env bash\nbin_dir=`cd \"$(dirname \"$BASH_SOURCE[0]\")\"; pwd`\nAZ_INSTALLER=DEB \"$bin_dir\"/../../opt/az/bin/python3 -Im azure.cli \"$@\"\n",
            "/usr/bin",
            false,
            &["/opt/az/bin/python3"],
            &[],
            &[],
        );
        // Microsoft's rpm: the system python with its own PYTHONPATH.
        check(
            "#!/usr/bin/env bash\nbin_dir=`cd \"$(dirname \"$BASH_SOURCE[0]\")\"; pwd`\npython_cmd=python3\nAZ_INSTALLER=RPM PYTHONPATH=\"$bin_dir/../lib64/az/lib/python3.9/site-packages\" $python_cmd -sm azure.cli \"$@\"\n",
            "/usr/bin",
            false,
            &[],
            &["/usr/lib64/az/lib/python3.9/site-packages"],
            &[],
        );
        // Homebrew.
        check(
            "#!/bin/bash\nexec \"/opt/homebrew/Cellar/azure-cli/2.76.0_1/libexec/bin/python\" -m azure.cli \"$@\"\n",
            "/opt/homebrew/bin",
            false,
            &["/opt/homebrew/Cellar/azure-cli/2.76.0_1/libexec/bin/python"],
            &[],
            &[],
        );
        // Nix's makeWrapper script, then the wrapped script.
        check(
            "#! /nix/store/aaa-bash-5.2/bin/bash -e\nexport PYTHONPATH='/nix/store/bbb-azure-cli-2.76.0/lib/python3.12/site-packages:/nix/store/ccc-azure-cli-core-2.76.0/lib/python3.12/site-packages'${PYTHONPATH:+':'}$PYTHONPATH\nexec -a \"$0\" \"/nix/store/bbb-azure-cli-2.76.0/bin/.az-wrapped\"  \"$@\"\n",
            "/nix/store/bbb-azure-cli-2.76.0/bin",
            false,
            &[],
            &[
                "/nix/store/bbb-azure-cli-2.76.0/lib/python3.12/site-packages",
                "/nix/store/ccc-azure-cli-core-2.76.0/lib/python3.12/site-packages",
            ],
            &["/nix/store/bbb-azure-cli-2.76.0/bin/.az-wrapped"],
        );
        // The MSI's wbin\az.cmd and pip's Scripts\az.bat.
        check(
            "@IF EXIST \"%~dp0\\..\\python.exe\" (\r\n\"%~dp0\\..\\python.exe\" -IBm azure.cli %*\r\n)\r\n",
            r"C:\Program Files\Microsoft SDKs\Azure\CLI2\wbin",
            true,
            &[r"C:\Program Files\Microsoft SDKs\Azure\CLI2\python.exe"],
            &[],
            &[],
        );
        check(
            "@echo off\r\nsetlocal\r\nSET PYTHONPATH=%~dp0\\src;%PYTHONPATH%\r\nIF EXIST \"%~dp0\\python.exe\" (\r\n  \"%~dp0\\python.exe\" -m azure.cli %*\r\n)\r\n",
            r"C:\venv\Scripts",
            true,
            &[r"C:\venv\Scripts\python.exe"],
            &[],
            &[],
        );
        // Scoop's shim runs the app's own az.cmd.
        check(
            "@rem C:\\Users\\a\\scoop\\apps\\azure-cli\\current\\wbin\\az.cmd\r\n@\"C:\\Users\\a\\scoop\\apps\\azure-cli\\current\\wbin\\az.cmd\" %*\r\n",
            r"C:\Users\a\scoop\shims",
            true,
            &[],
            &[],
            &[r"C:\Users\a\scoop\apps\azure-cli\current\wbin\az.cmd"],
        );
        // Debian's package: the system interpreter in the shebang.
        check(
            "#!/usr/bin/python3\nimport runpy\nrunpy.run_module('azure.cli')\n",
            "/usr/bin",
            false,
            &["/usr/bin/python3"],
            &[],
            &[],
        );
        // `env` names no interpreter path; an ELF binary names nothing.
        check("#!/usr/bin/env python3\nprint(1)\n", "/usr/bin", false, &[], &[], &[]);
        check("\u{7f}ELF\u{2}\u{1}", "/usr/bin", false, &[], &[], &[]);
    }

    #[test]
    fn version_manager_shims_are_recognised() {
        let pyenv = "#!/usr/bin/env bash\nset -e\nprogram=\"${0##*/}\"\nexport PYENV_ROOT=\"/home/a/.pyenv\"\nexec \"/home/a/.pyenv/libexec/pyenv\" exec \"$program\" \"$@\"\n";
        assert!(read(pyenv, "/home/a/.pyenv/shims", false).shim);
        let asdf =
            "#!/usr/bin/env bash\n# asdf-plugin: python 3.12.1\nexec /home/a/.asdf/bin/asdf exec \"az\" \"$@\"\n";
        assert!(read(asdf, "/home/a/.asdf/shims", false).shim);
        assert!(!read("#!/opt/x/bin/python\n", "/usr/bin", false).shim);
    }

    #[test]
    fn dots_fold_within_the_root() {
        assert_eq!(fold_dots("/usr/bin/../../../opt/./az", false), "/opt/az");
        assert_eq!(fold_dots(r"C:\a\wbin\\..\python.exe", true), r"C:\a\python.exe");
        assert_eq!(fold_dots(r"C:\..\..", true), r"C:\");
        assert_eq!(fold_dots("é/../€", false), "/€");
    }
}

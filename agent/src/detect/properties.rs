//! Property tests: random names and random bytes into the path handling and every parser of
//! on-disk names and text that discovery owns. None may panic; each keeps its contract.
//!
//! They run in `cargo test` (256 cases each for the pure functions, fewer for the ones that
//! build trees on disk).

use proptest::prelude::*;

use azver_core::OsFamily;

use super::{az_powershell, launcher, pyenv, pymeta};
use crate::host::{HostPath, HostView};

/// Any name a file system could hand back after lossy decoding: any characters, including
/// separators, `..`, NUL, combining marks, right-to-left text and the replacement character.
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        ".{0,40}",
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        Just("Azúcar".to_owned()),
        Just("Az€Tools".to_owned()),
        Just("Az.€".to_owned()),
        Just("..".to_owned()),
    ]
}

/// Script-like text: random lines mixing paths, quotes, `$bin_dir`, `%~dp0` and random words.
fn any_script() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any_name(),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("$bin_dir".to_owned()),
        Just("%~dp0".to_owned()),
        Just("%~DP0\\..\\".to_owned()),
        Just("/usr/bin/../".to_owned()),
        Just("C:\\x\\..\\".to_owned()),
        Just("python".to_owned()),
        Just("/bin/python3".to_owned()),
        Just("site-packages".to_owned()),
        Just(":".to_owned()),
        Just("\n".to_owned()),
        Just("#!".to_owned()),
    ];
    proptest::collection::vec(piece, 0..30).prop_map(|parts| parts.concat())
}

/// No `.` or `..` component. On Unix a backslash is an ordinary character of a file name (`.\\` is
/// a name, not a dot folder), so only `/` separates there.
fn no_dot_components(path: &str, windows: bool) -> bool {
    let separators: &[char] = if windows { &['/', '\\'] } else { &['/'] };
    path.split(separators).all(|c| c != ".." && c != ".")
}

proptest! {
    #[test]
    fn launcher_reader_never_panics_and_yields_clean_absolute_paths(
        text in any_script(),
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        bin in any_name(),
        windows in any::<bool>(),
    ) {
        let bin_dir = if windows { format!("C:\\{bin}") } else { format!("/{bin}") };
        for text in [text, String::from_utf8_lossy(&bytes).into_owned()] {
            let found = launcher::read(&text, &bin_dir, windows);
            for path in found.interpreters.iter().chain(&found.site_packages).chain(&found.runs) {
                prop_assert!(no_dot_components(path, windows), "{path:?} from {text:?}");
                if windows {
                    prop_assert!(path.get(1..3) == Some(":\\"), "{path:?}");
                } else {
                    prop_assert!(path.starts_with('/'), "{path:?}");
                }
            }
        }
    }

    #[test]
    fn folding_dots_is_idempotent_and_stays_in_the_root(path in any_name(), windows in any::<bool>()) {
        let folded = launcher::fold_dots(&path, windows);
        prop_assert!(no_dot_components(&folded, windows));
        prop_assert_eq!(launcher::fold_dots(&folded, windows), folded.clone());
    }

    #[test]
    fn metadata_parsers_never_panic(text in any_script(), bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let version = pymeta::header_version(&text);
        prop_assert!(version.is_none_or(|v| !v.is_empty() && !v.contains('\n')));
        let _ = pymeta::header_version(&String::from_utf8_lossy(&bytes));
        let _ = pyenv::conda_record(&bytes);
        let _ = pyenv::conda_record(text.as_bytes());
    }

    #[test]
    fn metadata_folder_names_parse_in_any_spelling(name in any_name(), dist in "[A-Za-z][A-Za-z0-9_.-]{0,20}", version in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}") {
        let _ = pymeta::metadata_entry(&name);
        let _ = pymeta::metadata_entry(&format!("{name}.dist-info"));
        // A well-formed name always yields its normalised distribution name.
        let dist = dist.trim_end_matches(['-', '.']).to_owned();
        prop_assume!(!dist.is_empty() && !dist.contains("-0") && !dist.split('-').any(|p| p.starts_with(|c: char| c.is_ascii_digit())));
        let (parsed, _) = pymeta::metadata_entry(&format!("{dist}-{version}.dist-info")).expect("a dist-info name");
        let expected: String = dist.chars().map(|c| if c == '-' || c == '.' { '_' } else { c.to_ascii_lowercase() }).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn conda_records_round_trip(name in any_name(), version in any_name()) {
        let json = serde_json::json!({"name": name, "version": version, "files": ["a", "b"], "depends": []});
        let bytes = serde_json::to_vec(&json).expect("json");
        prop_assert_eq!(pyenv::conda_record(&bytes), Some((name, version)));
    }

    #[test]
    fn module_names_of_any_script_are_classified_without_panicking(name in any_name()) {
        let az = az_powershell::is_az_module(&name);
        let lower = name.to_lowercase();
        if lower.starts_with("az.") && name.chars().count() > 3 && name.chars().nth(2) == Some('.') {
            prop_assert!(az, "{name:?}");
        }
        let prefixed = format!("Az.{name}x");
        prop_assert!(az_powershell::is_az_module(&prefixed), "{:?}", prefixed);
        let _ = pyenv::is_python_version_dir(&name);
    }

    #[test]
    fn host_paths_join_and_split_any_name(base in any_name(), name in any_name(), windows in any::<bool>()) {
        let os = if windows { OsFamily::Windows } else { OsFamily::Linux };
        let root = if windows { format!("C:\\{base}") } else { format!("/{base}") };
        let parent = HostPath::new(root, os);
        let child = parent.join(&name);
        let _ = child.parent();
        let _ = child.starts_with(&parent);
        let _ = pyenv::prefix_of(&child);
        let clean = !name.is_empty() && !name.contains(['/', '\\']);
        if clean {
            prop_assert_eq!(child.file_name(), name.as_str());
            prop_assert!(child.starts_with(&parent));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Module roots and homes full of random names: the scan never panics and never loses the
    /// real installation beside them.
    #[test]
    fn scans_of_trees_with_random_names_keep_the_real_installations(
        names in proptest::collection::vec(any_name(), 1..12),
    ) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path();
        let modules = root.join("usr/local/share/powershell/Modules");
        let accounts = modules.join("Az.Accounts/5.2.0");
        std::fs::create_dir_all(&accounts).expect("module dir");
        std::fs::write(accounts.join("Az.Accounts.psd1"), "@{ ModuleVersion = '5.2.0' }").expect("manifest");
        for name in &names {
            let safe: String = name.chars().filter(|c| !matches!(c, '/' | '\0')).collect();
            if safe.is_empty() || safe == "." || safe == ".." || safe.len() > 200 {
                continue;
            }
            for dir in [modules.join(&safe), modules.join(format!("Az{safe}")), root.join("home").join(&safe).join(&safe)] {
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(dir.join(format!("{safe}.psd1")), safe.as_bytes());
                let _ = std::fs::create_dir_all(dir.join("lib").join(&safe).join("site-packages"));
                let _ = std::fs::write(dir.join("pyvenv.cfg"), safe.as_bytes());
            }
        }
        let host = HostView::rooted(root, OsFamily::Linux).expect("root");
        let found = crate::scan::scan(&host);
        prop_assert!(
            found.installations.iter().any(|i| i.product == "Az.Accounts" && i.version == "5.2.0"),
            "{:?}", found.installations
        );
    }
}

#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_never_panic_nor_hide_an_installation() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let modules = root.join("usr/local/share/powershell/Modules");
    let accounts = modules.join("Az.Accounts/5.2.0");
    std::fs::create_dir_all(&accounts).expect("module dir");
    std::fs::write(accounts.join("Az.Accounts.psd1"), "@{ ModuleVersion = '5.2.0' }").expect("manifest");
    for bytes in [&b"Az\xfa\xfccar"[..], b"Az.\xff", b"\xe9l\xe8ve", b"Az\xe2\x82"] {
        let name = OsStr::from_bytes(bytes);
        std::fs::create_dir_all(modules.join(name).join("1.0.0")).expect("odd module");
        std::fs::create_dir_all(root.join("home").join(name).join(".venv/lib/python3.12/site-packages"))
            .expect("odd home");
        std::fs::write(root.join("home").join(name).join(".venv/pyvenv.cfg"), "home = /usr/bin\n").expect("cfg");
    }
    for name in ["Azúcar", "Az€Tools", "Az"] {
        std::fs::create_dir_all(modules.join(name)).expect("non-ASCII module");
    }
    let host = HostView::rooted(root, OsFamily::Linux).expect("root");
    let found = crate::scan::scan(&host);
    assert!(
        found.installations.iter().any(|i| i.product == "Az.Accounts" && i.version == "5.2.0"),
        "{:?}",
        found.installations
    );
}

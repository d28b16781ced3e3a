//! The job scan as a whole on small rooted trees (budget, scripts read once), and properties of
//! every parser: no input from disk makes one panic.

use std::path::Path;

use azver_core::{JobSignInKind, OsFamily, ScanErrorKind};
use proptest::prelude::*;

use super::command::{self, Dialect};
use super::{Walk, cron, launchd, systemd, xml};
use crate::detect::ScanContext;
use crate::host::HostView;

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_budget_stops_the_scan_and_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..30 {
        write(dir.path(), &format!("etc/cron.d/job{i:02}"), "0 1 * * * root az login -u a -p b\n");
    }
    let host = HostView::rooted(dir.path(), OsFamily::Linux).unwrap();
    let cx = ScanContext { host: &host, homes: &[], report_account_names: false };
    let mut walk = Walk::with_budget(&cx, 10, u64::MAX);
    walk.all_sources();
    assert_eq!(walk.sign_ins.len(), 10);
    let spent: Vec<_> = walk.errors.iter().filter(|e| e.kind == ScanErrorKind::TooLarge).collect();
    assert_eq!(spent.len(), 1, "{:?}", walk.errors);
    assert!(spent[0].message.contains("budget (10 files"), "{}", spent[0].message);
}

#[test]
fn a_script_run_by_two_jobs_is_read_once_and_reported_for_each() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "etc/cron.d/a", "0 1 * * * alice /opt/s.sh\n");
    write(dir.path(), "etc/cron.d/b", "0 2 * * * bob bash /opt/s.sh --x\n");
    write(dir.path(), "opt/s.sh", "#!/bin/sh\n\naz login -u ops -p \"$P\"\n");
    let host = HostView::rooted(dir.path(), OsFamily::Linux).unwrap();
    let cx = ScanContext { host: &host, homes: &[], report_account_names: false };
    // Two crontabs and one script: three files.
    let mut walk = Walk::with_budget(&cx, 3, u64::MAX);
    walk.all_sources();
    assert!(walk.errors.is_empty(), "{:?}", walk.errors);
    let got: Vec<(&str, Option<u32>, Option<&str>, JobSignInKind)> =
        walk.sign_ins.iter().map(|s| (s.job.as_str(), s.line, s.run_as.as_deref(), s.kind)).collect();
    assert_eq!(
        got,
        [
            ("cron:/etc/cron.d/a", Some(3), Some("alice"), JobSignInKind::UserPassword),
            ("cron:/etc/cron.d/b", Some(3), Some("bob"), JobSignInKind::UserPassword),
        ]
    );
    assert!(walk.sign_ins.iter().all(|s| s.path == "/opt/s.sh" && s.command == "az login -u *** -p ***"));
}

#[test]
fn unreadable_definitions_are_errors_without_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let task = dir.path().join("Windows/System32/Tasks/Broken");
    std::fs::create_dir_all(task.parent().unwrap()).unwrap();
    std::fs::write(&task, "<Task><Actions><Exec><Command>az login -p hunter2</Command></Exec>").unwrap();
    let host = HostView::rooted(dir.path(), OsFamily::Windows).unwrap();
    let cx = ScanContext { host: &host, homes: &[], report_account_names: false };
    let mut walk = Walk::new(&cx);
    walk.all_sources();
    assert_eq!(walk.errors.len(), 1, "{:?}", walk.errors);
    assert_eq!(walk.errors[0].path, r"C:\Windows\System32\Tasks\Broken");
    assert!(!walk.errors[0].message.contains("hunter2"), "{}", walk.errors[0].message);
}

const DIALECTS: [Dialect; 5] = [Dialect::Shell, Dialect::PowerShell, Dialect::Cmd, Dialect::Python, Dialect::Any];

/// Text made of the characters the parsers treat specially, so random inputs reach every branch.
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("az".to_owned()),
            Just("login".to_owned()),
            Just("-u".to_owned()),
            Just("-p".to_owned()),
            Just("--password=".to_owned()),
            Just("Connect-AzAccount".to_owned()),
            Just("UsernamePasswordCredential(".to_owned()),
            Just("@{".to_owned()),
            Just("@p".to_owned()),
            Just("-Credential:".to_owned()),
            Just("ConvertTo-SecureString".to_owned()),
            Just("-AsPlainText".to_owned()),
            Just("--service-principal".to_owned()),
            "[ \t\n\r'\"`\\\\^(){}\\[\\]$%!#<>|&;=:@,.é]{1,3}".prop_map(|s| s),
            "[a-zA-Z0-9_]{1,6}",
        ],
        0..80,
    )
    .prop_map(|parts| parts.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_command_scanner_never_panics(text in tricky_text(), bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for dialect in DIALECTS {
            for input in [&text, &lossy] {
                for hit in command::scan(input, dialect, false) {
                    prop_assert!(hit.command.chars().count() <= 520);
                }
                let _ = command::script_refs(input, dialect);
            }
        }
    }

    #[test]
    fn a_secret_after_a_password_switch_never_survives(secret in "[A-Za-z0-9!@^*+]{6,20}", dialect in 0usize..5) {
        let dialect = DIALECTS[dialect];
        let lines = [
            format!("az login -u ops -p {secret}"),
            format!("az login -u ops --password={secret}"),
            format!("az login -u ops -p{secret}"),
            format!("Connect-AzAccount -Credential:{secret}"),
            format!("az login --service-principal -u app -p '{secret}' -t t"),
            format!("cred = UsernamePasswordCredential(CID, USER, '{secret}')"),
            format!("cred = UsernamePasswordCredential(client_id=CID, username=U, password=\"{secret}\")"),
            format!("$p = @{{ Credential = '{secret}'; Tenant = 't' }}; Connect-AzAccount @p"),
        ];
        for line in lines {
            for hit in command::scan(&line, dialect, true) {
                prop_assert!(!hit.command.contains(&secret), "{} -> {}", line, hit.command);
            }
        }
    }

    #[test]
    fn the_definition_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), text in tricky_text()) {
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for input in [&text, &lossy] {
            let _ = cron::parse(input, true);
            let _ = cron::parse(input, false);
            let _ = systemd::parse(input);
            let _ = xml::elements(input, |_| true);
        }
        let _ = xml::decode(&bytes);
        let _ = launchd::parse(&bytes);
        let _ = launchd::parse(text.as_bytes());
    }

    #[test]
    fn binary_plists_with_any_values_never_panic(values in proptest::collection::vec("[ -~]{0,12}", 0..20), nest in 0usize..40) {
        let mut value = plist::Value::Array(values.into_iter().map(plist::Value::String).collect());
        for _ in 0..nest {
            let mut dict = plist::Dictionary::new();
            dict.insert("ProgramArguments".into(), value);
            value = plist::Value::Dictionary(dict);
        }
        let mut bytes = Vec::new();
        value.to_writer_binary(&mut bytes).unwrap();
        let _ = launchd::parse(&bytes);
        for cut in [bytes.len() / 2, bytes.len().saturating_sub(3)] {
            let _ = launchd::parse(&bytes[..cut]);
        }
    }
}

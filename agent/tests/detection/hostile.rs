//! Garbage on disk: every broken file becomes an error with its path and kind, none becomes an
//! installation, and the good installations next to them are still reported.

use std::path::Path;

use serde_json::json;

use crate::common::{assert_check, assert_inventory, check_run, copy_tree, scan, symlink, testdata};

/// The committed tree, plus what is better made at test time: links (a loop, links out of the
/// root) and a file over the 4 MiB read limit.
fn hostile_root(tmp: &Path) -> std::path::PathBuf {
    let root = tmp.join("root");
    copy_tree(&testdata("hostile").join("root"), &root);
    symlink(Path::new("az-loop"), &root.join("usr/local/bin/az"));
    symlink(Path::new("az"), &root.join("usr/local/bin/az-loop"));
    let modules = root.join("usr/local/share/powershell/Modules");
    // Absolute targets resolve inside the root: /etc/passwd is not there, /etc/az_13.0.0 is.
    symlink(Path::new("/etc/passwd"), &modules.join("Az.KeyVault/6.0.0/Az.KeyVault.psd1"));
    symlink(Path::new("/etc/az_13.0.0"), &root.join("usr/share/az_13.0.0"));
    // A relative link that climbs one level above the root, where a module waits to be
    // wrongly found.
    let outside = tmp.join("outside/Az/99.0.0");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("Az.psd1"), "@{ ModuleVersion = '99.0.0' }\n").unwrap();
    symlink(Path::new("../../../../../../../outside/Az"), &root.join("home/alice/.local/share/powershell/Modules/Az"));
    let big = modules.join("Az.Sql/5.0.0/Az.Sql.psd1");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::File::create(&big).unwrap().set_len(4 * 1024 * 1024 + 1).unwrap();
    root
}

#[cfg(unix)]
#[test]
fn garbage_is_reported_and_never_hides_good_installs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = hostile_root(tmp.path());
    let modules = "/usr/local/share/powershell/Modules";
    let psd1 = |product: &str, version: &str, path: &str, source: &str, default: bool| {
        json!({"product": product, "version": version, "source": source, "scope": "system", "path": path,
               "on_path": false, "default_for_powershell": default, "evidence": "psd1"})
    };
    let installations = json!([
        {"product": "azure-cli", "version": "2.76.0", "source": "microsoft-deb", "scope": "system",
         "path": "/opt/az/lib/python3.12/site-packages", "on_path": true, "default_for_powershell": false,
         "evidence": "dist-info"},
        psd1("Az", "14.3.0", &format!("{modules}/Az/14.3.0"), "powershell-gallery", true),
        psd1("Az.Accounts", "5.2.0", &format!("{modules}/Az.Accounts/5.2.0"), "powershell-gallery", true),
        psd1("Az", "13.0.0", "/usr/share/az_13.0.0/Az/13.0.0", "hosted-runner-image", false),
    ]);
    let errors = [
        ("/usr/local/bin/az", "symlink-loop"),
        ("/usr/lib64/az/lib/python3.9/site-packages/azure_cli-2.61.0.dist-info/METADATA", "malformed-metadata"),
        ("/usr/local/lib/python3.11/site-packages/azure_cli-2.70.0.dist-info/METADATA", "malformed-metadata"),
        ("/usr/local/share/powershell/Modules/Az/14.2.0/Az.psd1", "bad-version"),
        ("/usr/local/share/powershell/Modules/Az.Accounts/5.1.0/Az.Accounts.psd1", "malformed-manifest"),
        ("/usr/local/share/powershell/Modules/Az.KeyVault/6.0.0", "malformed-manifest"),
        ("/usr/local/share/powershell/Modules/Az.Monitor/6.0.0", "malformed-manifest"),
        ("/usr/local/share/powershell/Modules/Az.Network/7.0.0/Az.Network.psd1", "malformed-manifest"),
        ("/usr/local/share/powershell/Modules/Az.Resources/7.0.0/Az.Resources.psd1", "wrong-file-type"),
        ("/usr/local/share/powershell/Modules/Az.Sql/5.0.0/Az.Sql.psd1", "too-large"),
        ("/usr/local/share/powershell/Modules/Az.Storage/8.0.0", "malformed-manifest"),
        ("/home/alice/.local/share/powershell/Modules/Az", "outside-root"),
    ];
    let inventory = scan(&root, "linux");
    assert_inventory(&inventory, &installations, &errors);
    let messages: Vec<&str> =
        inventory["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert!(messages.iter().all(|m| !m.is_empty()), "{messages:?}");
    assert!(messages.contains(&"line 3: nested more than 32 levels deep"), "{messages:?}");
    // Scan errors never change the verdict: the good installs meet the baseline.
    let expected = json!({"exit": 0, "status": "compliant", "findings": []});
    assert_check(&check_run(&root, "linux", &[]), &expected);
}

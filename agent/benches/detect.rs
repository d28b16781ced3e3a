//! Benchmarks of what every host pays: the manifest and metadata parsers, and whole scans of
//! the fixture trees in `agent/testdata` (see docs/BENCHMARKS.md for the numbers and targets).
//!
//! `cargo bench -p azver-agent --bench detect` runs them; they are not part of the test command.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use azver_agent::detect::{psd1, pyc, pymeta};
use azver_agent::host::HostView;
use azver_core::OsFamily;
use criterion::{Criterion, criterion_group, criterion_main};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn read(relative: &str) -> Vec<u8> {
    let path = testdata().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parsers(c: &mut Criterion) {
    // The Az rollup manifest (UTF-8, about 80 RequiredModules) and a UTF-16 LE one from Windows.
    let az = read("linux-powershell/root/usr/share/az_12.1.0/Az/12.1.0/Az.psd1");
    c.bench_function("psd1::parse Az rollup (utf-8)", |b| b.iter(|| psd1::parse(black_box(&az))));
    let utf16 =
        read("windows-powershell/root/Program Files/WindowsPowerShell/Modules/Az.Accounts/5.2.0/Az.Accounts.psd1");
    c.bench_function("psd1::parse Az.Accounts (windows)", |b| b.iter(|| psd1::parse(black_box(&utf16))));
    let metadata = String::from_utf8(read(
        "linux-microsoft-deb/root/opt/az/lib/python3.12/site-packages/azure_cli-2.76.0.dist-info/METADATA",
    ))
    .expect("METADATA is UTF-8");
    c.bench_function("pymeta::header_version METADATA", |b| b.iter(|| pymeta::header_version(black_box(&metadata))));
    let compiled =
        read("windows-msi/root/Program Files/Microsoft SDKs/Azure/CLI2/Lib/site-packages/azure/cli/core/__init__.pyc");
    c.bench_function("pyc::version_from_pyc __init__.pyc", |b| b.iter(|| pyc::version_from_pyc(black_box(&compiled))));
}

/// The OS a fixture is scanned as, from its `expected.json`.
fn fixture_os(case: &str) -> OsFamily {
    let expected = std::fs::read_to_string(testdata().join(case).join("expected.json")).unwrap_or_default();
    if expected.contains("\"os\": \"windows\"") {
        OsFamily::Windows
    } else if expected.contains("\"os\": \"macos\"") {
        OsFamily::Macos
    } else {
        OsFamily::Linux
    }
}

fn fixture_scans(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan fixture");
    for case in [
        "empty",
        "linux-microsoft-deb",
        "linux-debian-package",
        "linux-pipx",
        "linux-powershell",
        "macos",
        "windows-msi",
        "windows-powershell",
        "identities-linux",
    ] {
        let host = HostView::rooted(&testdata().join(case).join("root"), fixture_os(case)).expect("fixture root");
        group.bench_function(case, |b| b.iter(|| azver_agent::scan::scan(black_box(&host))));
    }
    group.finish();
}

/// A typical host, per the benchmark's definition: one Azure CLI (Microsoft's deb), PowerShell 7
/// with its module roots, and two homes with sign-ins, assembled from three fixture trees.
fn typical_host(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    copy_tree(&testdata().join("linux-microsoft-deb/root"), &root);
    copy_tree(&testdata().join("linux-powershell/root"), &root);
    for home in ["alice", "build"] {
        copy_tree(&testdata().join("identities-linux/root/home").join(home), &root.join("home").join(home));
    }
    let host = HostView::rooted(&root, OsFamily::Linux).expect("typical root");
    let found = azver_agent::scan::scan(&host);
    assert!(found.installations.len() >= 3, "the typical host has a CLI and modules: {found:?}");
    c.bench_function("scan typical host", |b| b.iter(|| azver_agent::scan::scan(black_box(&host))));
}

/// A developer's home as discovery sees it: 50 Python environments (venvs in projects, conda
/// environments, pyenv versions, pipx venvs) and 100,000 files in all, most of them in
/// `node_modules`, `.git` and source trees, plus Microsoft's deb CLI and PowerShell modules.
/// `AZVER_BIG_HOME=DIR` keeps the tree in DIR (for timing the binary on it, before and after).
fn big_home(root: &Path) -> usize {
    let files = std::cell::Cell::new(0usize);
    let file = |path: PathBuf, text: &str| {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
        std::fs::write(&path, text).expect("write file");
        files.set(files.get() + 1);
    };
    let home = root.join("home/dev");
    for i in 0..50 {
        let env = match i % 5 {
            0 => home.join(format!("src/project{i:02}/.venv")),
            1 => home.join(format!("miniconda3/envs/env{i:02}")),
            2 => home.join(format!(".pyenv/versions/3.12.{i}")),
            3 => home.join(format!(".local/share/pipx/venvs/tool{i:02}")),
            _ => home.join(format!("work/team/svc{i:02}/venv")),
        };
        match i % 5 {
            1 => file(env.join("conda-meta/history"), ""),
            2 => file(env.join("bin/python3.12"), ""),
            _ => file(env.join("pyvenv.cfg"), "home = /usr/bin\n"),
        }
        // A site-packages of 200 distributions, one file each in its package folder.
        let site = env.join("lib/python3.12/site-packages");
        for d in 0..200 {
            file(site.join(format!("pkg{d:03}/__init__.py")), "");
        }
        file(site.join("requests-2.32.0.dist-info/METADATA"), "Name: requests\nVersion: 2.32.0\n");
    }
    // The rest: JavaScript dependencies, git objects and source files in the projects.
    let mut i = 0usize;
    while files.get() < 100_000 {
        let project = home.join(format!("src/project{:02}", i % 10));
        let path = match i % 3 {
            0 => project.join(format!("node_modules/dep{:04}/lib/file{i}.js", i / 30)),
            1 => project.join(format!(".git/objects/{:02x}/{i:08x}", i % 256)),
            _ => project.join(format!("src/module{:03}/file{i}.rs", i / 300)),
        };
        file(path, "x");
        i += 1;
    }
    copy_tree(&testdata().join("linux-microsoft-deb/root"), root);
    copy_tree(&testdata().join("linux-powershell/root"), root);
    files.get()
}

fn discovery(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = match std::env::var_os("AZVER_BIG_HOME") {
        Some(keep) => PathBuf::from(keep),
        None => dir.path().join("root"),
    };
    if !root.join("home/dev").is_dir() {
        let files = big_home(&root);
        assert!(files >= 100_000, "{files}");
    }
    let host = HostView::rooted(&root, OsFamily::Linux).expect("big home root");
    let found = azver_agent::scan::scan(&host);
    assert!(found.errors.is_empty(), "the big home is scanned within budget: {:?}", found.errors);
    let mut group = c.benchmark_group("discovery");
    group.sample_size(10);
    group.bench_function("scan big home (50 environments, 100,000 files)", |b| {
        b.iter(|| azver_agent::scan::scan(black_box(&host)))
    });
    // 100,000 module folders in one PowerShell module root (issue 15, item 5).
    let modules_root = dir.path().join("modules");
    let modules = modules_root.join("usr/local/share/powershell/Modules");
    for i in 0..100_000 {
        let version = modules.join(format!("Az.Junk{i:06}/1.0.0"));
        std::fs::create_dir_all(&version).expect("module dir");
        std::fs::write(version.join(format!("Az.Junk{i:06}.psd1")), "@{ ModuleVersion = '1.0.0' }").expect("psd1");
    }
    let host = HostView::rooted(&modules_root, OsFamily::Linux).expect("modules root");
    group.bench_function("scan 100,000 module folders in one root", |b| {
        b.iter(|| azver_agent::scan::scan(black_box(&host)))
    });
    group.finish();
}

/// Copies `from` into `to`, merging into what is there; symbolic links are copied as links.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).expect("read link"), &target)
                .expect("copy link");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

criterion_group!(benches, parsers, fixture_scans, typical_host, discovery);
criterion_main!(benches);

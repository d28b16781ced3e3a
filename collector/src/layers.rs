//! Keeps the layering of ARCHITECTURE.md true: every module imports (`crate::...`) only from its
//! own layer or the layers below, and the two front ends (gRPC and HTTP) never import each other.
//! Test code is exempt: a test may start a whole server.

use std::path::Path;

/// The layers, lowest first; each module's first path component names it.
const LAYERS: &[&[&str]] = &[
    &["clock", "config", "sanitize", "throttle", "health", "dbfile"],
    &["store"],
    &["policy", "baseline", "auth", "listen"],
    &["reports", "metrics", "housekeeping", "detail", "summary"],
    &["grpc", "http"],
    &["server", "admin", "tls", "cli", "lib", "main", "layers"],
];

/// The front ends: same layer, but neither may import the other.
const FRONT_ENDS: [&str; 2] = ["grpc", "http"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The module a source file belongs to: `store/sqlite.rs` → `store`.
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
    first.trim_end_matches(".rs").to_owned()
}

/// What follows each `#[cfg(test)]` in `source`: `Some(name)` for an out-of-line test module
/// (`mod name;`), `None` for an inline one (`mod tests {`), with the position of the attribute.
fn test_modules(source: &str) -> Vec<(usize, Option<String>)> {
    source
        .match_indices("#[cfg(test)]")
        .filter_map(|(at, attribute)| {
            let rest = source.get(at + attribute.len()..)?.trim_start();
            let declaration = rest.strip_prefix("mod ")?;
            let name: String = declaration.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let after = declaration.get(name.len()..)?.trim_start();
            if after.starts_with(';') { Some((at, Some(name))) } else { Some((at, None)) }
        })
        .collect()
}

/// The modules named after `crate::` in the non-test part of `source` (everything before an
/// inline `#[cfg(test)] mod ... {`); a root item such as `crate::run` counts as `lib`.
fn imports(source: &str) -> Vec<String> {
    let end = test_modules(source).into_iter().find(|(_, name)| name.is_none()).map_or(source.len(), |(at, _)| at);
    let code = source.get(..end).unwrap_or_default();
    code.match_indices("crate::")
        .map(|(at, _)| {
            let rest = code.get(at + "crate::".len()..).unwrap_or_default();
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if layer_of(&name).is_some() { name } else { "lib".to_owned() }
        })
        .collect()
}

/// The files of the out-of-line test modules declared in `file` (`mod.rs` and `lib.rs` declare
/// them beside themselves, `name.rs` in `name/`).
fn test_files(file: &Path, source: &str) -> Vec<std::path::PathBuf> {
    let dir = match file.file_stem().and_then(|s| s.to_str()) {
        Some("mod" | "lib" | "main") => file.parent().map(Path::to_path_buf),
        Some(stem) => file.parent().map(|p| p.join(stem)),
        None => None,
    };
    let Some(dir) = dir else { return Vec::new() };
    test_modules(source).into_iter().filter_map(|(_, name)| name.map(|n| dir.join(format!("{n}.rs")))).collect()
}

/// Every violation in the source tree under `root`, as `file imports module`.
fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                files.push((path, source));
            }
        }
    }
    let tests: Vec<std::path::PathBuf> = files.iter().flat_map(|(path, source)| test_files(path, source)).collect();
    let mut found = Vec::new();
    for (path, source) in &files {
        if tests.contains(path) {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap();
        let module = module_of(relative);
        let Some(own) = layer_of(&module) else {
            found.push(format!("{} belongs to no layer: add its module to LAYERS", relative.display()));
            continue;
        };
        for imported in imports(source) {
            let layer = layer_of(&imported).unwrap_or(usize::MAX);
            let crosses =
                imported != module && FRONT_ENDS.contains(&module.as_str()) && FRONT_ENDS.contains(&imported.as_str());
            if layer > own || crosses {
                found.push(format!("{} ({module}) imports {imported}", relative.display()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_module_imports_only_from_below() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert_eq!(violations(&root), Vec::<String>::new());
}

#[test]
fn an_upward_or_sideways_import_is_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("store")).unwrap();
    std::fs::write(dir.path().join("store/sqlite.rs"), "use crate::config::Config;\nuse crate::http::Metrics;\n")
        .unwrap();
    std::fs::write(
        dir.path().join("grpc.rs"),
        "use crate::http::x;\n#[cfg(test)]\nmod tests {\nuse crate::server::y;\n}\n",
    )
    .unwrap();
    // A test-only module may import anything; the code after its declaration is still checked.
    std::fs::write(dir.path().join("store/mod.rs"), "#[cfg(test)]\nmod conformance;\nuse crate::server::z;\n").unwrap();
    std::fs::write(dir.path().join("store/conformance.rs"), "use crate::server::Serve;\n").unwrap();
    std::fs::write(dir.path().join("config.rs"), "fn f() { crate::run(); }\n").unwrap();
    std::fs::write(dir.path().join("extra.rs"), "").unwrap();
    assert_eq!(
        violations(dir.path()),
        [
            "config.rs (config) imports lib",
            "extra.rs belongs to no layer: add its module to LAYERS",
            "grpc.rs (grpc) imports http",
            "store/mod.rs (store) imports server",
            "store/sqlite.rs (store) imports http",
        ]
    );
}

//! The layers stay one-way (domain -> calling / query / import -> intake -> store
//! -> api -> main), no resource module of `api/` reaches into another, and the store speaks
//! the domain, not SQL text: checked here on the source itself, so a change that
//! breaks the shape fails the tests.

use std::path::{Path, PathBuf};

/// The Rust files below `src/dir`, with their text.
fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir), &mut out);
    out
}

/// Lines of `text` that name a path of one of `layers`, comments left out.
fn uses<'a>(text: &'a str, layers: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .filter(|l| layers.iter().any(|layer| l.contains(&format!("crate::{layer}"))))
        .collect()
}

#[test]
fn every_layer_uses_only_the_layers_below_it() {
    let rules: &[(&str, &[&str])] = &[
        ("domain", &["calling", "query", "import", "intake", "store", "api", "config"]),
        ("calling", &["query", "import", "intake", "store", "api", "config"]),
        ("query", &["calling", "import", "intake", "store", "api", "config"]),
        ("import", &["calling", "query", "intake", "store", "api", "config"]),
        ("intake", &["api", "config"]),
        ("store", &["intake", "api", "config"]),
    ];
    let mut broken = Vec::new();
    for (layer, forbidden) in rules {
        for (path, text) in sources(layer) {
            for line in uses(&text, forbidden) {
                broken.push(format!("{}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(broken.is_empty(), "a layer reaches up:\n{}", broken.join("\n"));
}

#[test]
fn no_resource_module_of_the_api_imports_another() {
    let shared = ["auth", "background", "download", "error", "input", "metrics", "sources", "team", "mod"];
    let files = sources("api");
    let resources: Vec<String> = files
        .iter()
        .map(|(p, _)| p.file_stem().unwrap().to_string_lossy().to_string())
        .filter(|name| !shared.contains(&name.as_str()))
        .collect();
    assert!(resources.len() >= 5, "{resources:?}");
    let mut broken = Vec::new();
    for (path, text) in &files {
        let me = path.file_stem().unwrap().to_string_lossy().to_string();
        if !resources.contains(&me) {
            continue;
        }
        for other in resources.iter().filter(|r| **r != me) {
            for pattern in [format!("super::{other}::"), format!("super::{other}"), format!("crate::api::{other}")] {
                if let Some(line) = text.lines().find(|l| l.contains(&pattern) && !l.trim_start().starts_with("//")) {
                    broken.push(format!("{}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "a resource module imports another:\n{}", broken.join("\n"));
}

#[test]
fn the_store_trait_takes_no_sql() {
    let store = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/mod.rs")).unwrap();
    let start = store.find("pub trait Store").expect("the Store trait");
    let end = start + store[start..].find("\n}\n").expect("its end");
    let trait_text = &store[start..end];
    for sql in ["dialect", "Dialect", "Compiled", "&str", "mpsc::"] {
        assert!(!trait_text.contains(sql), "the Store trait mentions {sql}");
    }
}

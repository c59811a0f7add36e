//! The server's layers, checked: every module of `server/src` imports only modules below
//! it (http → services → store), and the services import each other in one direction only.
//!
//! It reads each file's `use crate::…` statements and `crate::…::` paths, the way a reader
//! would, so it needs no build of the code it checks.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

/// The top-level modules of `server/src`, lowest first. A module may import those before
/// it in this list, never those after it. The services sit between `store` and `http`, in
/// the order their dependencies allow: a later one may call an earlier one, and an earlier
/// one hears from a later one only through a channel or an event.
const LAYERS: &[&str] = &[
    "store",
    "periodic",
    "realtime",
    "audit",
    "auth",
    "scheduler",
    "runner",
    "agents",
    "webhooks",
    "rooms",
    "telemetry",
    "http",
    "serve",
    "config",
    "application",
    "cli",
    "lib",
    "main",
];

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    for file in rust_files(&src) {
        let module = top_module(&src, &file);
        let own = rank(&module).unwrap_or_else(|| {
            panic!("{module} is not in LAYERS: give it its place in tests/layers.rs")
        });
        let text = fs::read_to_string(&file).expect("a source file is readable");
        for used in modules_used(&without_comments(&text)) {
            // Names that are not modules (items re-exported at the crate root) have no rank.
            let Some(used_rank) = rank(&used) else {
                continue;
            };
            if used_rank > own {
                upward.push(format!(
                    "{} imports {used}, which is above {module}",
                    file.strip_prefix(&src).unwrap_or(&file).display()
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports must go down (see LAYERS in tests/layers.rs):\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_each_way_of_naming_a_module() {
    let text = "use crate::{\n    agents::{self, view},\n    store::Store,\n};\n\
                use crate::runner::Runner;\nfn f() { crate::http::router(); }\n\
                // use crate::cli;\n";
    let used = modules_used(&without_comments(text));
    assert_eq!(
        used,
        BTreeSet::from(["agents", "http", "runner", "store"].map(String::from))
    );
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| *layer == module)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("the source folder is readable") {
        let path = entry.expect("a folder entry is readable").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// `runner` for `src/runner/run.rs`, `config` for `src/config.rs`.
fn top_module(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("files are under src");
    let first = relative
        .components()
        .next()
        .expect("a file has a name")
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The text without `//` comments (doc comments name modules without importing them).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules named by `use crate::…;` statements (nested braces included) and
/// by `crate::name::` paths in code.
fn modules_used(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("use crate::") {
        let statement = &rest[at + "use crate::".len()..];
        let end = statement.find(';').unwrap_or(statement.len());
        let statement: String = statement[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        match statement.strip_prefix('{') {
            Some(inner) => used.extend(top_level_names(inner.strip_suffix('}').unwrap_or(inner))),
            None => used.extend(first_name(&statement)),
        }
        rest = &rest[at + "use crate::".len() + end..];
    }
    for (at, _) in text.match_indices("crate::") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let path = &text[at + "crate::".len()..];
        let name: String = path
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if path[name.len()..].starts_with("::") {
            used.insert(name);
        }
    }
    used
}

/// The first name of each comma-separated part at the top level of a `{…}` group.
fn top_level_names(group: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0;
    let mut part = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                names.extend(first_name(&part));
                part.clear();
                continue;
            }
            _ => {}
        }
        part.push(c);
    }
    names.extend(first_name(&part));
    names
}

fn first_name(path: &str) -> Option<String> {
    let name = path.split("::").next()?;
    (!name.is_empty()).then(|| name.to_owned())
}

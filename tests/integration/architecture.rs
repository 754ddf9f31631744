//! The layers of ARCHITECTURE.md hold: every `crate::` and `super::` path in `src/` points
//! down (front ends → app → store, gis → error → domain → geometry → input), only the
//! application touches the store, and no two files import each other, directly or round
//! a circle. Read from the source text, so a new file is checked as soon as it exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's layer: higher may import lower, never the other way. Modules of one rank
/// may not import each other across top-level modules.
fn rank(module: &[String]) -> u8 {
    match module.first().map(String::as_str) {
        Some("input") | Some("budget") => 0,
        Some("geometry") => 1,
        Some("domain") => 2,
        Some("error") => 3,
        Some("gis") | Some("store") => 4,
        Some("app") => 5,
        Some("http") => 6,
        // The command line serves the HTTP API (`territory serve`), so it sits above it.
        Some("cli") => 7,
        _ => 8, // the crate root (lib.rs, main.rs)
    }
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file (`src/app/ledger.rs` → `app::ledger`, `src/app/mod.rs` → `app`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments (doc comments name paths in prose).
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every path the code names under `prefix` (`crate` or `super`), expanding `{a, b::c}` groups.
fn paths(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let needle = format!("{prefix}::");
    let mut at = 0;
    while let Some(found) = code[at..].find(&needle) {
        let start = at + found;
        let before = code[..start].chars().last();
        at = start + needle.len();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `foo_crate::` or `super::super::` (the latter is read from its first)
        }
        expand(&code[at..], vec![prefix.to_string()], &mut out);
    }
    out
}

/// Reads a path (or a brace group of paths) after `base::` at the start of `rest`.
fn expand(rest: &str, base: Vec<String>, out: &mut Vec<Vec<String>>) {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 1;
        let mut item = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 || (c == ',' && depth == 1) {
                expand(&item, base.clone(), out);
                item.clear();
                if depth == 0 {
                    break;
                }
                continue;
            }
            item.push(c);
        }
        return;
    }
    let mut path = base;
    let mut segment = String::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else if c == ':' && chars.peek().is_some_and(|(_, n)| *n == ':') {
            chars.next();
            path.push(std::mem::take(&mut segment));
            if rest[i + 2..].trim_start().starts_with('{') {
                expand(&rest[i + 2..], path, out);
                return;
            }
        } else {
            break;
        }
    }
    if !segment.is_empty() {
        path.push(segment);
    }
    out.push(path);
}

#[test]
fn imports_point_down_the_layers_and_never_round_a_circle() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let modules: BTreeMap<Vec<String>, PathBuf> = all.iter().map(|f| (module_of(&src, f), f.clone())).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (module, file) in &modules {
        let text = code(&std::fs::read_to_string(file).expect("read"));
        let mut named: Vec<Vec<String>> = paths(&text, "crate").into_iter().map(|p| p[1..].to_vec()).collect();
        for p in paths(&text, "super") {
            // `super` of `app::ledger` is `app`; of `app/mod.rs` (module `app`) the root.
            let mut base = module.clone();
            base.pop();
            let mut rest = p[1..].to_vec();
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest.remove(0);
            }
            base.extend(rest);
            named.push(base);
        }
        for path in named {
            // The deepest module file the path names.
            let Some(target) = (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|m| modules.contains_key(m)) else { continue };
            if &target == module || module.starts_with(&target) {
                continue; // itself, or a parent's re-export reaching down to it
            }
            let (from, to) = (rank(module), rank(&target));
            let across = module.first() != target.first();
            if across && (to > from || (to == from && from < 8)) {
                wrong.push(format!("{} (layer {from}) imports {} (layer {to})", module.join("::"), target.join("::")));
            }
            if matches!(module.first().map(String::as_str), Some("http" | "cli")) && target.first().is_some_and(|t| t == "store") {
                wrong.push(format!("{} reaches the store ({}); only the application may", module.join("::"), target.join("::")));
            }
            edges.entry(module.clone()).or_default().insert(target);
        }
        if matches!(module.first().map(String::as_str), Some("http" | "cli")) && text.contains(".store()") {
            wrong.push(format!("{} calls .store(); only the application may use the store", module.join("::")));
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));

    // No circle among files (a parent module re-exporting its children is not an edge back).
    fn visit(
        m: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        circles: &mut Vec<String>,
    ) {
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut circle: Vec<String> = stack[from..].iter().map(|s| s.join("::")).collect();
                    circle.push(next.join("::"));
                    circles.push(circle.join(" → "));
                }
                Some(_) => {}
                None => visit(next, edges, state, stack, circles),
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
    }
    let mut state = BTreeMap::new();
    let mut circles = Vec::new();
    for m in modules.keys() {
        if !state.contains_key(m) {
            visit(m, &edges, &mut state, &mut Vec::new(), &mut circles);
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn the_path_reader_expands_groups_and_nested_paths() {
    let found = paths("use crate::{a::b, c::{d, e::F}};\nlet x = crate::g::h(1);", "crate");
    let text: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(text, ["crate::a::b", "crate::c::d", "crate::c::e::F", "crate::g::h"]);
}

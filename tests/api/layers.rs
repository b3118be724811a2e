//! The crate's module graph, read from the source: no module (a file under `src/`) and no folder
//! imports, directly or through others, one that imports it back; the lowest layers name no
//! feature; every feature folder has the same shape. docs/ARCHITECTURE.md states the house;
//! these tests keep it so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`awards::http`) → file, for every module of the library.
fn modules() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .filter(|f| !f.ends_with("main.rs"))
        .map(|file| {
            let rel = file.strip_prefix(&src).expect("under src").with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            (parts.join("::"), file)
        })
        .collect()
}

/// The deepest module that `path` (e.g. `awards::store::AwardRow`) names.
fn resolve(modules: &BTreeMap<String, PathBuf>, path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|m| modules.contains_key(m))
}

/// The identifier path that starts `text`: `awards::store::AwardRow` in `awards::store::AwardRow)`.
fn leading_path(text: &str) -> String {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(text.len());
    text[..end].trim_end_matches(':').to_string()
}

/// The items of a `{a, b::{c, d}, e as f}` group, at its top level.
fn group_items(text: &str) -> Vec<String> {
    let (mut depth, mut item, mut items) = (0, String::new(), Vec::new());
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => items.push(std::mem::take(&mut item)),
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    items.into_iter().map(|i| leading_path(i.trim_start_matches([',', ' ', '\n']).trim())).collect()
}

/// Which modules each module names through `crate::…` or `super::…`, tests left out.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut graph = BTreeMap::new();
    for (name, file) in &modules {
        let text = std::fs::read_to_string(file).expect("read module");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut targets = BTreeSet::new();
        let mut paths = Vec::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            match rest.strip_prefix('{') {
                Some(group) => paths.extend(group_items(group)),
                None => paths.push(leading_path(rest)),
            }
        }
        let parent = name.rsplit_once("::").map(|(p, _)| p.to_string()).unwrap_or_default();
        for (i, _) in code.match_indices("super::") {
            let rest = &code[i + "super::".len()..];
            let items = match rest.strip_prefix('{') {
                Some(group) => group_items(group),
                None => vec![leading_path(rest)],
            };
            paths.extend(items.into_iter().map(|p| if parent.is_empty() { p } else { format!("{parent}::{p}") }));
        }
        for path in paths {
            if let Some(target) = resolve(&modules, &path)
                && target != *name
            {
                targets.insert(target);
            }
        }
        graph.insert(name.clone(), targets);
    }
    graph
}

/// Every cycle's members (strongly connected components of more than one module).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: finish order on the graph, then components on its reverse.
    fn visit(n: &str, g: &BTreeMap<String, BTreeSet<String>>, seen: &mut BTreeSet<String>, out: &mut Vec<String>) {
        if !seen.insert(n.to_string()) {
            return;
        }
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, seen, out);
        }
        out.push(n.to_string());
    }
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for n in graph.keys() {
        visit(n, graph, &mut seen, &mut order);
    }
    let mut reverse: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph {
        for to in tos {
            reverse.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut found = Vec::new();
    for n in order.iter().rev() {
        let mut component = Vec::new();
        visit(n, &reverse, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            found.push(component);
        }
    }
    found
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = imports();
    assert!(graph.len() > 30, "the source was not read: {graph:?}");
    assert!(graph["awards::http"].contains("http::auth"), "imports are not being found: {graph:?}");
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles among src/ modules: {found:?}");
}

/// The part of `folder` that `module` is in: `folder` itself (its `mod.rs`), or the child of
/// `folder` that holds it. `None` outside `folder`.
fn part_of(folder: &str, module: &str) -> Option<String> {
    if module == folder {
        return Some(folder.to_string());
    }
    let rest = if folder.is_empty() { module } else { module.strip_prefix(&format!("{folder}::"))? };
    let child = rest.split("::").next()?;
    Some(if folder.is_empty() { child.to_string() } else { format!("{folder}::{child}") })
}

/// For every folder (`src/` itself, and each module with modules inside), the cycles among its
/// parts: a folder's files and sub-folders, each taken whole.
fn folder_cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, Vec<String>)> {
    let mut folders: BTreeSet<String> = BTreeSet::from([String::new()]);
    for module in graph.keys() {
        let parts: Vec<&str> = module.split("::").collect();
        folders.extend((1..parts.len()).map(|n| parts[..n].join("::")));
    }
    let mut found = Vec::new();
    for folder in folders {
        let mut parts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, targets) in graph {
            let Some(a) = part_of(&folder, from) else { continue };
            let edges = parts.entry(a.clone()).or_default();
            edges.extend(targets.iter().filter_map(|t| part_of(&folder, t)).filter(|b| *b != a));
        }
        found.extend(cycles(&parts).into_iter().map(|c| (folder.clone(), c)));
    }
    found
}

#[test]
fn no_folder_imports_one_that_imports_it_back() {
    let graph = imports();
    let found = folder_cycles(&graph);
    assert!(found.is_empty(), "import cycles between folders (folder, its parts in the cycle): {found:?}");
}

#[test]
fn a_planted_cycle_between_folders_would_be_found_where_files_have_none() {
    let mut graph = imports();
    // payments imports awards; an award file naming payments' SQL closes a circle of folders,
    // though no file reaches itself.
    graph.get_mut("awards::as_of").expect("awards::as_of").insert("payments::store".to_string());
    assert!(cycles(&graph).is_empty());
    assert!(folder_cycles(&graph).iter().any(|(folder, c)| folder.is_empty() && c == &["awards", "payments"]));
}

#[test]
fn every_feature_folder_has_the_same_shape() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let loose = std::fs::read_dir(&src)
        .expect("read src")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .count();
    assert!(loose <= 15, "src/ holds {loose} loose files: gather them into folders");
    for (module, file) in &modules() {
        let text = std::fs::read_to_string(file).expect("read module");
        let handlers = text.contains("#[utoipa::path");
        let is_http = file.ends_with("http.rs");
        // Handlers live in a feature's http.rs (the service's own endpoints in routes.rs).
        assert!(!handlers || is_http || module == "routes", "{module} holds handlers outside an http.rs");
        if is_http && module != "http" {
            let folder = file.parent().expect("a folder");
            assert!(folder.join("mod.rs").exists(), "{module} is not beside its feature's mod.rs");
            assert!(text.contains("pub fn routes("), "{module} registers no routes");
        }
    }
}

#[test]
fn a_planted_cycle_would_be_found() {
    let mut graph = imports();
    graph.get_mut("domain").expect("domain").insert("awards::http".to_string());
    assert!(!cycles(&graph).is_empty());
}

#[test]
fn the_lowest_layers_name_no_feature() {
    let graph = imports();
    for (module, targets) in &graph {
        let allowed: &[&str] = if module.starts_with("domain") {
            &["domain"]
        } else if module == "canonical" || module == "request_id" || module == "telemetry" {
            &[]
        } else if module == "error" {
            // A problem quotes the request's id, and turns a domain rule's problems into its own.
            &["request_id", "domain"]
        } else if ["state", "config", "db", "ratelimit", "client_address", "tokens"]
            .iter()
            .any(|m| module == m || module.starts_with(&format!("{m}::")))
        {
            // The pools record their waits in the metrics, which name nothing of the crate.
            &["config", "db", "error", "ratelimit", "client_address", "tokens", "domain", "telemetry"]
        } else if module.ends_with("::store") {
            &["db", "domain"]
        } else {
            continue;
        };
        for target in targets {
            assert!(
                allowed.iter().any(|a| target == a || target.starts_with(&format!("{a}::"))),
                "{module} imports {target}, above its layer"
            );
        }
    }
}

#[test]
fn no_status_is_compared_or_stored_as_a_string() {
    let modules = modules();
    let status_literal = |text: &str| {
        ["\"draft\"", "\"approved\"", "\"closed\"", "\"withdrawn\"", "\"scheduled\"", "\"paid\"", "\"cancelled\""]
            .iter()
            .chain(&["\"proposed\"", "\"rejected\"", "\"submitted\"", "\"accepted\"", "\"returned\"", "\"open\""])
            .any(|s| text.contains(s))
    };
    for (module, file) in &modules {
        if module.starts_with("domain") {
            continue; // where each name is declared, once
        }
        let text = std::fs::read_to_string(file).expect("read module");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let compares = ["==", "!=", ".eq(", ".eq_any(", "Some(", "status:"].iter().any(|op| code.contains(op));
            assert!(
                !(compares && status_literal(code) && !code.contains("json!")),
                "{module}:{}: a status as a string: {line}",
                n + 1
            );
        }
    }
}

#[test]
fn every_write_records_its_event_through_audit_record() {
    for (module, file) in &modules() {
        if module.starts_with("audit") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read module");
        for needle in ["append_batch", "OwnedEvent", "NewEvent", "fn record("] {
            assert!(!text.contains(needle), "{module} writes the trail around audit::record ({needle})");
        }
    }
}

#[test]
fn no_feature_function_takes_a_bare_uuid() {
    // Ids are types (domain::ids): a function taking `Uuid` could be handed the wrong one.
    // The audit trail's generic entity id and list cursors are the only bare UUIDs.
    for (module, file) in &modules() {
        if module.starts_with("audit") || module.starts_with("db") || module == "domain::ids" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read module");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for signature in code.split("fn ").skip(1).map(|rest| rest.split('{').next().unwrap_or_default()) {
            let params = signature.split("->").next().unwrap_or_default();
            for param in params.split(',').map(str::trim).filter(|p| !p.starts_with("cursor")) {
                assert!(
                    !(param.ends_with(": Uuid") || param.contains("[Uuid]") || param.contains("Option<Uuid>")),
                    "{module}: fn {params} takes a bare Uuid ({param})"
                );
            }
        }
    }
}

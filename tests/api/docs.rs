//! The documents match the code: every setting the service reads is documented, the README is a
//! front door that links only inside the repository, every link and anchor resolves, and the
//! architecture names every part of `src/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(root().join(path.as_ref())).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The README, BENCHMARKS.md and every page of docs/.
fn documents() -> Vec<PathBuf> {
    let mut documents = vec![root().join("README.md"), root().join("BENCHMARKS.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "md") {
            documents.push(entry.path());
        }
    }
    documents
}

/// A heading's anchor as GitHub writes it: lower case, punctuation dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown page's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn every_setting_the_service_reads_is_documented() {
    let mut read_by_code = BTreeSet::new();
    for file in sources(&root().join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices("\"GRANTS_") {
            let name: String = text[i + 1..].chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
            if name.len() > "GRANTS_".len() && !name.ends_with('_') {
                read_by_code.insert(name);
            }
        }
    }
    assert!(read_by_code.len() > 15 && read_by_code.contains("GRANTS_DB_START_SECS"), "{read_by_code:?}");
    let (configuration, example) = (read("docs/CONFIGURATION.md"), read(".env.example"));
    let former: Vec<&str> = grants::config::RENAMED.iter().map(|(_, former)| *former).collect();
    for name in &read_by_code {
        assert!(configuration.contains(&format!("`{name}`")), "docs/CONFIGURATION.md does not name {name}");
        if !former.contains(&name.as_str()) {
            assert!(example.contains(&format!("{name}=")), ".env.example does not list {name}");
        }
    }
    for name in former {
        assert!(!example.contains(&format!("{name}=")), ".env.example lists {name}, which has a new name");
    }
}

#[test]
fn the_readme_is_a_front_door_to_the_docs() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "the README is {lines} lines: keep it to what the project is, the two commands, the settings everyone needs and a map of docs/"
    );
    assert!(!readme.contains("](http"), "the README links outside the repository");
    for entry in std::fs::read_dir(root().join("docs")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".md") {
            assert!(readme.contains(&format!("](docs/{name})")), "the README's map does not link docs/{name}");
        }
    }
}

#[test]
fn every_link_and_anchor_resolves_inside_the_repository() {
    let repository = root().canonicalize().unwrap();
    let mut links = 0;
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        for (i, _) in text.match_indices("](") {
            let target: String = text[i + 2..].chars().take_while(|c| *c != ')').collect();
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            links += 1;
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let resolved = if file.is_empty() { document.clone() } else { document.parent().unwrap().join(file) };
            let canonical =
                resolved.canonicalize().unwrap_or_else(|_| panic!("{}: {target} does not exist", document.display()));
            assert!(canonical.starts_with(&repository), "{}: {target} is outside the repository", document.display());
            if !fragment.is_empty() && canonical.extension().is_some_and(|e| e == "md") {
                let headings = anchors(&std::fs::read_to_string(&canonical).unwrap());
                assert!(headings.contains(fragment), "{}: {target} names no heading of {file}", document.display());
            }
        }
    }
    assert!(links > 40, "{links} links checked");
}

#[test]
fn the_architecture_names_every_folder_and_file() {
    let architecture = read("docs/ARCHITECTURE.md");
    let src = root().join("src");
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let written = if entry.path().is_dir() { format!("`{name}/`") } else { format!("`{name}`") };
        assert!(architecture.contains(&written), "docs/ARCHITECTURE.md does not name src/{name}");
    }
    for file in sources(&src) {
        let folder = file.parent().unwrap();
        if folder != src && folder.parent() != Some(src.as_path()) {
            // A folder inside a feature: named as `name/` beside its parent's entry.
            let name = folder.file_name().unwrap().to_string_lossy();
            assert!(architecture.contains(&format!("`{name}/`")), "docs/ARCHITECTURE.md does not name {name}/");
        }
    }
    // And nothing it names as a folder of src/ is gone.
    for row in architecture.lines().filter_map(|line| line.strip_prefix("| `")) {
        let name: String = row.chars().take_while(|c| *c != '`').collect();
        if let Some(folder) = name.strip_suffix('/') {
            assert!(src.join(folder).is_dir(), "docs/ARCHITECTURE.md names src/{folder}/, which is not there");
        } else if name.ends_with(".rs") {
            assert!(src.join(&name).is_file(), "docs/ARCHITECTURE.md names src/{name}, which is not there");
        }
    }
}

/// The README's count of tests is the suite's: every `#[test]` and `#[actix_web::test]` in
/// `src/` and `tests/` is one test for both runners.
#[test]
fn the_readme_counts_the_tests_there_are() {
    let attribute = |line: &str| matches!(line.trim(), "#[test]" | "#[actix_web::test]");
    let count: usize = [root().join("src"), root().join("tests")]
        .iter()
        .flat_map(|dir| sources(dir))
        .map(|file| std::fs::read_to_string(file).unwrap().lines().filter(|l| attribute(l)).count())
        .sum();
    let readme = read("README.md").split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        readme.contains(&format!("the test command then ran {count} tests")),
        "the README should say \"the test command then ran {count} tests\" (and the time they took, measured)"
    );
}

/// docs/API.md's table of the words for money is the service's own, word for word: the
/// definitions are written once in code (the pack's notes read them) and the docs show them.
#[test]
fn the_docs_define_the_money_words_the_service_uses() {
    let api = read("docs/API.md");
    let section = api.split("## The words for money").nth(1).unwrap().split("\n## ").next().unwrap();
    let rows: Vec<(String, String)> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.strip_suffix(" |")?.split_once(" | "))
        .filter(|(word, _)| *word != "word" && !word.starts_with("---"))
        .map(|(w, m)| (w.to_string(), m.to_string()))
        .collect();
    let words: Vec<(String, String)> =
        grants::reports::MONEY_WORDS.iter().map(|(w, m)| (w.to_string(), m.to_string())).collect();
    assert_eq!(rows, words);
}

//! The book cannot drift from the code: every include resolves, every
//! anchor exists, and each chapter page shows exactly its tested snapshot.

use std::path::{Path, PathBuf};

use regex::Regex;

fn book_src() -> PathBuf {
    vm::workspace_root().join("book/src")
}

/// (page, included path, the part after the path: an anchor, a line range, or nothing).
fn includes() -> Vec<(PathBuf, PathBuf, Option<String>)> {
    let pattern = Regex::new(r"\{\{#include ([^:}]+)(?::([^}]*))?\}\}").unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(book_src()).unwrap() {
        let page = entry.unwrap().path();
        if page.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&page).unwrap();
            for cap in pattern.captures_iter(&text) {
                let target = page.parent().unwrap().join(&cap[1]);
                found.push((
                    page.clone(),
                    target,
                    cap.get(2).map(|m| m.as_str().to_string()),
                ));
            }
        }
    }
    found
}

/// The body of an insta snapshot: what follows its `---` header.
fn snapshot_body(text: &str) -> &str {
    let after_first = text
        .strip_prefix("---\n")
        .expect("a snapshot starts with ---");
    let end = after_first
        .find("\n---\n")
        .expect("a snapshot header ends with ---");
    &after_first[end + 5..]
}

fn lines_from(text: &str, first: usize) -> String {
    text.lines()
        .skip(first - 1)
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn every_include_resolves() {
    let all = includes();
    assert!(!all.is_empty());
    for (page, target, selector) in all {
        let shown = format!("{} includes {}", page.display(), target.display());
        let text = std::fs::read_to_string(&target).unwrap_or_else(|e| panic!("{shown}: {e}"));
        match selector.as_deref() {
            None => {}
            Some(range) if range.chars().next().is_some_and(|c| c.is_ascii_digit()) => {}
            Some(anchor) => {
                for marker in [format!("ANCHOR: {anchor}"), format!("ANCHOR_END: {anchor}")] {
                    let present = text
                        .lines()
                        .any(|l| l.trim_end().ends_with(&format!("// {marker}")));
                    assert!(present, "{shown}: no `// {marker}` line");
                }
            }
        }
    }
}

#[test]
fn each_chapter_page_shows_its_snapshot() {
    let snapshots = vm::workspace_root().join("tests/snapshots");
    let mut checked = 0;
    for (page, target, selector) in includes() {
        if target.extension().is_none_or(|e| e != "snap") {
            continue;
        }
        let range = selector.unwrap_or_default();
        let first: usize = range.trim_end_matches(':').parse().unwrap_or(1);
        let text = std::fs::read_to_string(&target).unwrap();
        assert_eq!(
            lines_from(&text, first),
            lines_from(snapshot_body(&text), 1),
            "{} must include {} from the first line after its header",
            page.display(),
            target.display()
        );
        checked += 1;
    }
    let count = std::fs::read_dir(&snapshots)
        .unwrap()
        .flatten()
        .filter(|e| is_snap(&e.path()))
        .count();
    assert_eq!(checked, count, "every chapter snapshot appears in the book");
}

fn is_snap(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "snap")
}

#[test]
fn the_summary_lists_all_eighteen_chapters() {
    let summary = std::fs::read_to_string(book_src().join("SUMMARY.md")).unwrap();
    for (i, feature) in vm::stage::STAGES.iter().enumerate() {
        let title = format!("[{:02} · {feature}", i + 1);
        assert!(summary.contains(&title), "SUMMARY.md lacks {title}");
    }
}

#[test]
fn every_chapter_folder_has_a_page_a_readme_and_a_session() {
    for entry in std::fs::read_dir(vm_tests::chapters_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in ["README.md", "session.txt"] {
            assert!(dir.join(file).exists(), "chapters/{name}/{file} is missing");
        }
        assert!(
            book_src().join(format!("{name}.md")).exists(),
            "book/src/{name}.md is missing"
        );
        assert!(
            vm::workspace_root()
                .join(format!("tests/snapshots/{name}.snap"))
                .exists(),
            "chapter {name} has no tested transcript"
        );
    }
}

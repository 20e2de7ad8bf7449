//! Guard rails on the crate's structure, read from the source itself:
//!
//! - the top-level modules (`src/<name>.rs` or `src/<name>/`) use each other one way only: every
//!   `crate::<module>` path (in `use` lines, `use crate::{a, b::c}` groups included, and inline
//!   paths) is an arrow, and a cycle between modules fails, naming the files that make each
//!   arrow of it;
//! - no source file outside tests is over [`MAX_LINES`] lines.
//!
//! Test code is left out of both: files named `tests.rs` or under a `tests` folder, and inline
//! `#[cfg(test)] mod … { … }` blocks (a test may build its inputs with a module above it).
//! Comments, doc comments and string literals are left out of the graph too: an intra-doc link
//! is not a dependency. `super::` paths are not followed (none reaches the crate root today).
//!
//! `cargo test --test architecture -- --nocapture` prints the graph in layers,
//! bottom first: what `docs/ARCHITECTURE.md` draws.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a non-test source file may be.
const MAX_LINES: usize = 700;

/// Top-level module -> module it uses -> the files that make that arrow.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn no_cycle_between_top_level_modules() {
    let graph = module_graph(&src_dir());
    println!("{}", render_layers(&graph));
    let cycles = cycles(&graph);
    let report: Vec<String> = cycles.iter().map(|c| describe_cycle(c, &graph)).collect();
    assert!(
        report.is_empty(),
        "{} dependency cycle(s) between top-level modules:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn no_source_file_over_the_line_limit() {
    let src = src_dir();
    let too_long: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|p| !is_test_file(&src, p))
        .filter_map(|p| {
            let lines = read(&p).lines().count();
            (lines > MAX_LINES).then(|| format!("  {} has {lines} lines", rel(&src, &p)))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "source files over {MAX_LINES} lines (split them by job):\n{}",
        too_long.join("\n")
    );
}

/// The parser itself, on the forms the graph must see (and those it must not).
#[test]
fn crate_paths_are_found_in_every_form() {
    let text = r##"
        //! Doc: [`crate::docs_only`] is not an arrow.
        use crate::ao::{DataItem, Tag};
        use crate::{hash, store::Store, wasm::{self, Process}};
        use crate::{
            self as root,
            exec::pool,
        };
        fn f() { let _ = crate::clock::now(); let s = "crate::in_a_string"; let r = r#"crate::raw"#; }
        /* block crate::commented /* nested crate::deeper */ */
        #[cfg(test)]
        mod tests {
            use crate::test_only;
            fn g() { if true { crate::also_test_only::h(); } }
        }
        fn after() { crate::meter::tick(); let c = '"'; crate::after_char::x(); }
    "##;
    let found: Vec<String> = crate_refs(&strip_test_blocks(&strip_comments_and_strings(text)))
        .into_iter()
        .collect();
    assert_eq!(
        found,
        [
            "after_char",
            "ao",
            "clock",
            "exec",
            "hash",
            "meter",
            "store",
            "wasm"
        ]
    );
}

/// Cycle finding and layering on a small graph.
#[test]
fn cycles_and_layers_on_a_toy_graph() {
    let mut g = Graph::new();
    let mut arrow = |from: &str, to: &str| {
        g.entry(from.into())
            .or_default()
            .entry(to.into())
            .or_default()
            .insert(format!("src/{from}.rs"));
        g.entry(to.into()).or_default();
    };
    arrow("http", "cu");
    arrow("cu", "store");
    arrow("store", "ao");
    arrow("ao", "store");
    arrow("cu", "ao");
    let found = cycles(&g);
    assert_eq!(found, vec![vec!["ao".to_string(), "store".to_string()]]);
    let text = describe_cycle(&found[0], &g);
    assert!(text.contains("ao -> store (src/ao.rs)"), "{text}");
    assert!(text.contains("store -> ao (src/store.rs)"), "{text}");
    let layers = render_layers(&g);
    assert!(
        layers.contains("unlayered (in a cycle, or above one): ao, cu, http, store"),
        "{layers}"
    );
}

fn src_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rel(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap_or(path);
    format!("src/{}", rel.display())
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `tests.rs`, or anything under a `tests` folder.
fn is_test_file(src: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(src).unwrap_or(path);
    rel.file_name().is_some_and(|n| n == "tests.rs")
        || rel
            .parent()
            .is_some_and(|p| p.components().any(|c| c.as_os_str() == "tests"))
}

/// The top-level module a file belongs to (`None` for the crate roots `lib.rs` and `main.rs`).
fn top_module(src: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(name) => Some(name.to_string()),
        None => Some(first.to_string()),
    }
}

/// The arrows between top-level modules, from every non-test file under `src`.
fn module_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for path in rust_files(src) {
        let Some(from) = top_module(src, &path) else {
            continue;
        };
        graph.entry(from.clone()).or_default();
        if is_test_file(src, &path) {
            continue;
        }
        let code = strip_test_blocks(&strip_comments_and_strings(&read(&path)));
        for to in crate_refs(&code) {
            if to != from {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(rel(src, &path));
            }
        }
    }
    // Modules only ever used are nodes too.
    let targets: Vec<String> = graph.values().flat_map(|m| m.keys().cloned()).collect();
    for t in targets {
        graph.entry(t).or_default();
    }
    graph
}

/// `text` with comments, string and char literals replaced by spaces (newlines kept), so that
/// only code is searched.
fn strip_comments_and_strings(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    // Blank `b[from..to]`, keeping newlines.
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        out.extend(
            b[from..to]
                .iter()
                .map(|&c| if c == b'\n' { b'\n' } else { b' ' }),
        );
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (0usize, i);
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if let Some(end) = raw_string_end(b, i) {
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            blank(&mut out, i, end);
            i = end;
        } else if let Some(end) = char_literal_end(b, i) {
            blank(&mut out, i, end);
            i = end;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The end of a raw string `r#"…"#` (or `br"…"`) starting at `i`, if one starts there.
fn raw_string_end(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    j += hashes;
    if b.get(j) != Some(&b'"') {
        return None;
    }
    let mut closing = vec![b'"'];
    closing.extend(std::iter::repeat_n(b'#', hashes));
    let body = j + 1;
    let end = b[body..]
        .windows(closing.len())
        .position(|w| w == closing.as_slice())
        .map_or(b.len(), |n| body + n + closing.len());
    Some(end)
}

/// The end of a char literal (`'a'`, `'\n'`, `'"'`) at `i`; `None` for a lifetime or label.
fn char_literal_end(b: &[u8], i: usize) -> Option<usize> {
    if b[i] != b'\'' {
        return None;
    }
    if b.get(i + 1) == Some(&b'\\') {
        let close = b[i + 2..].iter().position(|&c| c == b'\'')?;
        return Some(i + 2 + close + 1);
    }
    // One character (up to 4 UTF-8 bytes) then a quote; otherwise a lifetime.
    let len = match b.get(i + 1)? {
        c if *c < 0x80 => 1,
        c if *c >= 0xF0 => 4,
        c if *c >= 0xE0 => 3,
        _ => 2,
    };
    (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 2 + len)
}

/// `code` (already without comments and strings) with every `#[cfg(test)] mod name { … }` block
/// blanked out.
fn strip_test_blocks(code: &str) -> String {
    let mut out = code.as_bytes().to_vec();
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]").map(|n| from + n) {
        from = at + "#[cfg(test)]".len();
        let after = code[from..].trim_start();
        let Some(rest) = after
            .strip_prefix("pub ")
            .unwrap_or(after)
            .trim_start()
            .strip_prefix("mod ")
        else {
            continue;
        };
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if !rest[name_len..].trim_start().starts_with('{') {
            continue; // `mod tests;`: a file of its own, already left out
        }
        let open = code.len() - rest.len() + name_len + rest[name_len..].find('{').unwrap_or(0);
        let mut depth = 0usize;
        let mut end = code.len();
        for (k, c) in code.bytes().enumerate().skip(open) {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        for byte in &mut out[at..end] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
        from = end;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-level modules that `code` names as `crate::<module>`, directly or in a
/// `crate::{…}` group.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let b = code.as_bytes();
    let mut found = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate").map(|n| from + n) {
        from = at + "crate".len();
        // A whole word (not `$crate`, `my_crate`, `crates`).
        let before_ok =
            at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b"_$".contains(&b[at - 1]));
        if !before_ok {
            continue;
        }
        let rest = code[from..].trim_start();
        let Some(rest) = rest.strip_prefix("::") else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else if let Some(name) = ident(rest) {
            found.insert(name.to_string());
        }
    }
    found.remove("self");
    found.remove("super");
    found
}

/// The first path segment of each entry at the top level of a `{…}` group (the text after `{`).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut expect_head = true;
    let mut i = 0;
    let b = group.as_bytes();
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' if depth == 0 => break,
            b'}' => depth -= 1,
            b',' if depth == 0 => expect_head = true,
            c if expect_head && depth == 0 && (c.is_ascii_alphabetic() || c == b'_') => {
                let name = ident(&group[i..]).unwrap_or_default();
                heads.push(name.to_string());
                expect_head = false;
                i += name.len();
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    heads
}

/// The identifier at the start of `text`.
fn ident(text: &str) -> Option<&str> {
    let len = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (len > 0 && !text.as_bytes()[0].is_ascii_digit()).then(|| &text[..len])
}

/// The strongly connected components with more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph[v].keys() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out.sort();
    t.out
}

/// Every arrow inside one cycle, with the files that make it.
fn describe_cycle(component: &[String], graph: &Graph) -> String {
    let mut lines = vec![format!("  cycle between {}:", component.join(", "))];
    for from in component {
        for (to, files) in &graph[from] {
            if component.contains(to) {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                lines.push(format!("    {from} -> {to} ({})", files.join(", ")));
            }
        }
    }
    lines.join("\n")
}

/// The graph in layers, bottom first: layer 0 uses no other module, layer n only layers below
/// it. Modules in a cycle (and those using one) have no layer and are listed last.
fn render_layers(graph: &Graph) -> String {
    let mut placed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut lines =
        vec!["top-level modules in layers (bottom first; `a -> b` means a uses b):".to_string()];
    loop {
        let layer: Vec<&str> = graph
            .iter()
            .filter(|(m, uses)| {
                !placed.contains_key(m.as_str())
                    && uses.keys().all(|u| placed.contains_key(u.as_str()))
            })
            .map(|(m, _)| m.as_str())
            .collect();
        if layer.is_empty() {
            break;
        }
        let n = placed.values().max().map_or(0, |m| m + 1);
        lines.push(format!("  layer {n}:"));
        for m in &layer {
            let uses: Vec<&str> = graph[*m].keys().map(String::as_str).collect();
            lines.push(format!("    {m} -> {}", display_list(&uses)));
        }
        placed.extend(layer.into_iter().map(|m| (m, n)));
    }
    let rest: Vec<&str> = graph
        .keys()
        .map(String::as_str)
        .filter(|m| !placed.contains_key(m))
        .collect();
    if !rest.is_empty() {
        lines.push(format!(
            "  unlayered (in a cycle, or above one): {}",
            rest.join(", ")
        ));
        for m in &rest {
            let uses: Vec<&str> = graph[*m].keys().map(String::as_str).collect();
            lines.push(format!("    {m} -> {}", display_list(&uses)));
        }
    }
    lines.join("\n")
}

fn display_list(items: &[&str]) -> String {
    if items.is_empty() {
        "(nothing)".to_string()
    } else {
        items.join(", ")
    }
}

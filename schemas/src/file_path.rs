//! File paths, the one piece of tool input the pipeline keeps.
//!
//! Friction is reported by file, so the path a tool touched is collected; the product says so.
//! Everything else in tool input (file contents, edits, commands, patterns, descriptions) is
//! dropped here, and the user's home directory is folded to `~` so paths do not carry account
//! names.

use serde_json::Value;

/// Longest path kept; anything longer is not a path a person would look for in a report.
const MAX_PATH: usize = 1024;

/// The keys of tool input that name a file or directory, by tool. Glob and Grep keep only their
/// `path` (the directory searched), never their pattern.
fn path_keys(tool: &str) -> &'static [&'static str] {
    match tool {
        "Read" | "Write" | "Edit" | "MultiEdit" => &["file_path"],
        "NotebookEdit" | "NotebookRead" => &["notebook_path", "file_path"],
        "Glob" | "Grep" | "LS" => &["path"],
        _ => &[],
    }
}

/// Extracts the file path from a tool's input (`tool_input` or `tool_parameters`, JSON text) and
/// folds the home directory. Returns `None` for tools without a path, for input that is not JSON
/// (Claude Code truncates long input) and for values that are not plausible paths.
pub fn from_tool_input(tool: &str, input: &str) -> Option<String> {
    let keys = path_keys(tool);
    if keys.is_empty() {
        return None;
    }
    let json: Value = serde_json::from_str(input).ok()?;
    let obj = json.as_object()?;
    keys.iter().find_map(|k| obj.get(*k)?.as_str()).and_then(clean)
}

/// Validates and folds a path taken from a span attribute or tool input.
pub fn clean(path: &str) -> Option<String> {
    let path = path.trim();
    if path.is_empty() || path.len() > MAX_PATH || path.chars().any(|c| c.is_control()) {
        return None;
    }
    Some(fold_home(path))
}

/// Folds a home directory prefix to `~`: `/home/<user>`, `/Users/<user>`, `/root`,
/// `C:\Users\<user>` (any drive), and `/var/home/<user>`.
pub fn fold_home(path: &str) -> String {
    for prefix in ["/home/", "/Users/", "/var/home/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return fold_after_user(rest, '/');
        }
    }
    if path == "/root" || path.starts_with("/root/") {
        return format!("~{}", &path[5..]);
    }
    let b = path.as_bytes();
    if b.len() > 9 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/') {
        let rest = &path[3..];
        for users in ["Users\\", "Users/"] {
            if let Some(rest) = rest.strip_prefix(users) {
                return fold_after_user(rest, if b[2] == b'\\' { '\\' } else { '/' });
            }
        }
    }
    path.to_owned()
}

/// `rest` starts with the user name; drop it and keep what follows.
fn fold_after_user(rest: &str, sep: char) -> String {
    match rest.find(sep) {
        Some(i) => format!("~{}", &rest[i..]),
        None => "~".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_common_home_directories() {
        assert_eq!(fold_home("/home/dev/src/app/hello.py"), "~/src/app/hello.py");
        assert_eq!(fold_home("/Users/ana/x.rs"), "~/x.rs");
        assert_eq!(fold_home("/home/dev"), "~");
        assert_eq!(fold_home("/root/.bashrc"), "~/.bashrc");
        assert_eq!(fold_home("/rootless/x"), "/rootless/x");
        assert_eq!(fold_home("C:\\Users\\ana\\src\\a.ts"), "~\\src\\a.ts");
        assert_eq!(fold_home("/etc/hosts"), "/etc/hosts");
        assert_eq!(fold_home("src/relative.rs"), "src/relative.rs");
    }

    #[test]
    fn keeps_only_the_path_of_tool_input() {
        let write = r#"{"file_path":"/home/dev/a/hello.py","content":"print('secret')"}"#;
        assert_eq!(from_tool_input("Write", write).as_deref(), Some("~/a/hello.py"));
        let grep = r#"{"pattern":"password=.*","path":"/home/dev/a"}"#;
        assert_eq!(from_tool_input("Grep", grep).as_deref(), Some("~/a"));
        let nb = r#"{"notebook_path":"/Users/x/n.ipynb","new_source":"import os"}"#;
        assert_eq!(from_tool_input("NotebookEdit", nb).as_deref(), Some("~/n.ipynb"));
    }

    #[test]
    fn no_path_for_commands_or_broken_input() {
        assert_eq!(from_tool_input("Bash", r#"{"command":"cat /home/dev/secret"}"#), None);
        assert_eq!(from_tool_input("Read", r#"{"file_path":"/home/dev/a.py""#), None);
        assert_eq!(from_tool_input("Read", r#"{"file_path":42}"#), None);
        assert_eq!(from_tool_input("Read", r#"{"file_path":"a\nb"}"#), None);
    }
}

//! Content never survives the mapping: every content value of the real captures is a canary, and
//! none appears anywhere in the encoded canonical events.

use tandemu_schemas::fixtures;
use tandemu_schemas::*;
use uuid::Uuid;

fn stamp() -> Stamp {
    Stamp { tenant: TenantId(Uuid::from_u128(1)), user: UserId(Uuid::from_u128(2)) }
}

fn encoded_events(variant: &str) -> (Vec<Event>, Vec<u8>) {
    let mut events = Vec::new();
    for c in fixtures::load(variant) {
        events.extend(c.map(&stamp()).expect("maps").events);
    }
    let bytes = events.iter().flat_map(encoding::encode).collect();
    (events, bytes)
}

#[test]
fn canaries_cover_the_content_the_readme_lists() {
    let canaries = fixtures::canaries(&fixtures::load_all());
    for expected in [
        "Create hello.py with a small greeting script, adjust its output lines, check whether nonexistent_mod is importable, look for a notes file, then commit everything to a new git repo.",
        "I'll create hello.py with a small greeting script.",
        "Shell command failed",
        "File does not exist. Note: your current working directory is /home/dev/src/hello-app.",
        "python3 -c 'import nonexistent_mod'",
        "<REDACTED>",
        "/home/dev/src/hello-app/hello.py",
    ] {
        assert!(canaries.iter().any(|c| c == expected), "missing canary {expected:?}");
    }
    // File contents from Write's tool_input are canaries too.
    assert!(canaries.iter().any(|c| c.contains("Tiny greeting script created by the scripted fake model")));
    assert!(canaries.len() > 20, "{} canaries", canaries.len());
}

#[test]
fn no_content_value_appears_in_encoded_events() {
    let canaries = fixtures::canaries(&fixtures::load_all());
    for variant in fixtures::VARIANTS {
        let (events, bytes) = encoded_events(variant);
        assert!(!events.is_empty());
        let leaks = fixtures::find_leaks(&bytes, &canaries);
        assert!(leaks.is_empty(), "{variant}: content reached the encoded events: {leaks:?}");
        // The JSON rendering (what `tandemu inspect` prints) is clean too.
        let json = serde_json::to_vec(&events).unwrap();
        let leaks = fixtures::find_leaks(&json, &canaries);
        assert!(leaks.is_empty(), "{variant}: content reached the JSON rendering: {leaks:?}");
    }
}

#[test]
fn letting_one_content_attribute_through_fails_the_check() {
    let canaries = fixtures::canaries(&fixtures::load_all());
    let (mut events, _) = encoded_events("http_json");
    // Simulate a mapper that keeps the tool's error text as its error type.
    let error_text = "File does not exist. Note: your current working directory is /home/dev/src/hello-app.";
    let failing_read = events
        .iter_mut()
        .find_map(|e| match &mut e.body {
            EventBody::ToolResult(t) if t.tool_name.as_deref() == Some("Read") => Some(t),
            _ => None,
        })
        .expect("the Read tool_result");
    failing_read.error_type = Some(error_text.to_string());
    let bytes: Vec<u8> = events.iter().flat_map(encoding::encode).collect();
    assert_eq!(fixtures::find_leaks(&bytes, &canaries), vec![error_text]);
}

#[test]
fn kept_paths_are_folded_and_present() {
    let (events, bytes) = encoded_events("http_json");
    let paths: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ToolResult(t) => t.file_path.clone(),
            _ => None,
        })
        .collect();
    assert!(paths.contains(&"~/src/hello-app/does_not_exist.txt".to_string()), "{paths:?}");
    assert!(paths.contains(&"~/src/hello-app/hello.py".to_string()), "{paths:?}");
    assert!(!fixtures::find_leaks(&bytes, &["~/src/hello-app/hello.py".to_string()]).is_empty());
}

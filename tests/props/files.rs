//! What an upload's client controls besides its bytes: the file name (kept only for
//! `Content-Disposition`) and, for the type decision, the first bytes. Whatever comes
//! in, the name keeps no path, no control or direction-override characters, is never
//! empty or longer than the cap, and makes a header value; sniffing never panics and
//! only ever says one of a few text types or what a magic number names.

use axum::http::HeaderValue;
use orderchat::attachments::content::sniff;
use orderchat::attachments::names::{MAX_NAME_CHARS, content_disposition, sanitize};
use proptest::prelude::*;

use crate::contract::config;
use crate::strategies::hostile_string;

fn hostile_name() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile_string(),
        "[./\\\\a-z\\u{202e}\\u{0}-\\u{1f}]{0,40}",
        hostile_string().prop_map(|s| format!("../../{s}/../x.pdf")),
        ".{190,260}\\.(pdf|jpeg)",
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_sanitised_name_is_a_plain_name(raw in hostile_name()) {
        let name = sanitize(&raw);
        prop_assert!(!name.is_empty());
        prop_assert!(name.chars().count() <= MAX_NAME_CHARS, "{} chars", name.chars().count());
        prop_assert!(!name.contains(['/', '\\', '"']), "{name:?}");
        prop_assert!(!name.starts_with('.'), "{name:?}");
        prop_assert!(!name.chars().any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)), "{name:?}");
        // Sanitising is idempotent: a stored name comes back as itself.
        prop_assert_eq!(sanitize(&name), name.clone());
        for kind in ["attachment", "inline"] {
            prop_assert!(HeaderValue::from_str(&content_disposition(kind, &name)).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn sniffing_any_bytes_names_a_type(head in proptest::collection::vec(any::<u8>(), 0..2048), name in hostile_name()) {
        let kind = sniff(&head, &name);
        prop_assert!(kind.contains('/'), "{kind}");
        if kind.starts_with("text/") {
            prop_assert!(matches!(kind.as_str(), "text/plain" | "text/csv") || infer::get(&head).is_some(), "{kind}");
        }
    }
}

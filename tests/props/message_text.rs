//! `MessageText`: not blank, at most `max` characters, no control characters but
//! newline and tab, `\r\n` stored as `\n`; refusals are `message_*` 400s.

use orderchat::domain::MessageText;
use proptest::prelude::*;

use crate::contract::{check_refusal, config};
use crate::strategies::hostile_string;

fn max_chars() -> impl Strategy<Value = usize> {
    prop_oneof![Just(4000usize), Just(0usize), Just(1usize), 0usize..5000]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn message_text_keeps_its_rules_or_is_refused(raw in hostile_string(), max in max_chars()) {
        let normalized = raw.replace("\r\n", "\n");
        match MessageText::parse(&raw, max) {
            Ok(text) => {
                let text = text.as_str();
                prop_assert_eq!(text, normalized.as_str());
                prop_assert!(!text.trim().is_empty());
                prop_assert!(text.chars().count() <= max);
                prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{text:?}");
            }
            Err(err) => {
                check_refusal(&err, &["message_empty", "message_too_long", "message_invalid_characters"])?;
                // Refused for a reason the input really has.
                let reason_holds = match err.code() {
                    "message_empty" => normalized.trim().is_empty(),
                    "message_too_long" => normalized.chars().count() > max,
                    _ => normalized.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
                };
                prop_assert!(reason_holds, "{} for {normalized:?}", err.code());
            }
        }
    }

    #[test]
    fn plain_text_within_the_limit_is_accepted(text in "[^\\p{Cc}]{0,50}[\\p{L}\\p{N}][^\\p{Cc}]{0,50}") {
        let parsed = MessageText::parse(&text, 4000);
        prop_assert_eq!(parsed.map(|t| t.as_str().to_owned()).ok(), Some(text));
    }
}

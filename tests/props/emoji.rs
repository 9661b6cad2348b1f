//! `Emoji`: 1 to `MAX_EMOJI_CHARS` characters, none of them an ASCII letter, space, control
//! character or markup, kept exactly as sent; a refusal is `invalid_emoji` (400).

use orderchat::domain::{Emoji, MAX_EMOJI_CHARS};
use proptest::prelude::*;

use crate::contract::{check_refusal, config};
use crate::strategies::hostile_string;

/// Strings made of emoji parts and a few things around them, so that both outcomes
/// come up often.
fn emojiish() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just('👍'),
        Just('❤'),
        Just('\u{FE0F}'),
        Just('\u{FE0E}'),
        Just('\u{200D}'),
        Just('\u{20E3}'),
        Just('\u{1F3FD}'),
        Just('\u{1F1EA}'),
        Just('\u{E0067}'),
        Just('1'),
        Just('#'),
        Just('a'),
        Just(' '),
        Just('<'),
        Just('\u{0}'),
        (0x1F300u32..0x1FAFF).prop_filter_map("a char", char::from_u32),
    ];
    prop::collection::vec(part, 0..20).prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn an_emoji_is_kept_as_sent_or_refused(raw in prop_oneof![emojiish(), hostile_string()]) {
        match Emoji::parse(&raw) {
            Ok(emoji) => {
                prop_assert_eq!(emoji.as_str(), raw.as_str());
                let count = raw.chars().count();
                prop_assert!((1..=MAX_EMOJI_CHARS).contains(&count));
                prop_assert!(
                    !raw.chars().any(|c| c.is_ascii_alphabetic() || c.is_whitespace() || c.is_control() || "<>&\"'".contains(c)),
                    "{raw:?}"
                );
            }
            Err(err) => check_refusal(&err, &["invalid_emoji"])?,
        }
    }
}

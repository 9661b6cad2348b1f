//! Reactions to a message: the emoji a user may react with (`Emoji::parse`), and the
//! summary a message carries (`Reaction`: one entry per emoji, who used it, in order of
//! first use among the reactions still there). The `reactions` table is the truth; the summary is rebuilt from it on
//! every change (`summarize_reactions`) and stored with the message, so reading messages costs
//! nothing extra.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use unicode_properties::{UnicodeEmoji, emoji};

use super::UserId;
use crate::error::{Error, Result};

/// The most Unicode scalar values one reaction may have: enough for the longest emoji
/// ZWJ sequences (a family with skin tones is 11, a subdivision flag 7).
pub const MAX_EMOJI_CHARS: usize = 16;

/// The most distinct emojis one message may carry; one more is refused with
/// `too_many_reactions` (409), reacting with one already there is always possible.
pub const MAX_REACTION_EMOJIS: usize = 20;

const KEYCAP: char = '\u{20E3}';

/// An emoji as a reaction: 1 to `MAX_EMOJI_CHARS` characters, each a part of an emoji
/// (pictographs, skin-tone modifiers, regional indicators, tag characters, ZWJ, the
/// emoji variation selector, a digit, `#` or `*` only as the base of a keycap). Kept as
/// sent: `❤` and `❤️` (with U+FE0F) are different reactions, because clients send
/// what their emoji picker produced and render what they get back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self> {
        let chars: Vec<char> = raw.chars().collect();
        if chars.is_empty() || chars.len() > MAX_EMOJI_CHARS {
            return Err(invalid(format!("must be 1 to {MAX_EMOJI_CHARS} characters")));
        }
        // The first character is what is shown: joiners, selectors, tags and the keycap
        // mark only extend one.
        if !starts_an_emoji(&chars) {
            return Err(invalid("must start with an emoji".into()));
        }
        for (i, &c) in chars.iter().enumerate() {
            let fits = if c.is_ascii() {
                keycap_base(&chars[i..])
            } else if c == KEYCAP {
                // Right after its base (with U+FE0F between or not), once.
                let is_base = |c: char| c.is_ascii_digit() || c == '#' || c == '*';
                match i {
                    1 => is_base(chars[0]),
                    2.. => is_base(chars[i - 1]) || (chars[i - 1] == '\u{FE0F}' && is_base(chars[i - 2])),
                    _ => false,
                }
            } else if emoji::is_tag_character(c) {
                // Tags only spell a subdivision flag after the black flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿); after
                // anything else they make an invisible twin of a plain emoji.
                chars[0] == '\u{1F3F4}'
            } else {
                emoji::is_zwj(c) || emoji::is_emoji_presentation_selector(c) || c.is_emoji_char_or_emoji_component()
            };
            if !fits {
                return Err(invalid(format!("U+{:04X} is not part of an emoji", c as u32)));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidEmoji(reason)
}

fn starts_an_emoji(chars: &[char]) -> bool {
    match chars.first() {
        Some(c) if c.is_ascii() => keycap_base(chars),
        Some(&c) => {
            c.is_emoji_char()
                && c != KEYCAP
                && !emoji::is_zwj(c)
                && !emoji::is_emoji_presentation_selector(c)
                && !emoji::is_tag_character(c)
        }
        None => false,
    }
}

/// Whether `chars` starts with a keycap: `0`–`9`, `#` or `*`, an optional U+FE0F, U+20E3.
fn keycap_base(chars: &[char]) -> bool {
    match chars {
        [base, rest @ ..] if base.is_ascii_digit() || *base == '#' || *base == '*' => {
            matches!(rest, [KEYCAP, ..] | ['\u{FE0F}', KEYCAP, ..])
        }
        _ => false,
    }
}

/// One emoji on a message and who reacted with it, in the order they did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub emoji: String,
    pub user_ids: Vec<UserId>,
}

impl Reaction {
    /// `{ emoji, count, userIds, mine? }`: `mine` only when written for one reader.
    pub fn serialize_for<S: Serializer>(
        &self,
        viewer: Option<&UserId>,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Reaction", if viewer.is_some() { 4 } else { 3 })?;
        s.serialize_field("emoji", &self.emoji)?;
        s.serialize_field("count", &self.user_ids.len())?;
        s.serialize_field("userIds", &self.user_ids)?;
        if let Some(viewer) = viewer {
            s.serialize_field("mine", &self.user_ids.contains(viewer))?;
        }
        s.end()
    }
}

/// The JSON a `Reaction` is written as, for the OpenAPI document only (never built);
/// `tests::reaction_schema_lists_what_is_serialised` in `message.rs` keeps them equal.
/// One emoji on a message: how many reacted with it and who, in the order they did.
#[derive(utoipa::ToSchema)]
#[schema(as = Reaction)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct ReactionShape {
    emoji: String,
    count: i64,
    user_ids: Vec<String>,
    /// Whether the reader reacted with this emoji: only in answers to one caller (HTTP
    /// responses, acks), never in events sent to a room.
    mine: Option<bool>,
}

/// The summary of a message's reactions from its rows `(emoji, user id)` in the order
/// they were added: emojis in order of first use, users in the order they reacted.
/// "First use" counts the reactions still there: when the first user of an emoji takes
/// theirs back, the emoji moves to where its oldest remaining reaction puts it.
pub fn summarize_reactions(rows: impl IntoIterator<Item = (String, String)>) -> Vec<Reaction> {
    let mut summary: Vec<Reaction> = Vec::new();
    for (emoji, user) in rows {
        let user = UserId::from_trusted(user);
        match summary.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => reaction.user_ids.push(user),
            None => summary.push(Reaction {
                emoji,
                user_ids: vec![user],
            }),
        }
    }
    summary
}

/// The reactions of a message for one reader (`mine` set) or for a whole room (no `mine`).
pub(super) struct ReactionsFor<'a> {
    pub reactions: &'a [Reaction],
    pub viewer: Option<&'a UserId>,
}

impl Serialize for ReactionsFor<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        struct One<'a>(&'a Reaction, Option<&'a UserId>);
        impl Serialize for One<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                self.0.serialize_for(self.1, serializer)
            }
        }
        serializer.collect_seq(self.reactions.iter().map(|r| One(r, self.viewer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emojis_are_accepted() {
        for ok in [
            "👍",
            "❤️",
            "❤",
            "👍🏽",
            "👩‍👩‍👧‍👦",
            "👩🏽‍💻",
            "🇪🇸",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
            "1️⃣",
            "#⃣",
            "*️⃣",
            "©️",
            "🫠",
        ] {
            assert_eq!(Emoji::parse(ok).map(|e| e.0).ok().as_deref(), Some(ok), "{ok:?}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "a",
            "1",
            "#",
            "ok",
            "👍a",
            " 👍",
            "👍 ",
            "<b>",
            "\u{0}",
            "👍\n",
            "\u{FE0F}",
            "\u{200D}",
            "\u{20E3}",
            "a\u{20E3}",
            "👍\u{20E3}",
            "\u{E0067}",
            "👍\u{FE0E}",
            // A doubled keycap mark; tag characters after anything but the black flag
            // (an invisible twin of 👍).
            "1\u{20E3}\u{20E3}",
            "1\u{FE0F}\u{20E3}\u{20E3}",
            "👍\u{E0041}",
            "é",
            &"👍".repeat(MAX_EMOJI_CHARS + 1),
        ] {
            let err = Emoji::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_emoji", "{bad:?}");
        }
        assert!(Emoji::parse(&"👍".repeat(MAX_EMOJI_CHARS)).is_ok());
    }

    #[test]
    fn the_summary_keeps_first_use_order() {
        let rows = [("👍", "a"), ("🎉", "b"), ("👍", "b")].map(|(e, u)| (e.to_owned(), u.to_owned()));
        let summary = summarize_reactions(rows);
        assert_eq!(summary.len(), 2);
        assert_eq!(summary[0].emoji, "👍");
        let users: Vec<&str> = summary[0].user_ids.iter().map(UserId::as_str).collect();
        assert_eq!(users, ["a", "b"]);
        assert_eq!(summary[1].emoji, "🎉");
    }
}

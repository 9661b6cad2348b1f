//! Who a message mentions: `@userId` or `@name` of a participant of its order, without
//! regard to case, the name possibly with spaces in it (`@Ana Maria`). The `@` must
//! start a word (so `ana@example.com` mentions nobody) and the id or name must end one
//! (`@ana` does not mention `anastasia`). Where several participants match at one `@`,
//! the longest id or name wins (`@Ana Maria` is Ana Maria, not Ana).

use std::collections::HashSet;

use crate::domain::{Participant, UserId};

/// The participants `text` mentions, each once.
pub fn mentioned<'a>(text: &str, participants: &'a [Participant]) -> HashSet<&'a UserId> {
    let mut found = HashSet::new();
    for (at, _) in text.match_indices('@') {
        if text[..at].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let rest = &text[at + 1..];
        let mut best: Option<(usize, &UserId)> = None;
        for participant in participants {
            let names = [Some(participant.user_id.as_str()), participant.name.as_deref()];
            for name in names.into_iter().flatten() {
                let Some(after) = strip_prefix_ignoring_case(rest, name) else {
                    continue;
                };
                let length = rest.len() - after.len();
                let ends_a_word = after.chars().next().is_none_or(|c| !is_word(c));
                if length > 0 && ends_a_word && best.is_none_or(|(longest, _)| length > longest) {
                    best = Some((length, &participant.user_id));
                }
            }
        }
        if let Some((_, user)) = best {
            found.insert(user);
        }
    }
    found
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` after `prefix`, if it starts with it compared without regard to case.
fn strip_prefix_ignoring_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let mut chars = text.chars();
    for expected in prefix.chars() {
        let got = chars.next()?;
        if got != expected && !got.to_lowercase().eq(expected.to_lowercase()) {
            return None;
        }
    }
    Some(chars.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> Vec<Participant> {
        let person = |id: &str, name: Option<&str>| Participant {
            user_id: UserId::parse(id).unwrap(),
            role: "driver".into(),
            name: name.map(str::to_owned),
        };
        vec![
            person("drv-1", Some("Ana")),
            person("drv-12", Some("Ana Maria")),
            person("cust-7", Some("Émile Zola")),
            person("disp", None),
        ]
    }

    fn ids(text: &str) -> Vec<String> {
        let people = people();
        let mut ids: Vec<String> = mentioned(text, &people).into_iter().map(|u| u.to_string()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn ids_and_names_are_mentioned_without_regard_to_case() {
        assert_eq!(ids("hi @DRV-1, see you"), ["drv-1"]);
        assert_eq!(ids("@ana: where are you?"), ["drv-1"]);
        assert_eq!(ids("ask @émile zola and @disp"), ["cust-7", "disp"]);
    }

    #[test]
    fn the_longest_name_at_an_at_sign_wins() {
        assert_eq!(ids("@Ana Maria please"), ["drv-12"]);
        assert_eq!(ids("@drv-12 and @Ana"), ["drv-1", "drv-12"]);
    }

    #[test]
    fn mentions_start_and_end_at_word_boundaries() {
        assert!(ids("mail ana@example.com").is_empty());
        assert!(ids("@anastasia is not here").is_empty());
        assert!(ids("@drv-123").is_empty());
        assert!(ids("@ nobody @").is_empty());
        assert_eq!(ids("(@disp)"), ["disp"]);
    }
}

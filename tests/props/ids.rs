//! `OrderId`, `UserId`, `ClientId`: trimmed, non-empty, at most 128 characters, no
//! control characters; anything else is `invalid_field` naming the id's field.

use orderchat::domain::{ClientId, OrderId, UserId};
use orderchat::error::Result;
use proptest::prelude::*;

use crate::contract::{check_refusal, config, field_of, is_valid_id};
use crate::strategies::hostile_string;

fn check_id(raw: &str, field: &str, parsed: Result<String>) -> Result<(), TestCaseError> {
    let trimmed = raw.trim();
    match parsed {
        Ok(id) => {
            prop_assert!(is_valid_id(&id), "{field} {id:?} breaks the id rule");
            prop_assert_eq!(id.as_str(), trimmed, "{} is the trimmed input", field);
        }
        Err(err) => {
            check_refusal(&err, &["invalid_field"])?;
            prop_assert_eq!(field_of(&err), Some(field));
            prop_assert!(
                !is_valid_id(trimmed),
                "{field} {trimmed:?} is valid but was refused: {err}"
            );
        }
    }
    Ok(())
}

/// Printable characters (no control, no whitespace), so a generated id is valid.
fn printable_id() -> impl Strategy<Value = String> {
    prop::collection::vec(
        any::<char>().prop_map(|c| if c.is_control() || c.is_whitespace() { 'x' } else { c }),
        1..=128,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn ids_parse_to_the_trimmed_input_or_are_refused(raw in hostile_string()) {
        check_id(&raw, "orderId", OrderId::parse(&raw).map(|id| id.as_str().to_owned()))?;
        check_id(&raw, "userId", UserId::parse(&raw).map(|id| id.as_str().to_owned()))?;
        check_id(&raw, "clientId", ClientId::parse(&raw).map(|id| id.as_str().to_owned()))?;
    }

    #[test]
    fn printable_ids_are_accepted_with_surrounding_whitespace(id in printable_id(), pad in "[ \t\n]{0,3}") {
        let parsed = OrderId::parse(&format!("{pad}{id}{pad}"));
        prop_assert_eq!(parsed.map(|p| p.as_str().to_owned()).ok(), Some(id));
    }
}

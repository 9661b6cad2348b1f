//! What every refusal and every parsed id must look like, checked the same way by
//! every property.

use orderchat::error::Error;
use proptest::prelude::*;

/// A refusal maps to a 4xx, carries one of the expected stable codes (snake_case) and
/// a non-empty message; a field error names a field.
pub fn check_refusal(err: &Error, codes: &[&str]) -> Result<(), TestCaseError> {
    let status = err.status();
    prop_assert!(status.is_client_error(), "{err:?} maps to {status}");
    let code = err.code();
    prop_assert!(codes.contains(&code), "code {code} not in {codes:?} for {err:?}");
    prop_assert!(
        !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "code {code} is not snake_case"
    );
    prop_assert!(!err.to_string().trim().is_empty(), "empty message for {err:?}");
    if let Error::InvalidField { field, reason } = err {
        prop_assert!(!field.is_empty() && field != ".", "no field named in {err:?}");
        prop_assert!(!reason.trim().is_empty(), "no reason in {err:?}");
    }
    Ok(())
}

/// The documented rule for ids: trimmed, not empty, at most 128 characters, no
/// control characters.
pub fn is_valid_id(id: &str) -> bool {
    id == id.trim() && !id.is_empty() && id.chars().count() <= 128 && !id.chars().any(char::is_control)
}

/// The field an `InvalidField` names, for checking it against the body's fields.
pub fn field_of(err: &Error) -> Option<&str> {
    match err {
        Error::InvalidField { field, .. } => Some(field),
        _ => None,
    }
}

/// `cases` per property, or `PROPTEST_CASES` when set (for a longer run:
/// `PROPTEST_CASES=100000 cargo test --test props`).
pub fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

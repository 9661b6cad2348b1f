//! The push webhook's signature: `X-Orderchat-Signature: sha256=<hex>`, the
//! HMAC-SHA256 under the shared secret of `<X-Orderchat-Timestamp>.<raw body>`. The
//! timestamp is signed with the body so that a captured request cannot be replayed
//! later with a fresh timestamp (the receiver checks that it is recent).

use ring::hmac;

/// The value of `X-Orderchat-Signature` for `body` sent at `timestamp` (unix seconds).
pub fn sign(key: &hmac::Key, timestamp: i64, body: &[u8]) -> String {
    let mut context = hmac::Context::with_key(key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    let mut signature = String::with_capacity(7 + 64);
    signature.push_str("sha256=");
    for byte in tag.as_ref() {
        signature.push_str(&format!("{byte:02x}"));
    }
    signature
}

/// The signing key of `secret`.
pub fn key(secret: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_timestamp_dot_body_as_hex_hmac_sha256() {
        // The same as `echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret`.
        assert_eq!(
            sign(&key("secret"), 1_700_000_000, br#"{"a":1}"#),
            "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}

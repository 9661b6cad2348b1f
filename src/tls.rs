//! The process's one TLS crypto provider, ring (Cargo.toml says why there is only one).
//! reqwest, as object_store's client and as the push webhook's, is built with rustls
//! but no provider of its own and takes the process's: install it before building one.

/// Makes ring the process's rustls crypto provider. Already installed is fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

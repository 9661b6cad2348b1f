//! Tokens → `Identity`. The algorithm is pinned by configuration (HS256 with a secret,
//! or the algorithm of a configured public key), so `alg: none`, algorithm confusion
//! between HMAC and public keys, and keys named in the token header (`jwk`, `jku`,
//! `x5u`, which `jsonwebtoken` never fetches) are all refused. Tokens are only read
//! from headers and the Socket.IO handshake, never from URLs, and never logged.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde_json::{Map, Value};

use crate::config::{Config, JwtConfig};
use crate::domain::{Identity, Role, UserId};
use crate::error::{Error, Result};

const DEV_SECRET_FILE: &str = "jwt-secret";

/// Verifies tokens; cheap to share behind an `Arc`.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    staff_roles: HashSet<String>,
    /// Present only for HS256, where the same secret can mint tokens (`orderchat token`).
    signer: Option<EncodingKey>,
}

impl Verifier {
    /// Builds the verifier from configuration, generating the dev secret in the data
    /// directory when neither a secret nor a public key is configured.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let jwt = &config.jwt;
        let (key, algorithm, signer) = match (&jwt.jwt_public_key, &jwt.jwt_secret) {
            (Some(path), _) => {
                let (key, algorithm) = read_public_key(path)?;
                (key, algorithm, None)
            }
            (None, Some(secret)) => {
                anyhow::ensure!(secret.len() >= 16, "ORDERCHAT_JWT_SECRET must be at least 16 bytes");
                let secret = secret.as_bytes();
                (
                    DecodingKey::from_secret(secret),
                    Algorithm::HS256,
                    Some(EncodingKey::from_secret(secret)),
                )
            }
            (None, None) => {
                let secret = dev_secret(&config.data_dir)?;
                (
                    DecodingKey::from_secret(&secret),
                    Algorithm::HS256,
                    Some(EncodingKey::from_secret(&secret)),
                )
            }
        };
        Ok(Self {
            key,
            validation: validation(jwt, algorithm),
            staff_roles: jwt.staff_roles.iter().cloned().collect(),
            signer,
        })
    }

    /// Verifies a token and reads the caller out of its claims.
    pub fn verify(&self, token: &str) -> Result<Identity> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|err| Error::Unauthenticated(describe(&err)))?;
        self.identity(&data.claims)
    }

    fn identity(&self, claims: &Map<String, Value>) -> Result<Identity> {
        let user_id = ["sub", "id", "userId"]
            .iter()
            .find_map(|name| match claims.get(*name) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| Error::Unauthenticated("token has no user id (sub)".into()))?;
        let user_id = UserId::parse(&user_id).map_err(|_| Error::Unauthenticated("token user id is invalid".into()))?;
        let role_name = match claims.get("role") {
            Some(Value::String(role)) if !role.trim().is_empty() => role.trim().to_owned(),
            _ => return Err(Error::Unauthenticated("token has no role".into())),
        };
        let role = if role_name == "service" {
            Role::Service
        } else if self.staff_roles.contains(&role_name) {
            Role::Staff
        } else {
            Role::Member
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        // Past this instant the token is refused, so a connection opened with it ends too.
        let valid_until = claims
            .get("exp")
            .and_then(Value::as_f64)
            .map(|exp| (exp.max(0.0) as u64).saturating_add(self.validation.leeway));
        Ok(Identity {
            user_id,
            role_name,
            role,
            name: text("name"),
            email: text("email"),
            valid_until,
        })
    }

    /// Mints a token for `orderchat token` and tests.
    pub fn mint(&self, sub: &str, role: &str, name: Option<&str>, ttl: Duration) -> anyhow::Result<String> {
        let signer = self
            .signer
            .as_ref()
            .context("tokens can only be minted with an HS256 secret; with a public key, use your issuer")?;
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = serde_json::json!({ "sub": sub, "role": role, "iat": now, "exp": now + ttl.as_secs() });
        if let Some(name) = name {
            claims["name"] = name.into();
        }
        if let Some(iss) = self.validation.iss.as_ref().and_then(|set| set.iter().next()) {
            claims["iss"] = iss.clone().into();
        }
        if let Some(aud) = self.validation.aud.as_ref().and_then(|set| set.iter().next()) {
            claims["aud"] = aud.clone().into();
        }
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, signer)?)
    }
}

fn validation(jwt: &JwtConfig, algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = jwt.jwt_leeway_secs;
    validation.validate_exp = true;
    // Off by default in jsonwebtoken: a token that is not valid yet must be refused.
    validation.validate_nbf = true;
    // The library skips `iss` / `aud` checks when the claim is absent unless it is
    // required, so a configured issuer or audience also makes the claim mandatory.
    let mut required = Vec::new();
    if jwt.jwt_require_exp {
        required.push("exp");
    }
    if let Some(iss) = &jwt.jwt_issuer {
        validation.set_issuer(&[iss]);
        required.push("iss");
    }
    match &jwt.jwt_audience {
        Some(aud) => {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    validation
}

fn read_public_key(path: &Path) -> anyhow::Result<(DecodingKey, Algorithm)> {
    let pem = std::fs::read(path).with_context(|| format!("reading JWT public key {}", path.display()))?;
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        return Ok((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok((key, Algorithm::ES256));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
        return Ok((key, Algorithm::EdDSA));
    }
    anyhow::bail!(
        "{} is not an RSA, EC or Ed25519 public key in PEM format",
        path.display()
    )
}

/// Reads the dev secret from the data directory, creating it (mode 0600) on first use.
fn dev_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(DEV_SECRET_FILE);
    match std::fs::read(&path) {
        Ok(secret) if secret.len() >= 32 => return Ok(secret),
        Ok(_) => anyhow::bail!("{} is too short; delete it to generate a new one", path.display()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    tracing::warn!(path = %path.display(), "no JWT key configured: generated a development HS256 secret");
    Ok(secret.into_bytes())
}

/// A short reason for a refused token, safe to show (never echoes the token).
fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => "token expired".into(),
        ErrorKind::InvalidSignature => "invalid token signature".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "token algorithm not allowed".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("token has no {claim} claim"),
        ErrorKind::InvalidIssuer => "token issuer not accepted".into(),
        ErrorKind::InvalidAudience => "token audience not accepted".into(),
        ErrorKind::ImmatureSignature => "token not valid yet".into(),
        _ => "invalid token".into(),
    }
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

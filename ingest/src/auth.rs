//! The gate every ingest request passes: bearer tokens, verified.
//!
//! Tokens are JWTs issued by this project (`issue`), HS256 with `JWT_SECRET` by default, RS256 or
//! EdDSA when public keys are configured. The algorithm is pinned per key: an HS256 token is only
//! ever checked against the secret, an RS256 token only against the RSA key, so neither `none` nor
//! an HS/RS confusion can get through. `sub` (user), `org` (tenant) and `role` are required; `exp`
//! is checked, `nbf` when present, issuer and audience when configured.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tandemu_schemas::{Stamp, TenantId, UserId};
use uuid::Uuid;

/// A member's role in an organization (the product's role table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

/// The claims of a Tandemu token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The organization (tenant).
    pub org: Uuid,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Token id, for revocation.
    pub jti: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    /// The identity events are stamped with.
    pub fn stamp(&self) -> Stamp {
        Stamp { tenant: TenantId(self.org), user: UserId(self.sub) }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AuthError {
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("malformed Authorization header: expected `Bearer <token>`")]
    Malformed,
    #[error("token algorithm {0} is not accepted here")]
    Algorithm(String),
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token signature does not verify")]
    Signature,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Key material and checks for verifying tokens.
#[derive(Clone)]
pub struct Verifier {
    hs256: Option<DecodingKey>,
    rs256: Option<DecodingKey>,
    eddsa: Option<DecodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_secs: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("hs256", &self.hs256.is_some())
            .field("rs256", &self.rs256.is_some())
            .field("eddsa", &self.eddsa.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl Verifier {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthError> {
        let key = DecodingKey::from_secret(secret).map_err(|e| AuthError::Invalid(format!("JWT secret: {e}")))?;
        Ok(Self { hs256: Some(key), rs256: None, eddsa: None, issuer: None, audience: None, leeway_secs: 30 })
    }

    /// Also accept RS256 tokens signed by this RSA public key (PEM).
    pub fn with_rs256_pem(mut self, pem: &[u8]) -> Result<Self, AuthError> {
        self.rs256 = Some(DecodingKey::from_rsa_pem(pem).map_err(|e| AuthError::Invalid(format!("RSA public key: {e}")))?);
        Ok(self)
    }

    /// Also accept EdDSA tokens signed by this Ed25519 public key (PEM).
    pub fn with_eddsa_pem(mut self, pem: &[u8]) -> Result<Self, AuthError> {
        self.eddsa = Some(DecodingKey::from_ed_pem(pem).map_err(|e| AuthError::Invalid(format!("Ed25519 public key: {e}")))?);
        Ok(self)
    }

    pub fn with_issuer(mut self, iss: Option<String>) -> Self {
        self.issuer = iss;
        self
    }

    pub fn with_audience(mut self, aud: Option<String>) -> Self {
        self.audience = aud;
        self
    }

    /// Verifies the value of an `Authorization` header.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Claims, AuthError> {
        let header = header.ok_or(AuthError::Missing)?.trim();
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Malformed);
        }
        self.verify(token.trim())
    }

    /// Verifies a bare token.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claimed = alg_of(token).ok_or_else(|| AuthError::Invalid("not a JWT (expected header.payload.signature, base64url)".into()))?;
        if !matches!(claimed.as_str(), "HS256" | "RS256" | "EdDSA") {
            return Err(AuthError::Algorithm(claimed));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let key = match header.alg {
            Algorithm::HS256 => self.hs256.as_ref(),
            Algorithm::RS256 => self.rs256.as_ref(),
            Algorithm::EdDSA => self.eddsa.as_ref(),
            _ => None,
        }
        .ok_or_else(|| AuthError::Algorithm(format!("{:?}", header.alg)))?;

        let mut v = Validation::new(header.alg);
        v.algorithms = vec![header.alg];
        v.leeway = self.leeway_secs;
        v.validate_exp = true;
        v.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        required.extend(self.issuer.as_ref().map(|_| "iss"));
        required.extend(self.audience.as_ref().map(|_| "aud"));
        v.set_required_spec_claims(&required);
        match &self.issuer {
            Some(iss) => v.set_issuer(&[iss]),
            None => v.iss = None,
        }
        match &self.audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        jsonwebtoken::decode::<Claims>(token, key, &v).map(|d| d.claims).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => AuthError::Expired,
                K::ImmatureSignature => AuthError::NotYetValid,
                K::InvalidSignature => AuthError::Signature,
                K::InvalidAlgorithm => AuthError::Algorithm(format!("{:?}", header.alg)),
                _ => AuthError::Invalid(e.to_string()),
            }
        })
    }
}

/// The `alg` a token claims, for an error message (the header is not trusted for anything
/// else); `None` when it is not a JWT at all.
fn alg_of(token: &str) -> Option<String> {
    use base64_url_decode as d;
    if token.split('.').count() != 3 {
        return None;
    }
    let header = serde_json::from_slice::<serde_json::Value>(&d(token.split('.').next()?)?).ok()?;
    Some(header.get("alg").and_then(|a| a.as_str()).unwrap_or("none given").to_owned())
}

fn base64_url_decode(s: &str) -> Option<Vec<u8>> {
    // Small and local: only used to name a refused algorithm in an error message.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Issues an HS256 token (the default deployment's tokens, and tests).
pub fn issue_hs256(secret: &[u8], claims: &Claims) -> Result<String, AuthError> {
    let key = EncodingKey::from_secret(secret).map_err(|e| AuthError::Invalid(format!("JWT secret: {e}")))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).map_err(|e| AuthError::Invalid(e.to_string()))
}

/// Claims for `org`/`sub` with `role`, valid from now for `ttl`.
pub fn claims_for(org: Uuid, sub: Uuid, role: Role, ttl: std::time::Duration) -> Claims {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    Claims { sub, org, role, iat: now, exp: now + ttl.as_secs(), nbf: None, jti: Uuid::new_v4(), iss: None, aud: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SECRET: &[u8] = b"test-secret-test-secret-test-secret";

    fn good() -> Claims {
        claims_for(Uuid::from_u128(1), Uuid::from_u128(2), Role::Member, Duration::from_secs(3600))
    }

    #[test]
    fn a_valid_token_verifies_and_stamps_tenant_and_user() {
        let t = issue_hs256(SECRET, &good()).unwrap();
        let c = Verifier::hs256(SECRET).unwrap().verify_header(Some(&format!("Bearer {t}"))).unwrap();
        assert_eq!(c.stamp().tenant, TenantId(Uuid::from_u128(1)));
        assert_eq!(c.stamp().user, UserId(Uuid::from_u128(2)));
    }

    #[test]
    fn missing_malformed_expired_tampered_and_wrong_key_are_refused() {
        let v = Verifier::hs256(SECRET).unwrap();
        assert_eq!(v.verify_header(None), Err(AuthError::Missing));
        assert_eq!(v.verify_header(Some("Basic abc")), Err(AuthError::Malformed));
        assert_eq!(v.verify_header(Some("Bearer")), Err(AuthError::Malformed));
        for junk in ["abc", "not.a.token", "a.b"] {
            let e = v.verify_header(Some(&format!("Bearer {junk}"))).unwrap_err();
            assert!(e.to_string().contains("not a JWT"), "{junk}: {e}");
        }

        let mut expired = good();
        expired.exp = expired.iat - 3600;
        assert_eq!(v.verify(&issue_hs256(SECRET, &expired).unwrap()), Err(AuthError::Expired));

        let mut early = good();
        early.nbf = Some(early.iat + 3600);
        assert_eq!(v.verify(&issue_hs256(SECRET, &early).unwrap()), Err(AuthError::NotYetValid));

        let t = issue_hs256(SECRET, &good()).unwrap();
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        // Re-encode the payload with another org, keep the signature.
        let forged = claims_for(Uuid::from_u128(99), Uuid::from_u128(2), Role::Owner, Duration::from_secs(3600));
        let forged_t = issue_hs256(b"another-secret-another-secret-xx", &forged).unwrap();
        parts[1] = forged_t.split('.').nth(1).unwrap().to_owned();
        assert_eq!(v.verify(&parts.join(".")), Err(AuthError::Signature));

        assert_eq!(v.verify(&forged_t), Err(AuthError::Signature));
    }

    #[test]
    fn alg_none_and_unconfigured_algorithms_are_refused() {
        let v = Verifier::hs256(SECRET).unwrap();
        // {"alg":"none","typ":"JWT"} . claims . (empty signature)
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let t = issue_hs256(SECRET, &good()).unwrap();
        let payload = t.split('.').nth(1).unwrap();
        let none = format!("{header}.{payload}.");
        assert!(matches!(v.verify(&none), Err(AuthError::Algorithm(a)) if a == "none"));
        // {"alg":"RS256","typ":"JWT"} with no RSA key configured.
        let rs = format!("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{payload}.c2ln");
        assert!(matches!(v.verify(&rs), Err(AuthError::Algorithm(_))));
    }

    #[test]
    fn missing_required_claims_are_refused() {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": Uuid::from_u128(2), "exp": u64::MAX / 2, "iat": 1, "jti": Uuid::nil(), "role": "member"}),
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap();
        assert!(matches!(Verifier::hs256(SECRET).unwrap().verify(&token), Err(AuthError::Invalid(m)) if m.contains("org")));
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let v = Verifier::hs256(SECRET).unwrap().with_issuer(Some("tandemu".into())).with_audience(Some("ingest".into()));
        let mut c = good();
        assert!(v.verify(&issue_hs256(SECRET, &c).unwrap()).is_err());
        c.iss = Some("tandemu".into());
        c.aud = Some("ingest".into());
        assert!(v.verify(&issue_hs256(SECRET, &c).unwrap()).is_ok());
        c.aud = Some("query".into());
        assert!(v.verify(&issue_hs256(SECRET, &c).unwrap()).is_err());
    }
}

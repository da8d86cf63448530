//! Integration tokens at rest: AES-256-GCM under `ENCRYPTION_KEY`, a fresh 96-bit nonce per
//! token, the tenant and integration id bound in as associated data (so a ciphertext copied to
//! another organization's row does not decrypt). The plaintext never leaves this module except
//! to the integration code that needs it; the API never returns it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("ENCRYPTION_KEY must be 32 bytes as 64 hex characters")]
    BadKey,
    #[error("the token could not be decrypted (wrong ENCRYPTION_KEY, or the row was tampered with)")]
    Decrypt,
    #[error("the token could not be encrypted")]
    Encrypt,
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

fn aad(tenant: Uuid, id: Uuid) -> [u8; 32] {
    let mut a = [0u8; 32];
    a[..16].copy_from_slice(tenant.as_bytes());
    a[16..].copy_from_slice(id.as_bytes());
    a
}

impl SecretBox {
    /// From `ENCRYPTION_KEY`: 32 bytes, hex-encoded.
    pub fn from_hex(key: &str) -> Result<Self, SecretError> {
        let bytes = hex::decode(key.trim()).map_err(|_| SecretError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SecretError::BadKey);
        }
        Ok(Self { cipher: Aes256Gcm::new_from_slice(&bytes).map_err(|_| SecretError::BadKey)? })
    }

    /// A new random key, hex-encoded (for a single node's data directory).
    pub fn generate_hex() -> String {
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        k[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        hex::encode(k)
    }

    /// (nonce, ciphertext with tag).
    pub fn seal(&self, tenant: Uuid, id: Uuid, plaintext: &[u8]) -> Result<([u8; 12], Vec<u8>), SecretError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| SecretError::Encrypt)?;
        let ct = self.cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad(tenant, id) }).map_err(|_| SecretError::Encrypt)?;
        Ok((nonce, ct))
    }

    pub fn open(&self, tenant: Uuid, id: Uuid, nonce: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SecretError> {
        if nonce.len() != 12 {
            return Err(SecretError::Decrypt);
        }
        self.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad(tenant, id) }).map_err(|_| SecretError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_only_with_the_same_key_tenant_and_id() {
        let b = SecretBox::from_hex(&SecretBox::generate_hex()).unwrap();
        let (t, id) = (Uuid::new_v4(), Uuid::new_v4());
        let (nonce, ct) = b.seal(t, id, b"ghp_secret-token").unwrap();
        assert!(!ct.windows(6).any(|w| w == b"secret"), "no plaintext in the ciphertext");
        assert_eq!(b.open(t, id, &nonce, &ct).unwrap(), b"ghp_secret-token");
        assert!(b.open(Uuid::new_v4(), id, &nonce, &ct).is_err(), "another tenant's row");
        assert!(b.open(t, Uuid::new_v4(), &nonce, &ct).is_err(), "another integration's row");
        let other = SecretBox::from_hex(&SecretBox::generate_hex()).unwrap();
        assert!(other.open(t, id, &nonce, &ct).is_err(), "another key");
        let (nonce2, _) = b.seal(t, id, b"ghp_secret-token").unwrap();
        assert_ne!(nonce, nonce2, "a fresh nonce every time");
        assert!(SecretBox::from_hex("abcd").is_err());
    }
}

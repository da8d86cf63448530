//! Where the token-signing secret comes from.
//!
//! Distributed mode requires `JWT_SECRET` (32 bytes or more) and refuses to start without it. A
//! single node without one generates a random secret once and keeps it in its data directory
//! (mode 0600), so `tandemu token issue --data-dir …` signs tokens the node accepts.

use std::io::Write;
use std::path::Path;

use super::CliError;

pub const MIN_SECRET_LEN: usize = 32;
const FILE: &str = "jwt_secret";

/// `JWT_SECRET` when set (validated), else the data directory's secret, created if missing.
pub fn for_single_node(env_secret: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, CliError> {
    if let Some(s) = env_secret {
        return validated(s);
    }
    let path = data_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::Read { path: path.display().to_string(), source: e }),
    }
    std::fs::create_dir_all(data_dir).map_err(|e| CliError::Read { path: data_dir.display().to_string(), source: e })?;
    let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()).into_bytes();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path).map_err(|e| CliError::Read { path: path.display().to_string(), source: e })?;
    f.write_all(&secret)?;
    f.sync_all()?;
    Ok(secret)
}

/// The secret of a distributed deployment: required, and long enough.
pub fn for_distributed(env_secret: Option<&str>) -> Result<Vec<u8>, CliError> {
    match env_secret {
        Some(s) => validated(s),
        None => Err(CliError::Usage(
            "JWT_SECRET is required in distributed mode (a random string of 32 bytes or more, the same for every ingest and query API process)".into(),
        )),
    }
}

fn validated(s: &str) -> Result<Vec<u8>, CliError> {
    if s.len() < MIN_SECRET_LEN {
        return Err(CliError::Usage(format!("JWT_SECRET must be at least {MIN_SECRET_LEN} bytes long (it is {})", s.len())));
    }
    let lower = s.to_ascii_lowercase();
    let placeholder = ["change-me", "changeme", "change_me", "replace-me", "your-secret", "example", "default-secret"].iter().any(|p| lower.contains(p));
    if placeholder || s.chars().all(|c| c == s.chars().next().unwrap_or('x')) {
        return Err(CliError::Usage("JWT_SECRET looks like a placeholder; use a random value".into()));
    }
    Ok(s.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_node_secret_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = for_single_node(None, dir.path()).unwrap();
        let b = for_single_node(None, dir.path()).unwrap();
        assert_eq!(a, b);
        assert!(a.len() >= MIN_SECRET_LEN);
    }

    #[test]
    fn distributed_mode_refuses_missing_short_or_placeholder_secrets() {
        assert!(for_distributed(None).is_err());
        assert!(for_distributed(Some("short")).is_err());
        assert!(for_distributed(Some(&"a".repeat(40))).is_err());
        assert!(for_distributed(Some("0123456789abcdef0123456789abcdef")).is_ok());
    }
}

/// `ENCRYPTION_KEY` when set, else the data directory's key (64 hex characters), created if
/// missing with mode 0600: what seals a single node's integration tokens.
pub fn encryption_key_for_single_node(env_key: Option<&str>, data_dir: &Path) -> Result<String, CliError> {
    if let Some(k) = env_key {
        return Ok(k.to_owned());
    }
    let path = data_dir.join("encryption_key");
    match std::fs::read_to_string(&path) {
        Ok(k) => return Ok(k.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::Read { path: path.display().to_string(), source: e }),
    }
    std::fs::create_dir_all(data_dir).map_err(|e| CliError::Read { path: data_dir.display().to_string(), source: e })?;
    let key = tandemu_query_api::secrets::SecretBox::generate_hex();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(|e| CliError::Read { path: path.display().to_string(), source: e })?;
    f.write_all(key.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| CliError::Read { path: path.display().to_string(), source: e })?;
    Ok(key)
}

//! `--kafka-option KEY=VALUE`: extra librdkafka settings, as `ingest` and `process` take them.

use super::CliError;

/// `KEY=VALUE` pairs, trimmed; a pair without `=` is a usage error naming it.
pub fn parse(options: &[String]) -> Result<Vec<(String, String)>, CliError> {
    options
        .iter()
        .map(|o| {
            let (k, v) = o.split_once('=').ok_or_else(|| CliError::Usage(format!("--kafka-option {o:?}: expected KEY=VALUE")))?;
            Ok((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_junk_is_named() {
        let ok = parse(&["security.protocol=SASL_SSL".into(), " linger.ms = 5 ".into()]).unwrap();
        assert_eq!(ok, vec![("security.protocol".into(), "SASL_SSL".into()), ("linger.ms".into(), "5".into())]);
        assert!(parse(&["linger.ms".into()]).unwrap_err().to_string().contains("\"linger.ms\""));
    }
}

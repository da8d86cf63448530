//! The Kafka flags `ingest` and `process` share, and `--kafka-option KEY=VALUE` parsing.

use clap::Args;

use super::CliError;

#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long, env = "TANDEMU_KAFKA_BROKERS")]
    pub kafka_brokers: String,
    /// The event log topic.
    #[arg(long, env = "TANDEMU_KAFKA_TOPIC", default_value = "tandemu.events")]
    pub kafka_topic: String,
    /// Extra librdkafka settings, `KEY=VALUE`, repeatable (e.g. `--kafka-option linger.ms=5` for
    /// ingest's producer, `--kafka-option session.timeout.ms=6000` for the processor's consumer).
    /// The settings acknowledgements and offset commits rest on are refused.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    pub kafka_options: Vec<String>,
}

impl KafkaArgs {
    pub fn options(&self) -> Result<Vec<(String, String)>, CliError> {
        parse(&self.kafka_options)
    }
}

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

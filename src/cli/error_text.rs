//! How a failed command's error reads on the terminal.
//!
//! Our error types put their cause in their own message where it helps
//! (`cannot listen for MQTT on 127.0.0.1:1883: Address already in use`)
//! and still return it as their `source`, so that a caller can inspect it.
//! Printing the whole chain would then say the cause twice. The chain is
//! printed with `: ` between its links, leaving out a link whose text the
//! one before it already ends with.

/// The error and its causes, each said once.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let said = cause.to_string();
        if text.ends_with(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen for MQTT on {address}: {source}")]
    struct ListenError {
        address: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let taken = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let error = anyhow::Error::new(ListenError {
            address: "127.0.0.1:1883".to_owned(),
            source: taken,
        })
        .context("starting the broker");
        assert_eq!(
            error_text(&error),
            "starting the broker: cannot listen for MQTT on 127.0.0.1:1883: \
             Address already in use"
        );
    }

    #[test]
    fn causes_not_in_the_message_are_all_said() {
        let error = anyhow::anyhow!("the roster lists nobody")
            .context("roster.csv")
            .context("importing the roster");
        assert_eq!(
            error_text(&error),
            "importing the roster: roster.csv: the roster lists nobody"
        );
    }
}

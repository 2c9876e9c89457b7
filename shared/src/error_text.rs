//! An error with its causes, on one line, for a log line or a CloudFormation reason. No
//! error of swarmhook's carries a token: scripts redact theirs before printing.

pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

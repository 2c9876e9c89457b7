//! The Functions host's custom-handler protocol: it POSTs `/{FunctionName}` with
//! `{"Data": {<binding>: …}, "Metadata": {…}}` and takes `{"Outputs", "Logs",
//! "ReturnValue"}` back; any other status than 2xx fails the invocation. Values that
//! are not objects arrive serialised again (a queue message's text double-quoted,
//! `DequeueCount` a string), as real hosts send them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("the invocation is not JSON of the host's shape: {0}")]
    NotAnInvocation(String),
    #[error("the invocation has no {0:?} binding")]
    NoBinding(&'static str),
    #[error("the {0:?} binding is not a string")]
    NotText(&'static str),
}

#[derive(Debug, Deserialize)]
pub struct Invocation {
    #[serde(rename = "Data", default)]
    data: Map<String, Value>,
    #[serde(rename = "Metadata", default)]
    metadata: Map<String, Value>,
}

/// One HTTP request, as an HTTP trigger hands it over (forwarding off).
#[derive(Debug, Deserialize)]
pub struct HttpRequest {
    #[serde(rename = "Method", default)]
    pub method: String,
}

impl Invocation {
    pub fn parse(body: &[u8]) -> Result<Invocation, ProtocolError> {
        serde_json::from_slice(body).map_err(|e| ProtocolError::NotAnInvocation(e.to_string()))
    }

    /// A queue trigger's message text (unquoted once more when the host quoted it).
    pub fn queue_text(&self, binding: &'static str) -> Result<String, ProtocolError> {
        let value = self
            .data
            .get(binding)
            .ok_or(ProtocolError::NoBinding(binding))?;
        let Value::String(text) = value else {
            // An object: the host parsed the message as JSON and passed it as it is.
            return match value {
                Value::Object(_) | Value::Array(_) => Ok(value.to_string()),
                _ => Err(ProtocolError::NotText(binding)),
            };
        };
        Ok(serde_json::from_str::<String>(text).unwrap_or_else(|_| text.clone()))
    }

    /// How many times the host has handed this message over (1 the first).
    pub fn dequeue_count(&self) -> u32 {
        match self.metadata.get("DequeueCount") {
            Some(Value::String(s)) => s.trim_matches('"').parse().unwrap_or(1),
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
            _ => 1,
        }
    }

    pub fn http_request(&self, binding: &'static str) -> Result<HttpRequest, ProtocolError> {
        let value = self
            .data
            .get(binding)
            .ok_or(ProtocolError::NoBinding(binding))?;
        serde_json::from_value(value.clone())
            .map_err(|e| ProtocolError::NotAnInvocation(e.to_string()))
    }
}

/// The handler's answer to the host.
#[derive(Debug, Default, Serialize)]
pub struct InvocationReply {
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

impl InvocationReply {
    pub fn logged(line: impl Into<String>) -> InvocationReply {
        InvocationReply {
            logs: vec![line.into()],
            ..Default::default()
        }
    }

    /// An HTTP output binding's response, its body JSON.
    pub fn http(binding: &str, status: u16, body: &Value) -> InvocationReply {
        let mut outputs = Map::new();
        outputs.insert(
            binding.to_owned(),
            serde_json::json!({
                "statusCode": status,
                "body": body.to_string(),
                "headers": {"Content-Type": "application/json"},
            }),
        );
        InvocationReply {
            outputs,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_message_as_real_hosts_send_it() {
        let body = br#"{"Data":{"msg":"\"{\\\"vm\\\":\\\"w_1\\\"}\""},"Metadata":{"DequeueCount":"3","Id":"\"abc\""}}"#;
        let inv = Invocation::parse(body).expect("an invocation");
        assert_eq!(inv.queue_text("msg").expect("text"), r#"{"vm":"w_1"}"#);
        assert_eq!(inv.dequeue_count(), 3);
        assert_eq!(
            inv.queue_text("other"),
            Err(ProtocolError::NoBinding("other"))
        );
        // Not double-quoted, or parsed into an object: taken as it is.
        let plain = Invocation::parse(br#"{"Data":{"msg":"{\"vm\":\"w_1\"}"}}"#).expect("parses");
        assert_eq!(plain.queue_text("msg").expect("text"), r#"{"vm":"w_1"}"#);
        let object =
            Invocation::parse(br#"{"Data":{"msg":{"vm":"w_1"}},"Metadata":{"DequeueCount":2}}"#)
                .expect("parses");
        assert_eq!(object.queue_text("msg").expect("text"), r#"{"vm":"w_1"}"#);
        assert_eq!(object.dequeue_count(), 2);
        assert!(Invocation::parse(b"not json").is_err());
        assert!(Invocation::parse(br#"{"Data":{"msg":12}}"#)
            .expect("parses")
            .queue_text("msg")
            .is_err());
    }
}

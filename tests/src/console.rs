//! Calling the console functions as a CloudWatch dashboard does: a synchronous Invoke with
//! the widget's event, answered with a JSON string of HTML (or Markdown for `describe`).

use serde_json::Value;

use crate::{Lab, LabError};

/// The function's answer to `event`, as the dashboard would show it.
pub async fn invoke_widget(lab: &Lab, function: &str, event: &Value) -> Result<String, LabError> {
    let out = aws_sdk_lambda::Client::new(&lab.sdk)
        .invoke()
        .function_name(function)
        .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
        .send()
        .await
        .map_err(|e| LabError::aws("Invoke", e))?;
    let payload = out
        .payload()
        .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned());
    if let Some(error) = out.function_error() {
        return Err(LabError::Unexpected(format!(
            "{function} failed ({error}): {payload:?}"
        )));
    }
    let answer: Value = serde_json::from_str(payload.as_deref().unwrap_or("null"))
        .map_err(|e| LabError::Unexpected(format!("{function} answered no JSON: {e}")))?;
    answer
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| LabError::Unexpected(format!("{function} answered no string: {answer}")))
}

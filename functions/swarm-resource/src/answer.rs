//! The answer CloudFormation waits for: a PUT of a small JSON document to the request's
//! ResponseURL (a presigned S3 URL on AWS), at most 4096 bytes.

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};

use crate::request::ReplyTo;

/// CloudFormation refuses larger answers (and the resource then fails).
pub const MAX_ANSWER_BYTES: usize = 4096;

const SEND_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
#[error("could not deliver the answer to CloudFormation after {attempts} attempts")]
pub struct AnswerError {
    attempts: u32,
    #[source]
    source: reqwest::Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub success: bool,
    pub reason: String,
    pub physical_resource_id: String,
}

/// The answer's JSON, its reason shortened (ending "...") until the whole fits in
/// `MAX_ANSWER_BYTES`.
pub fn body(reply_to: &ReplyTo, answer: &Answer) -> Vec<u8> {
    let json = |reason: &str| {
        let mut response = CloudFormationCustomResourceResponse::default();
        response.status = if answer.success {
            CloudFormationCustomResourceResponseStatus::Success
        } else {
            CloudFormationCustomResourceResponseStatus::Failed
        };
        response.reason = Some(reason.to_owned());
        response.physical_resource_id = answer.physical_resource_id.clone();
        response.stack_id = reply_to.stack_id.clone();
        response.request_id = reply_to.request_id.clone();
        response.logical_resource_id = reply_to.logical_resource_id.clone();
        serde_json::to_vec(&response).unwrap_or_default()
    };
    let whole = json(&answer.reason);
    if whole.len() <= MAX_ANSWER_BYTES {
        return whole;
    }
    // What the reason may take once escaped, keeping room for "...".
    let budget = MAX_ANSWER_BYTES.saturating_sub(json("").len() + 3);
    let mut used = 0;
    let mut reason = String::new();
    for c in answer.reason.chars() {
        let escaped = serde_json::to_string(&c).map(|e| e.len() - 2).unwrap_or(6);
        if used + escaped > budget {
            break;
        }
        used += escaped;
        reason.push(c);
    }
    reason.push_str("...");
    json(&reason)
}

/// PUTs the answer, retrying a failed delivery twice.
#[tracing::instrument(skip_all, fields(request_id = %reply_to.request_id, success = answer.success))]
pub async fn send(
    http: &reqwest::Client,
    reply_to: &ReplyTo,
    answer: &Answer,
) -> Result<(), AnswerError> {
    let body = body(reply_to, answer);
    let mut attempt = 0;
    loop {
        attempt += 1;
        // A presigned S3 URL is signed for an empty content type.
        let sent = http
            .put(&reply_to.response_url)
            .header("content-type", "")
            .body(body.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        match sent {
            Ok(_) => {
                tracing::info!(bytes = body.len(), "answered CloudFormation");
                return Ok(());
            }
            Err(source) if attempt >= SEND_ATTEMPTS => {
                return Err(AnswerError {
                    attempts: attempt,
                    source: source.without_url(),
                })
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e.without_url(), "answering CloudFormation failed; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(500 * u64::from(attempt)))
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_to() -> ReplyTo {
        ReplyTo {
            response_url: "http://127.0.0.1/".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
            request_id: "r-1".into(),
            logical_resource_id: "Swarm".into(),
            physical_resource_id: None,
        }
    }

    #[test]
    fn a_long_reason_is_cut_to_fit() {
        for unit in ["x", "é", "\"", "\u{1F40B}"] {
            let answer = Answer {
                success: false,
                reason: unit.repeat(10_000),
                physical_resource_id: "swarmhook-s".into(),
            };
            let json = body(&reply_to(), &answer);
            assert!(json.len() <= MAX_ANSWER_BYTES, "{unit}: {}", json.len());
            let parsed: serde_json::Value = serde_json::from_slice(&json).expect("json");
            assert_eq!(parsed["Status"], "FAILED");
            assert_eq!(parsed["PhysicalResourceId"], "swarmhook-s");
            let reason = parsed["Reason"].as_str().unwrap_or_default();
            assert!(
                reason.ends_with("..."),
                "{unit}: {} chars, ends {:?}",
                reason.chars().count(),
                reason.chars().rev().take(8).collect::<String>()
            );
        }
    }

    #[test]
    fn a_short_reason_is_kept_whole() {
        let answer = Answer {
            success: true,
            reason: "recorded".into(),
            physical_resource_id: "swarmhook-s".into(),
        };
        let parsed: serde_json::Value =
            serde_json::from_slice(&body(&reply_to(), &answer)).expect("json");
        assert_eq!(parsed["Status"], "SUCCESS");
        assert_eq!(parsed["Reason"], "recorded");
        assert_eq!(parsed["RequestId"], "r-1");
        assert_eq!(parsed["LogicalResourceId"], "Swarm");
    }
}

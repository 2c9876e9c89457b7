//! A CloudFormation custom resource request, read with the aws_lambda_events types. A
//! request that cannot be read still gets an answer when it says where to send one.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Delete,
}

/// What every answer must echo, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// The id CloudFormation holds for the resource (absent on Create).
    pub physical_resource_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub kind: Kind,
    pub reply_to: ReplyTo,
    pub properties: Value,
    pub old_properties: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not a custom resource request; it names no ResponseURL to answer on.
    #[error("not a CloudFormation custom resource request (no ResponseURL, StackId, RequestId and LogicalResourceId): {0}")]
    Unanswerable(String),
    /// A custom resource request we cannot act on: answered FAILED.
    #[error("malformed custom resource request: {why}")]
    Malformed { reply_to: Box<ReplyTo>, why: String },
}

fn field(raw: &Value, name: &str) -> Option<String> {
    raw.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Request {
    pub fn parse(raw: Value) -> Result<Request, RequestError> {
        let parsed = serde_json::from_value::<CloudFormationCustomResourceRequest>(raw.clone());
        match parsed {
            Ok(CloudFormationCustomResourceRequest::Create(r)) => Ok(Request {
                kind: Kind::Create,
                reply_to: ReplyTo {
                    response_url: r.response_url,
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                    physical_resource_id: None,
                },
                properties: r.resource_properties,
                old_properties: None,
            }),
            Ok(CloudFormationCustomResourceRequest::Update(r)) => Ok(Request {
                kind: Kind::Update,
                reply_to: ReplyTo {
                    response_url: r.response_url,
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                    physical_resource_id: Some(r.physical_resource_id),
                },
                properties: r.resource_properties,
                old_properties: Some(r.old_resource_properties),
            }),
            Ok(CloudFormationCustomResourceRequest::Delete(r)) => Ok(Request {
                kind: Kind::Delete,
                reply_to: ReplyTo {
                    response_url: r.response_url,
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                    physical_resource_id: Some(r.physical_resource_id),
                },
                properties: r.resource_properties,
                old_properties: None,
            }),
            Ok(_) => Err(Self::malformed(
                &raw,
                "its RequestType is not one this version knows".into(),
            )),
            Err(e) => Err(Self::malformed(&raw, e.to_string())),
        }
    }

    fn malformed(raw: &Value, why: String) -> RequestError {
        let reply_to = (|| {
            Some(ReplyTo {
                response_url: field(raw, "ResponseURL")?,
                stack_id: field(raw, "StackId")?,
                request_id: field(raw, "RequestId")?,
                logical_resource_id: field(raw, "LogicalResourceId")?,
                physical_resource_id: field(raw, "PhysicalResourceId"),
            })
        })();
        match reply_to {
            Some(reply_to) => RequestError::Malformed {
                reply_to: Box::new(reply_to),
                why,
            },
            None => RequestError::Unanswerable(why),
        }
    }
}

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

impl ReplyTo {
    /// What an answer must echo, read from the raw request (typed or not).
    fn from_raw(raw: &Value) -> Option<ReplyTo> {
        Some(ReplyTo {
            response_url: field(raw, "ResponseURL")?,
            stack_id: field(raw, "StackId")?,
            request_id: field(raw, "RequestId")?,
            logical_resource_id: field(raw, "LogicalResourceId")?,
            physical_resource_id: field(raw, "PhysicalResourceId"),
        })
    }
}

impl Request {
    pub fn parse(raw: Value) -> Result<Request, RequestError> {
        use CloudFormationCustomResourceRequest as Cfn;
        let parsed = match serde_json::from_value::<Cfn>(raw.clone()) {
            Ok(Cfn::Create(r)) => (Kind::Create, r.resource_properties, None),
            Ok(Cfn::Update(r)) => (
                Kind::Update,
                r.resource_properties,
                Some(r.old_resource_properties),
            ),
            Ok(Cfn::Delete(r)) => (Kind::Delete, r.resource_properties, None),
            Ok(_) => {
                return Err(Self::malformed(
                    &raw,
                    "its RequestType is not one this version knows".into(),
                ))
            }
            Err(e) => return Err(Self::malformed(&raw, e.to_string())),
        };
        let (kind, properties, old_properties) = parsed;
        let Some(mut reply_to) = ReplyTo::from_raw(&raw) else {
            return Err(Self::malformed(
                &raw,
                "a field it must echo is empty".into(),
            ));
        };
        // Create has no id yet, whatever the request says.
        if kind == Kind::Create {
            reply_to.physical_resource_id = None;
        }
        Ok(Request {
            kind,
            reply_to,
            properties,
            old_properties,
        })
    }

    fn malformed(raw: &Value, why: String) -> RequestError {
        match ReplyTo::from_raw(raw) {
            Some(reply_to) => RequestError::Malformed {
                reply_to: Box::new(reply_to),
                why,
            },
            None => RequestError::Unanswerable(why),
        }
    }
}

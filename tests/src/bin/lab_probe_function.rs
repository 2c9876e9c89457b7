//! The lab's probe: a real Lambda function (lambda_runtime main loop) for the lab's own
//! tests. It takes two kinds of event:
//!
//! - a CloudFormation custom resource request: it reports the request (type, logical id,
//!   physical id, marker) to the SQS queue named by its `ReportQueueUrl` property, then
//!   answers CloudFormation: FAILED when the request type equals its `FailOn` property,
//!   SUCCESS otherwise;
//! - an SQS batch (from an event source mapping): each record whose body contains
//!   `fail` is reported back as a batch item failure; every other body is forwarded to the
//!   queue in the function's `REPORT_QUEUE_URL` environment variable; a body containing
//!   `sleep` makes it sleep 60 s, past any timeout the lab's tests give it.

use std::collections::HashMap;

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

struct Probe {
    sqs: aws_sdk_sqs::Client,
    http: reqwest::Client,
}

struct Request<'a> {
    kind: &'static str,
    response_url: &'a str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_id: &'a str,
    physical_id: Option<&'a str>,
    properties: &'a Value,
}

fn describe(event: &CloudFormationCustomResourceRequest) -> Request<'_> {
    match event {
        CloudFormationCustomResourceRequest::Create(r) => Request {
            kind: "Create",
            response_url: &r.response_url,
            stack_id: &r.stack_id,
            request_id: &r.request_id,
            logical_id: &r.logical_resource_id,
            physical_id: None,
            properties: &r.resource_properties,
        },
        CloudFormationCustomResourceRequest::Update(r) => Request {
            kind: "Update",
            response_url: &r.response_url,
            stack_id: &r.stack_id,
            request_id: &r.request_id,
            logical_id: &r.logical_resource_id,
            physical_id: Some(&r.physical_resource_id),
            properties: &r.resource_properties,
        },
        CloudFormationCustomResourceRequest::Delete(r) => Request {
            kind: "Delete",
            response_url: &r.response_url,
            stack_id: &r.stack_id,
            request_id: &r.request_id,
            logical_id: &r.logical_resource_id,
            physical_id: Some(&r.physical_resource_id),
            properties: &r.resource_properties,
        },
        // The enum is non-exhaustive; a request type we do not know still gets an answer.
        _ => Request {
            kind: "Unknown",
            response_url: "",
            stack_id: "",
            request_id: "",
            logical_id: "",
            physical_id: None,
            properties: &Value::Null,
        },
    }
}

impl Probe {
    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        if event.payload.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(event.payload)?;
            return Ok(serde_json::to_value(self.sqs_batch(batch).await?)?);
        }
        let request: CloudFormationCustomResourceRequest = serde_json::from_value(event.payload)?;
        self.custom_resource(&request).await?;
        Ok(Value::Null)
    }

    async fn sqs_batch(&self, batch: SqsEvent) -> Result<SqsBatchResponse, Error> {
        let report_queue = std::env::var("REPORT_QUEUE_URL")?;
        let mut response = SqsBatchResponse::default();
        for record in batch.records {
            let id = record.message_id.unwrap_or_default();
            let body = record.body.unwrap_or_default();
            if body.contains("sleep") {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            }
            if body.contains("fail") {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
                continue;
            }
            self.sqs
                .send_message()
                .queue_url(&report_queue)
                .message_body(json!({ "Processed": body }).to_string())
                .send()
                .await?;
        }
        tracing::info!(
            failed = response.batch_item_failures.len(),
            "processed an SQS batch"
        );
        Ok(response)
    }

    async fn custom_resource(
        &self,
        event: &CloudFormationCustomResourceRequest,
    ) -> Result<(), Error> {
        let req = describe(event);
        let prop = |k: &str| req.properties.get(k).and_then(Value::as_str).unwrap_or("");
        let marker = prop("Marker");
        let physical_id = req
            .physical_id
            .map(str::to_owned)
            .unwrap_or_else(|| format!("probe-{}-{marker}", req.logical_id));
        if let Some(queue) = Some(prop("ReportQueueUrl")).filter(|q| !q.is_empty()) {
            let report = json!({
                "RequestType": req.kind,
                "LogicalResourceId": req.logical_id,
                "PhysicalResourceId": physical_id,
                "Marker": marker,
            });
            self.sqs
                .send_message()
                .queue_url(queue)
                .message_body(report.to_string())
                .send()
                .await?;
        }
        let fail = prop("FailOn") == req.kind;
        let mut response = CloudFormationCustomResourceResponse::default();
        response.status = if fail {
            CloudFormationCustomResourceResponseStatus::Failed
        } else {
            CloudFormationCustomResourceResponseStatus::Success
        };
        response.reason = fail.then(|| format!("the probe was asked to fail on {}", req.kind));
        response.physical_resource_id = physical_id;
        response.stack_id = req.stack_id.to_owned();
        response.request_id = req.request_id.to_owned();
        response.logical_resource_id = req.logical_id.to_owned();
        response.data = HashMap::from([
            ("RequestType".to_owned(), req.kind.to_owned()),
            ("Marker".to_owned(), marker.to_owned()),
        ]);
        self.http
            .put(req.response_url)
            .body(serde_json::to_vec(&response)?)
            .send()
            .await?
            .error_for_status()?;
        tracing::info!(
            request = req.kind,
            logical_id = req.logical_id,
            failed = fail,
            "answered CloudFormation"
        );
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = aws_config::load_from_env().await;
    let probe = Probe {
        sqs: aws_sdk_sqs::Client::new(&config),
        http: reqwest::Client::new(),
    };
    let probe = &probe;
    lambda_runtime::run(service_fn(
        move |event| async move { probe.handle(event).await },
    ))
    .await
}

//! The Azure lab's Functions host, against the custom-handler contract, with the tests'
//! small app (`fixtures/azure-test-app`): queue messages reach the handler in the shapes
//! real hosts send (the message double-encoded, `DequeueCount` a string, `Id` and
//! `PopReceipt` quoted) and are deleted once handled; a message the handler keeps
//! failing lands in `{queue}-poison` after `maxDequeueCount`; a timer fires on its
//! schedule and when asked; an HTTP trigger answers through its output binding.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use swarmhook_lab_tests::azure::{AzureLab, STORAGE_RESOURCE, STORAGE_VERSION};
use swarmhook_lab_tests::wait::until;
use swarmhook_lab_tests::{unique_name, Lab, LabError};

/// Standard base64 (with padding), as a sender encodes a queue message for the host.
fn base64(text: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A header of a recorded request, by name in any case (HTTP's names are not cased).
fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a Value> {
    headers
        .as_object()?
        .iter()
        .find_map(|(k, v)| k.eq_ignore_ascii_case(name).then_some(v))
}

/// The first `<tag>…</tag>` of an XML answer.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + len])
}

struct Queues<'a> {
    azure: &'a AzureLab,
    token: String,
}

impl Queues<'_> {
    fn url(&self, queue: &str) -> String {
        format!("{}/{queue}", self.azure.info.queue_endpoint)
    }

    async fn create(&self, queue: &str) -> anyhow::Result<()> {
        let r = self
            .azure
            .https
            .put(self.url(queue))
            .bearer_auth(&self.token)
            .header("x-ms-version", STORAGE_VERSION)
            .send()
            .await?;
        anyhow::ensure!(r.status() == StatusCode::CREATED, "{}", r.status());
        Ok(())
    }

    /// Sends `text` as the host expects it by default: base64.
    async fn send(&self, queue: &str, text: &str) -> anyhow::Result<String> {
        let encoded = base64(text);
        let r = self
            .azure
            .https
            .post(format!("{}/messages", self.url(queue)))
            .bearer_auth(&self.token)
            .header("x-ms-version", STORAGE_VERSION)
            .body(format!(
                "<QueueMessage><MessageText>{encoded}</MessageText></QueueMessage>"
            ))
            .send()
            .await?;
        anyhow::ensure!(r.status() == StatusCode::CREATED, "{}", r.status());
        Ok(encoded)
    }

    /// The texts of the messages in a queue, visible or not yet (peek).
    async fn peek(&self, queue: &str) -> Result<Vec<String>, LabError> {
        let r = self
            .azure
            .https
            .get(format!(
                "{}/messages?peekonly=true&numofmessages=32",
                self.url(queue)
            ))
            .bearer_auth(&self.token)
            .header("x-ms-version", STORAGE_VERSION)
            .send()
            .await
            .map_err(LabError::Status)?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let xml = r.text().await.map_err(LabError::Status)?;
        Ok(xml
            .split("<QueueMessage>")
            .skip(1)
            .filter_map(|m| element(m, "MessageText").map(str::to_owned))
            .collect())
    }

    /// The queue's approximate message count (counts hidden messages too).
    async fn count(&self, queue: &str) -> Result<u64, LabError> {
        let r = self
            .azure
            .https
            .get(format!("{}?comp=metadata", self.url(queue)))
            .bearer_auth(&self.token)
            .header("x-ms-version", STORAGE_VERSION)
            .send()
            .await
            .map_err(LabError::Status)?;
        Ok(r.headers()
            .get("x-ms-approximate-messages-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX))
    }
}

async fn storage_token(azure: &AzureLab) -> anyhow::Result<String> {
    let me = azure.identity(&unique_name("sender")).await?;
    Ok(azure.token(&me, STORAGE_RESOURCE).await?.access_token)
}

#[tokio::test]
async fn queue_messages_reach_the_handler_in_the_hosts_shapes_and_a_failing_one_is_poisoned(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let azure = AzureLab::of(&lab)?;
    let queues = Queues {
        azure: &azure,
        token: storage_token(&azure).await?,
    };
    let (echo, fails) = (unique_name("echo"), unique_name("fails"));
    queues.create(&echo).await?;
    queues.create(&fails).await?;
    let app = azure
        .start_test_app(
            &unique_name("app"),
            &[("ECHO_QUEUE", &echo), ("FAILS_QUEUE", &fails)],
        )
        .await?;

    // A message handled: in the host's shapes, then deleted.
    let content = r#"{"vm":"vm-1","kind":"ready"}"#;
    queues.send(&echo, content).await?;
    let seen = until("the echo invocation", Duration::from_secs(60), || async {
        let got = app.invocations_of("echo");
        let n = got.len();
        Ok((got.into_iter().next(), format!("{n} invocations")))
    })
    .await?;
    let body = &seen["body"];
    let msg = body["Data"]["msg"].as_str().unwrap_or_default();
    // Double-encoded: the binding's value is the JSON text of the message string.
    assert_eq!(serde_json::from_str::<String>(msg)?, content, "{msg}");
    let meta = &body["Metadata"];
    assert_eq!(meta["DequeueCount"], "1", "a string: {meta}");
    let id = meta["Id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with('"') && id.ends_with('"') && id.len() > 2,
        "quoted: {id}"
    );
    let receipt = meta["PopReceipt"].as_str().unwrap_or_default();
    assert!(
        receipt.starts_with('"') && receipt.ends_with('"'),
        "quoted: {receipt}"
    );
    assert_eq!(meta["sys"]["MethodName"], "echo");
    assert!(
        header(&seen["headers"], "X-Azure-Functions-InvocationId").is_some_and(Value::is_string),
        "{}",
        seen["headers"]
    );
    until(
        "the echo message deleted",
        Duration::from_secs(30),
        || async {
            let n = queues.count(&echo).await?;
            Ok(((n == 0).then_some(()), format!("{n} left")))
        },
    )
    .await?;

    // A message that keeps failing: tried maxDequeueCount (3) times, then poisoned.
    let sent = queues.send(&fails, r#"{"vm":"vm-2"}"#).await?;
    let poison = format!("{fails}-poison");
    let moved = until("the poison message", Duration::from_secs(90), || async {
        let texts = queues.peek(&poison).await?;
        let n = texts.len();
        Ok((texts.into_iter().next(), format!("{n} in {poison}")))
    })
    .await?;
    assert_eq!(moved, sent, "the message as it was sent");
    let tries: Vec<Value> = app
        .invocations_of("fails")
        .iter()
        .map(|i| i["body"]["Metadata"]["DequeueCount"].clone())
        .collect();
    assert_eq!(tries, vec!["1", "2", "3"], "{tries:?}");
    until(
        "the failing message gone from its queue",
        Duration::from_secs(30),
        || async {
            let n = queues.count(&fails).await?;
            Ok(((n == 0).then_some(()), format!("{n} left")))
        },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn timers_fire_on_schedule_and_when_asked_and_an_http_trigger_answers() -> anyhow::Result<()>
{
    let lab = Lab::connect().await?;
    let azure = AzureLab::of(&lab)?;
    let name = unique_name("app");
    let app = azure
        .start_test_app(
            &name,
            &[
                ("ECHO_QUEUE", "unused-echo"),
                ("FAILS_QUEUE", "unused-fails"),
            ],
        )
        .await?;

    // Every two seconds, on its own.
    let tick = until("the often timer", Duration::from_secs(30), || async {
        let got = app.invocations_of("often");
        let n = got.len();
        Ok((got.into_iter().next(), format!("{n} invocations")))
    })
    .await?;
    let timer = &tick["body"]["Data"]["timer"];
    assert_eq!(timer["Schedule"]["AdjustForDST"], true, "{timer}");
    assert_eq!(timer["IsPastDue"], false);

    // Once a year, unless asked.
    assert!(app.invocations_of("yearly").is_empty());
    let fired = azure.fire_timers(&name).await?;
    assert!(fired.contains(&format!("{name}/yearly")), "{fired:?}");
    until(
        "the yearly timer, fired",
        Duration::from_secs(30),
        || async {
            let n = app.invocations_of("yearly").len();
            Ok(((n == 1).then_some(()), format!("{n} invocations")))
        },
    )
    .await?;

    // HTTP: the request in the host's shape, the answer from the output binding.
    let r = azure
        .https
        .get(format!(
            "{}/{name}/api/hello?name=lab",
            azure.info.functions_http_endpoint
        ))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers().get("x-lab").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(r.text().await?, "hello lab");
    let call = app
        .invocations_of("hello")
        .into_iter()
        .next()
        .unwrap_or_default();
    let req = &call["body"]["Data"]["req"];
    assert_eq!(req["Method"], "GET", "{req}");
    assert_eq!(req["Query"]["name"], "lab");
    assert!(
        header(&req["Headers"], "Host").is_some_and(Value::is_array),
        "headers as lists: {}",
        req["Headers"]
    );
    let r = azure
        .https
        .get(format!(
            "{}/{name}/api/nothing",
            azure.info.functions_http_endpoint
        ))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // One log per function, saying what ran.
    let apps = azure.function_apps().await?;
    let mine = apps
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name.as_str()))
        .cloned()
        .unwrap_or_default();
    let log_path = mine["functions"]["hello"]["log"]
        .as_str()
        .unwrap_or_default();
    let log = std::fs::read_to_string(log_path)?;
    assert!(
        log.contains("Executed 'Functions.hello' (Succeeded"),
        "{log}"
    );
    assert!(log.contains("said hello"), "{log}");
    Ok(())
}

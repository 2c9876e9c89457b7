//! The Azure lab's storage and identities, against their contracts: Azurite over TLS
//! (the lab CA's certificate), taking the bearer tokens the lab's identity endpoint
//! issues (App Service / Functions protocol, `api-version=2019-08-01`); a blob written
//! under `If-None-Match: *` and `If-Match` as the store will be; a queue's messages
//! counting their dequeues and coming back after their visibility timeout.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use swarmhook_lab_tests::azure::{AzureLab, STORAGE_RESOURCE, STORAGE_VERSION};
use swarmhook_lab_tests::{unique_name, Lab};

fn authed(req: RequestBuilder, token: &str) -> RequestBuilder {
    req.bearer_auth(token)
        .header("x-ms-version", STORAGE_VERSION)
}

fn etag_of(r: &reqwest::Response) -> String {
    r.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The text of the first `<tag>…</tag>` in an XML answer.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + len])
}

#[tokio::test]
async fn the_identity_endpoint_answers_its_protocol_and_refuses_what_it_should(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let azure = AzureLab::of(&lab)?;
    let me = azure.identity(&unique_name("functions")).await?;
    let other = azure.identity(&unique_name("worker")).await?;

    let token = azure.token(&me, STORAGE_RESOURCE).await?;
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.resource, STORAGE_RESOURCE);
    assert_eq!(token.client_id, me.client_id);
    let expires: u64 = token.expires_on.parse()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    assert!(expires > now.as_secs() + 3600, "expires_on {expires}");
    assert_eq!(token.access_token.split('.').count(), 3, "a JWT");

    let v = ("api-version", "2019-08-01");
    let r = ("resource", STORAGE_RESOURCE);
    for (header, query, want) in [
        (None, vec![r, v], 401),
        (Some("not-a-secret"), vec![r, v], 401),
        (Some(me.identity_header.as_str()), vec![v], 400),
        (
            Some(me.identity_header.as_str()),
            vec![r, ("api-version", "2017-09-01")],
            400,
        ),
        (
            Some(me.identity_header.as_str()),
            vec![r, v, ("client_id", other.client_id.as_str())],
            400,
        ),
    ] {
        let (status, body) = azure.ask_token(header, &query).await?;
        assert_eq!(status, want, "{header:?} {query:?}: {body}");
        assert!(!body.contains("access_token"), "{body}");
    }
    Ok(())
}

#[tokio::test]
async fn a_blob_is_created_once_and_replaced_only_under_its_current_etag() -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let azure = AzureLab::of(&lab)?;
    let me = azure.identity(&unique_name("store")).await?;
    let token = azure.token(&me, STORAGE_RESOURCE).await?.access_token;
    let blob = &azure.info.blob_endpoint;
    assert!(blob.starts_with("https://"), "{blob}");
    let container = unique_name("clusters");
    let https = &azure.https;

    // Without a token, or with one for another audience: refused, nothing made.
    let r = https
        .put(format!("{blob}/{container}?restype=container"))
        .header("x-ms-version", STORAGE_VERSION)
        .send()
        .await?;
    assert!(r.status().is_client_error(), "{}", r.status());
    let elsewhere = azure
        .token(&me, "https://vault.azure.net")
        .await?
        .access_token;
    let r = authed(
        https.put(format!("{blob}/{container}?restype=container")),
        &elsewhere,
    )
    .send()
    .await?;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", r.text().await?);

    let r = authed(
        https.put(format!("{blob}/{container}?restype=container")),
        &token,
    )
    .send()
    .await?;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await?);

    let url = format!("{blob}/{container}/cluster.json");
    let put = |body: &'static str| {
        authed(https.request(Method::PUT, &url), &token)
            .header("x-ms-blob-type", "BlockBlob")
            .header("content-type", "application/json")
            .body(body)
    };
    // Created only if absent: the second create loses.
    let first = put(r#"{"generation":1}"#)
        .header("if-none-match", "*")
        .send()
        .await?;
    assert_eq!(
        first.status(),
        StatusCode::CREATED,
        "{}",
        first.text().await?
    );
    let etag1 = etag_of(&first);
    assert!(!etag1.is_empty());
    let again = put(r#"{"generation":1,"other":true}"#)
        .header("if-none-match", "*")
        .send()
        .await?;
    assert_eq!(
        again.status(),
        StatusCode::CONFLICT,
        "{}",
        again.text().await?
    );

    // Replaced under its current etag; a writer holding the old one loses.
    let second = put(r#"{"generation":2}"#)
        .header("if-match", &etag1)
        .send()
        .await?;
    assert_eq!(
        second.status(),
        StatusCode::CREATED,
        "{}",
        second.text().await?
    );
    let etag2 = etag_of(&second);
    assert_ne!(etag1, etag2);
    let stale = put(r#"{"generation":2,"stale":true}"#)
        .header("if-match", &etag1)
        .send()
        .await?;
    assert_eq!(
        stale.status(),
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.text().await?
    );

    let read = authed(https.get(&url), &token).send().await?;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(etag_of(&read), etag2);
    assert_eq!(read.text().await?, r#"{"generation":2}"#);

    // A storage version Azurite does not know is refused (the clients pin theirs).
    let r = https
        .get(&url)
        .bearer_auth(&token)
        .header("x-ms-version", "2099-01-01")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn queue_messages_count_their_dequeues_and_come_back_after_their_visibility_timeout(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let azure = AzureLab::of(&lab)?;
    let me = azure.identity(&unique_name("queue")).await?;
    let token = azure.token(&me, STORAGE_RESOURCE).await?.access_token;
    let https = &azure.https;
    let queue = format!(
        "{}/{}",
        azure.info.queue_endpoint,
        unique_name("node-ready")
    );

    let r = authed(https.put(&queue), &token).send().await?;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await?);
    let r = authed(https.post(format!("{queue}/messages")), &token)
        .body("<QueueMessage><MessageText>eyJub2RlIjoidm0tMSJ9</MessageText></QueueMessage>")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await?);

    let receive = || async {
        let r = authed(
            https.get(format!(
                "{queue}/messages?numofmessages=1&visibilitytimeout=1"
            )),
            &token,
        )
        .send()
        .await?;
        anyhow::ensure!(r.status() == StatusCode::OK, "{}", r.status());
        anyhow::Ok(r.text().await?)
    };
    let first = receive().await?;
    assert_eq!(element(&first, "DequeueCount"), Some("1"), "{first}");
    // The text comes back as it was sent (the host's base64 is the sender's to do).
    assert_eq!(element(&first, "MessageText"), Some("eyJub2RlIjoidm0tMSJ9"));
    // Hidden while its visibility timeout runs, back after it.
    let hidden = receive().await?;
    assert_eq!(element(&hidden, "MessageId"), None, "{hidden}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let back = receive().await?;
    assert_eq!(element(&back, "DequeueCount"), Some("2"), "{back}");
    assert_eq!(element(&back, "MessageId"), element(&first, "MessageId"));

    // Deleted with its latest pop receipt; the first one no longer holds.
    let id = element(&back, "MessageId").unwrap_or_default();
    let old = element(&first, "PopReceipt").unwrap_or_default();
    let receipt = element(&back, "PopReceipt").unwrap_or_default();
    let delete = |pop: &str| -> anyhow::Result<RequestBuilder> {
        let url = reqwest::Url::parse_with_params(
            &format!("{queue}/messages/{id}"),
            &[("popreceipt", pop)],
        )?;
        Ok(authed(https.delete(url), &token))
    };
    let r = delete(old)?.send().await?;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = delete(receipt)?.send().await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", r.text().await?);
    Ok(())
}

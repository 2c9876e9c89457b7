//! The Azure lab's management plane and Key Vault, against their contracts: a template
//! deployment (the tests' small template, `fixtures/templates/azure-lab-resources.json`)
//! creates its resources and reports its operations; an unknown function refuses it by
//! name, a resource refused while deploying fails it with the cause; the load balancer and DNS record sets refuse stale etags; a worker's
//! identity reads its own token secret and not the manager's; a throttled call answers
//! 429 with `Retry-After`; a call without a token or an api-version is refused.

use reqwest::Method;
use serde_json::{json, Value};
use swarmhook_lab_tests::azure::{AzureLab, Identity, KEY_VAULT_RESOURCE, MANAGEMENT_RESOURCE};
use swarmhook_lab_tests::azure_management::{
    NETWORK_VERSION, PRIVATE_DNS_VERSION, RESOURCES_VERSION,
};
use swarmhook_lab_tests::{unique_name, Lab};

const TEMPLATE: &str = include_str!("../fixtures/templates/azure-lab-resources.json");

struct Deployed {
    azure: AzureLab,
    token: String,
    group: String,
    cluster: String,
    outputs: Value,
}

/// A resource group with the test template deployed in it, by an operator's identity.
async fn deployed(parameters: Value) -> anyhow::Result<Deployed> {
    let lab = Lab::connect().await?;
    let azure = AzureLab::of(&lab)?;
    let operator = azure.identity(&unique_name("operator")).await?;
    let token = azure
        .token(&operator, MANAGEMENT_RESOURCE)
        .await?
        .access_token;
    let group = unique_name("rg");
    azure.resource_group(&token, &group).await?;
    let cluster = parameters["clusterName"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let template: Value = serde_json::from_str(TEMPLATE)?;
    let put = azure
        .start_deployment(&token, &group, "swarm", &template, &parameters)
        .await?;
    assert_eq!(put.status, 201, "{}", put.body);
    assert_eq!(put.body["properties"]["provisioningState"], "Accepted");
    let status_url = put
        .header("azure-asyncoperation")
        .ok_or_else(|| anyhow::anyhow!("no Azure-AsyncOperation header"))?
        .to_owned();
    let status = azure.wait_async(&token, &status_url).await?;
    assert_eq!(status["status"], "Succeeded", "{status}");
    let path = format!(
        "{}/providers/Microsoft.Resources/deployments/swarm?api-version={RESOURCES_VERSION}",
        azure.group_path(&group)
    );
    let d = azure
        .arm(Some(&token), Method::GET, &path, None, &[])
        .await?;
    assert_eq!(d.status, 200);
    assert_eq!(d.body["properties"]["provisioningState"], "Succeeded");
    let outputs = d.body["properties"]["outputs"].clone();
    Ok(Deployed {
        azure,
        token,
        group,
        cluster,
        outputs,
    })
}

fn cluster_parameters() -> Value {
    json!({ "clusterName": { "value": unique_name("sw").chars().take(20).collect::<String>() } })
}

#[tokio::test]
async fn a_deployment_creates_its_resources_and_an_unknown_function_or_a_refused_resource_fails_it_with_the_reason(
) -> anyhow::Result<()> {
    let d = deployed(cluster_parameters()).await?;
    let (azure, token) = (&d.azure, d.token.as_str());
    let base = azure.group_path(&d.group);

    // The outputs, evaluated from what was made.
    assert_eq!(d.outputs["managers"]["value"], 3);
    assert_eq!(d.outputs["lbRules"]["value"], 2);
    let vault_uri = d.outputs["vaultUri"]["value"].as_str().unwrap_or_default();
    assert!(
        vault_uri.starts_with(&azure.info.key_vault_endpoint),
        "{vault_uri}"
    );

    // One operation per resource, each Succeeded and naming its target.
    let ops = azure
        .arm(
            Some(token),
            Method::GET,
            &format!("{base}/providers/Microsoft.Resources/deployments/swarm/operations?api-version={RESOURCES_VERSION}"),
            None,
            &[],
        )
        .await?;
    let ops = ops.body["value"].as_array().cloned().unwrap_or_default();
    // 3 identities, a vault, 2 secrets, 3 role assignments, an address, a load
    // balancer, a DNS zone and its record.
    assert_eq!(ops.len(), 13, "{ops:?}");
    for op in &ops {
        assert_eq!(op["properties"]["provisioningState"], "Succeeded", "{op}");
    }

    // The resources are there, as ARM returns them.
    let lb = azure
        .arm(
            Some(token),
            Method::GET,
            &format!(
                "{base}/providers/Microsoft.Network/loadBalancers/{}-lb?api-version={NETWORK_VERSION}",
                d.cluster
            ),
            None,
            &[],
        )
        .await?;
    assert_eq!(lb.status, 200, "{}", lb.body);
    let rules = lb.body["properties"]["loadBalancingRules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rules.len(), 2);
    assert!(rules[0]["id"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/loadBalancingRules/port-80"));
    assert!(lb.body["etag"]
        .as_str()
        .unwrap_or_default()
        .starts_with("W/\""));

    // A template calling a function ARM does not have is refused, naming it; a resource
    // refused while deploying fails the deployment, with the cause in its details and
    // its operation.
    let mut bad: Value = serde_json::from_str(TEMPLATE)?;
    bad["resources"][7]["properties"]["frontendIPConfigurations"][0]["name"] =
        json!("[shinyNewFunction('x')]");
    let put = azure
        .start_deployment(token, &d.group, "bad", &bad, &cluster_parameters())
        .await?;
    assert_eq!(
        (put.status, put.error_code()),
        (400, "InvalidTemplate"),
        "{}",
        put.body
    );
    let reason = put.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        reason.contains("The template function 'shinynewfunction' is not valid"),
        "{reason}"
    );
    let mut refused: Value = serde_json::from_str(TEMPLATE)?;
    refused["resources"][2]["properties"]["enableRbacAuthorization"] = json!(false);
    let put = azure
        .start_deployment(token, &d.group, "refused", &refused, &cluster_parameters())
        .await?;
    assert_eq!(put.status, 201, "{}", put.body);
    let url = put
        .header("azure-asyncoperation")
        .unwrap_or_default()
        .to_owned();
    let status = azure.wait_async(token, &url).await?;
    assert_eq!(status["status"], "Failed", "{status}");
    assert_eq!(status["error"]["code"], "DeploymentFailed");
    let cause = status["error"]["details"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(cause.contains("enableRbacAuthorization"), "{cause}");
    let ops = azure
        .arm(
            Some(token),
            Method::GET,
            &format!("{base}/providers/Microsoft.Resources/deployments/refused/operations?api-version={RESOURCES_VERSION}"),
            None,
            &[],
        )
        .await?;
    let failed: Vec<&Value> = ops.body["value"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|op| op["properties"]["provisioningState"] == "Failed")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(failed.len(), 1, "{}", ops.body);
    assert_eq!(failed[0]["properties"]["statusCode"], "BadRequest");
    assert_eq!(
        failed[0]["properties"]["targetResource"]["resourceType"],
        "Microsoft.KeyVault/vaults"
    );

    // An unknown resource type, or a missing parameter, is refused before anything runs.
    let mut unknown: Value = serde_json::from_str(TEMPLATE)?;
    if let Some(resources) = unknown["resources"].as_array_mut() {
        resources.push(
            json!({"type": "Microsoft.Contoso/widgets", "apiVersion": "2020-01-01", "name": "w"}),
        );
    }
    let put = azure
        .start_deployment(token, &d.group, "unknown", &unknown, &cluster_parameters())
        .await?;
    assert_eq!(put.status, 400, "{}", put.body);
    assert_eq!(put.error_code(), "InvalidResourceType");
    let template: Value = serde_json::from_str(TEMPLATE)?;
    let put = azure
        .start_deployment(token, &d.group, "noparams", &template, &json!({}))
        .await?;
    assert_eq!(put.status, 400, "{}", put.body);
    assert_eq!(put.error_code(), "InvalidTemplate");
    assert!(put.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("'clusterName' is not provided"));

    // No token, a forged one, or no api-version: refused.
    let path = format!("{base}?api-version={RESOURCES_VERSION}");
    let a = azure.arm(None, Method::GET, &path, None, &[]).await?;
    assert_eq!(a.status, 401);
    assert!(a.header("www-authenticate").is_some());
    let forged = format!("{}x", &token[..token.len() - 1]);
    let a = azure
        .arm(Some(&forged), Method::GET, &path, None, &[])
        .await?;
    assert_eq!(
        (a.status, a.error_code()),
        (401, "InvalidAuthenticationToken")
    );
    let a = azure
        .arm(Some(token), Method::GET, &base, None, &[])
        .await?;
    assert_eq!(
        (a.status, a.error_code()),
        (400, "MissingApiVersionParameter")
    );
    Ok(())
}

#[tokio::test]
async fn the_load_balancer_and_dns_record_sets_refuse_stale_etags() -> anyhow::Result<()> {
    let d = deployed(cluster_parameters()).await?;
    let (azure, token) = (&d.azure, d.token.as_str());
    let base = azure.group_path(&d.group);
    let lb_path = format!(
        "{base}/providers/Microsoft.Network/loadBalancers/{}-lb?api-version={NETWORK_VERSION}",
        d.cluster
    );

    // Read, change, write under the etag read: accepted, with a new etag.
    let lb = azure
        .arm(Some(token), Method::GET, &lb_path, None, &[])
        .await?;
    let first = lb.body["etag"].as_str().unwrap_or_default().to_owned();
    let mut changed = lb.body.clone();
    if let Some(probes) = changed["properties"]["probes"].as_array_mut() {
        probes.push(json!({"name": "port-8080", "properties": {"protocol": "Tcp", "port": 8080}}));
    }
    let put = azure
        .arm(
            Some(token),
            Method::PUT,
            &lb_path,
            Some(&changed),
            &[("If-Match", &first)],
        )
        .await?;
    assert_eq!(put.status, 200, "{}", put.body);
    assert!(put.header("azure-asyncoperation").is_some());
    let second = put.body["etag"].as_str().unwrap_or_default().to_owned();
    assert_ne!(first, second);

    // A writer still holding the first etag loses, and changes nothing.
    let put = azure
        .arm(
            Some(token),
            Method::PUT,
            &lb_path,
            Some(&lb.body),
            &[("If-Match", &first)],
        )
        .await?;
    assert_eq!(
        (put.status, put.error_code()),
        (412, "PreconditionFailed"),
        "{}",
        put.body
    );
    assert_eq!(
        put.body["error"]["details"][0]["code"],
        "PreconditionFailedEtagMismatch"
    );
    let now = azure
        .arm(Some(token), Method::GET, &lb_path, None, &[])
        .await?;
    assert_eq!(now.body["etag"], second.as_str());
    assert_eq!(
        now.body["properties"]["probes"].as_array().map(Vec::len),
        Some(3)
    );

    // A rule naming a probe the load balancer does not have is refused.
    let mut dangling = now.body.clone();
    dangling["properties"]["loadBalancingRules"][0]["properties"]["probe"]["id"] = json!(format!(
        "{}/probes/nope",
        now.body["id"].as_str().unwrap_or_default()
    ));
    let put = azure
        .arm(
            Some(token),
            Method::PUT,
            &lb_path,
            Some(&dangling),
            &[("If-Match", &second)],
        )
        .await?;
    assert_eq!(
        (put.status, put.error_code()),
        (400, "InvalidResourceReference"),
        "{}",
        put.body
    );

    // DNS: created only if absent, replaced only under its current etag.
    let zone = format!("{}.swarm.internal", d.cluster);
    let record = format!(
        "{base}/providers/Microsoft.Network/privateDnsZones/{zone}/A/leader?api-version={PRIVATE_DNS_VERSION}"
    );
    let body = |ip: &str| json!({"properties": {"ttl": 60, "aRecords": [{"ipv4Address": ip}]}});
    let created = azure
        .arm(
            Some(token),
            Method::PUT,
            &record,
            Some(&body("10.0.0.4")),
            &[("If-None-Match", "*")],
        )
        .await?;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.body["properties"]["fqdn"],
        format!("leader.{zone}.")
    );
    let etag = created.body["etag"].as_str().unwrap_or_default().to_owned();
    assert!(
        !etag.is_empty() && !etag.starts_with("W/"),
        "DNS etags are bare: {etag}"
    );
    let again = azure
        .arm(
            Some(token),
            Method::PUT,
            &record,
            Some(&body("10.0.0.5")),
            &[("If-None-Match", "*")],
        )
        .await?;
    assert_eq!(
        (again.status, again.error_code()),
        (412, "PreconditionFailed")
    );
    let moved = azure
        .arm(
            Some(token),
            Method::PUT,
            &record,
            Some(&body("10.0.0.6")),
            &[("If-Match", &etag)],
        )
        .await?;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let stale = azure
        .arm(
            Some(token),
            Method::PUT,
            &record,
            Some(&body("10.0.0.7")),
            &[("If-Match", &etag)],
        )
        .await?;
    assert_eq!(
        (stale.status, stale.error_code()),
        (412, "PreconditionFailed")
    );
    let read = azure
        .arm(Some(token), Method::GET, &record, None, &[])
        .await?;
    assert_eq!(
        read.body["properties"]["aRecords"][0]["ipv4Address"],
        "10.0.0.6"
    );
    // A record set in a zone that does not exist: its parent is not found.
    let orphan = format!(
        "{base}/providers/Microsoft.Network/privateDnsZones/nozone.internal/A/x?api-version={PRIVATE_DNS_VERSION}"
    );
    let a = azure
        .arm(
            Some(token),
            Method::PUT,
            &orphan,
            Some(&body("10.0.0.8")),
            &[],
        )
        .await?;
    assert_eq!((a.status, a.error_code()), (404, "ParentResourceNotFound"));
    Ok(())
}

async fn vault_token(
    azure: &AzureLab,
    group: &str,
    name: &str,
) -> anyhow::Result<(Identity, String)> {
    // The template's identities are lab identities named `{group}.{resource name}`.
    let ident = azure.identity(&format!("{group}.{name}")).await?;
    let token = azure.token(&ident, KEY_VAULT_RESOURCE).await?.access_token;
    Ok((ident, token))
}

#[tokio::test]
async fn a_worker_identity_reads_its_own_token_secret_and_not_the_managers() -> anyhow::Result<()> {
    let d = deployed(cluster_parameters()).await?;
    let azure = &d.azure;
    let vault = d.outputs["vaultUri"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, worker) = vault_token(azure, &d.group, &format!("{}-worker", d.cluster)).await?;
    let (_, functions) = vault_token(azure, &d.group, &format!("{}-functions", d.cluster)).await?;

    let own = azure
        .secret(&worker, &vault, Method::GET, "worker-token", None)
        .await?;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["value"], "not-yet-a-token");
    assert!(own.body["id"]
        .as_str()
        .unwrap_or_default()
        .starts_with(&format!("{vault}secrets/worker-token/")));

    let theirs = azure
        .secret(&worker, &vault, Method::GET, "manager-token", None)
        .await?;
    assert_eq!(
        (theirs.status, theirs.error_code()),
        (403, "Forbidden"),
        "{}",
        theirs.body
    );
    assert_eq!(
        theirs.body["error"]["innererror"]["code"],
        "ForbiddenByRbac"
    );
    assert!(!theirs.body.to_string().contains("not-yet-a-token"));
    let write = azure
        .secret(
            &worker,
            &vault,
            Method::PUT,
            "worker-token",
            Some(&json!({"value": "forged"})),
        )
        .await?;
    assert_eq!(write.status, 403, "{}", write.body);

    // The functions' identity (Secrets Officer on the vault) writes both; the worker
    // then reads the new worker token.
    for name in ["manager-token", "worker-token"] {
        let put = azure
            .secret(
                &functions,
                &vault,
                Method::PUT,
                name,
                Some(&json!({"value": format!("{name}-v2")})),
            )
            .await?;
        assert_eq!(put.status, 200, "{}", put.body);
    }
    let own = azure
        .secret(&worker, &vault, Method::GET, "worker-token", None)
        .await?;
    assert_eq!(own.body["value"], "worker-token-v2");

    // Without a token: the challenge that tells a client where to get one.
    let url = format!("{vault}secrets/worker-token?api-version=7.5");
    let a = azure.call("", None, Method::GET, &url, None, &[]).await?;
    assert_eq!(a.status, 401);
    let challenge = a.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains("resource=\"https://vault.azure.net\""),
        "{challenge}"
    );
    // A token for another audience is not a Key Vault token.
    let storage = azure
        .token(
            &azure
                .identity(&format!("{}.{}-worker", d.group, d.cluster))
                .await?,
            "https://storage.azure.com/",
        )
        .await?
        .access_token;
    let a = azure
        .secret(&storage, &vault, Method::GET, "worker-token", None)
        .await?;
    assert_eq!(a.status, 401);
    Ok(())
}

#[tokio::test]
async fn a_throttled_call_answers_429_with_retry_after_and_the_next_goes_through(
) -> anyhow::Result<()> {
    let d = deployed(cluster_parameters()).await?;
    let (azure, token) = (&d.azure, d.token.as_str());
    let path = format!(
        "{}/providers/Microsoft.Network/publicIPAddresses/{}-ip?api-version={NETWORK_VERSION}",
        azure.group_path(&d.group),
        d.cluster
    );
    azure
        .throttle("GET Microsoft.Network/publicIPAddresses", 1, 7)
        .await?;
    let a = azure
        .arm(Some(token), Method::GET, &path, None, &[])
        .await?;
    assert_eq!(
        (a.status, a.error_code()),
        (429, "SubscriptionRequestsThrottled"),
        "{}",
        a.body
    );
    assert_eq!(a.header("retry-after"), Some("7"));
    let a = azure
        .arm(Some(token), Method::GET, &path, None, &[])
        .await?;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["properties"]["ipAddress"].as_str().is_some());
    Ok(())
}

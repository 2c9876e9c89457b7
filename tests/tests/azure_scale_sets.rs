//! The Azure lab's Flexible scale sets, against their contracts: a deployed scale set's
//! VMs are real Docker nodes (managed Run Command returns the node's own `docker info`);
//! a capacity change adds a VM that is a node; a VM delete raises a `Terminate` event
//! that the VM sees over IMDS, and the VM goes only once the event is approved
//! (`StartRequests`) or its `NotBefore` passes, one unapproved delete holding back the
//! next; a VM's IMDS gives its identity's tokens; a VM lost without notice goes at once.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use swarmhook_lab_tests::azure::{AzureLab, MANAGEMENT_RESOURCE};
use swarmhook_lab_tests::azure_management::COMPUTE_VERSION;
use swarmhook_lab_tests::wait::until;
use swarmhook_lab_tests::{unique_name, Lab, LabError};

const TEMPLATE: &str = include_str!("../fixtures/templates/azure-lab-scale-set.json");

struct ScaleSet {
    lab: Lab,
    azure: AzureLab,
    token: String,
    group: String,
    id: String,
}

impl ScaleSet {
    async fn deploy(subnet: &str, capacity: u32, notice: &str) -> anyhow::Result<ScaleSet> {
        let lab = Lab::connect().await?;
        let azure = AzureLab::of(&lab)?;
        let operator = azure.identity(&unique_name("operator")).await?;
        let token = azure
            .token(&operator, MANAGEMENT_RESOURCE)
            .await?
            .access_token;
        let group = unique_name("rg");
        azure.resource_group(&token, &group).await?;
        let name = unique_name("vmss");
        let template: Value = serde_json::from_str(TEMPLATE)?;
        let parameters = json!({
            "setName": { "value": name }, "subnetPrefix": { "value": subnet },
            "capacity": { "value": capacity }, "notice": { "value": notice },
        });
        let put = azure
            .start_deployment(&token, &group, "set", &template, &parameters)
            .await?;
        anyhow::ensure!(put.status == 201, "{}", put.body);
        let url = put
            .header("azure-asyncoperation")
            .unwrap_or_default()
            .to_owned();
        let status = azure.wait_async(&token, &url).await?;
        anyhow::ensure!(status["status"] == "Succeeded", "{status}");
        let id = format!(
            "{}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}",
            azure.group_path(&group)
        );
        Ok(ScaleSet {
            lab,
            azure,
            token,
            group,
            id,
        })
    }

    /// The set's VMs, by `$filter` as the product lists them.
    async fn vms(&self) -> Result<Vec<Value>, LabError> {
        let filter = format!("'virtualMachineScaleSet/id' eq '{}'", self.id);
        let url = reqwest::Url::parse_with_params(
            &format!(
                "{}{}/providers/Microsoft.Compute/virtualMachines",
                self.azure.info.management_endpoint,
                self.azure.group_path(&self.group)
            ),
            &[
                ("api-version", COMPUTE_VERSION),
                ("$filter", filter.as_str()),
            ],
        )
        .map_err(|e| LabError::Unexpected(e.to_string()))?;
        let a = self
            .azure
            .arm(Some(&self.token), Method::GET, url.as_str(), None, &[])
            .await?;
        if a.status != 200 {
            return Err(LabError::Unexpected(format!("{} {}", a.status, a.body)));
        }
        Ok(a.body["value"].as_array().cloned().unwrap_or_default())
    }

    /// Waits for `count` VMs, each a node online; their resource ids.
    async fn wait_vms(&self, count: usize) -> anyhow::Result<Vec<String>> {
        let vms = until(
            &format!("{count} VMs in {}", self.id),
            Duration::from_secs(120),
            || async {
                let vms = self.vms().await?;
                let seen = format!("{} VMs", vms.len());
                Ok(((vms.len() == count).then_some(vms), seen))
            },
        )
        .await?;
        let mut ids = Vec::new();
        for vm in vms {
            let name = vm["name"].as_str().unwrap_or_default().to_owned();
            self.lab.wait_online(&name).await?;
            ids.push(vm["id"].as_str().unwrap_or_default().to_owned());
        }
        Ok(ids)
    }

    async fn run(&self, vm: &str, script: &str) -> anyhow::Result<Value> {
        let imds = self.azure.info.imds_endpoint.clone();
        Ok(self
            .azure
            .run_command(&self.token, vm, script, &[("IMDS", imds.as_str())])
            .await?)
    }

    /// The VM's scheduled events, as its node reads them from IMDS.
    async fn events_seen_by(&self, vm: &str) -> anyhow::Result<Value> {
        let view = self
            .run(
                vm,
                r#"curl -sf -m 10 --retry 3 -H Metadata:true "$IMDS/metadata/scheduledevents?api-version=2020-07-01""#,
            )
            .await?;
        anyhow::ensure!(view["exitCode"] == 0, "{view}");
        Ok(serde_json::from_str(
            view["output"].as_str().unwrap_or_default(),
        )?)
    }

    /// Approves the VM's event from the VM itself (IMDS `StartRequests`).
    async fn approve_from(&self, vm: &str, event: &str) -> anyhow::Result<()> {
        let body = json!({ "StartRequests": [{ "EventId": event }] }).to_string();
        let script = format!(
            "curl -sf -m 10 --retry 3 -X POST -H Metadata:true -d '{body}' \"$IMDS/metadata/scheduledevents?api-version=2020-07-01\""
        );
        let view = self.run(vm, &script).await?;
        anyhow::ensure!(view["exitCode"] == 0, "{view}");
        Ok(())
    }

    async fn delete(&self, vm: &str) -> anyhow::Result<()> {
        let a = self
            .azure
            .arm(
                Some(&self.token),
                Method::DELETE,
                &format!("{vm}?api-version={COMPUTE_VERSION}"),
                None,
                &[],
            )
            .await?;
        anyhow::ensure!(a.status == 202, "{} {}", a.status, a.body);
        Ok(())
    }

    async fn exists(&self, vm: &str) -> Result<bool, LabError> {
        let a = self
            .azure
            .arm(
                Some(&self.token),
                Method::GET,
                &format!("{vm}?api-version={COMPUTE_VERSION}"),
                None,
                &[],
            )
            .await?;
        Ok(a.status == 200)
    }

    async fn wait_gone(&self, vm: &str) -> anyhow::Result<()> {
        until(&format!("{vm} gone"), Duration::from_secs(90), || async {
            let there = self.exists(vm).await?;
            Ok(((!there).then_some(()), format!("exists: {there}")))
        })
        .await?;
        let name = vm.rsplit('/').next().unwrap_or_default();
        self.lab.wait_node_gone(name).await?;
        Ok(())
    }
}

fn terminate_event(events: &Value, vm_name: &str) -> Option<String> {
    events["Events"].as_array()?.iter().find_map(|e| {
        (e["EventType"] == "Terminate" && e["Resources"][0] == vm_name)
            .then(|| e["EventId"].as_str().unwrap_or_default().to_owned())
    })
}

#[tokio::test]
async fn a_scale_sets_vms_are_real_nodes_and_a_capacity_change_adds_one() -> anyhow::Result<()> {
    let set = ScaleSet::deploy("10.200.200.0/24", 2, "PT5M").await?;
    let vms = set.wait_vms(2).await?;

    // Run Command runs on the VM's own node: its docker info names the node.
    for vm in &vms {
        let name = vm.rsplit('/').next().unwrap_or_default();
        let node = set.lab.node(name).await?.unwrap_or_default();
        let view = set
            .run(
                vm,
                "docker info --format '{{.Name}} {{.Swarm.LocalNodeState}} {{.ServerVersion}}'",
            )
            .await?;
        assert_eq!(view["executionState"], "Succeeded", "{view}");
        assert_eq!(view["exitCode"], 0);
        let out = view["output"].as_str().unwrap_or_default();
        let hostname = node["hostname"].as_str().unwrap_or_default();
        assert!(
            !hostname.is_empty() && out.starts_with(&format!("{hostname} inactive ")),
            "{out} on {hostname}"
        );
        assert!(node["address"]
            .as_str()
            .unwrap_or_default()
            .starts_with("10.200.200."));
    }

    // A failing script: its exit code and its error output, the last 4 KB of each.
    let view = set
        .run(
            &vms[0],
            "head -c 6000 /dev/zero | tr '\\0' x; echo; echo oops >&2; exit 3",
        )
        .await?;
    assert_eq!(view["executionState"], "Failed", "{view}");
    assert_eq!(view["exitCode"], 3);
    assert_eq!(view["error"], "oops\n");
    assert_eq!(view["output"].as_str().map(str::len), Some(4096));
    // Without $expand, no instanceView.
    let list = set
        .azure
        .arm(
            Some(&set.token),
            Method::GET,
            &format!("{}/runCommands?api-version={COMPUTE_VERSION}", vms[0]),
            None,
            &[],
        )
        .await?;
    let first = &list.body["value"][0];
    assert!(first["properties"]["instanceView"].is_null(), "{first}");

    // More capacity: one more VM, a node too.
    let patch = json!({ "sku": { "capacity": 3 } });
    let a = set
        .azure
        .arm(
            Some(&set.token),
            Method::PATCH,
            &format!("{}?api-version={COMPUTE_VERSION}", set.id),
            Some(&patch),
            &[],
        )
        .await?;
    assert_eq!(a.status, 200, "{}", a.body);
    let after = set.wait_vms(3).await?;
    assert!(vms.iter().all(|v| after.contains(v)), "{vms:?} {after:?}");

    // The VM's identity, from its IMDS; without the Metadata header, refused.
    let view = set
        .run(
            &vms[0],
            r#"curl -sf -H Metadata:true "$IMDS/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net"; echo; curl -s -o /dev/null -w '%{http_code}' "$IMDS/metadata/instance?api-version=2021-02-01""#,
        )
        .await?;
    assert_eq!(view["exitCode"], 0, "{view}");
    let out = view["output"].as_str().unwrap_or_default();
    let (token_line, refused) = out.split_once('\n').unwrap_or_default();
    let token: Value = serde_json::from_str(token_line)?;
    assert_eq!(token["resource"], "https://vault.azure.net");
    assert_eq!(token["token_type"], "Bearer");
    let identity = set
        .azure
        .identity(&format!(
            "{}.{}-node",
            set.group,
            set.id.rsplit('/').next().unwrap_or_default()
        ))
        .await?;
    assert_eq!(token["client_id"], identity.client_id.as_str());
    assert_eq!(refused, "400");

    Ok(())
}

#[tokio::test]
async fn a_deleted_vm_is_told_over_imds_and_goes_only_when_approved_or_its_notice_runs_out(
) -> anyhow::Result<()> {
    let set = ScaleSet::deploy("10.200.201.0/24", 3, "PT20S").await?;
    let vms = set.wait_vms(3).await?;
    let name = |vm: &str| vm.rsplit('/').next().unwrap_or_default().to_owned();
    let (a, b, c) = (&vms[0], &vms[1], &vms[2]);

    // A delete raises a Terminate event the VM sees; the VM stays meanwhile.
    set.delete(a).await?;
    let events = set.events_seen_by(a).await?;
    let a_event = terminate_event(&events, &name(a))
        .ok_or_else(|| anyhow::anyhow!("no Terminate event for {a}: {events}"))?;
    let not_before = events["Events"][0]["NotBefore"]
        .as_str()
        .unwrap_or_default();
    assert!(not_before.ends_with(" GMT"), "RFC 1123: {not_before}");
    assert_eq!(events["Events"][0]["EventStatus"], "Scheduled");
    // Another VM sees no event of a's.
    assert_eq!(
        terminate_event(&set.events_seen_by(c).await?, &name(a)),
        None
    );

    // A second delete waits behind the first: approved, it still does not go while
    // a's event is unapproved.
    set.delete(b).await?;
    let b_event = terminate_event(&set.events_seen_by(b).await?, &name(b))
        .ok_or_else(|| anyhow::anyhow!("no Terminate event for {b}"))?;
    set.approve_from(b, &b_event).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        set.exists(b).await?,
        "b went while a's delete was unapproved"
    );
    assert!(set.exists(a).await?);

    // a approves: a goes, then b.
    set.approve_from(a, &a_event).await?;
    set.wait_gone(a).await?;
    set.wait_gone(b).await?;
    assert!(set.exists(c).await?);

    // c is deleted and never approves: it goes once NotBefore passes (20 s), not before.
    set.delete(c).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(set.exists(c).await?, "c went before its notice ran out");
    set.wait_gone(c).await?;
    // The set's capacity followed the deletes.
    let s = set
        .azure
        .arm(
            Some(&set.token),
            Method::GET,
            &format!("{}?api-version={COMPUTE_VERSION}", set.id),
            None,
            &[],
        )
        .await?;
    assert_eq!(s.body["sku"]["capacity"], 0, "{}", s.body);
    Ok(())
}

#[tokio::test]
async fn a_vm_lost_without_notice_goes_at_once() -> anyhow::Result<()> {
    let set = ScaleSet::deploy("10.200.202.0/24", 1, "PT5M").await?;
    let vms = set.wait_vms(1).await?;
    set.azure.lose_vm(&vms[0]).await?;
    assert!(!set.exists(&vms[0]).await?);
    set.lab
        .wait_node_gone(vms[0].rsplit('/').next().unwrap_or_default())
        .await?;
    assert!(set.vms().await?.is_empty());
    Ok(())
}

//! A swarm on Azure in the lab: the tests' deployment (identities with their roles, Key
//! Vault, storage, the scale sets whose custom data is the product's node agent, the
//! private DNS zone) and the product's Function app (the real handler binary and the
//! app's host.json and function.json files) started in the lab's Functions host with the
//! app settings the template gives it; then what a test asks of it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::azure::{AzureLab, MANAGEMENT_RESOURCE};
use crate::azure_management::COMPUTE_VERSION;
use crate::wait::until;
use crate::{unique_name, Lab, LabError};

const TEMPLATE: &str = include_str!("../fixtures/templates/azure-swarm.json");
const STORAGE_RESOURCE: &str = "https://storage.azure.com/";
const STORAGE_VERSION: &str = "2025-11-05";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// custom-data.sh with the agent inlined (its other @…@ settings the template fills in).
pub fn node_script() -> Result<String, LabError> {
    let read = |p: &str| {
        std::fs::read_to_string(repo().join(p))
            .map_err(|e| LabError::Unexpected(format!("reading {p}: {e}")))
    };
    let agent =
        base64::engine::general_purpose::STANDARD.encode(read("infra/azure/node/agent.py")?);
    Ok(read("infra/azure/node/custom-data.sh")?.replace("@AGENT_BASE64@", &agent))
}

/// The app's package as a folder: host.json, the function folders, and the handler.
pub fn app_package() -> Result<PathBuf, LabError> {
    let dir = std::env::temp_dir().join(unique_name("azure-app"));
    let io = |e: std::io::Error| LabError::Unexpected(format!("assembling the app package: {e}"));
    let app = repo().join("functions/azure/app");
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::copy(app.join("host.json"), dir.join("host.json")).map_err(io)?;
    for entry in std::fs::read_dir(&app).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.path().is_dir() {
            let to = dir.join(entry.file_name());
            std::fs::create_dir_all(&to).map_err(io)?;
            std::fs::copy(entry.path().join("function.json"), to.join("function.json"))
                .map_err(io)?;
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let handler = target.join("debug/swarmhook-azure-handler");
    std::fs::copy(&handler, dir.join("handler")).map_err(|e| {
        LabError::Unexpected(format!(
            "copying {} (cargo build builds it): {e}",
            handler.display()
        ))
    })?;
    Ok(dir)
}

pub struct AzureSwarm {
    pub lab: Lab,
    pub azure: AzureLab,
    pub token: String,
    pub group: String,
    pub cluster: String,
    pub app: String,
    pub outputs: Value,
    pub managers: u32,
    pub workers: u32,
}

impl AzureSwarm {
    /// Deploys the swarm's resources and starts the app.
    pub async fn deploy(
        subnet: &str,
        managers: u32,
        workers: u32,
        notice: &str,
    ) -> Result<AzureSwarm, LabError> {
        let lab = Lab::connect().await?;
        let azure = AzureLab::of(&lab)?;
        let operator = azure.identity(&unique_name("operator")).await?;
        let token = azure
            .token(&operator, MANAGEMENT_RESOURCE)
            .await?
            .access_token;
        let group = unique_name("rg");
        azure.resource_group(&token, &group).await?;
        let cluster = unique_name("sw")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect::<String>();
        let template: Value =
            serde_json::from_str(TEMPLATE).map_err(|e| LabError::Unexpected(e.to_string()))?;
        let parameters = json!({
            "clusterName": { "value": cluster }, "subnetPrefix": { "value": subnet },
            "managers": { "value": managers }, "workers": { "value": workers },
            "nodeScript": { "value": node_script()? }, "notice": { "value": notice },
        });
        let put = azure
            .start_deployment(&token, &group, "swarm", &template, &parameters)
            .await?;
        if put.status != 201 {
            return Err(LabError::Unexpected(format!(
                "deploying: {} {}",
                put.status, put.body
            )));
        }
        let url = put
            .header("azure-asyncoperation")
            .unwrap_or_default()
            .to_owned();
        let status = azure.wait_async(&token, &url).await?;
        if status["status"] != "Succeeded" {
            return Err(LabError::Unexpected(format!("the deployment: {status}")));
        }
        let deployment = azure
            .arm(
                Some(&token),
                Method::GET,
                &format!(
                    "{}/providers/Microsoft.Resources/deployments/swarm?api-version={}",
                    azure.group_path(&group),
                    crate::azure_management::RESOURCES_VERSION
                ),
                None,
                &[],
            )
            .await?;
        let outputs = deployment.body["properties"]["outputs"].clone();
        let out = |k: &str| outputs[k]["value"].as_str().unwrap_or_default().to_owned();
        let app = format!("{cluster}-fn");
        let mut settings = Map::new();
        let mut set = |k: &str, v: String| {
            settings.insert(k.to_owned(), Value::from(v));
        };
        set("SWARMHOOK_CLUSTER", cluster.clone());
        set(
            "SWARMHOOK_ARM_ENDPOINT",
            azure.info.management_endpoint.clone(),
        );
        set("SWARMHOOK_SUBSCRIPTION", azure.info.subscription_id.clone());
        set("SWARMHOOK_RESOURCE_GROUP", group.clone());
        set("SWARMHOOK_LOCATION", azure.info.location.clone());
        set("SWARMHOOK_MANAGER_SET", out("managerSet"));
        set("SWARMHOOK_WORKER_SET", out("workerSet"));
        set("SWARMHOOK_BLOB_ENDPOINT", out("blobEndpoint"));
        set("SWARMHOOK_QUEUE_ENDPOINT", out("queueEndpoint"));
        set("SWARMHOOK_VAULT_URI", out("vaultUri"));
        set("SWARMHOOK_DNS_ZONE", out("dnsZone"));
        set("SWARMHOOK_MANAGERS_RECORD", "managers".into());
        set("SWARMHOOK_MANAGERS", managers.to_string());
        set("SWARMHOOK_WORKERS", workers.to_string());
        set("SWARMHOOK_READY_QUEUE", out("readyQueue"));
        set("SWARMHOOK_LEAVING_QUEUE", out("leavingQueue"));
        set("SWARMHOOK_RECONCILE_QUEUE", format!("{cluster}-reconcile"));
        set("SWARMHOOK_RECONCILE_SCHEDULE", "0 */5 * * * *".into());
        set("SWARMHOOK_RECONCILE_DELAY_SECONDS", "5".into());
        // A dead engine is repaired after 30 s (the least the handler takes), not 3 minutes.
        set("SWARMHOOK_DEAD_NODE_SECONDS", "30".into());
        set("AZURE_CLIENT_ID", out("functionClientId"));
        set("RUST_LOG", "info".into());
        azure
            .start_app(&app, &app_package()?, &out("functionIdentity"), &settings)
            .await?;
        Ok(AzureSwarm {
            lab,
            azure,
            token,
            group,
            cluster,
            app,
            outputs,
            managers,
            workers,
        })
    }

    pub fn output(&self, key: &str) -> String {
        self.outputs[key]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// What the `formed` function answers: its status and body.
    pub async fn formed(&self) -> Result<(u16, Value), LabError> {
        let url = format!(
            "{}/{}/api/formed",
            self.azure.info.functions_http_endpoint, self.app
        );
        let r = self.azure.https.get(&url).send().await;
        let r = match r {
            Ok(r) => r,
            Err(_) => reqwest::Client::new()
                .get(&url)
                .send()
                .await
                .map_err(LabError::Status)?,
        };
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Waits until `formed` answers 200, printing its progress.
    pub async fn until_formed(&self, timeout: Duration) -> Result<Value, LabError> {
        until(
            "the swarm formed (the formed function answers 200)",
            timeout,
            || async {
                let (status, body) = self.formed().await?;
                Ok((
                    (status == 200).then(|| body.clone()),
                    format!("{status} {body}"),
                ))
            },
        )
        .await
    }

    /// The VMs of a scale set (`managerSet` or `workerSet`), by name.
    pub async fn vms(&self, set_output: &str) -> Result<Vec<String>, LabError> {
        let set_id = format!(
            "{}/providers/Microsoft.Compute/virtualMachineScaleSets/{}",
            self.azure.group_path(&self.group),
            self.output(set_output)
        );
        let path = format!(
            "{}/providers/Microsoft.Compute/virtualMachines?api-version={COMPUTE_VERSION}&$filter={}",
            self.azure.group_path(&self.group),
            format!("'virtualMachineScaleSet/id' eq '{set_id}'").replace(' ', "%20").replace('\'', "%27")
        );
        let a = self
            .azure
            .arm(Some(&self.token), Method::GET, &path, None, &[])
            .await?;
        let mut names: Vec<String> = a.body["value"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|vm| vm["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    /// Sets a scale set's capacity (PATCH `sku.capacity`, as the portal's scaling does).
    pub async fn scale(&self, set_output: &str, capacity: u32) -> Result<(), LabError> {
        let path = format!(
            "{}/providers/Microsoft.Compute/virtualMachineScaleSets/{}?api-version={COMPUTE_VERSION}",
            self.azure.group_path(&self.group),
            self.output(set_output)
        );
        let body = json!({ "sku": { "capacity": capacity } });
        let a = self
            .azure
            .arm(Some(&self.token), Method::PATCH, &path, Some(&body), &[])
            .await?;
        if !(200..300).contains(&a.status) {
            return Err(LabError::Unexpected(format!(
                "scaling {set_output}: {} {}",
                a.status, a.body
            )));
        }
        Ok(())
    }

    /// The custom-data log of a VM (its agent's output).
    pub fn agent_log(&self, vm: &str) -> String {
        let path = Path::new(&self.lab.info.run_dir)
            .join("nodes")
            .join(vm)
            .join("custom-data.log");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    pub fn vm_id(&self, vm: &str) -> String {
        format!(
            "{}/providers/Microsoft.Compute/virtualMachines/{vm}",
            self.azure.group_path(&self.group)
        )
    }

    /// A script's standard output on a VM (managed Run Command).
    pub async fn on_vm(&self, vm: &str, script: &str) -> Result<String, LabError> {
        let view = self
            .azure
            .run_command(&self.token, &self.vm_id(vm), script, &[])
            .await?;
        Ok(view["output"].as_str().unwrap_or_default().to_owned())
    }

    /// `docker node ls` on a manager: (hostname, status, manager status) per node.
    pub async fn swarm_nodes(
        &self,
        manager: &str,
    ) -> Result<Vec<(String, String, String)>, LabError> {
        let out = self
            .on_vm(
                manager,
                "docker node ls --format '{{.Hostname}}|{{.Status}}|{{.ManagerStatus}}'",
            )
            .await?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut parts = l.split('|');
                Some((
                    parts.next()?.to_owned(),
                    parts.next()?.to_owned(),
                    parts.next().unwrap_or("").to_owned(),
                ))
            })
            .collect())
    }

    async fn storage_token(&self) -> Result<String, LabError> {
        let who = self.azure.identity(&unique_name("tester")).await?;
        Ok(self.azure.token(&who, STORAGE_RESOURCE).await?.access_token)
    }

    /// Puts a message (its text base64, as the agents write it) on one of the node queues.
    pub async fn put_message(&self, queue: &str, text: &str) -> Result<(), LabError> {
        let url = format!(
            "{}/{queue}/messages",
            self.output("queueEndpoint").trim_end_matches('/')
        );
        let body = format!(
            "<QueueMessage><MessageText>{}</MessageText></QueueMessage>",
            base64::engine::general_purpose::STANDARD.encode(text)
        );
        let token = self.storage_token().await?;
        // The queue, made if no one has yet (as an agent does).
        let queue_url = format!(
            "{}/{queue}",
            self.output("queueEndpoint").trim_end_matches('/')
        );
        self.azure
            .https
            .put(&queue_url)
            .bearer_auth(&token)
            .header("x-ms-version", STORAGE_VERSION)
            .send()
            .await
            .map_err(LabError::Status)?;
        let r = self
            .azure
            .https
            .post(&url)
            .bearer_auth(&token)
            .header("x-ms-version", STORAGE_VERSION)
            .body(body)
            .send()
            .await
            .map_err(LabError::Status)?;
        if r.status().as_u16() != 201 {
            return Err(LabError::Unexpected(format!(
                "putting a message on {queue}: {}",
                r.status()
            )));
        }
        Ok(())
    }

    /// How many messages a queue shows now (peeked: the visible ones, up to 32).
    pub async fn queue_depth(&self, queue: &str) -> Result<usize, LabError> {
        let url = format!(
            "{}/{queue}/messages?peekonly=true&numofmessages=32",
            self.output("queueEndpoint").trim_end_matches('/')
        );
        let r = self
            .azure
            .https
            .get(&url)
            .bearer_auth(self.storage_token().await?)
            .header("x-ms-version", STORAGE_VERSION)
            .send()
            .await
            .map_err(LabError::Status)?;
        let text = r.text().await.map_err(LabError::Status)?;
        Ok(text.matches("<QueueMessage>").count())
    }

    /// The cluster's record, as the store's blob holds it.
    pub async fn record(&self) -> Result<Value, LabError> {
        let url = format!(
            "{}/swarmhook/{}.json",
            self.output("blobEndpoint").trim_end_matches('/'),
            self.cluster
        );
        let r = self
            .azure
            .https
            .get(&url)
            .bearer_auth(self.storage_token().await?)
            .header("x-ms-version", STORAGE_VERSION)
            .send()
            .await
            .map_err(LabError::Status)?;
        r.json().await.map_err(LabError::Status)
    }

    /// Everything the app and the VMs' agents wrote: the handler's and the functions'
    /// logs, and each VM's custom-data log.
    pub fn logs(&self) -> String {
        let run = Path::new(&self.lab.info.run_dir);
        let mut all = String::new();
        let mut read_dir = |dir: PathBuf, name_ends: &str| {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    let log = path.join(name_ends);
                    all += &std::fs::read_to_string(&log).unwrap_or_default();
                } else if path.to_string_lossy().ends_with(".log") {
                    all += &std::fs::read_to_string(&path).unwrap_or_default();
                }
            }
        };
        read_dir(run.join("functions/azure").join(&self.app), "");
        read_dir(run.join("nodes"), "custom-data.log");
        all
    }
}

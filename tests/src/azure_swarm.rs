//! A swarm on Azure in the lab, deployed as a user deploys it: the operator's
//! `publish-azure` puts the Function app's package, the product's template and its portal
//! form in the lab's Azurite; the template is read back from its published URL (as the
//! portal reads it) and deployed with the answers a user gives. The deployment runs the
//! Function app from the published package and succeeds only once its deployment script
//! has seen the swarm formed. Then what a test asks of it.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};

use crate::azure::{AzureLab, MANAGEMENT_RESOURCE};
use crate::azure_management::{COMPUTE_VERSION, RESOURCES_VERSION};
use crate::{unique_name, Lab, LabError};

const STORAGE_RESOURCE: &str = "https://storage.azure.com/";
const STORAGE_VERSION: &str = "2025-11-05";
const STORAGE_ACCOUNTS_VERSION: &str = "2023-05-01";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What `publish-azure` published (its record).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PublishedApp {
    pub version: String,
    pub package_url: String,
    pub template_url: String,
    pub form_url: String,
    pub deploy_url: String,
}

/// Runs the operator's `publish-azure` against the lab (`make publish-azure ACCOUNT=lab`)
/// under `prefix`: the packaged app (`make package`), the template, the portal form.
pub fn publish_app(prefix: &str) -> Result<PublishedApp, LabError> {
    let root = repo();
    let record = std::env::temp_dir().join(format!("{prefix}-azure-published.json"));
    let out = Command::new(root.join("target/lab/venv/bin/python"))
        .args([
            "-m",
            "swarmlab",
            "publish-azure",
            "--prefix",
            prefix,
            "--record",
        ])
        .arg(&record)
        .current_dir(root.join("infra/lab"))
        .env("PYTHONPATH", ".")
        .output()
        .map_err(|e| LabError::Unexpected(format!("running publish-azure: {e}")))?;
    if !out.status.success() {
        return Err(LabError::Unexpected(format!(
            "publish-azure failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = std::fs::read_to_string(&record)
        .map_err(|e| LabError::Unexpected(format!("reading {}: {e}", record.display())))?;
    serde_json::from_str(&text).map_err(|e| LabError::Unexpected(format!("the record: {e}")))
}

/// The answers a user gives the portal's form, as the deployment's parameters.
pub struct Answers<'a> {
    pub address_prefix: &'a str,
    pub managers: u32,
    pub workers: u32,
    pub notice_minutes: u32,
}

pub struct AzureSwarm {
    pub lab: Lab,
    pub azure: AzureLab,
    pub token: String,
    pub group: String,
    pub cluster: String,
    pub app: String,
    /// The deployment's outputs, and what a test derives from the deployment (the
    /// storage account's endpoints, the queues' names), each as `{"value": …}`.
    pub outputs: Value,
    pub managers: u32,
    pub workers: u32,
    pub published: PublishedApp,
    /// The deployment as ARM answered once it finished.
    pub deployment: Value,
}

impl AzureSwarm {
    /// Publishes the app, deploys the published template with these answers, and waits
    /// for the deployment (Succeeded only once the swarm has formed).
    pub async fn deploy(
        subnet: &str,
        managers: u32,
        workers: u32,
        notice_minutes: u32,
    ) -> Result<AzureSwarm, LabError> {
        let answers = Answers {
            address_prefix: subnet,
            managers,
            workers,
            notice_minutes,
        };
        let swarm = AzureSwarm::start(&answers).await?;
        let state = swarm.deployment["properties"]["provisioningState"].clone();
        if state != "Succeeded" {
            return Err(LabError::Unexpected(format!(
                "the deployment: {state}: {}",
                swarm.deployment["properties"]["error"]
            )));
        }
        Ok(swarm)
    }

    /// Publishes, deploys and waits for the deployment to finish, whatever its outcome.
    pub async fn start(answers: &Answers<'_>) -> Result<AzureSwarm, LabError> {
        let lab = Lab::connect().await?;
        let azure = AzureLab::of(&lab)?;
        let cluster = unique_name("sw")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect::<String>();
        let published = publish_app(&cluster)?;
        // The portal reads the template from its URL, anonymously.
        let r = azure
            .https
            .get(&published.template_url)
            .send()
            .await
            .map_err(LabError::Status)?;
        if !r.status().is_success() {
            return Err(LabError::Unexpected(format!(
                "reading the published template: {}",
                r.status()
            )));
        }
        let template: Value = r.json().await.map_err(LabError::Status)?;
        let operator = azure.identity(&unique_name("operator")).await?;
        let token = azure
            .token(&operator, MANAGEMENT_RESOURCE)
            .await?
            .access_token;
        let group = unique_name("rg");
        azure.resource_group(&token, &group).await?;
        let parameters = json!({
            "clusterName": { "value": cluster },
            "addressPrefix": { "value": answers.address_prefix },
            "managerCount": { "value": answers.managers },
            "workerCount": { "value": answers.workers },
            "terminateNoticeMinutes": { "value": answers.notice_minutes },
            "sshPublicKey": { "value": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILabLabLabLabLabLabLabLabLabLabLabLabLabLabLab lab" },
            "formationTimeoutMinutes": { "value": 10 },
            // A dead engine is repaired after 30 s (the least the template takes), not 3 minutes.
            "repairAfterSeconds": { "value": 30 },
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
        azure.wait_async(&token, &url).await?;
        let deployment = azure
            .arm(
                Some(&token),
                Method::GET,
                &format!(
                    "{}/providers/Microsoft.Resources/deployments/swarm?api-version={RESOURCES_VERSION}",
                    azure.group_path(&group),
                ),
                None,
                &[],
            )
            .await?
            .body;
        let mut outputs = deployment["properties"]["outputs"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let accounts = azure
            .arm(
                Some(&token),
                Method::GET,
                &format!(
                    "{}/providers/Microsoft.Storage/storageAccounts?api-version={STORAGE_ACCOUNTS_VERSION}",
                    azure.group_path(&group)
                ),
                None,
                &[],
            )
            .await?
            .body;
        let endpoints = &accounts["value"][0]["properties"]["primaryEndpoints"];
        let mut derive = |k: &str, v: Value| {
            outputs.insert(k.to_owned(), json!({ "value": v }));
        };
        derive("blobEndpoint", endpoints["blob"].clone());
        derive("queueEndpoint", endpoints["queue"].clone());
        derive("readyQueue", Value::from(format!("{cluster}-node-ready")));
        derive(
            "leavingQueue",
            Value::from(format!("{cluster}-node-leaving")),
        );
        derive("dnsZone", Value::from(format!("{cluster}.swarm.internal")));
        let app = outputs
            .get("functionApp")
            .and_then(|v| v["value"].as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(AzureSwarm {
            lab,
            azure,
            token,
            group,
            cluster,
            app,
            outputs: Value::Object(outputs),
            managers: answers.managers,
            workers: answers.workers,
            published,
            deployment,
        })
    }

    pub fn output(&self, key: &str) -> String {
        self.outputs[key]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
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

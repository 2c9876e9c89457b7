//! A connection to the running lab: its AWS endpoint for the SDK, and its status.

use std::path::PathBuf;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::{wait, LabError};

/// What `swarmlab serve` writes to `target/lab/run/lab.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct LabInfo {
    pub endpoint: String,
    pub region: String,
    pub cidr: String,
    pub run_dir: String,
    /// The Azure lab's endpoints (its storage, its identities), when the lab runs them.
    #[serde(default)]
    pub azure: Option<crate::azure::AzureLabInfo>,
}

#[derive(Debug, Clone)]
pub struct Lab {
    pub info: LabInfo,
    pub sdk: SdkConfig,
    http: reqwest::Client,
}

fn lab_json_path() -> PathBuf {
    match std::env::var_os("SWARMLAB_RUN_DIR") {
        Some(dir) => PathBuf::from(dir).join("lab.json"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/lab/run/lab.json"),
    }
}

/// A name no other test (or earlier run) uses: tests share one lab and run in parallel.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..8])
}

impl Lab {
    pub async fn connect() -> Result<Lab, LabError> {
        let path = lab_json_path();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| LabError::NotRunning {
            path: shown.clone(),
            source,
        })?;
        let info: LabInfo = serde_json::from_str(&text).map_err(|source| LabError::BadLabJson {
            path: shown,
            source,
        })?;
        let credentials =
            aws_sdk_sqs::config::Credentials::new("swarmlab", "swarmlab", None, None, "lab");
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&info.endpoint)
            .region(Region::new(info.region.clone()))
            .credentials_provider(credentials)
            // moto answers an unimplemented call with a 500 the SDK would retry for seconds.
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        Ok(Lab {
            info,
            sdk,
            http: reqwest::Client::new(),
        })
    }

    /// A VPC made through EC2, as a user's own network is; its id.
    pub async fn create_vpc(&self, cidr: &str) -> Result<String, LabError> {
        self.ec2()
            .create_vpc()
            .cidr_block(cidr)
            .send()
            .await
            .map_err(|e| LabError::aws("CreateVpc", e))?
            .vpc()
            .and_then(|v| v.vpc_id())
            .map(str::to_owned)
            .ok_or_else(|| LabError::Unexpected("CreateVpc returned no VPC id".into()))
    }

    /// A subnet of `vpc`, in the given availability zone (or one moto picks); its id.
    pub async fn create_subnet(
        &self,
        vpc: &str,
        cidr: &str,
        zone: Option<String>,
    ) -> Result<String, LabError> {
        self.ec2()
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(cidr)
            .set_availability_zone(zone)
            .send()
            .await
            .map_err(|e| LabError::aws("CreateSubnet", e))?
            .subnet()
            .and_then(|s| s.subnet_id())
            .map(str::to_owned)
            .ok_or_else(|| LabError::Unexpected("CreateSubnet returned no subnet id".into()))
    }

    pub fn autoscaling(&self) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::new(&self.sdk)
    }
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.sdk)
    }
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }
    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// (instance id, lifecycle state) of every instance in an Auto Scaling group.
    pub async fn group_instances(
        &self,
        group: &str,
    ) -> Result<Vec<(String, aws_sdk_autoscaling::types::LifecycleState)>, LabError> {
        let out = self
            .autoscaling()
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(|e| LabError::aws("DescribeAutoScalingGroups", e))?;
        Ok(out
            .auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .filter_map(|i| Some((i.instance_id()?.to_owned(), i.lifecycle_state()?.clone())))
            .collect())
    }

    /// A new queue named after `prefix`; returns its URL.
    pub async fn create_queue(&self, prefix: &str) -> Result<String, LabError> {
        self.sqs()
            .create_queue()
            .queue_name(unique_name(prefix))
            .send()
            .await
            .map_err(|e| LabError::aws("CreateQueue", e))?
            .queue_url()
            .map(str::to_owned)
            .ok_or_else(|| LabError::Unexpected("CreateQueue returned no URL".into()))
    }

    /// The lab's own view: nodes, pending lifecycle actions, functions.
    pub async fn status(&self) -> Result<Value, LabError> {
        self.get("status").await
    }

    /// The AWS calls the functions of one stack have made so far, by `service:action`
    /// (the lab counts each function's calls by the credentials it signs with).
    pub async fn stack_function_calls(
        &self,
        stack: &str,
    ) -> Result<std::collections::BTreeMap<String, u64>, LabError> {
        let report = self.get("api-calls").await?;
        let mut calls = std::collections::BTreeMap::new();
        let prefix = format!("{stack}-");
        let functions = report["by_function"].as_object().ok_or_else(|| {
            LabError::Unexpected(format!(
                "the lab's api-calls report has no by_function: {report}"
            ))
        })?;
        for (function, counts) in functions {
            if !function.starts_with(&prefix) {
                continue;
            }
            for (call, n) in counts.as_object().into_iter().flatten() {
                *calls.entry(call.clone()).or_insert(0) += n.as_u64().unwrap_or(0);
            }
        }
        Ok(calls)
    }

    /// An instance's private address (its node's address in the lab).
    pub async fn private_ip(&self, instance_id: &str) -> Result<String, LabError> {
        let out = self
            .ec2()
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| LabError::aws("DescribeInstances", e))?;
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| i.private_ip_address().map(str::to_owned))
            .ok_or_else(|| LabError::Unexpected(format!("{instance_id} has no private IP")))
    }

    /// Holds a group's launches (a lab knob; the group need not exist yet), or releases
    /// them: the group then launches what it lacks.
    pub async fn hold_launches(&self, group: &str, held: bool) -> Result<(), LabError> {
        self.post(
            "hold-launches",
            serde_json::json!({"group": group, "held": held}),
        )
        .await
    }

    /// Turns on or off the lab's tracing of every process Run Command starts (each run
    /// under strace), clearing what it kept.
    pub async fn trace_execs(&self, on: bool) -> Result<(), LabError> {
        self.post("exec-traces", serde_json::json!({"on": on}))
            .await
    }

    /// Every process Run Command started while tracing was on: its instance and its
    /// arguments, as any process on the node could read them.
    pub async fn traced_execs(&self) -> Result<Vec<(String, Vec<String>)>, LabError> {
        let report = self.get("exec-traces").await?;
        let execs = report["execs"].as_array().ok_or_else(|| {
            LabError::Unexpected(format!("the lab's exec traces have no execs: {report}"))
        })?;
        Ok(execs
            .iter()
            .map(|e| {
                let argv = e["argv"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a.as_str().unwrap_or_default().to_owned())
                    .collect();
                (
                    e["instance_id"].as_str().unwrap_or_default().to_owned(),
                    argv,
                )
            })
            .collect())
    }

    /// The lab's decisions on the nodes' calls under their instance roles, oldest first.
    pub async fn authorizations(&self) -> Result<Vec<Value>, LabError> {
        let report = self.get("authorizations").await?;
        Ok(report["decisions"].as_array().cloned().unwrap_or_default())
    }

    /// GETs one of the lab's own endpoints (`/_lab/<path>`).
    async fn get(&self, path: &str) -> Result<Value, LabError> {
        self.http
            .get(format!("{}/_lab/{path}", self.info.endpoint))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(LabError::Status)?
            .json()
            .await
            .map_err(LabError::Status)
    }

    /// POSTs to one of the lab's own endpoints (`/_lab/<path>`).
    async fn post(&self, path: &str, body: Value) -> Result<(), LabError> {
        self.http
            .post(format!("{}/_lab/{path}", self.info.endpoint))
            .json(&body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(LabError::Status)?;
        Ok(())
    }

    /// Stops an instance's Docker engine, leaving the instance and its agent up (a lab
    /// knob: `make lab-stop-engine`).
    pub async fn stop_engine(&self, instance_id: &str) -> Result<(), LabError> {
        self.post("stop-engine", serde_json::json!({"instance": instance_id}))
            .await
    }

    /// Fires every EventBridge schedule now (`make lab-reconcile`).
    pub async fn fire_schedules(&self) -> Result<(), LabError> {
        self.post("fire-schedules", serde_json::json!({})).await
    }

    /// Terminates an instance outside its group, as from the EC2 console (`make lab-kill`
    /// makes this same call): no hook runs.
    pub async fn kill(&self, instance_id: &str) -> Result<(), LabError> {
        self.ec2()
            .terminate_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| LabError::aws("TerminateInstances", e))?;
        Ok(())
    }

    /// The lab's record of the node playing `instance_id`, if it has one.
    pub async fn node(&self, instance_id: &str) -> Result<Option<Value>, LabError> {
        let status = self.status().await?;
        Ok(status["nodes"].as_array().and_then(|nodes| {
            nodes
                .iter()
                .find(|n| n["instance_id"] == instance_id)
                .cloned()
        }))
    }

    /// Waits until the instance's node answers (its dockerd is up) and SSM sees it Online.
    pub async fn wait_online(&self, instance_id: &str) -> Result<(), LabError> {
        let ssm = self.ssm();
        wait::until(
            &format!("{instance_id} Online in SSM"),
            Duration::from_secs(120),
            || async {
                let out = ssm
                    .describe_instance_information()
                    .filters(
                        aws_sdk_ssm::types::InstanceInformationStringFilter::builder()
                            .key("InstanceIds")
                            .values(instance_id)
                            .build()
                            .map_err(|e| LabError::aws("InstanceInformationStringFilter", e))?,
                    )
                    .send()
                    .await
                    .map_err(|e| LabError::aws("DescribeInstanceInformation", e))?;
                let ping = out
                    .instance_information_list()
                    .first()
                    .and_then(|i| i.ping_status())
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "unknown".into());
                Ok(((ping == "Online").then_some(()), ping))
            },
        )
        .await
    }

    /// Waits until the lab has halted the instance's node and removed its namespace.
    pub async fn wait_node_gone(&self, instance_id: &str) -> Result<(), LabError> {
        let netns = format!("swl-{instance_id}");
        wait::until(
            &format!("node {instance_id} halted"),
            Duration::from_secs(60),
            || async {
                let node = self.node(instance_id).await?;
                let state = node
                    .as_ref()
                    .and_then(|n| n["state"].as_str())
                    .unwrap_or("absent")
                    .to_owned();
                let ns_present = std::path::Path::new("/var/run/netns").join(&netns).exists();
                let gone = (state == "halted" || state == "absent") && !ns_present;
                Ok((
                    gone.then_some(()),
                    format!("state {state}, netns present: {ns_present}"),
                ))
            },
        )
        .await
    }
}

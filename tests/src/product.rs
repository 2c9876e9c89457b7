//! swarmhook's own template in the lab, as a user launches it: the packaged functions and
//! the template published to the lab's S3 (`make publish`), the stack created from the
//! published template's URL, and what a test asks of it.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_autoscaling::types::LifecycleState;
use serde_json::Value;

use swarmhook::cluster::StoreRecord;
use swarmhook::ports::ClusterStore;
use swarmhook_aws::DynamoStore;

use crate::stack::TemplateSource;
use crate::{unique_name, wait, Lab, LabError};

/// What a product stack is asked for.
#[derive(Debug, Clone)]
pub struct ProductSpec<'a> {
    pub stack: String,
    pub subnet_a: &'a str,
    pub subnet_b: &'a str,
    pub managers: u32,
    pub workers: u32,
    /// Other questions answered (parameter, value), beyond the size and the subnets.
    pub answers: Vec<(String, String)>,
}

impl<'a> ProductSpec<'a> {
    pub fn new(subnet_a: &'a str, subnet_b: &'a str, managers: u32, workers: u32) -> Self {
        ProductSpec {
            stack: unique_name("swarm"),
            subnet_a,
            subnet_b,
            managers,
            workers,
            answers: Vec::new(),
        }
    }

    /// The spec with one more question answered.
    pub fn answer(mut self, parameter: &str, value: &str) -> Self {
        self.answers.push((parameter.to_owned(), value.to_owned()));
        self
    }
}

/// A created product stack.
#[derive(Debug, Clone)]
pub struct Product {
    pub stack: String,
    pub stack_id: String,
    pub managers: String,
    pub workers: String,
    /// The published template it was launched from, for updates.
    pub template_url: String,
    /// The stack's parameters, for updates.
    pub params: Vec<(String, String)>,
}

impl Product {
    /// Publishes the release and creates the stack from it, without waiting for it. The
    /// code parameters keep the defaults publishing gave them.
    pub async fn create(lab: &Lab, spec: &ProductSpec<'_>) -> Result<Product, LabError> {
        let published = lab.publish_release(&unique_name("releases"))?;
        let params: Vec<(String, String)> = [
            ("ManagerCount", spec.managers.to_string()),
            ("WorkerCount", spec.workers.to_string()),
            ("ImageId", "ami-12c6146b".into()),
            ("VpcCidr", "10.200.0.0/16".into()),
            ("SubnetACidr", spec.subnet_a.into()),
            ("SubnetBCidr", spec.subnet_b.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(spec.answers.iter().cloned())
        .collect();
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let source = TemplateSource::Url(&published.template_url);
        let stack_id = lab
            .create_stack_from(&spec.stack, source, &borrowed)
            .await?;
        Ok(Product {
            stack: spec.stack.clone(),
            stack_id,
            managers: format!("{}-managers", spec.stack),
            workers: format!("{}-workers", spec.stack),
            template_url: published.template_url,
            params,
        })
    }

    /// Creates the stack and waits for CREATE_COMPLETE (an error for any other end).
    pub async fn launch(lab: &Lab, spec: &ProductSpec<'_>) -> Result<Product, LabError> {
        let product = Product::create(lab, spec).await?;
        let status = lab.settled_status(&product.stack_id).await?;
        if status != "CREATE_COMPLETE" {
            let reasons = lab.stack_event_reasons(&product.stack_id).await?;
            return Err(LabError::Unexpected(format!(
                "stack {}: {status}: {reasons:?}",
                product.stack
            )));
        }
        Ok(product)
    }

    /// Updates the stack with some parameters changed, and returns where it settled.
    pub async fn update(
        &mut self,
        lab: &Lab,
        changes: &[(&str, &str)],
    ) -> Result<String, LabError> {
        for (k, v) in changes {
            match self.params.iter_mut().find(|(name, _)| name == k) {
                Some(p) => p.1 = (*v).to_owned(),
                None => self.params.push(((*k).to_owned(), (*v).to_owned())),
            }
        }
        let borrowed: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let source = TemplateSource::Url(&self.template_url);
        lab.update_stack_from(&self.stack_id, source, &borrowed)
            .await?;
        lab.settled_status(&self.stack_id).await
    }

    /// The instance ids of one of its groups.
    pub async fn ids(&self, lab: &Lab, group: &str) -> Result<Vec<String>, LabError> {
        Ok(lab
            .group_instances(group)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// The first instance of the manager group.
    pub async fn a_manager(&self, lab: &Lab) -> Result<String, LabError> {
        self.ids(lab, &self.managers)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| LabError::Unexpected(format!("{} has no manager", self.stack)))
    }

    /// Sets the worker group's desired capacity.
    pub async fn set_workers(&self, lab: &Lab, n: i32) -> Result<(), LabError> {
        lab.autoscaling()
            .set_desired_capacity()
            .auto_scaling_group_name(&self.workers)
            .desired_capacity(n)
            .send()
            .await
            .map_err(|e| LabError::aws("SetDesiredCapacity", e))?;
        Ok(())
    }

    /// Every instance of both groups, with its lifecycle state.
    pub async fn instances(&self, lab: &Lab) -> Result<Vec<(String, LifecycleState)>, LabError> {
        let mut all = lab.group_instances(&self.managers).await?;
        all.extend(lab.group_instances(&self.workers).await?);
        Ok(all)
    }

    /// Waits until `want` instances are InService, and returns them.
    pub async fn in_service(&self, lab: &Lab, want: usize) -> Result<Vec<String>, LabError> {
        self.in_service_within(lab, want, Duration::from_secs(300))
            .await
    }

    /// As `in_service`, for fleets that take longer than the usual deadline.
    pub async fn in_service_within(
        &self,
        lab: &Lab,
        want: usize,
        timeout: Duration,
    ) -> Result<Vec<String>, LabError> {
        wait::until(&format!("{want} instances InService"), timeout, || async {
            let all = self.instances(lab).await?;
            let ready: Vec<String> = all
                .iter()
                .filter(|(_, s)| *s == LifecycleState::InService)
                .map(|(id, _)| id.clone())
                .collect();
            Ok((
                (ready.len() == want).then(|| ready.clone()),
                format!("{all:?}"),
            ))
        })
        .await
    }

    /// Waits until none of `ids` is in either group any more: each went through its
    /// terminate hook (a removal held behind a join comes back on the queue's back-off,
    /// up to a minute after the join is over).
    pub async fn gone_from_groups(&self, lab: &Lab, ids: &[&String]) -> Result<(), LabError> {
        let what = format!("{ids:?} to leave their groups");
        wait::until(&what, Duration::from_secs(240), || async {
            let all = self.instances(lab).await?;
            let left = all.iter().filter(|(id, _)| ids.contains(&id)).count();
            Ok(((left == 0).then_some(()), format!("{all:?}")))
        })
        .await
    }

    /// The join tokens, read from their parameters (as a node would).
    pub async fn tokens(&self, lab: &Lab) -> Result<Vec<String>, LabError> {
        let mut tokens = Vec::new();
        for role in ["worker", "manager"] {
            let name = format!("/swarmhook/{}/join-token/{role}", self.stack);
            let p = lab
                .ssm()
                .get_parameter()
                .name(&name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| LabError::aws("GetParameter", e))?;
            tokens.push(
                p.parameter()
                    .and_then(|p| p.value())
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        Ok(tokens)
    }

    /// The instance whose node is the swarm's leader, as `manager` sees it.
    pub async fn leader(&self, lab: &Lab, manager: &str) -> Result<String, LabError> {
        let out = lab
            .run_ok(
                manager,
                "docker node ls --format '{{.Hostname}} {{.ManagerStatus}}'",
            )
            .await?;
        let host = out
            .lines()
            .find_map(|l| l.strip_suffix(" Leader"))
            .ok_or_else(|| LabError::Unexpected(format!("no leader in {out}")))?
            .to_owned();
        for (id, _) in lab.group_instances(&self.managers).await? {
            if format!("ip-{}", lab.private_ip(&id).await?.replace('.', "-")) == host {
                return Ok(id);
            }
        }
        Err(LabError::Unexpected(format!(
            "no manager instance is {host}"
        )))
    }

    /// The leader's instance, and another manager's.
    pub async fn leader_and_another(&self, lab: &Lab) -> Result<(String, String), LabError> {
        let managers = self.ids(lab, &self.managers).await?;
        let first = managers
            .first()
            .ok_or_else(|| LabError::Unexpected(format!("{} has no manager", self.stack)))?;
        let leader = self.leader(lab, first).await?;
        let other = managers
            .into_iter()
            .find(|m| *m != leader)
            .ok_or_else(|| LabError::Unexpected(format!("{} has one manager only", self.stack)))?;
        Ok((leader, other))
    }

    /// The cluster's record in the stack's table, as the functions read it.
    pub async fn record(&self, lab: &Lab) -> Result<StoreRecord, LabError> {
        let outputs = lab.stack_outputs(&self.stack_id).await?;
        let table = outputs.get("ClusterTableName").ok_or_else(|| {
            LabError::Unexpected(format!("{}: no ClusterTableName output", self.stack))
        })?;
        let store = DynamoStore::new(lab.dynamodb(), table, &self.stack);
        store
            .load()
            .await
            .map_err(|e| LabError::Unexpected(swarmhook::error_text::with_causes(&e)))
    }

    /// The URL of one of the stack's queues, by its logical id (`LifecycleQueue`,
    /// `LifecycleDeadLetters`): CloudFormation names them.
    pub async fn queue_url(&self, lab: &Lab, logical_id: &str) -> Result<String, LabError> {
        let out = lab
            .cloudformation()
            .describe_stack_resource()
            .stack_name(&self.stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await
            .map_err(|e| LabError::aws("DescribeStackResource", e))?;
        out.stack_resource_detail()
            .and_then(|d| d.physical_resource_id())
            .map(str::to_owned)
            .ok_or_else(|| LabError::Unexpected(format!("{}: no {logical_id}", self.stack)))
    }

    /// The ARN of one of the stack's queues, by its logical id.
    pub async fn queue_arn(&self, lab: &Lab, logical_id: &str) -> Result<String, LabError> {
        let url = self.queue_url(lab, logical_id).await?;
        let out = lab
            .sqs()
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| LabError::aws("GetQueueAttributes", e))?;
        out.attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| LabError::Unexpected(format!("{url}: no QueueArn")))
    }

    /// The function's log lines (both functions, every worker) for this stack.
    pub fn function_logs(&self, lab: &Lab) -> Result<String, LabError> {
        let dir = std::path::Path::new(&lab.info.run_dir).join("functions");
        let mut text = String::new();
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| LabError::Unexpected(format!("{}: {e}", dir.display())))?
        {
            let entry = entry.map_err(|e| LabError::Unexpected(e.to_string()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&self.stack) && name.ends_with(".log") {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        Ok(text)
    }
}

/// The lab's completions of terminate actions.
pub async fn terminations(lab: &Lab) -> Result<Vec<Value>, LabError> {
    let status = lab.status().await?;
    Ok(status["lifecycle"]["completed"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["transition"] == "autoscaling:EC2_INSTANCE_TERMINATING")
        .collect())
}

/// Each instance's launch action was completed exactly once, with CONTINUE, by token,
/// and no second completion was tried.
pub async fn completed_once_by_token(lab: &Lab, instances: &[String]) -> Result<(), LabError> {
    let status = lab.status().await?;
    let completed = status["lifecycle"]["completed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for id in instances {
        let mine: Vec<&Value> = completed
            .iter()
            .filter(|c| c["instance_id"] == id.as_str())
            .collect();
        if mine.len() != 1 || mine[0]["result"] != "CONTINUE" || mine[0]["by"] != "token" {
            return Err(LabError::Unexpected(format!(
                "{id} was not completed once with CONTINUE by token: {mine:?}"
            )));
        }
    }
    Ok(())
}

/// The cluster ids the instances' engines report (managers know it; workers do not); an
/// error if any instance is not in a swarm.
pub async fn cluster_ids(lab: &Lab, instances: &[String]) -> Result<BTreeSet<String>, LabError> {
    let mut ids = BTreeSet::new();
    for id in instances {
        let out = lab
            .run_ok(id, "docker info --format '{{json .Swarm}}'")
            .await?;
        let info: Value = serde_json::from_str(out.trim())
            .map_err(|e| LabError::Unexpected(format!("{id}: docker info: {e}")))?;
        if info["LocalNodeState"] != "active" {
            return Err(LabError::Unexpected(format!(
                "{id} is not in a swarm: {info}"
            )));
        }
        if let Some(c) = info["Cluster"]["ID"].as_str() {
            ids.insert(c.to_owned());
        }
    }
    Ok(ids)
}

/// A second EventBridge rule with the stack's pattern into its lifecycle queue: EventBridge
/// delivers each lifecycle event once per matching rule, so the function gets every event
/// twice.
pub struct DuplicateEvents {
    rule: String,
}

impl DuplicateEvents {
    /// Creates the stack with every event duplicated from the first launch on: its groups'
    /// launches are held until the rule is in place (the queue's name is CloudFormation's
    /// choice, known only once the stack exists). Does not wait for the stack.
    pub async fn from_the_start(
        lab: &Lab,
        spec: &ProductSpec<'_>,
    ) -> Result<(Product, DuplicateEvents), LabError> {
        let groups = [
            format!("{}-managers", spec.stack),
            format!("{}-workers", spec.stack),
        ];
        for group in &groups {
            lab.hold_launches(group, true).await?;
        }
        let created = async {
            let product = Product::create(lab, spec).await?;
            let duplicates = DuplicateEvents::for_product(lab, &product).await?;
            Ok::<_, LabError>((product, duplicates))
        }
        .await;
        // Released whatever happened: a held group would keep the stack from settling.
        for group in &groups {
            lab.hold_launches(group, false).await?;
        }
        created
    }

    /// Duplicates the events of a stack's groups from now on.
    pub async fn for_product(lab: &Lab, product: &Product) -> Result<DuplicateEvents, LabError> {
        let queue = product.queue_arn(lab, "LifecycleQueue").await?;
        let events = aws_sdk_eventbridge::Client::new(&lab.sdk);
        let pattern = serde_json::json!({
            "source": ["aws.autoscaling"],
            "detail": {"AutoScalingGroupName": [&product.managers, &product.workers]}
        });
        let rule = unique_name("duplicate");
        events
            .put_rule()
            .name(&rule)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .map_err(|e| LabError::aws("PutRule", e))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("again")
            .arn(queue)
            .build()
            .map_err(|e| LabError::Unexpected(e.to_string()))?;
        events
            .put_targets()
            .rule(&rule)
            .targets(target)
            .send()
            .await
            .map_err(|e| LabError::aws("PutTargets", e))?;
        Ok(DuplicateEvents { rule })
    }

    pub async fn remove(self, lab: &Lab) -> Result<(), LabError> {
        let events = aws_sdk_eventbridge::Client::new(&lab.sdk);
        events
            .remove_targets()
            .rule(&self.rule)
            .ids("again")
            .send()
            .await
            .map_err(|e| LabError::aws("RemoveTargets", e))?;
        events
            .delete_rule()
            .name(&self.rule)
            .send()
            .await
            .map_err(|e| LabError::aws("DeleteRule", e))?;
        Ok(())
    }
}

//! The fleet port over two Flexible scale sets: their VMs are ordinary VMs that name their
//! set (`properties.virtualMachineScaleSet.id`). Nothing waits on a launch; a leave waits
//! on the VM's agent, which approves its Terminate event once the fleet leaves the VM a
//! release mark. A leaving notice is believed only when the VM's own Scheduled Events say
//! so (one Run Command, only for the VM a notice names).

use azure_core::http::Method;
use serde::Deserialize;
use serde_json::json;
use swarmhook::cluster::{GroupMember, MemberState, Role};
use swarmhook::plan::LifecycleResult;
use swarmhook::ports::{ActionOutcome, ActionRef, Fleet, InstanceFacts, NodeEngine, PortError};

use crate::arm::{valid_vm_name, ArmScope, COMPUTE_API, NETWORK_API};
use crate::client::{Audience, AzureClient};
use crate::error::{port_error, shape_error};
use crate::notices::{
    leaving_in, release_blob, release_marks_in, scheduled_events_probe, RELEASE_PREFIX,
};
use crate::run_command::RunCommandEngine;
use crate::storage::{storage_headers, storage_url};

/// The hook names the Azure functions give their events.
pub const READY_HOOK: &str = "node-ready";
pub const LEAVING_HOOK: &str = "node-leaving";

pub struct ScaleSetFleet {
    client: AzureClient,
    scope: ArmScope,
    manager_set: String,
    worker_set: String,
    engine: RunCommandEngine,
    /// The store's container URL: release marks go there.
    container: String,
    /// The VM a leaving notice names, whose Scheduled Events are read to confirm it.
    confirm_leaving_of: Option<String>,
}

#[derive(Deserialize)]
struct VmList {
    #[serde(default)]
    value: Vec<Vm>,
    #[serde(rename = "nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct Vm {
    name: String,
    /// The availability zone, when the set spreads its VMs over zones.
    #[serde(default)]
    zones: Vec<String>,
    #[serde(default)]
    properties: VmProperties,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VmProperties {
    provisioning_state: Option<String>,
    virtual_machine_scale_set: Option<IdRef>,
    network_profile: Option<NetworkProfile>,
}

#[derive(Deserialize)]
struct IdRef {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkProfile {
    #[serde(default)]
    network_interfaces: Vec<IdRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Nic {
    properties: NicProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NicProperties {
    #[serde(default)]
    ip_configurations: Vec<IpConfiguration>,
}

#[derive(Deserialize)]
struct IpConfiguration {
    properties: IpProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpProperties {
    #[serde(rename = "privateIPAddress")]
    private_ip_address: Option<String>,
    #[serde(default)]
    primary: Option<bool>,
}

#[derive(Deserialize)]
struct ScaleSet {
    sku: Option<Sku>,
    #[serde(default)]
    properties: ScaleSetProperties,
}

#[derive(Deserialize)]
struct Sku {
    capacity: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ScaleSetProperties {
    provisioning_state: Option<String>,
}

fn state_of(provisioning: Option<&str>) -> MemberState {
    match provisioning.unwrap_or("") {
        "Creating" => MemberState::Pending,
        "Succeeded" | "Updating" => MemberState::InService,
        "Deleting" => MemberState::Terminating,
        _ => MemberState::Other,
    }
}

impl ScaleSetFleet {
    pub fn new(
        client: AzureClient,
        scope: ArmScope,
        manager_set: impl Into<String>,
        worker_set: impl Into<String>,
        engine: RunCommandEngine,
        blob_endpoint: &str,
        container: &str,
    ) -> Self {
        ScaleSetFleet {
            client,
            scope,
            manager_set: manager_set.into(),
            worker_set: worker_set.into(),
            engine,
            container: storage_url(blob_endpoint, container),
            confirm_leaving_of: None,
        }
    }

    /// This fleet confirms `vm`'s leaving notice with the VM's own Scheduled Events.
    pub fn confirming_leaving_of(mut self, vm: &str) -> Self {
        self.confirm_leaving_of = Some(vm.to_owned());
        self
    }

    fn role_of(&self, set_id: Option<&str>) -> Option<Role> {
        let set = set_id?.rsplit('/').next()?;
        if set.eq_ignore_ascii_case(&self.manager_set) {
            Some(Role::Manager)
        } else if set.eq_ignore_ascii_case(&self.worker_set) {
            Some(Role::Worker)
        } else {
            None
        }
    }

    async fn get(
        &self,
        operation: &'static str,
        url: &str,
        target: &str,
    ) -> Result<Option<crate::client::Answer>, PortError> {
        let answer = self
            .client
            .send(Audience::Management, Method::Get, url, &[], None)
            .await
            .map_err(|e| port_error(operation, target, e))?;
        match answer.status {
            404 => Ok(None),
            _ if answer.ok() => Ok(Some(answer)),
            _ => Err(port_error(operation, target, answer.unexpected())),
        }
    }

    async fn vms_of(
        &self,
        set: &str,
        role: Role,
        into: &mut Vec<GroupMember>,
    ) -> Result<(), PortError> {
        let filter = format!(
            "'virtualMachineScaleSet/id' eq '{}'",
            self.scope.scale_set_id(set)
        );
        let list = self.scope.url(
            &self.scope.resource_id("Microsoft.Compute/virtualMachines"),
            COMPUTE_API,
        );
        let mut next = Some(format!("{list}&$filter={}", encode(&filter)));
        while let Some(url) = next.take() {
            let Some(answer) = self.get("listing a scale set's VMs", &url, set).await? else {
                return Ok(());
            };
            let page: VmList = answer
                .json()
                .map_err(|e| shape_error("listing a scale set's VMs", set, e.to_string()))?;
            for vm in page.value {
                // The filter is the server's; the set is checked here too.
                let in_set = self.role_of(
                    vm.properties
                        .virtual_machine_scale_set
                        .as_ref()
                        .map(|s| s.id.as_str()),
                );
                if in_set == Some(role) {
                    into.push(GroupMember {
                        instance_id: vm.name,
                        role,
                        state: state_of(vm.properties.provisioning_state.as_deref()),
                        placement: vm.zones.first().cloned(),
                        cloud_state: vm.properties.provisioning_state.clone(),
                    });
                }
            }
            next = page.next_link;
        }
        Ok(())
    }

    async fn address_of(&self, vm: &Vm) -> Result<Option<String>, PortError> {
        let Some(nic) = vm
            .properties
            .network_profile
            .as_ref()
            .and_then(|p| p.network_interfaces.first())
        else {
            return Ok(None);
        };
        let url = self.scope.url(&nic.id, NETWORK_API);
        let Some(answer) = self
            .get("reading a VM's network interface", &url, &vm.name)
            .await?
        else {
            return Ok(None);
        };
        let nic: Nic = answer.json().map_err(|e| {
            shape_error("reading a VM's network interface", &vm.name, e.to_string())
        })?;
        let configs = &nic.properties.ip_configurations;
        let primary = configs
            .iter()
            .find(|c| c.properties.primary == Some(true))
            .or_else(|| configs.first());
        Ok(primary.and_then(|c| c.properties.private_ip_address.clone()))
    }

    /// Whether the VM's own Scheduled Events hold a Terminate or Preempt for it.
    async fn vm_says_leaving(&self, vm: &str) -> Result<bool, PortError> {
        match self.engine.run(vm, &scheduled_events_probe()).await? {
            Some(out) if out.exit_code == 0 => Ok(leaving_in(&out.stdout, vm).unwrap_or(false)),
            Some(out) => {
                tracing::warn!(
                    exit_code = out.exit_code,
                    "the VM's Scheduled Events could not be read"
                );
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// The VMs released to leave: their release marks. A Terminate event is the VM's own
    /// to see (ARM still says the VM has Succeeded), so a released VM is otherwise
    /// indistinguishable from one in service.
    async fn released(&self) -> Result<Vec<String>, PortError> {
        let base = format!(
            "{}?restype=container&comp=list&prefix={}",
            self.container,
            encode(RELEASE_PREFIX)
        );
        let mut released = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let url = match &marker {
                None => base.clone(),
                Some(m) => format!("{base}&marker={}", encode(m)),
            };
            let answer = self
                .client
                .send(
                    Audience::Storage,
                    Method::Get,
                    &url,
                    &storage_headers(),
                    None,
                )
                .await
                .map_err(|e| port_error("listing the release marks", &self.container, e))?;
            if answer.status == 404 {
                // No container yet: nothing was released.
                return Ok(released);
            }
            if !answer.ok() {
                return Err(port_error(
                    "listing the release marks",
                    &self.container,
                    answer.unexpected(),
                ));
            }
            let (vms, next) = release_marks_in(&String::from_utf8_lossy(&answer.body));
            released.extend(vms);
            match next {
                Some(next) => marker = Some(next),
                None => return Ok(released),
            }
        }
    }

    /// Removes the release mark of a VM that is gone (best effort: a mark left behind is
    /// removed by the next listing).
    async fn forget_release(&self, vm: &str) {
        let url = format!("{}/{}", self.container, release_blob(vm));
        let result = self
            .client
            .send(
                Audience::Storage,
                Method::Delete,
                &url,
                &storage_headers(),
                None,
            )
            .await;
        match result {
            Ok(answer) if answer.ok() || answer.status == 404 => {}
            Ok(answer) => tracing::warn!(vm, status = answer.status, "a release mark stays"),
            Err(e) => tracing::warn!(vm, error = %e, "a release mark stays"),
        }
    }

    async fn release(&self, vm: &str) -> Result<(), PortError> {
        let url = format!("{}/{}", self.container, release_blob(vm));
        let mut headers = storage_headers();
        headers.push(("x-ms-blob-type", "BlockBlob".to_owned()));
        headers.push(("content-type", "application/json".to_owned()));
        let body = serde_json::to_vec(&json!({"vm": vm})).unwrap_or_default();
        let answer = self
            .client
            .send(Audience::Storage, Method::Put, &url, &headers, Some(body))
            .await
            .map_err(|e| port_error("releasing a VM to leave", vm, e))?;
        if answer.ok() {
            Ok(())
        } else {
            Err(port_error(
                "releasing a VM to leave",
                vm,
                answer.unexpected(),
            ))
        }
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Fleet for ScaleSetFleet {
    async fn members(&self) -> Result<Vec<GroupMember>, PortError> {
        let mut members = Vec::new();
        self.vms_of(&self.manager_set, Role::Manager, &mut members)
            .await?;
        self.vms_of(&self.worker_set, Role::Worker, &mut members)
            .await?;
        // A released VM is leaving, whatever ARM says, until it is gone; then its mark goes.
        for vm in self.released().await? {
            match members.iter_mut().find(|m| m.instance_id == vm) {
                Some(member) => member.state = MemberState::Terminating,
                None => self.forget_release(&vm).await,
            }
        }
        Ok(members)
    }

    async fn swarm_deleting(&self) -> Result<bool, PortError> {
        let url = self
            .scope
            .url(&self.scope.scale_set_id(&self.manager_set), COMPUTE_API);
        let Some(answer) = self
            .get("reading the managers' scale set", &url, &self.manager_set)
            .await?
        else {
            return Ok(true);
        };
        let set: ScaleSet = answer.json().map_err(|e| {
            shape_error(
                "reading the managers' scale set",
                &self.manager_set,
                e.to_string(),
            )
        })?;
        Ok(
            set.properties.provisioning_state.as_deref() == Some("Deleting")
                || set.sku.and_then(|s| s.capacity) == Some(0),
        )
    }

    #[tracing::instrument(skip_all, fields(vm = %instance_id))]
    async fn describe(&self, instance_id: &str) -> Result<Option<InstanceFacts>, PortError> {
        if !valid_vm_name(instance_id) {
            return Ok(None);
        }
        let url = self.scope.url(&self.scope.vm_id(instance_id), COMPUTE_API);
        let Some(answer) = self.get("describing a VM", &url, instance_id).await? else {
            return Ok(None);
        };
        let vm: Vm = answer
            .json()
            .map_err(|e| shape_error("describing a VM", instance_id, e.to_string()))?;
        let role = self.role_of(
            vm.properties
                .virtual_machine_scale_set
                .as_ref()
                .map(|s| s.id.as_str()),
        );
        let Some(role) = role else {
            return Ok(Some(InstanceFacts {
                role: None,
                lifecycle: None,
                address: None,
            }));
        };
        let mut state = state_of(vm.properties.provisioning_state.as_deref());
        if state == MemberState::InService
            && self.confirm_leaving_of.as_deref() == Some(instance_id)
            && self.vm_says_leaving(instance_id).await?
        {
            state = MemberState::Terminating;
        }
        let address = match role {
            Role::Manager => self.address_of(&vm).await?,
            Role::Worker => None,
        };
        Ok(Some(InstanceFacts {
            role: Some(role),
            lifecycle: Some(state),
            address,
        }))
    }

    async fn complete(
        &self,
        action: &ActionRef,
        result: LifecycleResult,
    ) -> Result<ActionOutcome, PortError> {
        if action.hook == LEAVING_HOOK {
            // The node is out of the swarm (or leaves either way): the agent may approve.
            self.release(&action.instance_id).await?;
            return Ok(ActionOutcome::Done);
        }
        if result == LifecycleResult::Abandon {
            // The VM cannot join: it is repaired as an unhealthy one is.
            self.mark_unhealthy(&action.instance_id).await?;
        }
        Ok(ActionOutcome::Done)
    }

    async fn heartbeat(&self, _action: &ActionRef) -> Result<ActionOutcome, PortError> {
        // Nothing on Azure times out a join; a leave's notice is the agent's to hold.
        Ok(ActionOutcome::Done)
    }

    #[tracing::instrument(skip_all, fields(vm = %instance_id))]
    async fn mark_unhealthy(&self, instance_id: &str) -> Result<(), PortError> {
        if !valid_vm_name(instance_id) {
            return Ok(());
        }
        // The repair Azure's automatic instance repairs call Restart: the VM boots again,
        // and its engine with it.
        let url = self.scope.url(
            &format!("{}/restart", self.scope.vm_id(instance_id)),
            COMPUTE_API,
        );
        let answer = self
            .client
            .send(
                Audience::Management,
                Method::Post,
                &url,
                &[],
                Some(Vec::new()),
            )
            .await
            .map_err(|e| port_error("restarting a VM", instance_id, e))?;
        match answer.status {
            200 | 202 | 404 | 409 => {
                tracing::info!(status = answer.status, "asked for the VM to be restarted");
                Ok(())
            }
            _ => Err(port_error(
                "restarting a VM",
                instance_id,
                answer.unexpected(),
            )),
        }
    }

    async fn signal_ready(&self, _instance_id: &str, _role: Role) -> Result<(), PortError> {
        // The deployment waits on the `formed` function instead of on signals.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vm_and_its_nic_as_arm_answers_them() {
        let vm: Vm = serde_json::from_str(
            r#"{"name":"sw-managers_1a","properties":{"provisioningState":"Succeeded",
                "virtualMachineScaleSet":{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/SW-MANAGERS"},
                "networkProfile":{"networkInterfaces":[{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/n"}]}}}"#,
        )
        .expect("a VM");
        assert_eq!(
            state_of(vm.properties.provisioning_state.as_deref()),
            MemberState::InService
        );
        assert_eq!(state_of(Some("Deleting")), MemberState::Terminating);
        assert_eq!(state_of(Some("Creating")), MemberState::Pending);
        let nic: Nic = serde_json::from_str(
            r#"{"properties":{"ipConfigurations":[{"name":"a","properties":{"privateIPAddress":"10.0.0.9","primary":false}},
                {"name":"b","properties":{"privateIPAddress":"10.0.0.4","primary":true}}]}}"#,
        )
        .expect("a NIC");
        let primary = nic
            .properties
            .ip_configurations
            .iter()
            .find(|c| c.properties.primary == Some(true));
        assert_eq!(
            primary.and_then(|c| c.properties.private_ip_address.as_deref()),
            Some("10.0.0.4")
        );
        assert_eq!(encode("'a/b' eq 'c'"), "%27a%2Fb%27%20eq%20%27c%27");
    }
}

//! Where the cluster's resources are in Azure Resource Manager: the management endpoint,
//! the subscription and the resource group, and the API versions the adapters speak.

/// Compute (VMs, scale sets, Run Command).
pub const COMPUTE_API: &str = "2025-04-01";
/// Network (NICs, load balancers).
pub const NETWORK_API: &str = "2025-05-01";
/// Private DNS zones.
pub const PRIVATE_DNS_API: &str = "2024-06-01";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmScope {
    /// `environment().resourceManager` (https://management.azure.com/ in Azure's cloud).
    pub endpoint: String,
    pub subscription: String,
    pub resource_group: String,
}

impl ArmScope {
    /// `/subscriptions/…/resourceGroups/…`.
    pub fn group_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.resource_group
        )
    }

    /// The id of a resource of the group (`provider_path`: `Microsoft.Compute/virtualMachines/vm1`).
    pub fn resource_id(&self, provider_path: &str) -> String {
        format!("{}/providers/{provider_path}", self.group_id())
    }

    /// The URL of a resource id (or any ARM path), with its API version.
    pub fn url(&self, id: &str, api_version: &str) -> String {
        let sep = if id.contains('?') { '&' } else { '?' };
        format!(
            "{}/{}{sep}api-version={api_version}",
            self.endpoint.trim_end_matches('/'),
            id.trim_start_matches('/')
        )
    }

    pub fn vm_id(&self, vm: &str) -> String {
        self.resource_id(&format!("Microsoft.Compute/virtualMachines/{vm}"))
    }

    pub fn scale_set_id(&self, set: &str) -> String {
        self.resource_id(&format!("Microsoft.Compute/virtualMachineScaleSets/{set}"))
    }
}

/// A VM's name as ARM allows it (letters, digits, `-`, `_`, `.`; at most 64): anything
/// else from outside is refused before it reaches a URL.
pub fn valid_vm_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_names() {
        let scope = ArmScope {
            endpoint: "https://management.azure.com/".into(),
            subscription: "s".into(),
            resource_group: "g".into(),
        };
        assert_eq!(
            scope.url(&scope.vm_id("vm1"), COMPUTE_API),
            "https://management.azure.com/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2025-04-01"
        );
        assert!(valid_vm_name("workers_1a2b3c4d"));
        for bad in ["", "a/b", "a?b", "..", "a b", &"x".repeat(65)] {
            assert!(!valid_vm_name(bad), "{bad}");
        }
    }
}

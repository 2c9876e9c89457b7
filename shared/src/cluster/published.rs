//! What the swarm publishes: each service's ports in ingress mode (the routing mesh makes
//! every node listen on them), as `docker service inspect` reports them.

use serde::{Deserialize, Serialize};

/// A published port's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// One port a service publishes on every node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublishedPort {
    pub port: u16,
    pub transport: Transport,
    /// The service that publishes it (for messages).
    pub service: String,
    /// A certificate the service's labels ask the load balancer to terminate TLS with
    /// (`swarmhook.tls.<port>=<certificate ARN>`); TCP only.
    pub certificate: Option<String>,
}

/// The label a service sets to have its port's listener terminate TLS.
pub fn tls_label(port: u16) -> String {
    format!("swarmhook.tls.{port}")
}

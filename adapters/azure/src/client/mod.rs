//! How the adapters reach Azure: azure_core's pipeline (its retry policy honours 429 and
//! 503 with `Retry-After`, and retries 408, 5xx and lost connections; its bearer-token
//! policy takes tokens from the managed identity) over our reqwest transport, with our
//! own serde types for the dozen REST calls the adapters make.

mod call;
mod credential;
mod transport;

pub use call::{Answer, Audience, AzureClient, CallError};
pub use credential::ManagedIdentity;
pub use transport::{http_client, TransportError};

//! How swarmhook talks to a node's Docker engine: small versioned shell scripts run on
//! the node by the cloud's run-command service, and typed parsers for what they print.
//! Join tokens never appear in a script's text: the node reads its role's token from its
//! parameter or secret with its own identity (`TokenStore`).

mod parse;
mod scripts;
mod token_store;

pub use parse::{
    parse_engine_report, parse_engine_state, parse_join_millis, parse_manager_list,
    parse_node_inspect, parse_published_ports, parse_swarm_census, parse_swarm_view,
    parse_unhealthy_nodes, ParseError, SwarmCensus, SwarmView,
};
pub use scripts::{
    demote_node, drain_node, init_swarm, join_swarm, leave_swarm, probe_engine, publish_tokens,
    published_ports, remove_node, rotate_tokens, swarm_census, swarm_view, ScriptError,
    ENGINE_MARKER, READY_WAIT_SECONDS, SCRIPT_VERSION,
};
pub(crate) use scripts::{header, safe};
pub use token_store::{TokenStore, IMDS_ADDRESS, KEY_VAULT_API_VERSION};

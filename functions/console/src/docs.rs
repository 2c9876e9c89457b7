//! What the console's "Get documentation" shows for this function (`describe`): its
//! parameters, the first `yaml` block of which the console fills in.

pub const DESCRIBE: &str = r#"## swarmhook: the swarm

Shows the swarm this stack runs, read on one of its managers with the stack's own
permissions, whatever its size (a summary, the nodes not serving first, then pages).

### Parameters

`widget` is `nodes` (each node with its machine, zone, lifecycle state and what
swarmhook is doing with it; `page` picks a page of 40), `services` (stacks and services,
replicas, published ports and their load-balancer listeners; a service's name shows its
tasks) or `tasks` (one `service`'s tasks).

### Example parameters
``` yaml
widget: nodes
```
"#;

/// The operations function's documentation.
pub const DESCRIBE_OPERATE: &str = r#"## swarmhook: operate the swarm

Deploys or updates a stack from a pasted compose file, removes a stack, scales a
service, drains a node or makes it active again: each behind a confirmation, run on one
of the swarm's managers with the stack's own permissions, and answered with what Docker
said. Only those allowed to invoke this function (the stack's ConsoleOperatorPolicy)
can use it.

### Example parameters
``` yaml
widget: operations
```
"#;

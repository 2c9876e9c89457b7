//! The operations widget: what came of the last operation, a form to deploy or update a
//! stack from a pasted compose file, each stack with a Remove button, each service with
//! its replicas field and a Scale button, each node with Drain or Activate. Every button
//! asks for confirmation first (the dashboard's `confirmation`), then calls this function.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use swarmhook::console::{NodeRow, SwarmPicture, MAX_COMPOSE_BYTES};

use super::html::{action_body, attr, table, text, STYLE};

/// What the last operation came to.
pub enum Outcome {
    Done { what: String, said: String },
    Failed { what: String, why: String },
}

fn button(label: &str, endpoint: &str, confirmation: &str, body: &Value) -> String {
    let json = action_body(body);
    format!(
        "<a class=\"btn\">{}</a><cwdb-action action=\"call\" display=\"widget\" endpoint=\"{}\" confirmation=\"{}\">{json}</cwdb-action>",
        text(label),
        attr(endpoint),
        attr(confirmation)
    )
}

pub fn banner(result: &Outcome) -> String {
    match result {
        Outcome::Done { what, said } => format!(
            "{STYLE}<p class=\"ok\">Done: {}.</p><pre>{}</pre>",
            text(what),
            text(said)
        ),
        Outcome::Failed { what, why } => format!(
            "{STYLE}<p class=\"bad\">Not done: {}. {}</p>",
            text(what),
            text(why)
        ),
    }
}

fn deploy_form(endpoint: &str) -> String {
    format!(
        "<h4>Deploy or update a stack</h4><form><p>Stack name <input name=\"stack\" size=\"30\" maxlength=\"40\"></p>\
<p><textarea name=\"compose\" rows=\"10\" cols=\"90\" placeholder=\"services:&#10;  web:&#10;    image: nginx:1.27&#10;    ports: ['8080:80']\"></textarea></p></form>\
<p class=\"muted\">A compose file of at most {} KiB; every service from an image. Services of the stack not in the file are removed.</p>{}",
        MAX_COMPOSE_BYTES / 1024,
        button(
            "Deploy",
            endpoint,
            "Deploy this compose file as the stack named above?",
            &json!({"operate": "deploy"})
        )
    )
}

fn node_row(n: &NodeRow, endpoint: &str) -> Vec<String> {
    let action = if n.availability == "Drain" {
        button(
            "Activate",
            endpoint,
            &format!("Let the swarm schedule tasks on {} again?", n.hostname),
            &json!({"operate": "activate", "node": n.node_id}),
        )
    } else {
        button(
            "Drain",
            endpoint,
            &format!("Drain {}? Its tasks move to other nodes.", n.hostname),
            &json!({"operate": "drain", "node": n.node_id}),
        )
    };
    vec![
        text(&n.hostname),
        text(&n.role.to_string()),
        text(&n.status),
        text(&n.availability),
        action,
    ]
}

/// The widget's HTML, with `result` above it when an operation was just carried out.
pub fn render(p: &SwarmPicture, endpoint: &str, result: Option<&Outcome>) -> String {
    let mut out = result.map_or_else(|| STYLE.to_owned(), banner);
    out += &deploy_form(endpoint);
    let stacks: BTreeSet<&str> = p
        .services
        .iter()
        .filter_map(|s| s.stack.as_deref())
        .collect();
    if !stacks.is_empty() {
        out += "<h4>Stacks</h4>";
        let rows: Vec<Vec<String>> = stacks
            .iter()
            .map(|stack| {
                let count = p
                    .services
                    .iter()
                    .filter(|s| s.stack.as_deref() == Some(*stack))
                    .count();
                vec![
                    text(stack),
                    count.to_string(),
                    button(
                        "Remove",
                        endpoint,
                        &format!("Remove stack {stack} and its {count} services?"),
                        &json!({"operate": "remove", "stack": stack}),
                    ),
                ]
            })
            .collect();
        out += &table(&["Stack", "Services", ""], &rows);
    }
    if !p.services.is_empty() {
        out += "<h4>Services</h4><form>";
        let rows: Vec<Vec<String>> = (p.services.iter())
            .map(|s| {
                let scale = if s.mode == "replicated" {
                    format!(
                        "<input name=\"replicas-{}\" value=\"{}\" size=\"4\"> {}",
                        attr(&s.name),
                        s.desired,
                        button(
                            "Scale",
                            endpoint,
                            &format!("Scale {} to the replicas given?", s.name),
                            &json!({"operate": "scale", "service": s.name}),
                        )
                    )
                } else {
                    format!(
                        "<span class=\"muted\">{} mode: not scaled</span>",
                        text(&s.mode)
                    )
                };
                vec![
                    text(&s.name),
                    s.stack.as_deref().map_or_else(|| "—".to_owned(), text),
                    format!("{}/{}", s.running, s.desired),
                    scale,
                ]
            })
            .collect();
        out += &table(&["Service", "Stack", "Replicas", "Scale to"], &rows);
        out += "</form>";
    }
    let mut nodes: Vec<&NodeRow> = p.unhealthy.iter().collect();
    nodes.extend(
        p.nodes
            .iter()
            .filter(|n| !p.unhealthy.iter().any(|u| u.node_id == n.node_id)),
    );
    if !nodes.is_empty() {
        out += "<h4>Nodes</h4>";
        let rows: Vec<Vec<String>> = nodes.iter().map(|n| node_row(n, endpoint)).collect();
        out += &table(&["Hostname", "Role", "Status", "Availability", ""], &rows);
        if p.nodes_total > p.nodes.len() as u32 {
            out += &format!(
                "<p class=\"muted\">The first {} of {} nodes; the nodes widget pages through them all.</p>",
                p.nodes.len(),
                p.nodes_total
            );
        }
    }
    out
}

//! The nodes widget: how many nodes stand where, the machines by zone, the nodes not
//! serving first, then one page of every node with its machine and what swarmhook is
//! doing with it; buttons for the other pages.

use serde_json::json;
use swarmhook::cluster::Role;
use swarmhook::console::{MachineRow, NodeRow, SwarmPicture, NODES_PER_PAGE};

use super::charts::machines_by_zone;
use super::html::{call_action, table, text, STYLE};

const HEADER: [&str; 11] = [
    "Hostname",
    "Node",
    "Role",
    "Status",
    "Availability",
    "Manager status",
    "Engine",
    "Instance",
    "Zone",
    "Lifecycle",
    "swarmhook",
];

fn status_cell(value: &str, good: bool) -> String {
    if good {
        format!("<span class=\"ok\">{}</span>", text(value))
    } else {
        format!("<span class=\"bad\">{}</span>", text(value))
    }
}

fn machine_cells(machine: Option<&MachineRow>) -> [String; 4] {
    let or_dash = |v: Option<&String>| v.map_or_else(|| "—".to_owned(), |v| text(v));
    match machine {
        None => [
            "<span class=\"muted\">not joined by swarmhook</span>".to_owned(),
            "—".to_owned(),
            "—".to_owned(),
            "—".to_owned(),
        ],
        Some(m) => [
            text(&m.instance_id),
            or_dash(m.placement.as_ref()),
            or_dash(m.cloud_state.as_ref()),
            or_dash(m.doing.as_ref()),
        ],
    }
}

fn node_row(n: &NodeRow) -> Vec<String> {
    let short: String = n.node_id.chars().take(12).collect();
    let [instance, zone, lifecycle, doing] = machine_cells(n.machine.as_ref());
    vec![
        text(&n.hostname),
        format!(
            "<span title=\"{}\">{}</span>",
            text(&n.node_id),
            text(&short)
        ),
        text(&n.role.to_string()),
        status_cell(&n.status, n.status == "Ready"),
        status_cell(&n.availability, n.availability == "Active"),
        match &n.manager_status {
            None => "—".to_owned(),
            Some(m) => status_cell(m, m == "Leader" || m == "Reachable"),
        },
        text(&n.engine_version),
        instance,
        zone,
        lifecycle,
        doing,
    ]
}

fn summary(p: &SwarmPicture) -> String {
    let count = |role: Role, serving: bool| -> u32 {
        (p.counts.iter())
            .filter(|c| c.role == role)
            .filter(|c| !serving || (c.status == "Ready" && c.availability == "Active"))
            .map(|c| c.count)
            .sum()
    };
    let (managers, workers) = (count(Role::Manager, false), count(Role::Worker, false));
    let (m_ok, w_ok) = (count(Role::Manager, true), count(Role::Worker, true));
    let flag = |ok: u32, all: u32| if ok == all { "ok" } else { "bad" };
    format!(
        "<p><b>{} nodes</b>: {managers} managers (<span class=\"{}\">{m_ok} Ready and Active</span>), \
{workers} workers (<span class=\"{}\">{w_ok} Ready and Active</span>). \
<span class=\"muted\">Read on manager {}.</span></p>",
        p.nodes_total,
        flag(m_ok, managers),
        flag(w_ok, workers),
        text(&p.reported_by)
    )
}

fn pager(p: &SwarmPicture, endpoint: &str) -> String {
    let pages = p.nodes_total.div_ceil(NODES_PER_PAGE).max(1);
    let mut out = String::from("<p>");
    if p.page > 0 {
        out += "<a class=\"btn\">Previous page</a>";
        out += &call_action(
            endpoint,
            "widget",
            &json!({"widget": "nodes", "page": p.page - 1}),
        );
        out += " ";
    }
    out += &format!(
        "<span class=\"muted\">page {} of {pages}</span>",
        p.page + 1
    );
    if p.page + 1 < pages {
        out += " <a class=\"btn\">Next page</a>";
        out += &call_action(
            endpoint,
            "widget",
            &json!({"widget": "nodes", "page": p.page + 1}),
        );
    }
    out + "</p>"
}

/// The widget's HTML; `endpoint` is this function's ARN, which the page buttons call.
pub fn render(p: &SwarmPicture, endpoint: &str) -> String {
    let mut out = String::from(STYLE);
    out += &summary(p);
    out += &machines_by_zone(&p.machines_by_zone);
    if !p.unhealthy.is_empty() {
        out += "<h4>Not serving</h4>";
        out += &table(
            &HEADER,
            &p.unhealthy.iter().map(node_row).collect::<Vec<_>>(),
        );
    }
    let first = p.page * NODES_PER_PAGE + 1;
    let last = (first + NODES_PER_PAGE - 1).min(p.nodes_total);
    out += &if p.nodes.is_empty() {
        format!(
            "<h4>Nodes</h4><p class=\"muted\">No nodes on page {}.</p>",
            p.page + 1
        )
    } else {
        format!("<h4>Nodes {first}–{last} of {}</h4>", p.nodes_total)
            + &table(&HEADER, &p.nodes.iter().map(node_row).collect::<Vec<_>>())
    };
    out += &pager(p, endpoint);
    if !p.machines_without_node.is_empty() {
        out += "<h4>Machines without a node</h4>";
        let rows: Vec<Vec<String>> = (p.machines_without_node.iter())
            .map(|m| {
                let [instance, zone, lifecycle, doing] = machine_cells(Some(m));
                vec![
                    instance,
                    m.role
                        .map_or_else(|| "—".to_owned(), |r| text(&r.to_string())),
                    zone,
                    lifecycle,
                    doing,
                ]
            })
            .collect();
        out += &table(
            &["Instance", "Role", "Zone", "Lifecycle", "swarmhook"],
            &rows,
        );
    }
    out
}

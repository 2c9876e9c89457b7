//! The services widget: the stacks, then every service (those short of their replicas
//! first) with its replicas as a bar, its published ports and the load balancer's
//! listener for each; a service's name opens its tasks in a popup.

use std::collections::BTreeMap;

use serde_json::json;
use swarmhook::console::{Listener, ServicePort, ServiceRow, SwarmPicture, SERVICES_LISTED};

use super::charts::replicas_bar;
use super::html::{call_action, table, text, STYLE};

fn port_cell(p: &ServicePort) -> String {
    let listener = match &p.listener {
        Listener::Listening { protocol } => {
            format!(
                "<span class=\"ok\">listener {} :{}</span>",
                text(protocol),
                p.published
            )
        }
        Listener::Pending => {
            "<span class=\"muted\">listener at the next reconcile</span>".to_owned()
        }
        Listener::NotBalanced => "<span class=\"muted\">host mode: not balanced</span>".to_owned(),
        Listener::NoBalancer => "<span class=\"muted\">no load balancer</span>".to_owned(),
    };
    format!(
        "{}→{}/{} {listener}",
        p.published,
        p.target,
        text(&p.protocol)
    )
}

fn service_row(s: &ServiceRow, endpoint: &str) -> Vec<String> {
    let name = format!(
        "<a title=\"its tasks\">{}</a>{}",
        text(&s.name),
        call_action(
            endpoint,
            "popup",
            &json!({"widget": "tasks", "service": s.name})
        )
    );
    let replicas = format!(
        "{} <span class=\"{}\">{}/{}</span>",
        replicas_bar(s.running, s.desired),
        if s.running >= s.desired { "ok" } else { "bad" },
        s.running,
        s.desired
    );
    let ports = if s.ports.is_empty() {
        "—".to_owned()
    } else {
        s.ports
            .iter()
            .map(port_cell)
            .collect::<Vec<_>>()
            .join("<br>")
    };
    vec![
        name,
        s.stack.as_deref().map_or_else(|| "—".to_owned(), text),
        text(&s.mode),
        replicas,
        text(&s.image),
        ports,
        s.update_state
            .as_deref()
            .map_or_else(|| "—".to_owned(), text),
    ]
}

fn stacks(services: &[ServiceRow]) -> String {
    let mut by_stack: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
    for s in services {
        if let Some(stack) = s.stack.as_deref() {
            let e = by_stack.entry(stack).or_default();
            e.0 += 1;
            e.1 += s.running;
            e.2 += s.desired;
        }
    }
    if by_stack.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = (by_stack.iter())
        .map(|(stack, (count, running, desired))| {
            vec![
                text(stack),
                count.to_string(),
                format!("{} {running}/{desired}", replicas_bar(*running, *desired)),
            ]
        })
        .collect();
    "<h4>Stacks</h4>".to_owned() + &table(&["Stack", "Services", "Replicas"], &rows)
}

/// The widget's HTML; `endpoint` is this function's ARN, which each service's name calls.
pub fn render(p: &SwarmPicture, endpoint: &str) -> String {
    let mut out = String::from(STYLE);
    let short = (p.services.iter())
        .filter(|s| s.running < s.desired)
        .count();
    out += &format!(
        "<p><b>{} services</b>, <span class=\"{}\">{short} short of their replicas</span>{}. \
<span class=\"muted\">A service's name shows its tasks.</span></p>",
        p.services_total,
        if short == 0 { "ok" } else { "bad" },
        if p.services_total > SERVICES_LISTED {
            format!(" (the first {SERVICES_LISTED} listed, those short first)")
        } else {
            String::new()
        }
    );
    if p.services.is_empty() {
        return out + "<p class=\"muted\">No services run on the swarm.</p>";
    }
    out += &stacks(&p.services);
    out += "<h4>Services</h4>";
    out + &table(
        &[
            "Service",
            "Stack",
            "Mode",
            "Replicas",
            "Image",
            "Published ports",
            "Update",
        ],
        &p.services
            .iter()
            .map(|s| service_row(s, endpoint))
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmhook::console::ServicePort;

    fn picture(stack: &str, image: &str) -> SwarmPicture {
        SwarmPicture {
            reported_by: "i-1".into(),
            counts: vec![],
            nodes_total: 0,
            unhealthy: vec![],
            page: 0,
            nodes: vec![],
            machines_without_node: vec![],
            machines_by_zone: vec![],
            services_total: 1,
            services: vec![ServiceRow {
                id: "s1".into(),
                name: "web".into(),
                stack: Some(stack.into()),
                mode: "replicated".into(),
                running: 1,
                desired: 2,
                image: image.into(),
                ports: vec![ServicePort {
                    published: 8080,
                    target: 80,
                    protocol: "tcp".into(),
                    mode: "ingress".into(),
                    listener: Listener::Listening {
                        protocol: "TCP".into(),
                    },
                }],
                update_state: Some("<i>updating</i>".into()),
            }],
        }
    }

    #[test]
    fn names_from_the_swarm_render_as_text() {
        let html = render(
            &picture("<script>alert(1)</script>", "evil\"><img src=x>"),
            "arn:aws:lambda:r:1:function:f",
        );
        for raw in ["<script>", "<img", "<i>", "evil\">"] {
            assert!(!html.contains(raw), "{raw} in {html}");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("1/2"));
        assert!(html.contains("listener TCP :8080"));
    }
}

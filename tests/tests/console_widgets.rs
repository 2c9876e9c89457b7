//! The dashboard's swarm widgets on a real lab swarm: the console function invoked with
//! the event shapes CloudWatch sends (the widget's parameters beside `widgetContext`; a
//! button's JSON body; `describe`), its HTML parsed (not grepped) and compared with what
//! the swarm's own manager says; names an operator controls rendered as text; malformed
//! and hostile requests refused with a clear answer, changing nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use scraper::{ElementRef, Html, Selector};
use serde_json::{json, Value};
use swarmhook_lab_tests::console::invoke_widget;
use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::tiny_image::{self, TINY_IMAGE};
use swarmhook_lab_tests::{wait, Lab};

/// A label an operator could give a stack: markup, an entity, quotes.
const HOSTILE: &str = "<img src=x onerror=alert(1)><script>alert(2)</script>&amp;\"shop";

fn widget_context(params: &Value) -> Value {
    json!({
        "dashboardName": "swarmhook-test", "widgetId": "widget-1", "accountId": "123456789012",
        "locale": "en", "timezone": {"label": "UTC", "offsetISO": "+00:00", "offsetInMinutes": 0},
        "period": 300, "isAutoPeriod": true,
        "timeRange": {"mode": "relative", "start": 1_700_000_000_000_u64, "end": 1_700_086_400_000_u64, "relativeStart": 86_400_000},
        "theme": "light", "linkCharts": true, "title": "Swarm", "forms": {"all": {}},
        "params": params, "width": 1200, "height": 600
    })
}

/// The widget as the dashboard renders it: its parameters at the top level and
/// `widgetContext` beside them.
fn render_event(params: Value) -> Value {
    let mut event = params.clone();
    event["widgetContext"] = widget_context(&params);
    event
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("selector {css}: {e:?}"))
}

/// An element's text as a person reads it: without the buttons' action bodies, which
/// the dashboard does not show.
fn cell_text(cell: ElementRef<'_>) -> String {
    let mut text = String::new();
    for node in cell.descendants() {
        let Some(t) = node.value().as_text() else {
            continue;
        };
        let in_action = node.ancestors().any(|a| {
            a.value()
                .as_element()
                .is_some_and(|e| e.name() == "cwdb-action")
        });
        if !in_action || cell.value().name() == "cwdb-action" {
            text.push_str(t);
        }
    }
    text.trim().to_owned()
}

/// The table that follows the heading whose text starts with `heading`: its header
/// cells and its rows' cell texts.
fn table_after(doc: &Html, heading: &str) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let h4 = doc
        .select(&sel("h4"))
        .find(|h| cell_text(*h).starts_with(heading))?;
    let table = h4
        .next_siblings()
        .filter_map(ElementRef::wrap)
        .find(|e| e.value().name() == "table")?;
    let header = table.select(&sel("thead th")).map(cell_text).collect();
    let rows = table
        .select(&sel("tbody tr"))
        .map(|tr| tr.select(&sel("td")).map(cell_text).collect())
        .collect();
    Some((header, rows))
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

#[tokio::test]
async fn the_widgets_show_the_swarm_as_its_managers_see_it_and_refuse_what_they_should(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.17.0/24", "10.200.18.0/24", 1, 2);
    let swarm = Product::launch(&lab, &spec).await?;
    let outputs = lab.stack_outputs(&swarm.stack_id).await?;
    let function = outputs
        .get("ConsoleFunctionName")
        .ok_or_else(|| anyhow::anyhow!("no ConsoleFunctionName output: {outputs:?}"))?
        .clone();
    let manager = swarm.a_manager(&lab).await?;
    let managers = swarm.ids(&lab, &swarm.managers).await?;
    let workers = swarm.ids(&lab, &swarm.workers).await?;
    tiny_image::load_on_every_node(&lab, &swarm).await?;
    // A service in a stack with a hostile name, publishing a port; and one that cannot
    // run anywhere (short of its replica, so listed first).
    lab.run_ok(
        &manager,
        &format!(
            "docker service create -d --no-resolve-image --name web --replicas 2 -p 8080:80 \
             --label com.docker.stack.namespace='{HOSTILE}' {TINY_IMAGE} >/dev/null"
        ),
    )
    .await?;
    lab.run_ok(
        &manager,
        &format!("docker service create -d --no-resolve-image --name stuck --constraint node.labels.nowhere==1 {TINY_IMAGE} >/dev/null"),
    )
    .await?;
    wait::until(
        "web's two replicas running",
        Duration::from_secs(90),
        || async {
            let out = lab
                .run_ok(
                    &manager,
                    "docker service ls --filter name=web --format '{{.Replicas}}'",
                )
                .await?;
            Ok(((out.trim() == "2/2").then_some(()), out))
        },
    )
    .await?;

    // The nodes widget, against the manager's own `docker node ls`.
    let html = invoke_widget(&lab, &function, &render_event(json!({"widget": "nodes"}))).await?;
    let doc = Html::parse_fragment(&html);
    let (header, rows) = table_after(&doc, "Nodes 1–3 of 3")
        .ok_or_else(|| anyhow::anyhow!("no nodes table in {html}"))?;
    let listed = lab
        .run_ok(
            &manager,
            "docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}'",
        )
        .await?;
    let expected: BTreeSet<String> = listed.lines().map(str::to_owned).collect();
    let (h, s, a) = (
        column(&header, "Hostname"),
        column(&header, "Status"),
        column(&header, "Availability"),
    );
    let shown: BTreeSet<String> = rows
        .iter()
        .map(|r| format!("{} {} {}", r[h], r[s], r[a]))
        .collect();
    assert_eq!(shown, expected, "{html}");
    let instances: BTreeSet<String> = rows
        .iter()
        .map(|r| r[column(&header, "Instance")].clone())
        .collect();
    let machines: BTreeSet<String> = managers.iter().chain(&workers).cloned().collect();
    assert_eq!(instances, machines, "each node with its machine");
    let roles: Vec<&str> = rows
        .iter()
        .map(|r| r[column(&header, "Role")].as_str())
        .collect();
    assert_eq!(roles.iter().filter(|r| **r == "manager").count(), 1);
    assert!(rows
        .iter()
        .all(|r| r[column(&header, "Lifecycle")] == "InService"));
    assert!(
        table_after(&doc, "Not serving").is_none(),
        "every node serves: {html}"
    );
    assert!(doc.select(&sel("svg rect")).count() >= 2, "the zones' bars");

    // The services widget: the stuck one first, the hostile stack name as text.
    let html = invoke_widget(
        &lab,
        &function,
        &render_event(json!({"widget": "services"})),
    )
    .await?;
    let doc = Html::parse_fragment(&html);
    let (header, rows) = table_after(&doc, "Services")
        .ok_or_else(|| anyhow::anyhow!("no services table in {html}"))?;
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r[column(&header, "Service")].as_str())
        .collect();
    assert_eq!(names, ["stuck", "web"], "{html}");
    let web = &rows[1];
    assert_eq!(web[column(&header, "Stack")], HOSTILE);
    assert_eq!(web[column(&header, "Replicas")], "2/2");
    assert_eq!(rows[0][column(&header, "Replicas")], "0/1");
    assert!(
        web[column(&header, "Published ports")].starts_with("8080→80/tcp"),
        "{web:?}"
    );
    assert_eq!(web[column(&header, "Image")], TINY_IMAGE);
    for tag in ["img", "script"] {
        assert_eq!(doc.select(&sel(tag)).count(), 0, "a <{tag}> in {html}");
    }
    let (stack_header, stacks) =
        table_after(&doc, "Stacks").ok_or_else(|| anyhow::anyhow!("no stacks table in {html}"))?;
    assert_eq!(stacks.len(), 1);
    assert_eq!(stacks[0][column(&stack_header, "Stack")], HOSTILE);

    // A service's name is a button: its body, sent back as a button sends it, is the
    // tasks popup.
    let action = doc
        .select(&sel("cwdb-action"))
        .find(|a| cell_text(*a).contains("\"web\""))
        .ok_or_else(|| anyhow::anyhow!("no action for web in {html}"))?;
    assert_eq!(action.value().attr("action"), Some("call"));
    assert_eq!(action.value().attr("display"), Some("popup"));
    let body: Value = serde_json::from_str(&cell_text(action))?;
    assert_eq!(body, json!({"widget": "tasks", "service": "web"}));
    let mut event = body.clone();
    event["widgetContext"] = widget_context(&json!({"widget": "services"}));
    let html = invoke_widget(&lab, &function, &event).await?;
    let doc = Html::parse_fragment(&html);
    let tasks: Vec<String> = doc
        .select(&sel("tbody tr"))
        .map(|tr| {
            tr.select(&sel("td"))
                .map(cell_text)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(tasks.len(), 2, "{html}");
    assert!(tasks.iter().all(|t| t.contains("Running")), "{tasks:?}");

    // Documentation for the console's editor.
    let docs = invoke_widget(&lab, &function, &json!({"describe": true})).await?;
    assert!(docs.contains("``` yaml\nwidget: nodes"), "{docs}");

    // Malformed and hostile requests: refused, saying why; nothing on the swarm changes.
    let before = lab
        .run_ok(
            &manager,
            "docker node ls -q | sort; docker service ls --format '{{.Name}} {{.Replicas}}' | sort",
        )
        .await?;
    for (event, why) in [
        (json!("nodes"), "not a JSON object"),
        (json!({}), "need \"widget\""),
        (json!({"widget": "drain"}), "there is no widget"),
        (json!({"widget": "nodes", "page": -1}), "\"page\" must be"),
        (json!({"widget": "tasks"}), "needs \"service\""),
        (
            json!({"widget": "tasks", "service": "web; docker swarm leave --force"}),
            "not safe",
        ),
        (
            json!({"widget": "tasks", "service": "$(docker swarm leave -f)"}),
            "not safe",
        ),
        (
            json!({"widget": "tasks", "service": "nosuch"}),
            "no service named",
        ),
    ] {
        let html = invoke_widget(&lab, &function, &event).await?;
        let doc = Html::parse_fragment(&html);
        let said: String = doc
            .select(&sel("p.bad"))
            .map(cell_text)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(said.contains(why), "{event}: {html}");
    }
    let after = lab
        .run_ok(
            &manager,
            "docker node ls -q | sort; docker service ls --format '{{.Name}} {{.Replicas}}' | sort",
        )
        .await?;
    assert_eq!(before, after);
    Ok(())
}

//! The operations dashboard's widget on a real lab swarm: a compose stack deployed from
//! the widget's form, scaled from its replicas field, a node drained and made active
//! again, the stack removed, each through the button the widget draws (its JSON body and
//! the form's fields, as the dashboard sends them) and each state seen in the swarm and
//! in the widgets. Forged and malformed operations are refused with their reason and
//! change nothing; the view function refuses every operation.

use std::time::Duration;

use scraper::{ElementRef, Html, Selector};
use serde_json::{json, Value};
use swarmhook_lab_tests::console::invoke_widget;
use swarmhook_lab_tests::product::{Product, ProductSpec};
use swarmhook_lab_tests::tiny_image::{self, TINY_IMAGE};
use swarmhook_lab_tests::{wait, Lab};

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("selector {css}: {e:?}"))
}

fn text_of(e: ElementRef<'_>) -> String {
    e.text().collect::<String>().trim().to_owned()
}

/// The event a widget button sends: its JSON body, and `widgetContext` with the form's
/// fields.
fn button_event(body: &Value, fields: Value) -> Value {
    let mut event = body.clone();
    event["widgetContext"] = json!({
        "dashboardName": "swarmhook-test-operations", "widgetId": "widget-1",
        "accountId": "123456789012", "params": {"widget": "operations"},
        "forms": {"all": fields}, "width": 1200, "height": 800
    });
    event
}

/// The body of the button labelled `label` whose body mentions `about`, with its
/// confirmation text.
fn button(html: &str, label: &str, about: &str) -> anyhow::Result<(Value, String)> {
    let doc = Html::parse_fragment(html);
    for a in doc.select(&sel("a.btn")) {
        if text_of(a) != label {
            continue;
        }
        let Some(action) = a.next_siblings().find_map(ElementRef::wrap) else {
            continue;
        };
        if action.value().name() != "cwdb-action" {
            continue;
        }
        let body: Value = serde_json::from_str(&text_of(action))?;
        if body.to_string().contains(about) {
            let confirmation = action.value().attr("confirmation").unwrap_or_default();
            anyhow::ensure!(action.value().attr("action") == Some("call"));
            return Ok((body, confirmation.to_owned()));
        }
    }
    anyhow::bail!("no {label} button about {about} in {html}")
}

fn said(html: &str, class: &str) -> String {
    Html::parse_fragment(html)
        .select(&sel(&format!("p.{class}")))
        .map(text_of)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_stack_is_deployed_scaled_and_removed_from_the_widget_and_forgeries_change_nothing(
) -> anyhow::Result<()> {
    let lab = Lab::connect().await?;
    let spec = ProductSpec::new("10.200.24.0/24", "10.200.25.0/24", 1, 2);
    let swarm = Product::launch(&lab, &spec).await?;
    let outputs = lab.stack_outputs(&swarm.stack_id).await?;
    let operate = outputs
        .get("ConsoleOperateFunctionName")
        .ok_or_else(|| anyhow::anyhow!("no ConsoleOperateFunctionName output: {outputs:?}"))?
        .clone();
    let view = outputs["ConsoleFunctionName"].clone();
    let manager = swarm.a_manager(&lab).await?;
    tiny_image::load_on_every_node(&lab, &swarm).await?;
    let replicas = |name: &'static str| {
        let lab = &lab;
        let manager = manager.clone();
        async move {
            lab.run_ok(
                &manager,
                &format!("docker service ls --filter name={name} --format '{{{{.Replicas}}}}'"),
            )
            .await
            .map(|r| r.trim().to_owned())
        }
    };

    // The widget as the dashboard first draws it: the deploy form and its button.
    let html = invoke_widget(
        &lab,
        &operate,
        &button_event(&json!({"widget": "operations"}), json!({})),
    )
    .await?;
    let doc = Html::parse_fragment(&html);
    assert_eq!(
        doc.select(&sel("textarea[name=compose]")).count(),
        1,
        "{html}"
    );
    assert_eq!(doc.select(&sel("input[name=stack]")).count(), 1);
    let (deploy, confirmation) = button(&html, "Deploy", "deploy")?;
    assert!(!confirmation.is_empty(), "a deploy asks first");

    // Deploy from the form.
    let compose = format!(
        "services:\n  web:\n    image: {TINY_IMAGE}\n    deploy:\n      replicas: 2\n    ports:\n      - \"8081:80\"\n"
    );
    let html = invoke_widget(
        &lab,
        &operate,
        &button_event(&deploy, json!({"stack": "shop", "compose": compose})),
    )
    .await?;
    assert!(
        said(&html, "ok").contains("Done: deploy stack shop (1 service)"),
        "{html}"
    );
    wait::until("shop_web 2/2", Duration::from_secs(90), || async {
        let r = replicas("shop_web").await?;
        Ok(((r == "2/2").then_some(()), r))
    })
    .await?;
    let html = invoke_widget(
        &lab,
        &operate,
        &button_event(&json!({"widget": "operations"}), json!({})),
    )
    .await?;
    let (remove, _) = button(&html, "Remove", "shop")?;
    let (scale, confirmation) = button(&html, "Scale", "shop_web")?;
    assert!(confirmation.contains("shop_web"), "{confirmation}");
    let field = Html::parse_fragment(&html)
        .select(&sel("input[name=replicas-shop_web]"))
        .next()
        .and_then(|i| i.value().attr("value").map(str::to_owned));
    assert_eq!(field.as_deref(), Some("2"));

    // Scale from its field; the view shows it.
    let html = invoke_widget(
        &lab,
        &operate,
        &button_event(&scale, json!({"replicas-shop_web": "3"})),
    )
    .await?;
    assert!(
        said(&html, "ok").contains("Done: scale service shop_web to 3"),
        "{html}"
    );
    wait::until("shop_web 3/3", Duration::from_secs(90), || async {
        let r = replicas("shop_web").await?;
        Ok(((r == "3/3").then_some(()), r))
    })
    .await?;
    let services = invoke_widget(&lab, &view, &json!({"widget": "services"})).await?;
    assert!(services.contains(">3/3<"), "{services}");

    // Drain a worker, then make it active again.
    let worker = lab
        .run_ok(
            &manager,
            "docker node ls --filter role=worker -q | head -n 1",
        )
        .await?
        .trim()
        .to_owned();
    let availability = || {
        let lab = &lab;
        let (manager, worker) = (manager.clone(), worker.clone());
        async move {
            lab.run_ok(
                &manager,
                &format!("docker node inspect {worker} --format '{{{{.Spec.Availability}}}}'"),
            )
            .await
            .map(|a| a.trim().to_owned())
        }
    };
    let (drain, _) = button(&html, "Drain", &worker)?;
    let html = invoke_widget(&lab, &operate, &button_event(&drain, json!({}))).await?;
    assert!(
        said(&html, "ok").contains(&format!("Done: drain node {worker}")),
        "{html}"
    );
    assert_eq!(availability().await?, "drain");
    let (activate, _) = button(&html, "Activate", &worker)?;
    let html = invoke_widget(&lab, &operate, &button_event(&activate, json!({}))).await?;
    assert!(said(&html, "ok").contains("make node"), "{html}");
    assert_eq!(availability().await?, "active");

    // Forged and malformed operations: refused with why; nothing changes (what the swarm
    // is asked for: nodes' availability, services' specs and their versions; tasks may
    // come and go meanwhile).
    let before = lab
        .run_ok(&manager, "docker node ls --format '{{.ID}} {{.Availability}}' | sort; docker service inspect $(docker service ls -q) --format '{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} {{.Version.Index}}' | sort")
        .await?;
    let nobody = "a".repeat(25);
    for (function, event, why) in [
        (
            &view,
            json!({"operate": "drain", "node": worker}),
            "only shows the swarm",
        ),
        (
            &operate,
            json!({"operate": "reboot"}),
            "there is no operation",
        ),
        (
            &operate,
            button_event(
                &deploy,
                json!({"stack": "x; docker swarm leave -f", "compose": compose}),
            ),
            "not safe",
        ),
        (
            &operate,
            button_event(
                &deploy,
                json!({"stack": "evil", "compose": "services:\n  s: {image: x}\nconfigs:\n  c: {file: /etc/shadow}\n"}),
            ),
            "read from the manager",
        ),
        (
            &operate,
            button_event(
                &deploy,
                json!({"stack": "evil", "compose": "services: [oops"}),
            ),
            "not YAML",
        ),
        (
            &operate,
            button_event(&deploy, json!({"stack": "evil"})),
            "needs compose",
        ),
        (
            &operate,
            button_event(&scale, json!({"replicas-shop_web": "5000"})),
            "whole number",
        ),
        (
            &operate,
            json!({"operate": "scale", "service": "$(reboot)", "replicas": 1}),
            "not safe",
        ),
        (
            &operate,
            json!({"operate": "scale", "service": "nosuch", "replicas": 1}),
            "no such service",
        ),
        (
            &operate,
            json!({"operate": "drain", "node": nobody}),
            "no such node",
        ),
        (
            &operate,
            json!({"operate": "drain", "node": "Node'; reboot"}),
            "not safe",
        ),
        (
            &operate,
            json!({"operate": "remove", "stack": "nosuch"}),
            "no such stack",
        ),
    ] {
        let html = invoke_widget(&lab, function, &event).await?;
        assert!(said(&html, "bad").contains(why), "{event}: {html}");
    }
    let after = lab
        .run_ok(&manager, "docker node ls --format '{{.ID}} {{.Availability}}' | sort; docker service inspect $(docker service ls -q) --format '{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} {{.Version.Index}}' | sort")
        .await?;
    assert_eq!(before, after, "a refused operation changed the swarm");

    // Remove the stack.
    let html = invoke_widget(&lab, &operate, &button_event(&remove, json!({}))).await?;
    assert!(
        said(&html, "ok").contains("Done: remove stack shop"),
        "{html}"
    );
    wait::until("shop's services gone", Duration::from_secs(60), || async {
        let left = lab
            .run_ok(
                &manager,
                "docker service ls --filter label=com.docker.stack.namespace=shop -q",
            )
            .await?;
        Ok((left.trim().is_empty().then_some(()), left))
    })
    .await?;
    Ok(())
}

//! A CloudWatch dashboard custom widget's request. The dashboard sends the widget's
//! parameters at the top level with `widgetContext` beside them; a `<cwdb-action>`
//! button sends its own JSON body instead; the console's "Get documentation" sends
//! `{"describe": true}`. Anyone allowed to invoke the function can send anything, so
//! every field is checked and nothing else is read.

use serde_json::{Map, Value};
use swarmhook::console::{check_compose, ComposeError, Operation, MAX_REPLICAS};

/// Pages beyond this are refused (1,000 nodes take 25 pages of 40).
pub const MAX_PAGE: u64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WidgetRequest {
    /// Markdown documentation of the widget's parameters.
    Describe,
    /// The nodes, page `page`.
    Nodes { page: u32 },
    /// The services and stacks.
    Services,
    /// One service's tasks (a popup).
    Tasks { service: String },
    /// The operations widget: the swarm with its forms and buttons.
    Operations,
    /// An operation a button asked for (its values from the button's body and the
    /// widget's form fields).
    Operate(Operation),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("the request is not a JSON object")]
    NotAnObject,
    #[error("the widget's parameters need \"widget\": \"nodes\", \"services\" or \"tasks\"")]
    NoWidget,
    #[error("there is no widget {0:?}: \"widget\" is \"nodes\", \"services\", \"tasks\" or \"operations\"")]
    UnknownWidget(String),
    #[error("\"page\" must be a whole number from 0 to {MAX_PAGE}")]
    BadPage,
    #[error("the tasks widget needs \"service\": a service's name")]
    NoService,
    #[error("there is no operation {0:?}: \"operate\" is \"deploy\", \"remove\", \"scale\", \"drain\" or \"activate\"")]
    UnknownOperation(String),
    #[error("{0} needs {1}")]
    Missing(&'static str, &'static str),
    #[error("the replicas must be a whole number from 0 to {MAX_REPLICAS}")]
    BadReplicas,
    #[error(transparent)]
    Compose(#[from] ComposeError),
}

/// A string field from the button's body, else from the widget's form.
fn field<'a>(
    event: &'a Map<String, Value>,
    forms: Option<&'a Map<String, Value>>,
    name: &str,
) -> Option<&'a str> {
    (event.get(name).and_then(Value::as_str))
        .or_else(|| forms.and_then(|f| f.get(name)).and_then(Value::as_str))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn operation(event: &Map<String, Value>, what: &str) -> Result<Operation, RequestError> {
    let forms = (event.get("widgetContext"))
        .and_then(|c| c.get("forms"))
        .and_then(|f| f.get("all"))
        .and_then(Value::as_object);
    let need = |name: &'static str, what: &'static str| {
        field(event, forms, name)
            .map(str::to_owned)
            .ok_or(RequestError::Missing(what, name))
    };
    Ok(match what {
        "deploy" => {
            let stack = need("stack", "a deploy")?;
            let compose = field(event, forms, "compose")
                .ok_or(RequestError::Missing("a deploy", "compose"))?;
            Operation::Deploy {
                stack,
                compose: check_compose(compose)?,
            }
        }
        "remove" => Operation::RemoveStack {
            stack: need("stack", "a remove")?,
        },
        "scale" => {
            let service = need("service", "a scale")?;
            // Each service's replicas field is named after it.
            let replicas = match event.get("replicas") {
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())),
                None => {
                    field(event, forms, &format!("replicas-{service}")).and_then(|s| s.parse().ok())
                }
            };
            let replicas = replicas
                .filter(|r| *r <= u64::from(MAX_REPLICAS))
                .and_then(|r| u32::try_from(r).ok())
                .ok_or(RequestError::BadReplicas)?;
            Operation::Scale { service, replicas }
        }
        "drain" => Operation::Drain {
            node: need("node", "a drain")?,
        },
        "activate" => Operation::Activate {
            node: need("node", "an activate")?,
        },
        other => return Err(RequestError::UnknownOperation(other.to_owned())),
    })
}

pub fn parse(event: &Value) -> Result<WidgetRequest, RequestError> {
    let event = event.as_object().ok_or(RequestError::NotAnObject)?;
    if event
        .get("describe")
        .is_some_and(|d| d != &Value::Bool(false))
    {
        return Ok(WidgetRequest::Describe);
    }
    match event.get("operate") {
        None => {}
        Some(Value::String(what)) => return Ok(WidgetRequest::Operate(operation(event, what)?)),
        Some(other) => return Err(RequestError::UnknownOperation(other.to_string())),
    }
    let widget = match event.get("widget") {
        None => return Err(RequestError::NoWidget),
        Some(Value::String(w)) => w.as_str(),
        Some(other) => return Err(RequestError::UnknownWidget(other.to_string())),
    };
    match widget {
        "nodes" => {
            let page = match event.get("page") {
                None | Some(Value::Null) => 0,
                Some(p) => p
                    .as_u64()
                    .filter(|p| *p <= MAX_PAGE)
                    .ok_or(RequestError::BadPage)?,
            };
            Ok(WidgetRequest::Nodes {
                page: u32::try_from(page).map_err(|_| RequestError::BadPage)?,
            })
        }
        "services" => Ok(WidgetRequest::Services),
        "operations" => Ok(WidgetRequest::Operations),
        "tasks" => match event.get("service") {
            Some(Value::String(s)) if !s.is_empty() => {
                Ok(WidgetRequest::Tasks { service: s.clone() })
            }
            _ => Err(RequestError::NoService),
        },
        other => Err(RequestError::UnknownWidget(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_dashboards_own_shapes_are_read() {
        let context = json!({"dashboardName": "swarmhook-s", "widgetId": "widget-1",
            "accountId": "123456789012", "forms": {"all": {}}, "params": {"widget": "nodes"},
            "width": 588, "height": 369});
        assert_eq!(
            parse(&json!({"widget": "nodes", "widgetContext": context})),
            Ok(WidgetRequest::Nodes { page: 0 })
        );
        assert_eq!(
            parse(&json!({"widget": "nodes", "page": 2, "widgetContext": context})),
            Ok(WidgetRequest::Nodes { page: 2 })
        );
        assert_eq!(
            parse(&json!({"widget": "tasks", "service": "web", "widgetContext": context})),
            Ok(WidgetRequest::Tasks {
                service: "web".into()
            })
        );
        assert_eq!(
            parse(&json!({"describe": true})),
            Ok(WidgetRequest::Describe)
        );
        assert_eq!(
            parse(&json!({"widget": "services"})),
            Ok(WidgetRequest::Services)
        );
    }

    #[test]
    fn operations_take_their_values_from_the_button_and_the_form() {
        let forms = |all: Value| json!({"forms": {"all": all}});
        let deploy = json!({"operate": "deploy", "widgetContext": forms(json!({
            "stack": "shop", "compose": "services:\n  web: {image: x}\n"}))});
        assert!(matches!(
            parse(&deploy),
            Ok(WidgetRequest::Operate(Operation::Deploy { ref stack, .. })) if stack == "shop"
        ));
        let scale = json!({"operate": "scale", "service": "web",
            "widgetContext": forms(json!({"replicas-web": " 3 ", "replicas-db": "9"}))});
        assert_eq!(
            parse(&scale),
            Ok(WidgetRequest::Operate(Operation::Scale {
                service: "web".into(),
                replicas: 3
            }))
        );
        assert_eq!(
            parse(&json!({"operate": "drain", "node": "abc"})),
            Ok(WidgetRequest::Operate(Operation::Drain {
                node: "abc".into()
            }))
        );
        assert_eq!(
            parse(&json!({"widget": "operations"})),
            Ok(WidgetRequest::Operations)
        );
    }

    #[test]
    fn an_operation_missing_or_bad_values_is_refused() {
        assert_eq!(
            parse(&json!({"operate": "reboot"})),
            Err(RequestError::UnknownOperation("reboot".into()))
        );
        assert_eq!(
            parse(&json!({"operate": "deploy", "stack": "shop"})),
            Err(RequestError::Missing("a deploy", "compose"))
        );
        for replicas in [json!(-1), json!("many"), json!(1001), json!(1.5)] {
            assert_eq!(
                parse(&json!({"operate": "scale", "service": "web", "replicas": replicas})),
                Err(RequestError::BadReplicas),
                "{replicas}"
            );
        }
        assert!(matches!(
            parse(
                &json!({"operate": "deploy", "stack": "s", "compose": "services:\n  web: {build: .}\n"})
            ),
            Err(RequestError::Compose(_))
        ));
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        assert_eq!(parse(&json!("nodes")), Err(RequestError::NotAnObject));
        assert_eq!(parse(&json!([])), Err(RequestError::NotAnObject));
        assert_eq!(parse(&json!({})), Err(RequestError::NoWidget));
        assert_eq!(
            parse(&json!({"widget": "rm -rf"})),
            Err(RequestError::UnknownWidget("rm -rf".into()))
        );
        assert!(matches!(
            parse(&json!({"widget": 3})),
            Err(RequestError::UnknownWidget(_))
        ));
        for page in [
            json!(-1),
            json!(1.5),
            json!("2"),
            json!(101),
            json!(u64::MAX),
        ] {
            assert_eq!(
                parse(&json!({"widget": "nodes", "page": page})),
                Err(RequestError::BadPage),
                "{page}"
            );
        }
        assert_eq!(
            parse(&json!({"widget": "tasks"})),
            Err(RequestError::NoService)
        );
        assert_eq!(
            parse(&json!({"widget": "tasks", "service": ""})),
            Err(RequestError::NoService)
        );
    }
}

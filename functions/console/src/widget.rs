//! A CloudWatch dashboard custom widget's request. The dashboard sends the widget's
//! parameters at the top level with `widgetContext` beside them; a `<cwdb-action>`
//! button sends its own JSON body instead; the console's "Get documentation" sends
//! `{"describe": true}`. Anyone allowed to invoke the function can send anything, so
//! every field is checked and nothing else is read.

use serde_json::Value;

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
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("the request is not a JSON object")]
    NotAnObject,
    #[error("the widget's parameters need \"widget\": \"nodes\", \"services\" or \"tasks\"")]
    NoWidget,
    #[error("there is no widget {0:?}: \"widget\" is \"nodes\", \"services\" or \"tasks\"")]
    UnknownWidget(String),
    #[error("\"page\" must be a whole number from 0 to {MAX_PAGE}")]
    BadPage,
    #[error("the tasks widget needs \"service\": a service's name")]
    NoService,
}

pub fn parse(event: &Value) -> Result<WidgetRequest, RequestError> {
    let event = event.as_object().ok_or(RequestError::NotAnObject)?;
    if event
        .get("describe")
        .is_some_and(|d| d != &Value::Bool(false))
    {
        return Ok(WidgetRequest::Describe);
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

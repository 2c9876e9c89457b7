//! A service's tasks, in a popup.

use swarmhook::console::{TaskRow, TASKS_LISTED};

use super::html::{table, text, STYLE};

pub fn render(service: &str, tasks: &[TaskRow]) -> String {
    let rows: Vec<Vec<String>> = (tasks.iter())
        .map(|t| {
            let running = t.current_state.starts_with("Running");
            vec![
                text(&t.name),
                text(&t.node),
                text(&t.desired_state),
                format!(
                    "<span class=\"{}\">{}</span>",
                    if running { "ok" } else { "muted" },
                    text(&t.current_state)
                ),
                if t.error.is_empty() {
                    "—".to_owned()
                } else {
                    format!("<span class=\"bad\">{}</span>", text(&t.error))
                },
            ]
        })
        .collect();
    let mut out = format!("{STYLE}<h3>Tasks of {}</h3>", text(service));
    if tasks.is_empty() {
        return out + "<p class=\"muted\">No tasks.</p>";
    }
    if tasks.len() >= TASKS_LISTED as usize {
        out += &format!("<p class=\"muted\">The newest {TASKS_LISTED}.</p>");
    }
    out + &table(&["Task", "Node", "Desired", "Current", "Error"], &rows)
}

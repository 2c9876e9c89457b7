//! HTML as text: every value from the swarm (node, service, stack, image names, errors)
//! is user-controlled and goes through `text` (element content) or `attr` (a quoted
//! attribute), so it renders as text whatever it holds. The dashboard strips scripts
//! anyway; escaping is what keeps a name from becoming markup.

/// Escapes `value` for element content.
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `value` for a double-quoted attribute (the same rules: quotes included).
pub fn attr(value: &str) -> String {
    text(value)
}

/// A `<cwdb-action>` that calls `endpoint` with `body` when the element before it is
/// clicked. The body is JSON with `<`, `>` and `&` written as JSON escapes, so it holds
/// no markup and reads the same whether the dashboard takes the element's text or its
/// HTML.
pub fn call_action(endpoint: &str, display: &str, body: &serde_json::Value) -> String {
    let json = action_body(body);
    format!(
        "<cwdb-action action=\"call\" display=\"{}\" endpoint=\"{}\">{json}</cwdb-action>",
        attr(display),
        attr(endpoint),
    )
}

/// An action's JSON body with `<`, `>` and `&` as JSON escapes: no markup in it.
pub fn action_body(body: &serde_json::Value) -> String {
    body.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The styles every widget shares.
pub const STYLE: &str =
    "<style>.bad{color:#d13212;font-weight:bold}.ok{color:#1d8102}.muted{color:#687078}\
td,th{padding:2px 8px;text-align:left;white-space:nowrap}</style>";

/// A table from its header cells and its rows of already-escaped cells.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in header {
        out += &format!("<th>{}</th>", text(h));
    }
    out += "</tr></thead><tbody>";
    for row in rows {
        out += "<tr>";
        for cell in row {
            out += &format!("<td>{cell}</td>");
        }
        out += "</tr>";
    }
    out + "</tbody></table>"
}

/// What an answer that could not be given says instead.
pub fn problem(what: &str, retryable: bool) -> String {
    let hint = if retryable {
        " It may answer on the next refresh."
    } else {
        ""
    };
    format!(
        "{STYLE}<p class=\"bad\">{}</p><p class=\"muted\">{}</p>",
        text(what),
        text(hint.trim())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_name_stays_text() {
        assert_eq!(
            text("<img src=x onerror=\"alert('1')\">&amp;"),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;amp;"
        );
        let body = serde_json::json!({"service": "</cwdb-action><b>&"});
        let action = call_action("arn:aws:lambda:r:1:function:f", "popup", &body);
        assert!(!action.contains("</cwdb-action><b>"), "{action}");
        assert_eq!(action.matches("</cwdb-action>").count(), 1);
        let inner = action
            .split_once('>')
            .and_then(|(_, rest)| rest.strip_suffix("</cwdb-action>"))
            .unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(inner).ok(),
            Some(body)
        );
    }
}

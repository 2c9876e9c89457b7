//! Pictures where a table is better seen than read: inline SVG (the dashboard shows SVG;
//! it strips scripts). Labels are escaped like any text.

use swarmhook::cluster::Role;
use swarmhook::console::ZoneCount;

use super::html::text;

const MANAGER_COLOUR: &str = "#0073bb";
const WORKER_COLOUR: &str = "#1d8102";
const MISSING_COLOUR: &str = "#d5dbdb";

/// The machines by zone, a bar per zone split into managers and workers.
pub fn machines_by_zone(counts: &[ZoneCount]) -> String {
    let mut zones: Vec<(String, u32, u32)> = Vec::new();
    for c in counts {
        let zone = c
            .zone
            .clone()
            .unwrap_or_else(|| "(zone not known)".to_owned());
        let at = match zones.iter().position(|(z, _, _)| *z == zone) {
            Some(at) => at,
            None => {
                zones.push((zone, 0, 0));
                zones.len() - 1
            }
        };
        match c.role {
            Role::Manager => zones[at].1 += c.count,
            Role::Worker => zones[at].2 += c.count,
        }
    }
    let widest = zones
        .iter()
        .map(|(_, m, w)| m + w)
        .max()
        .unwrap_or(0)
        .max(1);
    let (label_width, bar_width, row) = (150.0, 300.0, 22.0);
    let height = row * zones.len() as f64 + 24.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"520\" height=\"{height}\" role=\"img\" aria-label=\"machines by zone and role\">"
    );
    for (i, (zone, managers, workers)) in zones.iter().enumerate() {
        let y = row * i as f64;
        let m = bar_width * f64::from(*managers) / f64::from(widest);
        let w = bar_width * f64::from(*workers) / f64::from(widest);
        svg += &format!(
            "<text x=\"0\" y=\"{:.0}\" font-size=\"12\">{}</text>",
            y + 15.0,
            text(zone)
        );
        svg += &format!(
            "<rect x=\"{label_width}\" y=\"{:.0}\" width=\"{m:.1}\" height=\"16\" fill=\"{MANAGER_COLOUR}\"/>",
            y + 3.0
        );
        svg += &format!(
            "<rect x=\"{:.1}\" y=\"{:.0}\" width=\"{w:.1}\" height=\"16\" fill=\"{WORKER_COLOUR}\"/>",
            label_width + m,
            y + 3.0
        );
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.0}\" font-size=\"12\">{managers} managers, {workers} workers</text>",
            label_width + m + w + 6.0,
            y + 15.0
        );
    }
    let legend_y = row * zones.len() as f64 + 16.0;
    svg += &format!(
        "<rect x=\"{label_width}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{MANAGER_COLOUR}\"/><text x=\"{:.0}\" y=\"{legend_y:.0}\" font-size=\"11\">managers</text>",
        legend_y - 9.0,
        label_width + 14.0
    );
    svg += &format!(
        "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{WORKER_COLOUR}\"/><text x=\"{:.0}\" y=\"{legend_y:.0}\" font-size=\"11\">workers</text>",
        label_width + 90.0,
        legend_y - 9.0,
        label_width + 104.0
    );
    svg + "</svg>"
}

/// A service's replicas as a bar: running over desired.
pub fn replicas_bar(running: u32, desired: u32) -> String {
    let width = 80.0;
    let filled = if desired == 0 {
        0.0
    } else {
        width * f64::from(running.min(desired)) / f64::from(desired)
    };
    let colour = if running >= desired {
        WORKER_COLOUR
    } else {
        "#d13212"
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"10\" role=\"img\" aria-label=\"{running} of {desired} running\">\
<rect width=\"{width}\" height=\"10\" fill=\"{MISSING_COLOUR}\"/><rect width=\"{filled:.1}\" height=\"10\" fill=\"{colour}\"/></svg>"
    )
}

//! A VM's own word on whether it is leaving: the Scheduled Events its Instance Metadata
//! Service shows it (read on the VM through Run Command, as nothing outside the VM can see
//! them), and the release mark the fleet leaves for the VM's agent once the swarm has let
//! the node go (the agent then approves the event).

use serde::Deserialize;
use swarmhook::engine::IMDS_ADDRESS;

/// The script that prints the VM's scheduled events (IMDS's JSON).
pub fn scheduled_events_probe() -> String {
    format!(
        "# swarmhook scheduled-events v1\nset -u\ncurl -sf -H Metadata:true 'http://{IMDS_ADDRESS}/metadata/scheduledevents?api-version=2020-07-01'\n"
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    #[serde(default)]
    events: Vec<ScheduledEvent>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduledEvent {
    event_type: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    event_status: String,
}

/// Whether the document holds a `Terminate` or `Preempt` event for `vm` (a `Freeze`,
/// `Reboot` or `Redeploy` is no reason to leave the swarm). None: not IMDS's document.
pub fn leaving_in(document: &str, vm: &str) -> Option<bool> {
    let doc: Document = serde_json::from_str(document.trim()).ok()?;
    Some(doc.events.iter().any(|e| {
        matches!(e.event_type.as_str(), "Terminate" | "Preempt")
            && matches!(e.event_status.as_str(), "Scheduled" | "Started")
            && e.resources.iter().any(|r| r.eq_ignore_ascii_case(vm))
    }))
}

/// Where the release marks are, in the store's container.
pub const RELEASE_PREFIX: &str = "released/";

/// The blob, in the store's container, that tells a VM's agent it may go.
pub fn release_blob(vm: &str) -> String {
    format!("{RELEASE_PREFIX}{vm}")
}

/// The VMs a Blob service listing (`comp=list&prefix=released/`) holds marks for, and its
/// `NextMarker` when there are more. The listing's XML is read for its `<Name>` and
/// `<NextMarker>` elements only.
pub fn release_marks_in(listing: &str) -> (Vec<String>, Option<String>) {
    fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let mut found = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find(&open) {
            let after = &rest[start + open.len()..];
            let Some(end) = after.find(&close) else { break };
            found.push(&after[..end]);
            rest = &after[end + close.len()..];
        }
        found
    }
    let vms = elements(listing, "Name")
        .into_iter()
        .filter_map(|n| n.strip_prefix(RELEASE_PREFIX))
        .filter(|vm| !vm.is_empty())
        .map(str::to_owned)
        .collect();
    let next = elements(listing, "NextMarker")
        .into_iter()
        .find(|m| !m.is_empty())
        .map(str::to_owned);
    (vms, next)
}

#[cfg(test)]
mod tests {
    use super::{leaving_in, release_marks_in};

    #[test]
    fn release_marks_are_read_from_a_listing() {
        let listing = "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ContainerName=\"c\"><Prefix>released/</Prefix><Blobs><Blob><Name>released/w_1</Name><Properties/></Blob><Blob><Name>released/w_2</Name></Blob></Blobs><NextMarker>abc</NextMarker></EnumerationResults>";
        assert_eq!(
            release_marks_in(listing),
            (
                vec!["w_1".to_owned(), "w_2".to_owned()],
                Some("abc".to_owned())
            )
        );
        let last = "<EnumerationResults><Blobs></Blobs><NextMarker /></EnumerationResults>";
        assert_eq!(release_marks_in(last), (vec![], None));
    }

    #[test]
    fn only_terminate_and_preempt_for_this_vm_mean_leaving() {
        let doc = |t: &str, vm: &str| {
            format!(
                r#"{{"DocumentIncarnation":2,"Events":[{{"EventId":"e","EventType":"{t}","ResourceType":"VirtualMachine","Resources":["{vm}"],"EventStatus":"Scheduled","NotBefore":"Mon, 01 Jan 2024 00:00:00 GMT"}}]}}"#
            )
        };
        assert_eq!(leaving_in(&doc("Terminate", "w_1"), "w_1"), Some(true));
        assert_eq!(leaving_in(&doc("Preempt", "w_1"), "W_1"), Some(true));
        assert_eq!(leaving_in(&doc("Freeze", "w_1"), "w_1"), Some(false));
        assert_eq!(leaving_in(&doc("Terminate", "w_2"), "w_1"), Some(false));
        assert_eq!(
            leaving_in(r#"{"DocumentIncarnation":0,"Events":[]}"#, "w_1"),
            Some(false)
        );
        assert_eq!(leaving_in("curl: (7) failed", "w_1"), None);
    }
}

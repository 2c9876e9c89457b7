//! The console scripts' output, as a manager prints it, read into the picture's rows.

use swarmhook::cluster::Role;
use swarmhook::console::{parse_service_tasks, parse_swarm_picture, Listener};

const PICTURE: &str = "--- counts
      1 manager\tReady\tActive
      1 worker\tDown\tActive
      2 worker\tReady\tActive
--- unhealthy
n4\tip-10-0-0-14\tDown\tActive\t\t28.2.2
--- nodes 4
n1\tip-10-0-0-11\tReady\tActive\tLeader\t28.2.2
n2\tip-10-0-0-12\tReady\tActive\t\t28.2.2
--- services 2
s1\tstuck\treplicated\t0/1\tswarmhook-tiny:1
s2\tweb\treplicated\t2/2 (max 1 per node)\tswarmhook-tiny:1
--- service-details
{\"id\":\"s1aaaaaaaaaaaaaaaaaaaaaaa\",\"stack\":\"\",\"ports\":null,\"update\":null}
{\"id\":\"s2bbbbbbbbbbbbbbbbbbbbbbb\",\"stack\":\"<b>shop</b>\",\"ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":\"ingress\"},{\"Protocol\":\"udp\",\"TargetPort\":53,\"PublishedPort\":5353,\"PublishMode\":\"host\"}],\"update\":{\"State\":\"completed\",\"Message\":\"update completed\"}}
";

#[test]
fn the_picture_reads_counts_the_unhealthy_a_page_and_the_services() {
    let p = parse_swarm_picture(PICTURE).expect("parses");
    assert_eq!(p.nodes_total, 4);
    assert_eq!(p.counts.len(), 3);
    assert_eq!(p.counts[1].role, Role::Worker);
    assert_eq!(
        (p.counts[1].status.as_str(), p.counts[1].count),
        ("Down", 1)
    );
    assert_eq!(p.unhealthy.len(), 1);
    assert!(!p.unhealthy[0].serving());
    assert_eq!(p.nodes.len(), 2);
    assert_eq!(p.nodes[0].role, Role::Manager);
    assert_eq!(p.nodes[0].manager_status.as_deref(), Some("Leader"));
    assert!(p.nodes[0].serving() && p.nodes[1].serving());
    assert_eq!(p.nodes[1].role, Role::Worker);
    assert_eq!(p.services_total, 2);
    let (stuck, web) = (&p.services[0], &p.services[1]);
    assert_eq!(
        (stuck.running, stuck.desired, stuck.stack.as_deref()),
        (0, 1, None)
    );
    assert_eq!((web.running, web.desired), (2, 2));
    assert_eq!(web.stack.as_deref(), Some("<b>shop</b>"));
    assert_eq!(web.update_state.as_deref(), Some("completed"));
    assert_eq!(web.ports.len(), 2);
    assert_eq!((web.ports[0].published, web.ports[0].target), (8080, 80));
    assert_eq!(web.ports[0].listener, Listener::Pending);
    assert_eq!(web.ports[1].mode, "host");
}

#[test]
fn an_empty_swarm_section_by_section() {
    let p = parse_swarm_picture(
        "--- counts\n--- unhealthy\n--- nodes 0\n--- services 0\n--- service-details\n",
    )
    .expect("parses");
    assert_eq!((p.nodes_total, p.services_total), (0, 0));
    assert!(p.counts.is_empty() && p.nodes.is_empty() && p.services.is_empty());
    // The script stops before the details when no service is listed.
    let p = parse_swarm_picture("--- counts\n--- unhealthy\n--- nodes 0\n--- services 0\n")
        .expect("parses");
    assert!(p.services.is_empty());
}

#[test]
fn output_that_is_not_the_scripts_is_an_error_not_a_picture() {
    for bad in [
        "",
        "Cannot connect to the Docker daemon",
        "--- counts\nthree manager\n--- unhealthy\n--- nodes 1\n--- services 0\n",
        "--- counts\n--- unhealthy\n--- nodes 1\nn1\tonly-two-fields\n--- services 0\n",
        "--- counts\n--- unhealthy\n--- nodes x\n--- services 0\n",
        "--- counts\n--- unhealthy\n--- nodes 0\n--- services 1\ns1\tweb\n",
        "--- counts\n--- unhealthy\n--- nodes 0\n--- services 1\ns1\tweb\treplicated\t1/1\timg\n--- service-details\n{not json\n",
    ] {
        assert!(parse_swarm_picture(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn tasks_keep_an_error_that_runs_over_lines() {
    let tasks = parse_service_tasks(
        "t1\tweb.1\tip-1\tRunning\tRunning 5 minutes ago\t\nt2\tweb.2\tip-2\tShutdown\tFailed 1 minute ago\tno such image\nsecond line\n",
    )
    .expect("parses");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[1].error, "no such image\nsecond line");
    assert!(parse_service_tasks("not a task\n").is_err());
    assert!(parse_service_tasks("").expect("parses").is_empty());
}

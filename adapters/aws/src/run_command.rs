//! The engine port over SSM Run Command: send `AWS-RunShellScript`, poll the invocation.
//! The first poll waits about as long as the same script took the last times (learned
//! per script, for as long as the function's process lives), so a command is usually
//! read once, when it is done: two calls per command, whatever the cloud's speed. A
//! command not done at the first poll is read again after half the time it has run.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_ssm::types::CommandInvocationStatus;
use swarmhook::ports::{NodeEngine, PortError, ScriptOutput};

use crate::error::{code_of, port_error};

pub struct SsmEngine {
    client: aws_sdk_ssm::Client,
    give_up_after: Duration,
    /// How long each script (by its first line: name and version) takes to be done.
    typical: Mutex<HashMap<String, Duration>>,
}

/// Waits between the later polls of an invocation not done at the first: half the time
/// it has run so far (a command reads late by at most a third of its duration, and
/// each poll covers half as much again), between these bounds, so a slow node costs
/// few more calls and a quick one is not read late.
const LATER_POLL_MIN: Duration = Duration::from_millis(50);
const LATER_POLL_MAX: Duration = Duration::from_secs(1);
/// The first poll's wait for a script not seen yet.
const FIRST_POLL_UNKNOWN: Duration = Duration::from_millis(150);
const FIRST_POLL_MIN: Duration = Duration::from_millis(20);
const FIRST_POLL_MAX: Duration = Duration::from_secs(10);

fn later_poll_wait(running_for: Duration) -> Duration {
    (running_for / 2).clamp(LATER_POLL_MIN, LATER_POLL_MAX)
}

/// The next estimate of a script's duration. Done at the first poll: it took at most
/// `elapsed`, so the estimate creeps down; done later: it took about `elapsed`, so the
/// estimate moves half-way there.
fn next_estimate(previous: Duration, elapsed: Duration, first_poll: bool) -> Duration {
    let next = if first_poll {
        previous.mul_f64(0.8) + elapsed.mul_f64(0.8 * 0.2)
    } else {
        (previous + elapsed) / 2
    };
    next.clamp(FIRST_POLL_MIN, FIRST_POLL_MAX)
}

impl SsmEngine {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        SsmEngine {
            client,
            give_up_after: Duration::from_secs(90),
            typical: Mutex::new(HashMap::new()),
        }
    }

    fn first_wait(&self, kind: &str) -> Duration {
        let typical = self.typical.lock().map(|t| t.get(kind).copied());
        typical.ok().flatten().unwrap_or(FIRST_POLL_UNKNOWN)
    }

    fn learn(&self, kind: &str, elapsed: Duration, first_poll: bool) {
        if let Ok(mut typical) = self.typical.lock() {
            let previous = typical.get(kind).copied().unwrap_or(elapsed);
            typical.insert(
                kind.to_owned(),
                next_estimate(previous, elapsed, first_poll),
            );
        }
    }
}

impl NodeEngine for SsmEngine {
    async fn run(
        &self,
        instance_id: &str,
        script: &str,
    ) -> Result<Option<ScriptOutput>, PortError> {
        let sent = self
            .client
            .send_command()
            .instance_ids(instance_id)
            .document_name("AWS-RunShellScript")
            .parameters("commands", vec![script.to_owned()])
            .comment("swarmhook")
            .send()
            .await;
        let command_id = match sent {
            Ok(out) => out
                .command()
                .and_then(|c| c.command_id())
                .unwrap_or_default()
                .to_owned(),
            // The agent is not registered (online) yet.
            Err(e) if code_of(&e) == Some("InvalidInstanceId") => return Ok(None),
            Err(e) => return Err(port_error("SendCommand", instance_id, e)),
        };
        let kind = script.lines().next().unwrap_or_default();
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let wait = match attempt {
                0 => self.first_wait(kind),
                _ => later_poll_wait(started.elapsed()),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
            let polled = self
                .client
                .get_command_invocation()
                .command_id(&command_id)
                .instance_id(instance_id)
                .send()
                .await;
            let inv = match polled {
                Ok(inv) => inv,
                // Right after SendCommand the invocation may not be visible yet.
                Err(e) if code_of(&e) == Some("InvocationDoesNotExist") => continue,
                Err(e) => return Err(port_error("GetCommandInvocation", instance_id, e)),
            };
            let status = inv
                .status()
                .cloned()
                .unwrap_or(CommandInvocationStatus::Pending);
            let done = !matches!(
                status,
                CommandInvocationStatus::Pending
                    | CommandInvocationStatus::InProgress
                    | CommandInvocationStatus::Delayed
            );
            if done {
                self.learn(kind, started.elapsed(), attempt == 1);
                return Ok(Some(ScriptOutput {
                    exit_code: inv.response_code(),
                    stdout: inv.standard_output_content().unwrap_or_default().to_owned(),
                    stderr: inv.standard_error_content().unwrap_or_default().to_owned(),
                }));
            }
            if started.elapsed() > self.give_up_after {
                return Err(PortError {
                    operation: "waiting for a command",
                    target: format!("{instance_id} ({command_id})"),
                    retryable: true,
                    source: format!("still {status:?} after {:?}", self.give_up_after).into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_poll_follows_the_script_s_duration() {
        let ms = Duration::from_millis;
        // Done at every first poll of 200 ms: the estimate creeps down towards the truth.
        let mut estimate = ms(200);
        for _ in 0..5 {
            estimate = next_estimate(estimate, ms(200), true);
        }
        assert!(estimate < ms(200) && estimate > ms(60), "{estimate:?}");
        // A slower script than expected: half-way to what it took.
        assert_eq!(next_estimate(ms(100), ms(900), false), ms(500));
        // Bounded both ways.
        assert_eq!(next_estimate(ms(1), ms(1), true), FIRST_POLL_MIN);
        assert_eq!(next_estimate(ms(60_000), ms(60_000), false), FIRST_POLL_MAX);
    }

    #[test]
    fn later_polls_follow_how_long_the_command_has_run() {
        let ms = Duration::from_millis;
        // A command of about a second, first polled at 150 ms: read at most a third late,
        // in as many polls as a fixed back-off would take.
        let mut at = ms(150);
        let mut polls = 1;
        while at < ms(1030) {
            at += later_poll_wait(at);
            polls += 1;
        }
        assert!(at <= ms(1030) + ms(1030) / 3, "{at:?}");
        assert!(polls <= 6, "{polls}");
        assert_eq!(later_poll_wait(ms(10)), LATER_POLL_MIN);
        assert_eq!(later_poll_wait(ms(60_000)), LATER_POLL_MAX);
    }
}

#!/usr/bin/env python3
"""swarmhook's node agent for Azure VMs: small, standard library only.

1. Once the node's Docker engine answers, it announces the VM on the `node-ready`
   queue (with the VM's own managed identity), until the queue takes the message.
2. It polls the VM's Scheduled Events (IMDS). For a `Terminate` or `Preempt` naming this
   VM (a `Freeze`, `Reboot` or `Redeploy` is no reason to leave), it puts one leaving
   notice per event on the `node-leaving` queue.
3. It approves such an event (`StartRequests`) only once the cluster's store shows the
   node released (the blob `released/<vm>`, written after the node left the swarm), or
   when the event's `NotBefore` is near (Azure would start it then anyway).

It reads no join token and prints none: joins and token reads are the functions' scripts,
run through Run Command. Settings come from its environment (custom data writes them):
SWARMHOOK_QUEUE_ENDPOINT, SWARMHOOK_BLOB_ENDPOINT, SWARMHOOK_CONTAINER,
SWARMHOOK_READY_QUEUE, SWARMHOOK_LEAVING_QUEUE, SWARMHOOK_CLIENT_ID (the VM identity)."""

from __future__ import annotations

import base64
import email.utils
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

IMDS = "http://169.254.169.254/metadata"
STORAGE_VERSION = "2025-11-05"
POLL_SECONDS = 5
# Approve this long before NotBefore even without a release: Azure starts the event then.
APPROVE_MARGIN_SECONDS = 15


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} swarmhook-agent: {message}", flush=True)


def imds(path: str, query: dict[str, str], body: dict | None = None) -> dict:
    url = f"{IMDS}/{path}?{urllib.parse.urlencode(query)}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Metadata": "true", "Content-Type": "application/json"},
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
    return json.loads(text) if text.strip() else {}


class Agent:
    def __init__(self, env: dict[str, str]):
        self.queue_endpoint = env["SWARMHOOK_QUEUE_ENDPOINT"].rstrip("/")
        self.blob_endpoint = env["SWARMHOOK_BLOB_ENDPOINT"].rstrip("/")
        self.container = env.get("SWARMHOOK_CONTAINER", "swarmhook")
        self.ready_queue = env.get("SWARMHOOK_READY_QUEUE", "node-ready")
        self.leaving_queue = env.get("SWARMHOOK_LEAVING_QUEUE", "node-leaving")
        self.client_id = env.get("SWARMHOOK_CLIENT_ID", "")
        self.token: tuple[str, float] | None = None
        self.noticed: set[str] = set()
        self.approved: set[str] = set()
        compute = imds("instance", {"api-version": "2021-02-01"})["compute"]
        self.vm = compute["name"]
        self.scale_set = compute.get("vmScaleSetName", "")

    def storage_token(self) -> str:
        if self.token is None or self.token[1] - time.time() < 300:
            query = {"api-version": "2018-02-01", "resource": "https://storage.azure.com/"}
            if self.client_id:
                query["client_id"] = self.client_id
            answer = imds("identity/oauth2/token", query)
            self.token = (answer["access_token"], float(answer.get("expires_on") or time.time() + 600))
        return self.token[0]

    def storage(self, method: str, url: str, body: bytes | None = None) -> int:
        req = urllib.request.Request(url, data=body, method=method, headers={
            "Authorization": f"Bearer {self.storage_token()}", "x-ms-version": STORAGE_VERSION,
            "Content-Type": "application/xml"})
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def put_message(self, queue: str, message: dict) -> bool:
        text = base64.b64encode(json.dumps(message).encode()).decode()
        body = f"<QueueMessage><MessageText>{text}</MessageText></QueueMessage>".encode()
        url = f"{self.queue_endpoint}/{queue}/messages"
        status = self.storage("POST", url, body)
        if status == 404:  # the queue is not there yet: the first writer makes it
            self.storage("PUT", f"{self.queue_endpoint}/{queue}", b"")
            status = self.storage("POST", url, body)
        return status == 201

    def released(self) -> bool:
        return self.storage("HEAD", f"{self.blob_endpoint}/{self.container}/released/{self.vm}") == 200

    def engine_answers(self) -> bool:
        try:
            return subprocess.run(["docker", "info", "--format", "{{.ID}}"], capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def announce(self) -> None:
        while not self.engine_answers():
            time.sleep(2)
        while True:
            try:
                if self.put_message(self.ready_queue, {"vm": self.vm, "scale_set": self.scale_set}):
                    log(f"announced {self.vm} ({self.scale_set}) on {self.ready_queue}")
                    return
                log("the queue did not take the announcement; trying again")
            except (OSError, KeyError, ValueError) as exc:
                log(f"announcing failed ({exc}); trying again")
            time.sleep(POLL_SECONDS)

    def watch(self) -> None:
        while True:
            try:
                self.look_once()
            except (OSError, KeyError, ValueError) as exc:
                log(f"reading scheduled events failed ({exc})")
            time.sleep(POLL_SECONDS)

    def look_once(self) -> None:
        doc = imds("scheduledevents", {"api-version": "2020-07-01"})
        for event in doc.get("Events") or []:
            event_id, kind = str(event.get("EventId")), str(event.get("EventType"))
            if kind not in ("Terminate", "Preempt") or self.vm not in (event.get("Resources") or []):
                continue
            if event_id in self.approved:
                continue
            if event_id not in self.noticed:
                notice = {"vm": self.vm, "scale_set": self.scale_set, "event_id": event_id, "event_type": kind}
                if self.put_message(self.leaving_queue, notice):
                    self.noticed.add(event_id)
                    log(f"{kind} event {event_id}: leaving notice sent")
            not_before = email.utils.parsedate_to_datetime(event["NotBefore"]).timestamp() if event.get("NotBefore") else 0
            near = not_before and not_before - time.time() < APPROVE_MARGIN_SECONDS
            if self.released() or near:
                imds("scheduledevents", {"api-version": "2020-07-01"}, {"StartRequests": [{"EventId": event_id}]})
                self.approved.add(event_id)
                log(f"{kind} event {event_id} approved ({'released by the swarm' if not near else 'NotBefore is near'})")


def main() -> int:
    while True:
        try:
            agent = Agent(dict(os.environ))
            break
        except (OSError, KeyError, ValueError) as exc:
            log(f"waiting for the instance metadata ({exc})")
            time.sleep(POLL_SECONDS)
    log(f"agent for {agent.vm} started")
    agent.announce()
    agent.watch()
    return 0


if __name__ == "__main__":
    sys.exit(main())

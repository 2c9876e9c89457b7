"""The Azure Functions host, played by the lab for custom-handler apps (nothing real runs
here; this follows the documented custom-handler contract and the payloads real hosts
send, quirks included).

- **An app** is a published package (a zip, or its folder): `host.json` with
  `customHandler.description.defaultExecutablePath` (and `arguments`,
  `workingDirectory`), and one folder per function with its `function.json`. The host
  starts the handler with `FUNCTIONS_CUSTOMHANDLER_PORT`, `FUNCTIONS_WORKER_RUNTIME=custom`,
  the app's identity (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`) and its settings, and waits
  up to 30 s for it to listen (the host's own limit; the docs say 60).
- **Invocations** are `POST /{FunctionName}` with `X-Azure-Functions-InvocationId` and
  `{"Data": {...}, "Metadata": {..., "sys": {MethodName, UtcNow, RandGuid}}}`. Non-object
  values are JSON-serialised again, as real hosts do: a queue message arrives as a
  quoted JSON string, `DequeueCount` as a string, `Id` and `PopReceipt` quoted. The reply
  is `{"Outputs", "Logs", "ReturnValue"}`; a non-2xx reply fails the invocation. Logs go
  to one file per function.
- **Queue triggers** poll Azurite with the app's identity: messages are leased
  (`visibilitytimeout` 10 minutes), decoded from base64 (`messageEncoding`), deleted after
  a success; after a failure they come back after `visibilityTimeout` (host.json), and
  the failure that reaches `maxDequeueCount` (default 5) moves the message to
  `{queue}-poison`.
- **Timer triggers** run on their NCRONTAB schedule; a lab control fires them now.
- **HTTP triggers** answer over HTTPS (the lab's CA) at
  `https://127.0.0.1:{port}/{app}/api/{route}` (`https://{app}.azurewebsites.net/api/{route}`
  in Azure: a site's `defaultHostName` in the lab is `127.0.0.1:{port}/{app}`), forwarding
  off: `Data.{name} = {Url, Method, Query, Headers: {k: [v]}, Params, Identities, Body}`, the answer taken from the HTTP output
  binding `{StatusCode, Body, Headers}`. Function keys are not checked in the lab."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .. import config, processes
from . import ncrontab
from .identity import Identities, Identity

log = logging.getLogger("swarmlab.azure.functions")

STORAGE = "https://storage.azure.com/"
STORAGE_VERSION = "2025-11-05"
# Microsoft's docs give a handler 60 s to start; the host's code waits 30 s. The lab
# holds a handler to the stricter.
START_SECONDS = 30
LEASE_SECONDS = 600


class AppError(Exception):
    """An app the host cannot load or start, with the reason."""


def apps_dir() -> Path:
    return config.paths().run / "azure-apps"


def default_host_name(app: str) -> str:
    """A site's `defaultHostName` in the lab: `https://{it}/api/{route}` reaches its HTTP functions."""
    return f"127.0.0.1:{http_port()}/{app}"


def http_port() -> int:
    return int(os.environ.get("SWARMLAB_FUNCTIONS_HTTP_PORT", "5606"))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(t: datetime.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _span_seconds(text: Any, default: float) -> float:
    """A host.json TimeSpan (`hh:mm:ss`)."""
    if text is None:
        return default
    try:
        h, m, s = str(text).split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        raise AppError(f"host.json: '{text}' is not a TimeSpan (hh:mm:ss)") from None


@dataclass
class Function:
    name: str
    trigger: dict[str, Any]
    bindings: list[dict[str, Any]]
    log_path: Path
    schedule: ncrontab.Schedule | None = None
    next_due: datetime.datetime | None = None
    last_fired: datetime.datetime | None = None
    invocations: int = 0
    failures: int = 0

    @property
    def kind(self) -> str:
        return str(self.trigger.get("type"))

    def log_line(self, text: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(f"{_iso(_now())} {text}\n")


@dataclass
class App:
    name: str
    folder: Path
    host: dict[str, Any]
    functions: dict[str, Function]
    identity: Identity
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def queues(self) -> dict[str, Any]:
        return ((self.host.get("extensions") or {}).get("queues") or {})


def _load(name: str, package: Path, identity: Identity) -> App:
    if not name or not all(c.isalnum() or c == "-" for c in name) or len(name) > 60:
        raise AppError(f"an app name is 1-60 letters, digits and '-': {name!r}")
    folder = apps_dir() / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if package.is_dir():
        shutil.copytree(package, folder, dirs_exist_ok=True)
    elif zipfile.is_zipfile(package):
        with zipfile.ZipFile(package) as z:
            for member in z.infolist():
                target = (folder / member.filename).resolve()
                if not str(target).startswith(str(folder.resolve()) + os.sep) and target != folder.resolve():
                    raise AppError(f"the package's {member.filename} points outside the app")
                z.extract(member, folder)
                mode = member.external_attr >> 16
                if mode:
                    os.chmod(target, mode & 0o777)
    else:
        raise AppError(f"the package {package} is neither a folder nor a zip")
    try:
        host = json.loads((folder / "host.json").read_text())
    except (OSError, ValueError) as exc:
        raise AppError(f"the package has no readable host.json: {exc}") from None
    if str(host.get("version")) != "2.0":
        raise AppError("host.json: version must be \"2.0\"")
    if not ((host.get("customHandler") or {}).get("description") or {}).get("defaultExecutablePath"):
        raise AppError("host.json: customHandler.description.defaultExecutablePath is required (a custom handler app)")
    handler = host["customHandler"]
    for raw_http in ("enableForwardingHttpRequest", "enableProxyingHttpRequest"):
        if handler.get(raw_http):
            raise AppError(f"host.json: customHandler.{raw_http} is on; the lab's host sends HTTP requests as "
                           "invocation payloads only (set it false)")
    logs = config.paths().functions / "azure" / name
    logs.mkdir(parents=True, exist_ok=True)
    functions: dict[str, Function] = {}
    for fj in sorted(folder.glob("*/function.json")):
        fname = fj.parent.name
        try:
            spec = json.loads(fj.read_text())
        except ValueError as exc:
            raise AppError(f"{fname}/function.json is not JSON: {exc}") from None
        bindings = spec.get("bindings") or []
        triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
        if len(triggers) != 1:
            raise AppError(f"{fname}/function.json: a function has exactly one trigger binding, not {len(triggers)}")
        trigger = triggers[0]
        if trigger["type"] not in ("queueTrigger", "timerTrigger", "httpTrigger"):
            raise AppError(f"{fname}: the lab's host runs queue, timer and HTTP triggers, not {trigger['type']}")
        fn = Function(fname, trigger, bindings, logs / f"{fname}.log")
        if trigger["type"] == "queueTrigger" and not trigger.get("queueName"):
            raise AppError(f"{fname}: a queue trigger needs a queueName")
        functions[fname] = fn
    if not functions:
        raise AppError("the package has no function (no */function.json)")
    return App(name, folder, host, functions, identity)


def _resolve_settings(app: App, settings: dict[str, str]) -> None:
    """`%Name%` in a binding is the app setting `Name` (the host's binding expressions)."""
    for fn in app.functions.values():
        for binding in fn.bindings:
            for key, value in list(binding.items()):
                if isinstance(value, str) and value.startswith("%") and value.endswith("%") and len(value) > 2:
                    setting = value[1:-1]
                    if setting not in settings:
                        raise AppError(f"{fn.name}: the binding's {key} names the app setting {setting}, which is not set")
                    binding[key] = settings[setting]


class FunctionsHost:
    def __init__(self, identities: Identities, queue_endpoint: str, ca_cert: Path, identity_endpoint: str):
        self.identities = identities
        self.queue_endpoint = queue_endpoint
        self.identity_endpoint = identity_endpoint
        self.ca_cert = ca_cert
        self.tls = ssl.create_default_context(cafile=str(ca_cert))
        self.apps: dict[str, App] = {}
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- apps ---------------------------------------------------------------------------
    def start_app(self, name: str, package: Path, identity_name: str, settings: dict[str, str]) -> App:
        identity = self.identities.create(identity_name)
        with self.lock:
            if name in self.apps:
                raise AppError(f"the app {name} is already running")
        app = _load(name, package, identity)
        _resolve_settings(app, settings)
        for fn in app.functions.values():  # the trigger dict is one of the bindings: resolved with them
            if fn.kind == "timerTrigger":
                try:
                    fn.schedule = ncrontab.parse(str(fn.trigger.get("schedule", "")))
                except ncrontab.ScheduleError as exc:
                    raise AppError(f"{fn.name}: {exc}") from None
                fn.next_due = fn.schedule.next_after(_now())
        self._start_handler(app, settings)
        with self.lock:
            self.apps[name] = app
        for fn in app.functions.values():
            if fn.kind == "queueTrigger":
                threading.Thread(target=self._poll, args=(app, fn), daemon=True, name=f"queue-{fn.name}").start()
        log.info("function app %s: handler pid %s on port %d, functions %s", name,
                 app.process.pid if app.process else None, app.port, ", ".join(app.functions))
        return app

    def _start_handler(self, app: App, settings: dict[str, str]) -> None:
        desc = app.host["customHandler"]["description"]
        exe = (app.folder / str(desc["defaultExecutablePath"])).resolve()
        if not exe.is_file() or not os.access(exe, os.X_OK):
            raise AppError(f"the handler {desc['defaultExecutablePath']} is not an executable file in the package")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            app.port = s.getsockname()[1]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root", "LANG": "C.UTF-8",
            **{str(k): str(v) for k, v in settings.items()},
            "FUNCTIONS_CUSTOMHANDLER_PORT": str(app.port), "FUNCTIONS_WORKER_RUNTIME": "custom",
            "WEBSITE_SITE_NAME": app.name, "IDENTITY_ENDPOINT": self.identity_endpoint,
            # The host trusts the lab's CA as an app in Azure trusts the public ones.
            "SSL_CERT_FILE": str(self.ca_cert),
            "IDENTITY_HEADER": app.identity.header,
        }
        workdir = app.folder / str(desc.get("workingDirectory") or ".")
        logf = open(config.paths().functions / "azure" / app.name / "handler.log", "ab")
        app.process = subprocess.Popen([str(exe), *[str(a) for a in desc.get("arguments") or []]], cwd=workdir, env=env,
                                       stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        logf.close()
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if app.process.poll() is not None:
                raise AppError(f"the handler exited with {app.process.returncode} before listening (see handler.log)")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", app.port)) == 0:
                    return
            time.sleep(0.1)
        processes.stop(app.process.pid, grace=2)
        raise AppError(f"the handler did not listen on FUNCTIONS_CUSTOMHANDLER_PORT within {START_SECONDS}s")

    def stop_app(self, name: str) -> bool:
        """Stops one app (its handler and its triggers); False if it was not running."""
        with self.lock:
            app = self.apps.pop(name, None)
        if app is None:
            return False
        app.stopping.set()
        if app.process is not None and app.process.poll() is None:
            processes.stop(app.process.pid, grace=3)
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        with self.lock:
            apps = list(self.apps.values())
            self.apps.clear()
        for app in apps:
            app.stopping.set()
            if app.process is not None and app.process.poll() is None:
                processes.stop(app.process.pid, grace=3)

    # --- invoking -------------------------------------------------------------------------
    def invoke(self, app: App, fn: Function, data: dict[str, Any], metadata: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """One invocation: whether it succeeded, and the handler's reply."""
        invocation = str(uuid.uuid4())
        body = {"Data": data, "Metadata": {**metadata, "sys": {
            "MethodName": fn.name, "UtcNow": _iso(_now()), "RandGuid": str(uuid.uuid4())}}}
        req = urllib.request.Request(f"http://127.0.0.1:{app.port}/{fn.name}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "X-Azure-Functions-InvocationId": invocation})
        timeout = _span_seconds(app.host.get("functionTimeout"), 300)
        fn.invocations += 1
        fn.log_line(f"Executing 'Functions.{fn.name}' (Id={invocation})")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, text = r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        except OSError as exc:
            status, text = 0, str(exc)
        try:
            reply = json.loads(text) if text else {}
        except ValueError:
            reply = {"Body": text}
        for line in (reply.get("Logs") or []) if isinstance(reply, dict) else []:
            fn.log_line(f"  {line}")
        ok = 200 <= status < 300
        if not ok:
            fn.failures += 1
        fn.log_line(f"Executed 'Functions.{fn.name}' ({'Succeeded' if ok else 'Failed'}, Id={invocation}, "
                    f"status {status}, Duration={(time.monotonic() - started) * 1000:.0f}ms)")
        return ok, reply if isinstance(reply, dict) else {}

    # --- queue triggers -----------------------------------------------------------------
    def _storage(self, app: App, method: str, path: str, query: dict[str, str] | None = None, body: bytes | None = None
                 ) -> tuple[int, bytes]:
        token, _ = self.identities.issue(app.identity, STORAGE)
        url = f"{self.queue_endpoint}/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        req = urllib.request.Request(url, data=body, method=method, headers={
            "Authorization": f"Bearer {token}", "x-ms-version": STORAGE_VERSION, "Content-Type": "application/xml"})
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.tls) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _poll(self, app: App, fn: Function) -> None:
        queue = str(fn.trigger["queueName"]).lower()
        batch = int(app.queues.get("batchSize", 16))
        idle = 0.25
        while not app.stopping.is_set():
            try:
                status, body = self._storage(app, "GET", f"{queue}/messages",
                                             {"numofmessages": str(batch), "visibilitytimeout": str(LEASE_SECONDS)})
                messages = ET.fromstring(body).findall("QueueMessage") if status == 200 and body else []
                if status == 404:
                    messages = []  # the queue is not there yet: keep polling, as the host does
                elif status != 200:
                    log.warning("app %s: reading %s: %d %s", app.name, queue, status, body[:200])
                # A batch's messages run at once, as the host runs them (batchSize).
                workers = [threading.Thread(target=self._handle_message, args=(app, fn, queue, m), daemon=True,
                                            name=f"msg-{fn.name}") for m in messages]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()
                idle = 0.25 if messages else min(idle * 2, 2.0)
            except Exception:
                log.exception("app %s: polling %s", app.name, queue)
                idle = 2.0
            app.stopping.wait(idle)

    def _handle_message(self, app: App, fn: Function, queue: str, m: ET.Element) -> None:
        get = lambda tag: (m.findtext(tag) or "")  # noqa: E731
        msg_id, receipt, text = get("MessageId"), get("PopReceipt"), get("MessageText")
        dequeues = int(get("DequeueCount") or 0)
        ok = False
        if str(app.queues.get("messageEncoding", "base64")).lower() == "base64":
            try:
                content = base64.b64decode(text, validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                fn.log_line(f"Message {msg_id} is not base64 (host.json messageEncoding is base64): a failure")
                content = None
        else:
            content = text
        if content is not None:
            name = str(fn.trigger.get("name", "msg"))
            data = {name: json.dumps(content)}  # a string is serialised again: it arrives quoted
            metadata = {"DequeueCount": str(dequeues), "Id": json.dumps(msg_id), "PopReceipt": json.dumps(receipt),
                        "InsertionTime": get("InsertionTime"), "ExpirationTime": get("ExpirationTime"),
                        "NextVisibleTime": get("TimeNextVisible"), "QueueTrigger": json.dumps(content)}
            ok, _ = self.invoke(app, fn, data, metadata)
        if ok:
            self._storage(app, "DELETE", f"{queue}/messages/{msg_id}", {"popreceipt": receipt})
            return
        most = int(app.queues.get("maxDequeueCount", 5))
        if dequeues >= most:
            poison = f"{queue}-poison"
            self._storage(app, "PUT", poison)
            xml = f"<QueueMessage><MessageText>{_xml_text(text)}</MessageText></QueueMessage>".encode()
            status, _ = self._storage(app, "POST", f"{poison}/messages", body=xml)
            if status == 201:
                self._storage(app, "DELETE", f"{queue}/messages/{msg_id}", {"popreceipt": receipt})
                fn.log_line(f"Message {msg_id} has reached MaxDequeueCount of {most}. Moving message to queue '{poison}'.")
            return
        back = int(_span_seconds(app.queues.get("visibilityTimeout"), 0))
        self._storage(app, "PUT", f"{queue}/messages/{msg_id}", {"popreceipt": receipt, "visibilitytimeout": str(back)})

    # --- timers -------------------------------------------------------------------------
    def tick(self) -> None:
        now = _now()
        with self.lock:
            due = [(a, f) for a in self.apps.values() for f in a.functions.values()
                   if f.kind == "timerTrigger" and f.next_due is not None and f.next_due <= now]
        for app, fn in due:
            self._fire(app, fn, past_due=(now - (fn.next_due or now)).total_seconds() > 10)

    def fire_timers(self, app_name: str | None = None) -> list[str]:
        with self.lock:
            targets = [(a, f) for a in self.apps.values() if app_name in (None, a.name)
                       for f in a.functions.values() if f.kind == "timerTrigger"]
        for app, fn in targets:
            self._fire(app, fn, past_due=False)
        return [f"{a.name}/{f.name}" for a, f in targets]

    def _fire(self, app: App, fn: Function, past_due: bool) -> None:
        now = _now()
        assert fn.schedule is not None
        nxt = fn.schedule.next_after(now)
        status = None if fn.last_fired is None else {"Last": _iso(fn.last_fired), "Next": _iso(nxt), "LastUpdated": _iso(now)}
        data = {str(fn.trigger.get("name", "timer")): {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status,
                                                        "IsPastDue": past_due}}
        fn.last_fired, fn.next_due = now, nxt
        threading.Thread(target=self.invoke, args=(app, fn, data, {}), daemon=True, name=f"timer-{fn.name}").start()

    # --- HTTP triggers ------------------------------------------------------------------
    def serve_http(self, server_cert: Path, server_key: Path) -> None:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                status, headers, body = host.http_request(self.command, self.path, dict(self.headers.items()),
                                                          self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", http_port()), Handler)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(str(server_cert), str(server_key))
        self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="functions-http").start()

    def http_request(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = urllib.parse.urlsplit(raw_path)
        parts = url.path.strip("/").split("/", 2)
        with self.lock:
            app = self.apps.get(parts[0]) if parts else None
        if app is None or len(parts) < 3 or parts[1] != "api":
            return 404, {}, b""
        route = parts[2]
        fn = next((f for f in app.functions.values() if f.kind == "httpTrigger"
                   and str(f.trigger.get("route") or f.name).strip("/").lower() == route.lower()), None)
        if fn is None:
            return 404, {}, b""
        methods = [m.upper() for m in fn.trigger.get("methods") or ["GET", "POST"]]
        if method.upper() not in methods:
            return 405, {}, b""
        name = str(fn.trigger.get("name", "req"))
        query = dict(urllib.parse.parse_qsl(url.query))
        req = {"Url": f"https://127.0.0.1:{http_port()}{raw_path}", "Method": method.upper(), "Query": query,
               "Headers": {k: [v] for k, v in headers.items()}, "Params": {}, "Identities": [],
               "Body": body.decode(errors="replace")}
        ok, reply = self.invoke(app, fn, {name: req}, {"Query": json.dumps(query), "Headers": json.dumps(headers)})
        if not ok:
            return 500, {}, b""
        out = next((b for b in fn.bindings if b.get("type") == "http" and b.get("direction") == "out"), None)
        res = reply.get("ReturnValue") if out is None or out.get("name") == "$return" else (reply.get("Outputs") or {}).get(out["name"])
        if not isinstance(res, dict):
            return 204, {}, b""
        status = int(res.get("StatusCode") or res.get("statusCode") or 200)
        answer = res.get("Body", res.get("body", ""))
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        heads = {str(k): str(v) for k, v in (res.get("Headers") or res.get("headers") or {}).items()}
        return status, heads, data

    def report(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"name": a.name, "pid": a.process.pid if a.process else None, "port": a.port,
                     "http": f"https://127.0.0.1:{http_port()}/{a.name}/api/",
                     "identity": a.identity.public(),
                     "functions": {f.name: {"trigger": f.kind, "invocations": f.invocations, "failures": f.failures,
                                            "next": _iso(f.next_due) if f.next_due else None, "log": str(f.log_path)}
                                   for f in a.functions.values()}} for a in self.apps.values()]


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def leftover_pids() -> list[int]:
    """Handlers a previous run left (by the apps' folder in their command line)."""
    return processes.pids_with_cmdline_containing(str(apps_dir()) + "/")

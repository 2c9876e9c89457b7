"""The lab process: moto behind a small router, the lab's extensions installed, a clock
for timeouts and pollers, and a clean teardown on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from . import (
    config,
    creation_policy,
    network,
    patch_autoscaling,
    patch_cloudformation,
    patch_ec2,
    patch_iam,
    patch_lambda,
    patch_names,
    patch_route53,
    patch_ssm,
)
from .azure import identity as azure_identity, lab_ca
from .api_calls import ApiCalls
from .azure.cloud import AzureCloud
from .azure.storage import AzureStorage
from .custom_resources import CustomResources
from .lablock import LAB_LOCK
from .lambda_host import LambdaHost
from .lifecycle import REGISTRY
from .node_authority import NodeAuthority
from .nodes import NodeManager, sweep
from .schedules import Schedules, install as install_schedules

log = logging.getLogger("swarmlab")


class Lab:
    def __init__(self) -> None:
        self.nodes = NodeManager()
        self.host = LambdaHost()
        self.customs = CustomResources(self.host)
        patch_autoscaling.install()
        patch_ec2.install(self.nodes)
        patch_iam.install()
        patch_ssm.install(self.nodes)
        patch_lambda.install(self.host)
        patch_route53.install()
        patch_names.install()
        self.stack_ops = patch_cloudformation.install(self.customs)
        self.signals = creation_policy.install(self.stack_ops)
        self.event_sources = patch_lambda.EventSources(self.host)
        install_schedules()
        self.schedules = Schedules()
        from moto.cloudformation import parsing

        parsing.get_model_list.cache_clear()
        parsing.get_model_map.cache_clear()
        parsing.get_name_type_map.cache_clear()
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.stopping = threading.Event()
        self.api_calls = ApiCalls()
        self.authority = NodeAuthority()
        self.identities = azure_identity.Identities()
        self.azure: AzureCloud | None = None  # set once the lab's storage answers

    # --- HTTP --------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_lab/"):
            return self._lab_endpoint(environ, start_response, path)
        if path == "/moto-api/reset":
            self.reset()
        else:
            self.api_calls.record(environ)
            refusal = self.authority.check(environ)  # the nodes' parameter calls, before moto
            if refusal is not None:
                return refusal.respond(start_response)
        with LAB_LOCK:
            body = list(self.moto(environ, start_response))
        return body

    def _lab_endpoint(self, environ: dict[str, Any], start_response: Callable, path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_lab/cfn-response/") and method in ("PUT", "POST"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            with LAB_LOCK:
                code, message = self.customs.answer(path.rsplit("/", 1)[1], body)
            return self._reply(start_response, code, {"message": message})
        if path == "/_lab/hold-launches" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                ask = json.loads(environ["wsgi.input"].read(length) or b"{}")
                group, held = str(ask["group"]), bool(ask["held"])
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"group": NAME, "held": true|false}}: {exc}'})
            with LAB_LOCK:
                REGISTRY.hold(group, held)
            return self._reply(start_response, 200, {"group": group, "held": held})
        if path == "/_lab/fire-schedules" and method == "POST":
            with LAB_LOCK:
                fired = self.schedules.fire_all()
            return self._reply(start_response, 200, {"fired": fired})
        if path == "/_lab/stop-engine" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                instance = str(json.loads(environ["wsgi.input"].read(length) or b"{}")["instance"])
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"instance": ID}}: {exc}'})
            stopped, why = self.nodes.stop_engine(instance)
            return self._reply(start_response, 200 if stopped else 400, {"instance": instance, "message": why})
        if path == "/_lab/api-calls" and method == "GET":
            return self._reply(start_response, 200, self.api_calls.report())
        if path == "/_lab/api-calls" and method == "DELETE":
            self.api_calls.reset()
            return self._reply(start_response, 200, {"message": "counts cleared"})
        if path == "/_lab/exec-traces" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                on = json.loads(environ["wsgi.input"].read(length) or b"{}")["on"]
                if not isinstance(on, bool):
                    raise TypeError("on is not true or false")
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"on": true|false}}: {exc}'})
            patch_ssm.TRACES.set(on)
            return self._reply(start_response, 200, {"on": on})
        if path == "/_lab/exec-traces" and method == "GET":
            return self._reply(start_response, 200, patch_ssm.TRACES.report())
        if path == "/_lab/authorizations" and method == "GET":
            return self._reply(start_response, 200, self.authority.report())
        if path == "/_lab/authorizations" and method == "DELETE":
            self.authority.reset()
            return self._reply(start_response, 200, {"message": "decisions cleared"})
        if path == "/_lab/azure/identities" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                name = str(json.loads(environ["wsgi.input"].read(length) or b"{}")["name"])
                ident = self.identities.create(name)
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"name": NAME}}: {exc}'})
            except azure_identity.TokenError as exc:
                return self._reply(start_response, exc.status, {"message": str(exc)})
            return self._reply(start_response, 200, {**ident.public(), "identity_header": ident.header,
                                                     "identity_endpoint": self.identity_endpoint()})
        if path == "/_lab/azure/identity" and method == "GET":
            from urllib.parse import parse_qsl

            query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
            try:
                answer = self.identities.token_response(environ.get("HTTP_X_IDENTITY_HEADER"), query)
            except azure_identity.TokenError as exc:
                return self._reply(start_response, exc.status, {"error": "invalid_request", "error_description": str(exc)})
            return self._reply(start_response, 200, answer)
        if path == "/_lab/azure/throttle" and method == "POST" and self.azure is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                ask = json.loads(environ["wsgi.input"].read(length) or b"{}")
                self.azure.throttle.inject(str(ask["operation"]), int(ask["count"]), int(ask.get("retry_after", 1)))
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"operation": "PUT Microsoft.Network/loadBalancers" | "*", "count": N, "retry_after": SECONDS}}: {exc}'})
            return self._reply(start_response, 200, self.azure.throttle.report())
        if path == "/_lab/azure/lose-vm" and method == "POST" and self.azure is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                vm = str(json.loads(environ["wsgi.input"].read(length) or b"{}")["vm"])
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"vm": RESOURCE_ID}}: {exc}'})
            lost = self.azure.scale_sets.lose(vm)
            return self._reply(start_response, 200 if lost else 404, {"vm": vm, "lost": lost})
        if path == "/_lab/azure/run-command-latency" and method == "POST" and self.azure is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                seconds = float(json.loads(environ["wsgi.input"].read(length) or b"{}")["seconds"])
                if not 0 <= seconds <= 60:
                    raise ValueError("seconds must be 0 to 60")
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"seconds": 0-60}}: {exc}'})
            self.azure.run_commands.latency = seconds
            return self._reply(start_response, 200, {"seconds": seconds})
        if path == "/_lab/azure/function-apps" and method == "POST" and self.azure is not None:
            from pathlib import Path

            from .azure.functions_host import AppError

            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                ask = json.loads(environ["wsgi.input"].read(length) or b"{}")
                name, package, identity = str(ask["name"]), Path(str(ask["package"])), str(ask.get("identity") or ask["name"])
                settings = ask.get("settings") or {}
                if not isinstance(settings, dict):
                    raise TypeError("settings is not an object")
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"name", "package": ZIP_OR_FOLDER, "identity"?, "settings"?}}: {exc}'})
            try:
                self.azure.functions.start_app(name, package, identity, settings)
            except (AppError, azure_identity.TokenError) as exc:
                return self._reply(start_response, 400, {"message": f"the app {name} did not start: {exc}"})
            return self._reply(start_response, 200, next(a for a in self.azure.functions.report() if a["name"] == name))
        if path == "/_lab/azure/function-apps" and method == "GET" and self.azure is not None:
            return self._reply(start_response, 200, self.azure.functions.report())
        if path == "/_lab/azure/fire-timers" and method == "POST" and self.azure is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                app = json.loads(environ["wsgi.input"].read(length) or b"{}").get("app")
            except (ValueError, AttributeError) as exc:
                return self._reply(start_response, 400, {"message": f'expected {{"app"?: NAME}}: {exc}'})
            return self._reply(start_response, 200, {"fired": self.azure.functions.fire_timers(app)})
        if path == "/_lab/azure/throttle" and method == "GET" and self.azure is not None:
            return self._reply(start_response, 200, self.azure.throttle.report())
        if path == "/_lab/status" and method == "GET":
            return self._reply(start_response, 200, self.report())
        return self._reply(start_response, 404, {"message": f"unknown lab endpoint {method} {path}"})

    @staticmethod
    def _reply(start_response: Callable, code: int, payload: Any) -> list[bytes]:
        data = json.dumps(payload, default=str).encode()
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}.get(code, "OK")
        start_response(f"{code} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    @staticmethod
    def identity_endpoint() -> str:
        return f"http://127.0.0.1:{config.moto_port()}/_lab/azure/identity"

    def report(self) -> dict[str, Any]:
        with LAB_LOCK:
            return {
                "nodes": [n.as_dict() for n in self.nodes.all()],
                "lifecycle": REGISTRY.as_report(),
                "functions": self.host.report(),
                "custom_resources": self.customs.report(),
                "schedules_fired": self.schedules.report(),
                "azure": {"vms": self.azure.scale_sets.report() if self.azure else [],
                          "function_apps": self.azure.functions.report() if self.azure else []},
            }

    def reset(self) -> None:
        """moto's reset also clears the lab: nodes halt, actions and functions go."""
        with LAB_LOCK:
            REGISTRY.pending.clear()
            REGISTRY.completions.clear()
            REGISTRY.finished.clear()
            REGISTRY.refused.clear()
            REGISTRY.held.clear()
            self.customs.pending.clear()
            self.schedules.reset()
            for node in self.nodes.all():
                self.nodes.terminate(node.instance_id)
        self.host.shutdown()
        self.host.functions.clear()

    # --- clock -------------------------------------------------------------------------------
    def clock(self) -> None:
        while not self.stopping.is_set():
            try:
                with LAB_LOCK:
                    REGISTRY.tick()
                    self.customs.tick()
                    self.signals.tick()
                    self.stack_ops.tick()
                    self.schedules.tick()
                self.host.tick()
                self.event_sources.tick()
            except Exception:
                log.exception("lab clock")
            self.stopping.wait(0.25)

    def shutdown(self) -> None:
        self.stopping.set()
        self.event_sources.stop()
        self.host.shutdown()
        self.nodes.shutdown()
        sweep()


def main() -> None:
    p = config.paths()
    p.run.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        # `up` sends stdout to the log file already; a person running `serve` sees it too.
        handlers=[logging.FileHandler(p.log_file)] + ([logging.StreamHandler()] if sys.stderr.isatty() else []),
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    network.check_range_is_free()
    leftovers = sweep()
    if leftovers:
        log.warning("removed nodes a previous run left behind: %s", ", ".join(leftovers))
    network.ensure_bridge()
    network.raise_neighbour_limits()
    lab = Lab()
    # The Azure lab's storage, over TLS with a CA made for this run.
    ca = lab_ca.create(p.run / "ca", hosts=("127.0.0.1", "localhost", str(config.bridge_address().ip)))
    storage = AzureStorage.start(p.run, ca)
    try:
        lab.azure = AzureCloud(lab.identities, {"blob": storage.blob_endpoint, "queue": storage.queue_endpoint}, lab.nodes,
                               ca, lab.identity_endpoint())
        lab.azure.serve(ca)
    except BaseException:
        storage.stop()
        raise
    servers = [
        make_server("127.0.0.1", config.moto_port(), lab, threaded=True),
        # Nodes reach the lab's AWS endpoint on the bridge address (their own loopback is theirs).
        make_server(str(config.bridge_address().ip), config.moto_port(), lab, threaded=True),
    ]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True, name="http").start()
    threading.Thread(target=lab.clock, daemon=True, name="clock").start()

    done = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping the lab", signum)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    p.lab_json.write_text(json.dumps({
        "pid": os.getpid(),
        "endpoint": f"http://127.0.0.1:{config.moto_port()}",
        "node_endpoint": f"http://{config.bridge_address().ip}:{config.moto_port()}",
        "region": config.REGION,
        "cidr": str(config.LAB_CIDR),
        "bridge": config.BRIDGE,
        "run_dir": str(p.run),
        "functions_dir": str(config.functions_dir()),
        "started": time.time(),
        "azure": {
            "ca_cert": str(ca.ca_cert),
            "blob_endpoint": storage.blob_endpoint,
            "queue_endpoint": storage.queue_endpoint,
            "identity_endpoint": lab.identity_endpoint(),
            **lab.azure.info(),
        },
    }, indent=2))
    log.info("lab up: AWS endpoint http://127.0.0.1:%d, nodes on %s", config.moto_port(), config.LAB_CIDR)
    done.wait()
    for s in servers:
        s.shutdown()
    lab.shutdown()
    lab.azure.stop()
    storage.stop()
    p.lab_json.unlink(missing_ok=True)
    log.info("lab down")

"""Function apps as resources (`Microsoft.Web/serverfarms`, `Microsoft.Web/sites`): a site
of kind `functionapp` runs in the lab's Functions host (functions_host.py).

A stand-in for App Service, following its documented resource shape:
`PUT …/sites/{name}` with `kind` (`functionapp,linux`), one user-assigned `identity`, and
`properties.siteConfig.appSettings` as `[{name, value}]`. The code is the zip that the app
setting `WEBSITE_RUN_FROM_PACKAGE` names by URL ("run from package"): the lab fetches it
(trusting the lab's CA, as App Service trusts the public ones) and starts the app from it
with the site's identity and settings; a deployment waits until its handler listens, as
ARM waits for a site. A PUT that changes a running site restarts it, as a settings change
restarts an app. `defaultHostName` is where its HTTP functions answer:
`https://{defaultHostName}/api/{route}` (`127.0.0.1:{port}/{name}` in the lab).
Deleting a site stops its app. Plans are only recorded."""

from __future__ import annotations

import logging
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from . import functions_host
from .functions_host import AppError, FunctionsHost
from .resources import ResourceStore, ResourceType, plain
from .template_deploy import ResourceError

log = logging.getLogger("swarmlab.azure.web")

SITES = "Microsoft.Web/sites"
PACKAGE_SETTING = "WEBSITE_RUN_FROM_PACKAGE"
FETCH_SECONDS = 60


def _identity_name(body: dict[str, Any]) -> str:
    """The lab identity (`{group}.{name}`) of the site's one user-assigned identity."""
    ident = body.get("identity") or {}
    ids = list((ident.get("userAssignedIdentities") or {}).keys()) if isinstance(ident, dict) else []
    if str(ident.get("type", "")).lower() != "userassigned" or len(ids) != 1:
        raise ResourceError("BadRequest", "The lab runs a function app with exactly one user-assigned identity "
                            "(identity.type UserAssigned, one of identity.userAssignedIdentities).")
    rid = ids[0]
    if "/resourceGroups/" not in rid or "/userAssignedIdentities/" not in rid:
        raise ResourceError("BadRequest", f"'{rid}' is not a user-assigned identity's resource id.")
    return f"{rid.split('/resourceGroups/', 1)[1].split('/', 1)[0]}.{rid.rsplit('/', 1)[-1]}"


def _settings(props: dict[str, Any]) -> dict[str, str]:
    raw = (props.get("siteConfig") or {}).get("appSettings") or []
    if not isinstance(raw, list):
        raise ResourceError("BadRequest", "properties.siteConfig.appSettings must be an array of {name, value}.")
    out: dict[str, str] = {}
    for item in raw:
        name, value = (item or {}).get("name"), (item or {}).get("value")
        if not isinstance(name, str) or not name or not isinstance(value, (str, int, bool)):
            raise ResourceError("BadRequest", "Each app setting needs a name and a string value.")
        out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


class WebApps:
    def __init__(self, store: ResourceStore, host: FunctionsHost, ca_cert: Path):
        self.store = store
        self.host = host
        self.ca_cert = ca_cert
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, str, dict[str, str]]] = {}  # id -> (app, identity, settings)

    def install(self) -> None:
        self.store.register(ResourceType("Microsoft.Web/serverfarms", plain))
        self.store.register(ResourceType(SITES, self._shape, settle=self._settle, on_delete=self._deleted))

    def _shape(self, store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        name = rid.rsplit("/", 1)[-1]
        if "functionapp" not in str(body.get("kind", "")).lower():
            raise ResourceError("BadRequest", "The lab runs sites of kind 'functionapp' (a Function app) only.")
        props = dict(body.get("properties") or {})
        settings = _settings(props)
        url = settings.get(PACKAGE_SETTING, "")
        if not url.startswith(("https://", "http://")):
            raise ResourceError("BadRequest", f"The app setting {PACKAGE_SETTING} must be the package's URL (run from package).")
        identity = _identity_name(body)
        with self._lock:
            self._pending[rid.lower()] = (name, identity, settings)
        host_name = functions_host.default_host_name(name)
        props.update(state="Running", defaultHostName=host_name, hostNames=[host_name], enabledHostNames=[host_name],
                     provisioningState="Succeeded")
        site_config = dict(props.get("siteConfig") or {})
        # App settings are read back through …/config/appsettings/list in Azure, not on the site.
        site_config["appSettings"] = None
        props["siteConfig"] = site_config
        return {**body, "properties": props}

    def _settle(self, rid: str) -> dict[str, Any]:
        with self._lock:
            job = self._pending.pop(rid.lower(), None)
        found = self.store.get(rid)
        if job is None or found is None:
            if found is None:
                raise ResourceError("ResourceNotFound", f"The site {rid.rsplit('/', 1)[-1]} is gone.", 404)
            return found
        name, identity, settings = job
        url = settings[PACKAGE_SETTING]
        with tempfile.TemporaryDirectory(prefix="site-") as tmp:
            package = Path(tmp) / "package.zip"
            try:
                tls = ssl.create_default_context(cafile=str(self.ca_cert))
                with urllib.request.urlopen(url, timeout=FETCH_SECONDS, context=tls) as r:
                    package.write_bytes(r.read())
            except (urllib.error.URLError, OSError) as exc:
                raise ResourceError("BadRequest", f"The site {name} could not fetch its package from "
                                    f"{PACKAGE_SETTING} ({url}): {exc}") from None
            self.host.stop_app(name)
            try:
                self.host.start_app(name, package, identity, settings)
            except AppError as exc:
                raise ResourceError("BadRequest", f"The function app {name} did not start: {exc}") from None
        log.info("site %s: started from %s", name, url)
        return found

    def _deleted(self, store: ResourceStore, resource: dict[str, Any]) -> None:
        self.host.stop_app(resource["name"])

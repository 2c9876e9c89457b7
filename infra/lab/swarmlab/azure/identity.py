"""The Azure lab's managed identities and their token endpoint.

A stand-in for what App Service and Functions give an app (nothing real runs here): the
app's environment holds `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, and

    GET {IDENTITY_ENDPOINT}?resource=<audience>&api-version=2019-08-01[&client_id=<id>]
    X-IDENTITY-HEADER: {IDENTITY_HEADER}

answers `{"access_token", "expires_on" (epoch seconds, a string), "resource",
"token_type": "Bearer", "client_id"}` (Microsoft's "managed identities for App Service
and Azure Functions", REST protocol). Each lab identity has its own header secret, so the
header says which identity asks; a `client_id` that is not that identity's is refused.

Tokens are JWTs as Entra ID issues them for a managed identity (`iss`
`https://sts.windows.net/{tenant}/`, `aud` the resource, `oid`/`sub` the principal,
`appid` the client id, `nbf`/`iat`/`exp`), signed HS256 with a key made for the run, so
the lab's own endpoints can tell a token it issued from a forged one (Azurite checks the
claims, not the signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

# The lab's one tenant.
TENANT_ID = "5a1ab000-0000-4000-8000-000000000001"
API_VERSION = "2019-08-01"
TOKEN_SECONDS = 24 * 3600
# Entra ID backdates nbf a little; Azurite checks nbf with no skew at all.
NOT_BEFORE_SKEW = 300


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Identity:
    name: str
    principal_id: str
    client_id: str
    header: str  # the IDENTITY_HEADER secret of whoever holds this identity

    def public(self) -> dict[str, str]:
        return {"name": self.name, "principal_id": self.principal_id, "client_id": self.client_id}


class TokenError(Exception):
    """A token request or a presented token the lab refuses, with the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Identities:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._by_header: dict[str, Identity] = {}
        self._by_name: dict[str, Identity] = {}
        self._lock = threading.Lock()

    def create(self, name: str) -> Identity:
        """A new identity (or the one of that name): its ids, and the header its holder sends."""
        if not name or len(name) > 128 or not all(c.isalnum() or c in "-_." for c in name):
            raise TokenError(400, f"an identity name is 1-128 letters, digits, '-', '_' or '.': {name!r}")
        with self._lock:
            found = self._by_name.get(name)
            if found is not None:
                return found
            ident = Identity(name, str(uuid.uuid4()), str(uuid.uuid4()), secrets.token_urlsafe(24))
            self._by_name[name] = ident
            self._by_header[ident.header] = ident
            return ident

    def by_principal(self, principal_id: str) -> Identity | None:
        with self._lock:
            return next((i for i in self._by_name.values() if i.principal_id == principal_id), None)

    def token_response(self, header: str | None, query: dict[str, str]) -> dict[str, Any]:
        """The endpoint's answer to one request (its header and query), or TokenError."""
        if query.get("api-version") != API_VERSION:
            raise TokenError(400, f"api-version must be {API_VERSION}")
        resource = query.get("resource", "")
        if not resource:
            raise TokenError(400, "the resource (the token's audience) is required")
        with self._lock:
            ident = self._by_header.get(header or "")
        if ident is None:
            raise TokenError(401, "the X-IDENTITY-HEADER is missing or is no identity's")
        asked = query.get("client_id") or query.get("principal_id")
        if asked and asked not in (ident.client_id, ident.principal_id):
            raise TokenError(400, f"identity {asked} is not assigned to this caller")
        token, claims = self.issue(ident, resource)
        return {
            "access_token": token,
            "expires_on": str(claims["exp"]),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": ident.client_id,
        }

    def issue(self, ident: Identity, resource: str) -> tuple[str, dict[str, Any]]:
        """A token for `ident` with audience `resource`, and its claims."""
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{TENANT_ID}/",
            "iat": now,
            "nbf": now - NOT_BEFORE_SKEW,
            "exp": now + TOKEN_SECONDS,
            "oid": ident.principal_id,
            "sub": ident.principal_id,
            "appid": ident.client_id,
            "tid": TENANT_ID,
            "idtyp": "app",
        }
        return self.sign(claims), claims

    def sign(self, claims: dict[str, Any]) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(mac)}"

    def verify(self, token: str, audience: str) -> Identity:
        """The identity a bearer token the lab issued speaks for, checked (signature,
        audience, time); TokenError(401) otherwise."""
        try:
            head, body, mac = token.split(".")
            want = hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(want, _unb64(mac)):
                raise TokenError(401, "the token's signature is not the lab's")
            claims = json.loads(_unb64(body))
        except (ValueError, TypeError) as exc:
            raise TokenError(401, f"not a token the lab issued: {exc}") from None
        now = time.time()
        if not (claims.get("nbf", 0) <= now < claims.get("exp", 0)):
            raise TokenError(401, "the token is expired or not valid yet")
        if claims.get("aud", "").rstrip("/") != audience.rstrip("/"):
            raise TokenError(401, f"the token is for {claims.get('aud')!r}, not {audience!r}")
        ident = self.by_principal(str(claims.get("oid", "")))
        if ident is None:
            raise TokenError(401, "the token's principal is no lab identity")
        return ident

"""azure/identity.py answers as the App Service / Functions identity endpoint does, and
knows its own tokens from forged ones."""

from __future__ import annotations

import base64
import json
import tempfile
import time
import unittest
from pathlib import Path

from swarmlab.azure import lab_ca
from swarmlab.azure.identity import API_VERSION, TENANT_ID, Identities, TokenError

STORAGE = "https://storage.azure.com/"


def claims_of(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


class IdentityEndpoint(unittest.TestCase):
    def setUp(self) -> None:
        self.ids = Identities()
        self.me = self.ids.create("functions")

    def ask(self, header: str | None, **query: str) -> dict:
        return self.ids.token_response(header, {"api-version": API_VERSION, **query})

    def test_a_token_carries_the_claims_entra_id_issues(self) -> None:
        answer = self.ask(self.me.header, resource=STORAGE)
        self.assertEqual(answer["token_type"], "Bearer")
        self.assertEqual(answer["client_id"], self.me.client_id)
        self.assertIsInstance(answer["expires_on"], str)
        claims = claims_of(answer["access_token"])
        self.assertEqual(claims["aud"], STORAGE)
        self.assertEqual(claims["iss"], f"https://sts.windows.net/{TENANT_ID}/")
        self.assertEqual(claims["oid"], self.me.principal_id)
        self.assertEqual(int(answer["expires_on"]), claims["exp"])
        self.assertLess(claims["nbf"], time.time() - 60)
        self.assertEqual(self.ids.verify(answer["access_token"], STORAGE.rstrip("/")), self.me)

    def test_requests_it_must_refuse(self) -> None:
        other = self.ids.create("worker")
        cases = [
            (None, {"resource": STORAGE}, 401),
            ("wrong", {"resource": STORAGE}, 401),
            (self.me.header, {}, 400),
            (self.me.header, {"resource": STORAGE, "client_id": other.client_id}, 400),
        ]
        for header, query, status in cases:
            with self.assertRaises(TokenError) as caught:
                self.ask(header, **query)
            self.assertEqual(caught.exception.status, status, (header, query))
        with self.assertRaises(TokenError):
            self.ids.token_response(self.me.header, {"api-version": "2017-09-01", "resource": STORAGE})
        with self.assertRaises(TokenError):
            self.ids.create("no spaces allowed")

    def test_forged_and_misdirected_tokens_are_refused(self) -> None:
        token = self.ask(self.me.header, resource=STORAGE)["access_token"]
        head, body, mac = token.split(".")
        forged_claims = dict(claims_of(token), oid=self.ids.create("worker").principal_id)
        forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
        for bad in [f"{head}.{forged_body}.{mac}", f"{head}.{body}.", "garbage", Identities().sign(claims_of(token))]:
            with self.assertRaises(TokenError):
                self.ids.verify(bad, STORAGE)
        with self.assertRaises(TokenError):
            self.ids.verify(token, "https://vault.azure.net")
        self.assertIs(self.ids.create("functions"), self.me)


class LabCa(unittest.TestCase):
    def test_the_server_certificate_is_for_loopback_and_signed_by_the_ca(self) -> None:
        from cryptography import x509

        with tempfile.TemporaryDirectory() as d:
            ca = lab_ca.create(Path(d))
            cert = x509.load_pem_x509_certificate(ca.server_cert.read_bytes())
            root = x509.load_pem_x509_certificate(ca.ca_cert.read_bytes())
            cert.verify_directly_issued_by(root)
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            self.assertIn("127.0.0.1", [str(ip) for ip in names.get_values_for_type(x509.IPAddress)])
            self.assertEqual(ca.server_key.stat().st_mode & 0o777, 0o600)


if __name__ == "__main__":
    unittest.main()

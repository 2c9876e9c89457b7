"""The product's Azure template, its portal form and the lab's stand-ins it needs: every
question the form asks is a template parameter and every parameter without a default is
asked; what the published template inlines is the node agent; deployment scripts run,
fail with the script's reason, and never show a secure value; a function app needs its
package URL and one user-assigned identity."""

from __future__ import annotations

import json
import sys
import tempfile
import unittest
from pathlib import Path

from swarmlab.azure.deployment_scripts import DeploymentScripts, duration_seconds
from swarmlab.azure.resources import ResourceStore
from swarmlab.azure.template_deploy import ResourceError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "infra" / "package"))
import azure_app  # noqa: E402

GROUP = "/subscriptions/s/resourceGroups/g/providers"


class ProductTemplate(unittest.TestCase):
    def setUp(self) -> None:
        self.template = json.loads((ROOT / "infra" / "azure" / "azuredeploy.json").read_text())
        self.form = json.loads((ROOT / "infra" / "azure" / "createUiDefinition.json").read_text())

    def test_the_form_asks_every_question_the_template_needs_and_only_those(self) -> None:
        params = self.template["parameters"]
        asked = set(self.form["parameters"]["outputs"])
        self.assertLessEqual(asked, set(params), "the form gives parameters the template does not have")
        needed = {k for k, v in params.items() if "defaultValue" not in v}
        self.assertLessEqual(needed, asked, "a parameter without a default the form does not ask")

    def test_the_published_template_inlines_the_agent_and_points_at_its_package(self) -> None:
        t = azure_app.template("https://example.invalid/app.zip")
        script = t["variables"]["nodeScript"]
        self.assertNotIn("@AGENT_BASE64@", script)
        self.assertIn("@QUEUE_ENDPOINT@", script, "the template fills the endpoints in")
        self.assertEqual(t["parameters"]["packageUrl"]["defaultValue"], "https://example.invalid/app.zip")
        self.assertNotIn("SWMTKN", json.dumps(t))

    def test_no_output_holds_a_secret(self) -> None:
        for name, out in self.template["outputs"].items():
            text = json.dumps(out).lower()
            self.assertNotIn("secret", text, name)
            self.assertNotIn("listkeys", text, name)


class Scripts(unittest.TestCase):
    def setUp(self) -> None:
        self.store = ResourceStore()
        self.scripts = DeploymentScripts(self.store, Path("/dev/null"))
        self.scripts.install()

    def _run(self, content: str, env: list[dict] | None = None) -> dict:
        rid = f"{GROUP}/Microsoft.Resources/deploymentScripts/s"
        self.store.put(rid, "Microsoft.Resources/deploymentScripts", {
            "kind": "AzureCLI", "properties": {"azCliVersion": "2.61.0", "retentionInterval": "PT1H", "timeout": "PT1M",
                                               "scriptContent": content, "environmentVariables": env or []}})
        return self.scripts._settle(rid)

    def test_durations_are_iso_8601(self) -> None:
        self.assertEqual(duration_seconds("PT30M"), 1800)
        self.assertEqual(duration_seconds("P1DT1H"), 90000)
        for bad in ("30m", "PT", "P", "PT1H30"):
            with self.assertRaises(ResourceError):
                duration_seconds(bad)

    def test_a_script_gives_its_outputs_and_keeps_secure_values_hidden(self) -> None:
        done = self._run('printf \'{"seen": "%s"}\' "$GREETING" > "$AZ_SCRIPTS_OUTPUT_PATH"',
                         [{"name": "GREETING", "value": "hi"}, {"name": "HIDDEN", "secureValue": "s3cr3t"}])
        self.assertEqual(done["properties"]["provisioningState"], "Succeeded")
        self.assertEqual(done["properties"]["outputs"], {"seen": "hi"})
        self.assertNotIn("s3cr3t", json.dumps(done))

    def test_a_failing_script_fails_with_its_reason(self) -> None:
        with self.assertRaises(ResourceError) as caught:
            self._run('echo "the swarm did not form" >&2; exit 3')
        self.assertEqual(caught.exception.code, "DeploymentScriptError")
        self.assertIn("the swarm did not form", str(caught.exception))


class Sites(unittest.TestCase):
    def test_a_function_app_needs_its_package_and_one_identity(self) -> None:
        from swarmlab.azure.web_apps import WebApps

        store = ResourceStore()
        WebApps(store, host=None, ca_cert=Path(tempfile.gettempdir()) / "none").install()  # type: ignore[arg-type]
        rid = f"{GROUP}/Microsoft.Web/sites/app"
        ident = {"type": "UserAssigned", "userAssignedIdentities": {f"{GROUP}/Microsoft.ManagedIdentity/userAssignedIdentities/fn": {}}}
        with self.assertRaises(ResourceError):
            store.put(rid, "Microsoft.Web/sites", {"kind": "functionapp,linux", "identity": ident, "properties": {}})
        with self.assertRaises(ResourceError):
            store.put(rid, "Microsoft.Web/sites", {"kind": "functionapp,linux", "properties": {"siteConfig": {
                "appSettings": [{"name": "WEBSITE_RUN_FROM_PACKAGE", "value": "https://x.invalid/p.zip"}]}}})
        _, site = store.put(rid, "Microsoft.Web/sites", {"kind": "functionapp,linux", "identity": ident, "properties": {
            "siteConfig": {"appSettings": [{"name": "WEBSITE_RUN_FROM_PACKAGE", "value": "https://x.invalid/p.zip"}]}}})
        self.assertTrue(site["properties"]["defaultHostName"].endswith("/app"))
        self.assertIsNone(site["properties"]["siteConfig"]["appSettings"], "settings are not read back on the site")

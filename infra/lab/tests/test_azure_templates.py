"""The Azure lab's template language and deployments, in process: expressions evaluate as
ARM's documented functions do, the test template deploys its resources in dependency
order, and what the lab does not know fails with the reason."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from swarmlab.azure import lab_ca
from swarmlab.azure.cloud import AzureCloud
from swarmlab.nodes import NodeManager
from swarmlab.azure.identity import TENANT_ID, Identities
from swarmlab.azure.resources import SUBSCRIPTION_ID
from swarmlab.azure.template_deploy import Deployment, Target
from swarmlab.azure.template_language import TemplateError, evaluate_string, parse, unique_string

FIXTURE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "templates" / "azure-lab-resources.json"
GROUP = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1"


class _Scope:
    def __init__(self, copy: int | None = None):
        self.copy = copy

    def parameter(self, name: str):
        return {"name": "sw", "ports": [80, 443], "on": True}[name]

    def variable(self, name: str):
        return {"obj": {"Inner": {"list": [1, 2, 3]}}, "text": "a,b"}[name]

    def copy_index(self, loop):
        if self.copy is None:
            raise TemplateError("copyIndex outside a loop")
        return self.copy

    def reference(self, target, api_version, full):
        return {"id": target, "properties": {"x": 1}} if full else {"x": 1}

    def resource_group(self):
        return {"id": GROUP, "name": "rg1", "location": "swarmlab"}

    def subscription(self):
        return {"id": f"/subscriptions/{SUBSCRIPTION_ID}", "subscriptionId": SUBSCRIPTION_ID, "tenantId": "t"}

    def deployment(self):
        return {"name": "d"}

    def environment(self):
        return {"name": "SwarmLab"}


def ev(text: str, copy: int | None = None):
    return evaluate_string(text, _Scope(copy))


class Expressions(unittest.TestCase):
    def test_functions_evaluate_as_documented(self) -> None:
        cases = [
            ("[concat('a', 'b', string(1))]", "ab1"),
            ("[concat(createArray(1), createArray(2, 3))]", [1, 2, 3]),
            ("[format('{0}-{1:D}-{{x}}', 'lb', 3)]", "lb-3-{x}"),
            ("[parameters('ports')[1]]", 443),
            ("[variables('obj').inner.list[2]]", 3),  # property names are case-insensitive
            ("[variables('obj')['Inner']['list'][0]]", 1),
            ("[length(split(variables('text'), ','))]", 2),
            ("[if(parameters('on'), 'yes', nosuchfunction())]", "yes"),  # only the branch taken runs
            ("[equals(toLower('AB'), 'ab')]", True),
            ("[and(true(), not(false()))]", True),
            ("[add(copyIndex(), 1)]", 3),
            ("[copyIndex(10)]", 12),
            ("[resourceId('Microsoft.Network/loadBalancers/probes', 'lb', 'p80')]",
             f"{GROUP}/providers/Microsoft.Network/loadBalancers/lb/probes/p80"),
            ("[resourceId('other', 'Microsoft.Network/loadBalancers', 'lb')]",
             f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/other/providers/Microsoft.Network/loadBalancers/lb"),
            ("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r1')]",
             f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/r1"),
            ("[reference('x').x]", 1),
            ("[reference('x', '2024-01-01', 'Full').id]", "x"),
            ("[union(createObject('a', 1), createObject('b', 2))]", {"a": 1, "b": 2}),
            ("[coalesce(null(), 'z')]", "z"),
            ("[empty(createArray())]", True),
            ("[contains('Hello', 'ell')]", True),
            ("[contains('Hello', 'ELL')]", False),  # case-sensitive in strings
            ("[contains(createObject('Key', 1), 'key')]", True),  # not in object keys
            ("[union(json('{\"a\": {\"x\": 1, \"l\": [1]}}'), json('{\"a\": {\"y\": 2, \"l\": [2]}}'))]",
             {"a": {"x": 1, "y": 2, "l": [2]}}),  # nested objects merge, arrays are replaced
            ("['it''s']", "it's"),
            ("[[not an expression]", "[not an expression]"),
            ("plain text", "plain text"),
            ("[base64('lab')]", "bGFi"),
            ("[json('{\"a\": [1]}').a[0]]", 1),
            ("[take('abcdef', 3)]", "abc"),
            ("[range(1, 3)]", [1, 2, 3]),
        ]
        for text, want in cases:
            with self.subTest(text=text):
                self.assertEqual(ev(text, copy=2), want)

    def test_unique_string_gives_what_real_deployments_give(self) -> None:
        # Published outputs of real ARM deployments and of Microsoft's own port.
        for args, want in [
            (("aaa",), "zavj67f3en4hc"),
            (("zzz",), "cryksdzzzawae"),
            (("xxx", "yyy", "zzz"), "lghi7k5js7itq"),
            (("/subscriptions/00000000-0000-0000-0000-000000000000", "resource-id"), "cwvxuqg24sifi"),
        ]:
            self.assertEqual(unique_string(*args), want, args)
        a = unique_string(GROUP)
        self.assertEqual(len(a), 13)
        self.assertEqual(a, unique_string(GROUP))
        self.assertNotEqual(a, unique_string(GROUP, "x"))
        self.assertTrue(a.isalnum() and a == a.lower(), a)

    def test_what_is_not_the_language_is_refused_with_the_reason(self) -> None:
        for text, reason in [
            ("[nosuchfunction('x')]", "The template function 'nosuchfunction' is not valid"),
            ("[concat('a']", "expected"),
            ("[parameters('missing')]", "KeyError"),
            ("[variables('obj').nothere]", "doesn't exist"),
            ("[parameters('ports')[5]]", "outside the array"),
            ("[copyIndex()]", "copyIndex"),
            ("['open]", "not closed"),
        ]:
            with self.subTest(text=text):
                with self.assertRaises((TemplateError, KeyError)) as caught:
                    ev(text)
                self.assertIn(reason, f"{type(caught.exception).__name__}: {caught.exception}")

    def test_the_parser_keeps_strings_with_dots_and_brackets_intact(self) -> None:
        self.assertEqual(ev("[concat('a.b', '[c]', ').d')]"), "a.b[c]).d")
        self.assertIsNotNone(parse("resourceGroup().location"))


class Deployments(unittest.TestCase):
    def setUp(self) -> None:
        self.ids = Identities()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        ca = lab_ca.create(Path(self.tmp.name))
        self.cloud = AzureCloud(self.ids, {"blob": "https://127.0.0.1:1/acct", "queue": "https://127.0.0.1:2/acct"},
                                NodeManager(), ca, "http://127.0.0.1:1/identity")
        self.cloud.store.put_group("rg1", "swarmlab")
        self.template = json.loads(FIXTURE.read_text())

    def deploy(self, template, parameters) -> Deployment:
        d = Deployment(Target(SUBSCRIPTION_ID, TENANT_ID, "rg1", "swarmlab", "d1"),
                       {"properties": {"mode": "Incremental", "template": template, "parameters": parameters}},
                       self.cloud.store, self.cloud.environment())
        d.start(self.cloud.store.lock)
        self.assertTrue(d.done.wait(20))
        return d

    def test_the_test_template_creates_its_resources_in_dependency_order(self) -> None:
        d = self.deploy(self.template, {"clusterName": {"value": "swarm1"}})
        self.assertEqual(d.state, "Succeeded", d.error)
        store = self.cloud.store
        lb = store.get(f"{GROUP}/providers/Microsoft.Network/loadBalancers/swarm1-lb")
        assert lb is not None
        self.assertEqual([r["name"] for r in lb["properties"]["loadBalancingRules"]], ["port-80", "port-443"])
        self.assertEqual(lb["properties"]["probes"][1]["properties"]["port"], 443)
        self.assertEqual(d.outputs["lbRules"]["value"], 2)
        self.assertEqual(d.outputs["managers"], {"type": "Int", "value": 3})
        self.assertTrue(d.outputs["vaultUri"]["value"].startswith(self.cloud.key_vault_endpoint() + "/"))
        record = store.get(f"{GROUP}/providers/Microsoft.Network/privateDnsZones/swarm1.swarm.internal/A/managers")
        assert record is not None
        self.assertEqual(record["properties"]["ttl"], 60)
        assignments = store.list("Microsoft.Authorization/roleAssignments", "/")
        self.assertEqual(len(assignments), 3)
        manager = self.ids.create("rg1.swarm1-manager")
        self.assertEqual(d.outputs["managerIdentity"]["value"], manager.client_id)
        # Each operation names its resource; every dependency came before its dependant.
        order = [op.name for op in d.run.operations]
        self.assertLess(order.index("swarm1-ip"), order.index("swarm1-lb"))
        self.assertLess(order.index("swarm1.swarm.internal"), order.index("swarm1.swarm.internal/managers"))
        vault = next(n for n in order if n.startswith("kv") and "/" not in n)
        self.assertLess(order.index(vault), order.index(f"{vault}/manager-token"))
        self.assertTrue(all(op.state == "Succeeded" for op in d.run.operations))

    def test_a_condition_turns_a_resource_off(self) -> None:
        d = self.deploy(self.template, {"clusterName": {"value": "swarm2"}, "withWorkerSecret": {"value": False}})
        self.assertEqual(d.state, "Succeeded", d.error)
        names = [op.name for op in d.run.operations]
        self.assertTrue(any(n.endswith("/manager-token") for n in names), names)
        self.assertFalse(any(n.endswith("/worker-token") for n in names), names)

    def test_bad_parameters_are_refused_before_anything_is_made(self) -> None:
        for parameters, reason in [
            ({}, "The value for the template parameter 'clusterName' is not provided"),
            ({"clusterName": {"value": "sw"}}, "minLength"),
            ({"clusterName": {"value": "swarm3"}, "managerCount": {"value": 4}}, "is not valid. The value must be one of"),
            ({"clusterName": {"value": "swarm3"}, "extra": {"value": 1}}, "not present in the original template"),
            ({"clusterName": "swarm3"}, "must be given as"),
        ]:
            with self.subTest(parameters=parameters):
                with self.assertRaises(TemplateError) as caught:
                    self.deploy(self.template, parameters)
                self.assertIn(reason, str(caught.exception))
        self.assertEqual(self.cloud.store.list("Microsoft.Network/loadBalancers", "/"), [])

    def test_an_unknown_function_is_refused_by_name_before_anything_is_made(self) -> None:
        t = json.loads(FIXTURE.read_text())
        t["resources"][7]["properties"]["frontendIPConfigurations"][0]["name"] = "[if(true(), 'a', shinyNewFunction('x'))]"
        with self.assertRaises(TemplateError) as caught:
            self.deploy(t, {"clusterName": {"value": "swarm4"}})
        self.assertEqual(caught.exception.code, "InvalidTemplate")
        self.assertIn("The template resource '[variables('lbName')]' is not valid: "
                      "The template function 'shinynewfunction' is not valid", str(caught.exception))
        self.assertEqual(self.cloud.store.list("Microsoft.ManagedIdentity/userAssignedIdentities", "/"), [])

    def test_a_resource_refused_while_deploying_fails_the_deployment_with_its_cause(self) -> None:
        t = json.loads(FIXTURE.read_text())
        t["resources"][2]["properties"]["enableRbacAuthorization"] = False
        d = self.deploy(t, {"clusterName": {"value": "swarm6"}})
        self.assertEqual(d.state, "Failed")
        assert d.error is not None
        self.assertEqual(d.error["code"], "DeploymentFailed")
        self.assertIn("enableRbacAuthorization", d.error["details"][0]["message"])
        failed = [op for op in d.operations() if op["properties"]["provisioningState"] == "Failed"]
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["properties"]["statusCode"], "BadRequest")
        self.assertEqual(failed[0]["properties"]["targetResource"]["resourceType"], "Microsoft.KeyVault/vaults")

    def test_an_unknown_resource_type_is_refused_by_name(self) -> None:
        t = json.loads(FIXTURE.read_text())
        t["resources"].append({"type": "Microsoft.Contoso/widgets", "apiVersion": "2020-01-01", "name": "w"})
        with self.assertRaises(TemplateError) as caught:
            self.deploy(t, {"clusterName": {"value": "swarm5"}})
        self.assertEqual(caught.exception.code, "InvalidResourceType")
        self.assertIn("'widgets' could not be found in the namespace 'Microsoft.Contoso'", str(caught.exception))

    def test_a_dependency_cycle_is_refused(self) -> None:
        t = {"$schema": "x", "contentVersion": "1.0.0.0", "resources": [
            {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "1", "name": "a", "dependsOn": ["b"]},
            {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "1", "name": "b", "dependsOn": ["a"]},
        ]}
        with self.assertRaises(TemplateError) as caught:
            self.deploy(t, {})
        self.assertIn("Circular dependency", str(caught.exception))


if __name__ == "__main__":
    unittest.main()

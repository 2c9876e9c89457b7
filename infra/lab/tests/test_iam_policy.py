"""iam_policy.py decides as AWS's documented policy evaluation logic does."""

from __future__ import annotations

import json
import unittest
from typing import Any

from swarmlab import iam_policy
from swarmlab.iam_policy import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, PolicyError, UnknownConditionOperator, evaluate

REGION, ACCOUNT = "us-east-1", "123456789012"
PARAM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(statements: list[dict[str, Any]], action: str, resource: str = "*", context: dict[str, Any] | None = None) -> iam_policy.Decision:
    return evaluate([("p", policy(*statements))], action, resource, context)


def allowed(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    return decide([allow(Condition=condition)], "s3:GetObject", "arn:aws:s3:::b/k", context).allowed


class Outcomes(unittest.TestCase):
    def test_nothing_allows_is_an_implicit_deny(self) -> None:
        d = evaluate([], "ssm:GetParameter", f"{PARAM}/x")
        self.assertEqual((d.allowed, d.outcome, d.policy, d.statement), (False, IMPLICIT_DENY, None, None))
        d = decide([allow("ssm:PutParameter")], "ssm:GetParameter", f"{PARAM}/x")
        self.assertEqual(d.outcome, IMPLICIT_DENY)

    def test_allow_names_its_statement(self) -> None:
        d = decide([allow("ssm:PutParameter"), allow("ssm:GetParameter", Sid="Read")], "ssm:GetParameter", f"{PARAM}/x")
        self.assertEqual((d.allowed, d.outcome, d.policy, d.sid, d.statement), (True, ALLOW, "p", "Read", "Read"))
        d = decide([allow("ssm:PutParameter"), allow("ssm:GetParameter")], "ssm:GetParameter", f"{PARAM}/x")
        self.assertEqual((d.index, d.statement), (1, "#1"))

    def test_explicit_deny_wins_over_allow_in_any_policy_in_any_order(self) -> None:
        policies = [
            ("allows", policy(allow("ssm:*"))),
            ("denies", policy(deny("ssm:GetParameter", f"{PARAM}/secret", Sid="NoSecret"))),
            ("allows-too", policy(allow("ssm:GetParameter", f"{PARAM}/secret"))),
        ]
        d = evaluate(policies, "ssm:GetParameter", f"{PARAM}/secret")
        self.assertEqual((d.allowed, d.outcome, d.policy, d.statement), (False, EXPLICIT_DENY, "denies", "NoSecret"))
        self.assertTrue(evaluate(policies, "ssm:GetParameter", f"{PARAM}/other").allowed)

    def test_a_deny_that_does_not_apply_does_not_deny(self) -> None:
        d = decide([allow(), deny("ssm:DeleteParameter")], "ssm:GetParameter", f"{PARAM}/x")
        self.assertEqual(d.outcome, ALLOW)

    def test_documents_as_json_text_and_url_encoded(self) -> None:
        text = json.dumps(policy(allow("ssm:GetParameter")))
        self.assertTrue(evaluate([("t", text)], "ssm:GetParameter", f"{PARAM}/x").allowed)
        from urllib.parse import quote
        self.assertTrue(evaluate([("q", quote(text))], "ssm:GetParameter", f"{PARAM}/x").allowed)
        self.assertTrue(evaluate([("one", {"Statement": allow("ssm:GetParameter")})], "ssm:GetParameter", "x").allowed)


class Actions(unittest.TestCase):
    def test_wildcards(self) -> None:
        self.assertTrue(decide([allow("*")], "ssm:GetParameter").allowed)
        self.assertTrue(decide([allow("ssm:*")], "ssm:GetParameter").allowed)
        self.assertFalse(decide([allow("ssm:*")], "ssmmessages:OpenDataChannel").allowed)
        self.assertTrue(decide([allow("ssm:GetParameter*")], "ssm:GetParametersByPath").allowed)
        self.assertTrue(decide([allow("ssm:Get?arameter")], "ssm:GetParameter").allowed)
        self.assertFalse(decide([allow("ssm:Get?arameter")], "ssm:GetParameters").allowed)
        self.assertFalse(decide([allow("ssm:GetParameter")], "ssm:GetParameters").allowed)

    def test_case_insensitive(self) -> None:
        self.assertTrue(decide([allow("SSM:getparameter")], "ssm:GetParameter").allowed)
        self.assertTrue(decide([allow(["s3:GetObject", "ssm:GETPARAMETER*"])], "ssm:GetParameters").allowed)

    def test_not_action(self) -> None:
        stmts = [{"Effect": "Allow", "NotAction": ["ssm:PutParameter", "ssm:Delete*"], "Resource": "*"}]
        self.assertTrue(decide(stmts, "ssm:GetParameter").allowed)
        self.assertFalse(decide(stmts, "ssm:PutParameter").allowed)
        self.assertFalse(decide(stmts, "ssm:DeleteParameters").allowed)
        # A Deny with NotAction denies everything else.
        stmts = [allow(), {"Effect": "Deny", "NotAction": "ssm:GetParameter", "Resource": "*"}]
        self.assertEqual(decide(stmts, "ssm:GetParameter").outcome, ALLOW)
        self.assertEqual(decide(stmts, "ssm:PutParameter").outcome, EXPLICIT_DENY)


class Resources(unittest.TestCase):
    def test_wildcards(self) -> None:
        rule = [allow("ssm:GetParameter", "arn:aws:ssm:*:*:parameter/swarmhook/*/join-token/worker")]
        self.assertTrue(decide(rule, "ssm:GetParameter", f"{PARAM}/swarmhook/s/join-token/worker").allowed)
        self.assertTrue(decide(rule, "ssm:GetParameter", "arn:aws:ssm:eu-west-1:111122223333:parameter/swarmhook/a/b/join-token/worker").allowed)
        self.assertFalse(decide(rule, "ssm:GetParameter", f"{PARAM}/swarmhook/s/join-token/manager").allowed)
        self.assertTrue(decide([allow("*", f"{PARAM}/swarmhook/s/join-token/?????")], "ssm:GetParameter", f"{PARAM}/swarmhook/s/join-token/token").allowed)
        self.assertFalse(decide([allow("*", f"{PARAM}/swarmhook/s/join-token/?????")], "ssm:GetParameter", f"{PARAM}/swarmhook/s/join-token/worker").allowed)

    def test_a_star_inside_a_segment_stays_in_it_and_a_final_one_does_not(self) -> None:
        self.assertFalse(decide([allow("*", "arn:aws:ssm:us-*1:123456789012:parameter/x")], "a:b", "arn:aws:ssm:us-east:1:123456789012:parameter/x").allowed)
        self.assertTrue(decide([allow("*", "arn:aws:ssm:us-*1:123456789012:parameter/x")], "a:b", f"{PARAM}/x").allowed)
        self.assertTrue(decide([allow("*", "arn:aws:ssm:*")], "a:b", f"{PARAM}/x").allowed)

    def test_case_sensitive(self) -> None:
        rule = [allow("ssm:GetParameter", f"{PARAM}/Swarm/*")]
        self.assertTrue(decide(rule, "ssm:GetParameter", f"{PARAM}/Swarm/x").allowed)
        self.assertFalse(decide(rule, "ssm:GetParameter", f"{PARAM}/swarm/x").allowed)

    def test_lists(self) -> None:
        rule = [allow("ssm:GetParameter", [f"{PARAM}/a", f"{PARAM}/b"])]
        self.assertTrue(decide(rule, "ssm:GetParameter", f"{PARAM}/b").allowed)
        self.assertFalse(decide(rule, "ssm:GetParameter", f"{PARAM}/c").allowed)

    def test_not_resource(self) -> None:
        stmts = [{"Effect": "Allow", "Action": "ssm:GetParameter", "NotResource": f"{PARAM}/private/*"}]
        self.assertTrue(decide(stmts, "ssm:GetParameter", f"{PARAM}/public/x").allowed)
        self.assertFalse(decide(stmts, "ssm:GetParameter", f"{PARAM}/private/x").allowed)
        stmts = [allow(), {"Effect": "Deny", "Action": "ssm:*", "NotResource": [f"{PARAM}/mine/*"], "Sid": "OnlyMine"}]
        self.assertEqual(decide(stmts, "ssm:GetParameter", f"{PARAM}/mine/x").outcome, ALLOW)
        d = decide(stmts, "ssm:GetParameter", f"{PARAM}/theirs/x")
        self.assertEqual((d.outcome, d.statement), (EXPLICIT_DENY, "OnlyMine"))


class Conditions(unittest.TestCase):
    def test_string_operators(self) -> None:
        ctx = {"aws:PrincipalTag/team": "Swarm"}
        self.assertTrue(allowed({"StringEquals": {"aws:PrincipalTag/team": "Swarm"}}, ctx))
        self.assertFalse(allowed({"StringEquals": {"aws:PrincipalTag/team": "swarm"}}, ctx))
        self.assertTrue(allowed({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "swarm"}}, ctx))
        self.assertTrue(allowed({"StringNotEquals": {"aws:PrincipalTag/team": ["a", "b"]}}, ctx))
        self.assertFalse(allowed({"StringNotEquals": {"aws:PrincipalTag/team": ["a", "Swarm"]}}, ctx))
        self.assertTrue(allowed({"StringLike": {"aws:PrincipalTag/team": "Sw*"}}, ctx))
        self.assertFalse(allowed({"StringLike": {"aws:PrincipalTag/team": "sw*"}}, ctx))
        self.assertTrue(allowed({"StringNotLike": {"aws:PrincipalTag/team": ["x*", "y?"]}}, ctx))

    def test_key_names_are_case_insensitive(self) -> None:
        self.assertTrue(allowed({"StringEquals": {"AWS:PRINCIPALTAG/TEAM": "Swarm"}}, {"aws:PrincipalTag/team": "Swarm"}))

    def test_values_or_keys_and_operators_and(self) -> None:
        ctx = {"a:x": "1", "a:y": "2"}
        self.assertTrue(allowed({"StringEquals": {"a:x": ["0", "1"]}}, ctx))
        self.assertTrue(allowed({"StringEquals": {"a:x": "1", "a:y": "2"}}, ctx))
        self.assertFalse(allowed({"StringEquals": {"a:x": "1", "a:y": "3"}}, ctx))
        self.assertFalse(allowed({"StringEquals": {"a:x": "1"}, "StringLike": {"a:y": "3*"}}, ctx))

    def test_arn_operators(self) -> None:
        ctx = {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/s-WorkerNodeRole-ABC"}
        self.assertTrue(allowed({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/s-WorkerNodeRole-*"}}, ctx))
        self.assertTrue(allowed({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/s-Worker*"}}, ctx))
        self.assertFalse(allowed({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/s-Manager*"}}, ctx))
        self.assertTrue(allowed({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/s-Manager*"}}, ctx))
        self.assertFalse(allowed({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, ctx))
        # Each component on its own: a * in the service component does not reach the region.
        self.assertFalse(allowed({"ArnLike": {"aws:SourceArn": "arn:aws:*:123456789012:*:x"}}, {"aws:SourceArn": "arn:aws:sqs:us-east-1:123456789012:x"}))
        self.assertFalse(allowed({"ArnLike": {"aws:SourceArn": "arn:aws:*"}}, {"aws:SourceArn": "not-an-arn"}))

    def test_bool_and_numbers_and_dates_and_addresses(self) -> None:
        self.assertTrue(allowed({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}))
        self.assertTrue(allowed({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "TRUE"}))
        self.assertFalse(allowed({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": False}))
        self.assertTrue(allowed({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}))
        self.assertFalse(allowed({"NumericLessThan": {"s3:max-keys": 10}}, {"s3:max-keys": "10"}))
        self.assertTrue(allowed({"NumericNotEquals": {"s3:max-keys": ["1", "2"]}}, {"s3:max-keys": 3}))
        self.assertFalse(allowed({"NumericEquals": {"s3:max-keys": "1"}}, {"s3:max-keys": "many"}))
        self.assertTrue(allowed({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2026-05-01T12:00:00Z"}))
        self.assertTrue(allowed({"DateGreaterThan": {"aws:EpochTime": "2020-01-01T00:00:00Z"}}, {"aws:EpochTime": 1780000000}))
        self.assertTrue(allowed({"IpAddress": {"aws:SourceIp": "10.200.0.0/16"}}, {"aws:SourceIp": "10.200.3.4"}))
        self.assertTrue(allowed({"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}, {"aws:SourceIp": "10.200.3.4"}))

    def test_missing_keys(self) -> None:
        # Missing: a condition is false, a negated one true (as the IAM User Guide says).
        self.assertFalse(allowed({"StringEquals": {"aws:PrincipalTag/team": "Swarm"}}, {}))
        self.assertFalse(allowed({"StringLike": {"aws:PrincipalTag/team": "*"}}, {}))
        self.assertFalse(allowed({"ArnLike": {"aws:SourceArn": "*"}}, {}))
        self.assertFalse(allowed({"Bool": {"aws:MultiFactorAuthPresent": "false"}}, {}))
        self.assertFalse(allowed({"NumericLessThan": {"s3:max-keys": "10"}}, {}))
        self.assertTrue(allowed({"StringNotEquals": {"aws:PrincipalTag/team": "Swarm"}}, {}))
        self.assertTrue(allowed({"ArnNotLike": {"aws:SourceArn": "arn:aws:*"}}, {}))
        self.assertFalse(allowed({"StringEquals": {"aws:PrincipalTag/team": "Swarm"}}, {"aws:PrincipalTag/team": None}))
        # A Deny whose condition's key is missing does not apply.
        d = decide([allow(), deny(Condition={"Bool": {"aws:SecureTransport": "false"}})], "s3:GetObject", "x", {})
        self.assertEqual(d.outcome, ALLOW)

    def test_if_exists(self) -> None:
        cond = {"StringEqualsIfExists": {"ec2:InstanceType": ["t3.micro"]}}
        self.assertTrue(allowed(cond, {}))
        self.assertTrue(allowed(cond, {"ec2:InstanceType": "t3.micro"}))
        self.assertFalse(allowed(cond, {"ec2:InstanceType": "m5.large"}))
        self.assertTrue(allowed({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sqs:*:*:q"}}, {}))
        self.assertTrue(allowed({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {}))
        # The documented pattern: deny without MFA, also when the key is missing.
        stmts = [allow(), deny(Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})]
        self.assertEqual(decide(stmts, "s3:GetObject", "x", {}).outcome, EXPLICIT_DENY)
        self.assertEqual(decide(stmts, "s3:GetObject", "x", {"aws:MultiFactorAuthPresent": True}).outcome, ALLOW)

    def test_null(self) -> None:
        self.assertTrue(allowed({"Null": {"aws:TokenIssueTime": "true"}}, {}))
        self.assertFalse(allowed({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}))
        self.assertTrue(allowed({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}))
        self.assertFalse(allowed({"Null": {"aws:TokenIssueTime": False}}, {}))
        self.assertTrue(allowed({"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": []}))

    def test_set_operators(self) -> None:
        keys = {"aws:TagKeys": ["env", "team"]}
        self.assertTrue(allowed({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team", "cost"]}}, keys))
        self.assertFalse(allowed({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, keys))
        self.assertTrue(allowed({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, keys))
        self.assertFalse(allowed({"ForAnyValue:StringEquals": {"aws:TagKeys": ["cost"]}}, keys))
        self.assertTrue(allowed({"ForAnyValue:StringLike": {"aws:TagKeys": ["te*"]}}, keys))
        self.assertTrue(allowed({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["cost", "owner"]}}, keys))
        self.assertFalse(allowed({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["team"]}}, keys))
        self.assertTrue(allowed({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}}, keys))
        # Missing or empty: ForAllValues holds, ForAnyValue does not (unless IfExists).
        for ctx in ({}, {"aws:TagKeys": []}):
            self.assertTrue(allowed({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, ctx))
            self.assertFalse(allowed({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, ctx))
            self.assertTrue(allowed({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["env"]}}, ctx))


class Refusals(unittest.TestCase):
    def test_unknown_operator_is_an_error_naming_it(self) -> None:
        for op in ("StringEqualz", "ForSomeValues:StringEquals", "stringequals", "NullIfExists"):
            with self.subTest(op=op), self.assertRaises(PolicyError) as caught:
                decide([allow(Condition={op: {"aws:PrincipalTag/team": "x"}})], "s3:GetObject", "x", {})
            self.assertIn(op, str(caught.exception))
        with self.assertRaises(UnknownConditionOperator) as caught:
            decide([allow(Condition={"StringEqualz": {"k": "x"}})], "s3:GetObject")
        self.assertEqual(caught.exception.operator, "StringEqualz")

    def test_an_error_anywhere_is_raised_even_when_another_statement_would_decide(self) -> None:
        with self.assertRaises(UnknownConditionOperator):
            evaluate([("ok", policy(deny())), ("broken", policy(allow(Condition={"Nope": {"k": "v"}})))], "s3:GetObject", "x")

    def test_malformed_statements(self) -> None:
        bad = [
            {"Effect": "Allow", "Action": "*"},  # no Resource
            {"Effect": "Allow", "Resource": "*"},  # no Action
            {"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"},
            {"Effect": "allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"},
            {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::${aws:username}/*"},
            {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}},
            {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Null": {"k": "maybe"}}},
        ]
        for stmt in bad:
            with self.subTest(stmt=stmt), self.assertRaises(PolicyError):
                decide([stmt], "s3:GetObject")
        with self.assertRaises(PolicyError):
            evaluate([("v", {"Version": "2020-01-01", "Statement": []})], "s3:GetObject", "x")
        # Before 2012-10-17, ${...} is plain text.
        old = {"Version": "2008-10-17", "Statement": [allow("*", "arn:aws:s3:::${x}")]}
        self.assertTrue(evaluate([("old", old)], "s3:GetObject", "arn:aws:s3:::${x}").allowed)


def managed_instance_core() -> dict[str, Any]:
    """AmazonSSMManagedInstanceCore's default version, from moto's bundled AWS managed policies."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)["AmazonSSMManagedInstanceCore"]["Document"]


class WorkerRole(unittest.TestCase):
    """The worker node role's policies, as the template gives them."""

    def setUp(self) -> None:
        self.policies = [
            ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", managed_instance_core()),
            ("worker-token", policy(
                allow("ssm:GetParameter", f"{PARAM}/swarmhook/S/join-token/worker"),
                deny(["ssm:GetParameter*"], "arn:aws:ssm:*:*:parameter/swarmhook/*/join-token/manager", Sid="NoManagerTokens"),
                deny("ssm:GetParametersByPath", "*", Sid="NoReadsByPath"),
            )),
        ]

    def test_the_managed_policy_alone_allows_every_parameter(self) -> None:
        d = evaluate(self.policies[:1], "ssm:GetParameter", f"{PARAM}/swarmhook/S/join-token/manager")
        self.assertEqual((d.outcome, d.policy), (ALLOW, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"))

    def test_worker_token_allowed(self) -> None:
        d = evaluate(self.policies, "ssm:GetParameter", f"{PARAM}/swarmhook/S/join-token/worker")
        self.assertTrue(d.allowed)
        self.assertEqual(d.outcome, ALLOW)

    def test_manager_token_explicitly_denied(self) -> None:
        for action in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"):
            d = evaluate(self.policies, action, f"{PARAM}/swarmhook/S/join-token/manager")
            self.assertEqual((d.allowed, d.outcome, d.policy, d.statement), (False, EXPLICIT_DENY, "worker-token", "NoManagerTokens"), action)

    def test_reads_by_path_denied(self) -> None:
        d = evaluate(self.policies, "ssm:GetParametersByPath", f"{PARAM}/swarmhook/S")
        self.assertEqual((d.outcome, d.statement), (EXPLICIT_DENY, "NoReadsByPath"))

    def test_writes_not_allowed(self) -> None:
        d = evaluate(self.policies, "ssm:PutParameter", f"{PARAM}/swarmhook/S/join-token/worker")
        self.assertEqual(d.outcome, IMPLICIT_DENY)


if __name__ == "__main__":
    unittest.main()

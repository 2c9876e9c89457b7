"""node_authority.py decides the nodes' parameter calls from their instance role, in
process against moto's backends (no server): a worker's role reads the worker token and
is refused the manager token as AWS refuses it."""

from __future__ import annotations

import io
import json
import unittest
from typing import Any

import boto3
from moto import mock_aws

from swarmlab import node_authority, patch_iam
from swarmlab.node_authority import NodeAuthority, parameter_arn, path_arn

REGION, ACCOUNT = "us-east-1", "123456789012"
PARAM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
WORKER_TOKEN = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"{PARAM}/swarmhook/S/join-token/worker"},
    {"Sid": "NoManagerTokens", "Effect": "Deny", "Action": ["ssm:GetParameter*"],
     "Resource": "arn:aws:ssm:*:*:parameter/swarmhook/*/join-token/manager"},
    {"Sid": "NoReadsByPath", "Effect": "Deny", "Action": "ssm:GetParametersByPath", "Resource": "*"},
]}
JOIN_TOKENS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ssm:PutParameter", "ssm:GetParameter"], "Resource": f"{PARAM}/swarmhook/S/join-token/*"}]}
CLEANUP = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Cleanup", "Effect": "Allow", "Action": "ssm:DeleteParameter*", "Resource": f"{PARAM}/swarmhook/S/*"}]}


def setUpModule() -> None:
    patch_iam.install()


def environ(key: str, action: str, body: dict[str, Any], region: str = REGION) -> dict[str, Any]:
    """A request as the AWS CLI on a node signs it."""
    data = json.dumps(body).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-amz-json-1.1",
        "CONTENT_LENGTH": str(len(data)),
        "HTTP_X_AMZ_TARGET": f"AmazonSSM.{action}",
        "HTTP_USER_AGENT": "aws-cli/2.17.0 md/awscrt#0.20.11",
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={key}/20260501/{region}/ssm/aws4_request, "
                              "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123abcd",
        "wsgi.input": io.BytesIO(data),
    }


def answer(refusal: node_authority.Refusal) -> tuple[str, dict[str, str], dict[str, Any]]:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"], got["headers"] = status, dict(headers)

    body = b"".join(refusal.respond(start_response))
    return got["status"], got["headers"], json.loads(body)


class Arns(unittest.TestCase):
    def test_parameter_arns(self) -> None:
        self.assertEqual(parameter_arn("/swarmhook/s/join-token/manager", REGION, ACCOUNT), f"{PARAM}/swarmhook/s/join-token/manager")
        self.assertEqual(parameter_arn("plain", REGION, ACCOUNT), f"{PARAM}/plain")
        self.assertEqual(parameter_arn("/a/b:3", REGION, ACCOUNT), f"{PARAM}/a/b")
        self.assertEqual(parameter_arn("a:live", REGION, ACCOUNT), f"{PARAM}/a")
        self.assertEqual(parameter_arn(f"{PARAM}/a/b:2", REGION, ACCOUNT), f"{PARAM}/a/b")
        self.assertEqual(parameter_arn("/x", "cn-north-1", ACCOUNT), f"arn:aws-cn:ssm:cn-north-1:{ACCOUNT}:parameter/x")

    def test_path_arns(self) -> None:
        self.assertEqual(path_arn("/x/y", REGION, ACCOUNT), f"{PARAM}/x/y")
        self.assertEqual(path_arn("/x/y/", REGION, ACCOUNT), f"{PARAM}/x/y/")
        self.assertEqual(path_arn("/", REGION, ACCOUNT), f"{PARAM}/")


@mock_aws
class Authority(unittest.TestCase):
    def setUp(self) -> None:
        iam = boto3.client("iam", region_name=REGION)
        ec2 = boto3.client("ec2", region_name=REGION)
        asg = boto3.client("autoscaling", region_name=REGION)
        # The worker: AmazonSSMManagedInstanceCore and the worker-token policy, launched by
        # an Auto Scaling group from a launch template naming the profile by ARN.
        iam.create_role(RoleName="s-WorkerNodeRole", AssumeRolePolicyDocument=TRUST)
        iam.attach_role_policy(RoleName="s-WorkerNodeRole", PolicyArn=CORE)
        iam.put_role_policy(RoleName="s-WorkerNodeRole", PolicyName="worker-token", PolicyDocument=json.dumps(WORKER_TOKEN))
        worker_profile = iam.create_instance_profile(InstanceProfileName="s-WorkerNodeProfile")["InstanceProfile"]["Arn"]
        iam.add_role_to_instance_profile(InstanceProfileName="s-WorkerNodeProfile", RoleName="s-WorkerNodeRole")
        template = ec2.create_launch_template(LaunchTemplateName="workers", LaunchTemplateData={
            "ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "IamInstanceProfile": {"Arn": worker_profile}})
        subnet = ec2.create_subnet(VpcId=ec2.create_vpc(CidrBlock="10.200.0.0/16")["Vpc"]["VpcId"],
                                   CidrBlock="10.200.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
        asg.create_auto_scaling_group(
            AutoScalingGroupName="s-workers", MinSize=1, MaxSize=1, DesiredCapacity=1, VPCZoneIdentifier=subnet,
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"], "Version": "$Latest"})
        self.worker = asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
        # The manager: an inline and a customer managed policy, launched by RunInstances
        # with the profile by name.
        iam.create_role(RoleName="s-ManagerNodeRole", AssumeRolePolicyDocument=TRUST)
        iam.put_role_policy(RoleName="s-ManagerNodeRole", PolicyName="join-tokens", PolicyDocument=json.dumps(JOIN_TOKENS))
        cleanup = iam.create_policy(PolicyName="cleanup", PolicyDocument=json.dumps(CLEANUP))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="s-ManagerNodeRole", PolicyArn=cleanup)
        iam.create_instance_profile(InstanceProfileName="s-ManagerNodeProfile")
        iam.add_role_to_instance_profile(InstanceProfileName="s-ManagerNodeProfile", RoleName="s-ManagerNodeRole")
        run = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "s-ManagerNodeProfile"})
        self.manager = run["Instances"][0]["InstanceId"]
        self.cleanup_arn = cleanup
        self.bare = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        self.authority = NodeAuthority()

    def check(self, instance: str, action: str, body: dict[str, Any]) -> node_authority.Refusal | None:
        return self.authority.check(environ(f"node-{instance}", action, body))

    def last(self) -> dict[str, Any]:
        return self.authority.report()["decisions"][-1]

    def test_where_moto_keeps_each_instance_profile(self) -> None:
        from moto.ec2.models import ec2_backends
        from moto.iam.models import iam_backends

        ec2, iam = ec2_backends[ACCOUNT][REGION], iam_backends[ACCOUNT]["aws"]
        worker, manager = ec2.get_instance(self.worker), ec2.get_instance(self.manager)
        # An Auto Scaling launch from a template: moto sets no profile on the instance.
        self.assertIsNone(worker.iam_instance_profile)
        profile, source = node_authority.profile_of(worker, ec2, iam)
        self.assertEqual(profile.name if profile else None, "s-WorkerNodeProfile")
        self.assertTrue(source.startswith("launch template lt-"), source)
        # RunInstances with IamInstanceProfile: an association.
        self.assertTrue(manager.iam_instance_profile["Arn"].endswith("/s-ManagerNodeProfile"))
        profile, source = node_authority.profile_of(manager, ec2, iam)
        self.assertEqual((profile.name if profile else None, source), ("s-ManagerNodeProfile", "association"))

    def test_the_worker_reads_the_worker_token_and_moto_gets_the_body(self) -> None:
        env = environ(f"node-{self.worker}", "GetParameter", {"Name": "/swarmhook/S/join-token/worker", "WithDecryption": True})
        self.assertIsNone(self.authority.check(env))
        self.assertEqual(json.loads(env["wsgi.input"].read()), {"Name": "/swarmhook/S/join-token/worker", "WithDecryption": True})
        d = self.last()
        self.assertEqual(
            {k: d[k] for k in ("instance", "role", "action", "resource", "allowed", "decision", "policy", "statement")},
            {"instance": self.worker, "role": "s-WorkerNodeRole", "action": "ssm:GetParameter",
             "resource": f"{PARAM}/swarmhook/S/join-token/worker", "allowed": True, "decision": "allow",
             "policy": "s-WorkerNodeRole/worker-token", "statement": "#0"})

    def test_the_worker_is_refused_the_manager_token_as_aws_refuses_it(self) -> None:
        refusal = self.check(self.worker, "GetParameter", {"Name": "/swarmhook/S/join-token/manager", "WithDecryption": True})
        assert refusal is not None
        status, headers, body = answer(refusal)
        self.assertEqual(status, "400 Bad Request")
        self.assertEqual(headers["Content-Type"], "application/x-amz-json-1.1")
        self.assertEqual(body, {
            "__type": "AccessDeniedException",
            "message": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/s-WorkerNodeRole/{self.worker} is not authorized to perform: "
                       f"ssm:GetParameter on resource: {PARAM}/swarmhook/S/join-token/manager "
                       "with an explicit deny in an identity-based policy",
        })
        d = self.last()
        self.assertEqual((d["decision"], d["policy"], d["statement"]), ("explicit-deny", "s-WorkerNodeRole/worker-token", "NoManagerTokens"))

    def test_a_version_selector_does_not_get_round_the_deny(self) -> None:
        self.assertIsNotNone(self.check(self.worker, "GetParameter", {"Name": "/swarmhook/S/join-token/manager:1"}))
        self.assertEqual(self.last()["resource"], f"{PARAM}/swarmhook/S/join-token/manager")
        self.assertIsNotNone(self.check(self.worker, "GetParameterHistory", {"Name": "/swarmhook/S/join-token/manager"}))

    def test_get_parameters_is_refused_when_any_name_is(self) -> None:
        self.assertIsNone(self.check(self.worker, "GetParameters", {"Names": ["/swarmhook/S/join-token/worker"]}))
        refusal = self.check(self.worker, "GetParameters", {"Names": ["/swarmhook/S/join-token/worker", "/swarmhook/S/join-token/manager"]})
        assert refusal is not None
        self.assertIn(f"ssm:GetParameters on resource: {PARAM}/swarmhook/S/join-token/manager with an explicit deny", answer(refusal)[2]["message"])
        self.assertEqual([d["allowed"] for d in self.authority.report()["decisions"]], [True, True, False])

    def test_reads_by_path_are_denied(self) -> None:
        refusal = self.check(self.worker, "GetParametersByPath", {"Path": "/swarmhook/S", "Recursive": True})
        assert refusal is not None
        self.assertIn(f"on resource: {PARAM}/swarmhook/S with an explicit deny", answer(refusal)[2]["message"])
        self.assertEqual(self.last()["statement"], "NoReadsByPath")

    def test_what_nothing_allows_is_refused_implicitly(self) -> None:
        refusal = self.check(self.worker, "PutParameter", {"Name": "/swarmhook/S/join-token/worker", "Value": "x", "Type": "SecureString", "Overwrite": True})
        assert refusal is not None
        self.assertTrue(answer(refusal)[2]["message"].endswith(
            f"on resource: {PARAM}/swarmhook/S/join-token/worker because no identity-based policy allows the ssm:PutParameter action"))
        self.assertEqual((self.last()["decision"], self.last()["statement"]), ("implicit-deny", None))

    def test_the_manager_writes_and_reads_the_tokens(self) -> None:
        self.assertIsNone(self.check(self.manager, "PutParameter", {"Name": "/swarmhook/S/join-token/manager", "Value": "t", "Type": "SecureString", "Overwrite": True}))
        self.assertIsNone(self.check(self.manager, "GetParameter", {"Name": "/swarmhook/S/join-token/manager"}))
        self.assertEqual(self.last()["role"], "s-ManagerNodeRole")
        # Allowed by the attached customer managed policy.
        self.assertIsNone(self.check(self.manager, "DeleteParameters", {"Names": ["/swarmhook/S/a", "/swarmhook/S/b"]}))
        self.assertEqual((self.last()["policy"], self.last()["statement"]), (self.cleanup_arn, "Cleanup"))
        self.assertIsNotNone(self.check(self.manager, "LabelParameterVersion", {"Name": "/swarmhook/S/join-token/manager", "Labels": ["x"]}))

    def test_the_aws_managed_policy_is_evaluated(self) -> None:
        # GetParameters on another parameter: only AmazonSSMManagedInstanceCore allows it.
        self.assertIsNone(self.check(self.worker, "GetParameters", {"Names": ["/elsewhere/x"]}))
        self.assertEqual(self.last()["policy"], CORE)

    def test_an_instance_without_a_profile_is_refused(self) -> None:
        refusal = self.check(self.bare, "GetParameter", {"Name": "/swarmhook/S/join-token/worker"})
        assert refusal is not None
        self.assertIn("because no identity-based policy allows the ssm:GetParameter action", answer(refusal)[2]["message"])
        d = self.last()
        self.assertEqual((d["role"], d["decision"], d["note"]), (None, "implicit-deny", "the instance has no instance profile"))

    def test_other_calls_and_callers_pass_unevaluated(self) -> None:
        env = environ(f"node-{self.worker}", "DescribeInstanceInformation", {"Filters": []})
        self.assertIsNone(self.authority.check(env))
        self.assertEqual(env["wsgi.input"].read(), b'{"Filters": []}')
        self.assertIsNone(self.authority.check(environ("fn-lifecycle", "GetParameter", {"Name": "/swarmhook/S/join-token/manager"})))
        self.assertIsNone(self.authority.check(environ("AKIAEXAMPLE", "GetParameter", {"Name": "/swarmhook/S/join-token/manager"})))
        self.assertEqual(self.authority.report()["decisions"], [])

    def test_reset_clears_the_decisions(self) -> None:
        self.check(self.worker, "GetParameter", {"Name": "/swarmhook/S/join-token/worker"})
        self.authority.reset()
        self.assertEqual(self.authority.report(), {"decisions": []})


STACK = {
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.200.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.200.1.0/24", "AvailabilityZone": f"{REGION}a"}},
        "WorkerNodeRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": json.loads(TRUST),
            "ManagedPolicyArns": [CORE],
            "Policies": [{"PolicyName": "worker-token", "PolicyDocument": {"Version": "2012-10-17", "Statement": WORKER_TOKEN["Statement"][:1]}}]}},
        "WorkerNodeProfile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "WorkerNodeRole"}]}},
        "WorkerLaunchTemplate": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {
            "ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "IamInstanceProfile": {"Arn": {"Fn::GetAtt": ["WorkerNodeProfile", "Arn"]}}}}},
        "Workers": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "MinSize": "1", "MaxSize": "1", "DesiredCapacity": "1", "VPCZoneIdentifier": [{"Ref": "Subnet"}],
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": "WorkerLaunchTemplate"},
                               "Version": {"Fn::GetAtt": ["WorkerLaunchTemplate", "LatestVersionNumber"]}}}},
    }
}


@mock_aws
class ThroughCloudFormation(unittest.TestCase):
    """A stack's role gets its ManagedPolicyArns (patch_iam.py): without the template's
    Deny, AmazonSSMManagedInstanceCore lets a worker read the manager token."""

    def test_managed_policy_arns_count_and_the_stack_deletes(self) -> None:
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(StackName="S", TemplateBody=json.dumps(STACK), Capabilities=["CAPABILITY_IAM"])
        role = cfn.describe_stack_resource(StackName="S", LogicalResourceId="WorkerNodeRole")["StackResourceDetail"]["PhysicalResourceId"]
        iam = boto3.client("iam", region_name=REGION)
        self.assertEqual([p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]], [CORE])
        worker = boto3.client("autoscaling", region_name=REGION).describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
        authority = NodeAuthority()
        self.assertIsNone(authority.check(environ(f"node-{worker}", "GetParameter", {"Name": "/swarmhook/S/join-token/manager"})))
        self.assertEqual(authority.report()["decisions"][-1]["policy"], CORE)
        cfn.delete_stack(StackName="S")
        self.assertEqual(iam.list_roles()["Roles"], [])


class Wiring(unittest.TestCase):
    """Lab.__call__ asks the authority before moto, and /_lab/authorizations reports."""

    def test_refused_before_moto_allowed_through_with_the_body(self) -> None:
        from swarmlab.api_calls import ApiCalls
        from swarmlab.server import Lab

        seen: list[bytes] = []

        def moto(env: dict[str, Any], start_response: Any) -> list[bytes]:
            seen.append(env["wsgi.input"].read(int(env.get("CONTENT_LENGTH") or 0)))
            start_response("200 OK", [])
            return [b"{}"]

        class Authority(NodeAuthority):
            def check(self, env: dict[str, Any]) -> node_authority.Refusal | None:
                body = node_authority._read_body(env)
                self.decisions.append({"body": body.decode()})
                return node_authority._refusal(400, "AccessDeniedException", "no") if b"manager" in body else None

        lab = Lab.__new__(Lab)
        lab.moto, lab.api_calls, lab.authority = moto, ApiCalls(), Authority()
        statuses: list[str] = []
        start = lambda status, headers: statuses.append(status)
        lab(environ("node-i-1", "GetParameter", {"Name": "/w/worker"}), start)
        lab(environ("node-i-1", "GetParameter", {"Name": "/w/manager"}), start)
        self.assertEqual(statuses, ["200 OK", "400 Bad Request"])
        self.assertEqual(seen, [b'{"Name": "/w/worker"}'])
        report = b"".join(lab({"PATH_INFO": "/_lab/authorizations", "REQUEST_METHOD": "GET"}, start))
        self.assertEqual(len(json.loads(report)["decisions"]), 2)
        lab({"PATH_INFO": "/_lab/authorizations", "REQUEST_METHOD": "DELETE"}, start)
        self.assertEqual(lab.authority.report(), {"decisions": []})


if __name__ == "__main__":
    unittest.main()

"""swarmlab: the local cloud swarmhook runs against.

moto in server mode, extended where it falls short (lifecycle hooks, SSM Run Command
that really runs, CloudFormation custom resources and NLBs), where every EC2 instance
is a real dockerd in its own network namespace, and Lambda functions are the real
binaries behind a local Lambda Runtime API.
"""

# swarmhook — the two commands are `make demo` and `make test` (see README.md).
# Everything else here is a building block they use, or a lab control for a person.

SHELL := /bin/bash
ROOT := $(abspath .)
PY := $(ROOT)/target/lab/venv/bin/python
LAB := cd infra/lab && PYTHONPATH=. $(PY) -m swarmlab
CARGO ?= cargo
TEST_RUNNER := $(shell if $(CARGO) nextest --version >/dev/null 2>&1; then echo "$(CARGO) nextest run --workspace --no-fail-fast"; else echo "$(CARGO) test --workspace --no-fail-fast"; fi)

TEMPLATES := $(wildcard tests/fixtures/templates/*.yaml infra/lab/templates/*.yaml infra/aws/*.yaml)

.PHONY: demo test check setup build lint fmt bench package publish publish-azure lab-up lab-status lab-scale lab-terminate lab-kill lab-stop-engine lab-reconcile lab-down

## The main command: package and publish to the lab's S3, launch the published template as
## a user would, form a swarm, show it, tear down. CLOUD=azure: publish to the lab's
## Azurite and deploy the published Azure template as the Deploy to Azure button does.
demo: setup build package
	infra/lab/with-lab.sh bash -c 'cd infra/lab && PYTHONPATH=. $(PY) -m swarmlab.$(if $(filter azure,$(CLOUD)),azure.demo,demo)'

## All tests: unit tests and integration tests against a fresh lab (always torn down); the
## product's stacks launch the packaged functions from the published template.
test: setup build lint package
	infra/lab/with-lab.sh $(TEST_RUNNER)

## The fast tier, without root or the lab: format, clippy, and every unit and property
## test (the brain's rules, the planners against the simulated swarm, parsers, adapters).
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(subst --workspace,--workspace --exclude swarmhook-lab-tests,$(TEST_RUNNER))

## Installs Debian docker.io + iproute2 and the lab's pinned Python venv (idempotent).
setup:
	@infra/lab/setup.sh

## One build of everything: function and lab binaries, and test binaries.
build:
	$(CARGO) build --workspace --all-targets

## Benchmarks, not tests: cold starts of the release functions (beside Python/boto3), then
## joins in a fresh lab at 3, 30 and 100 workers (BENCH_WORKERS="3 30 100"). Prints tables;
## writes target/bench/bootstrap.json.
bench: setup package
	infra/lab/with-lab.sh bash -c 'cd infra/lab && PYTHONPATH=.:$(ROOT)/bench $(PY) -m swarmbench'

## Each function in release mode for Lambda's provided.al2023 (x86_64), checked against
## that runtime (glibc symbol versions, shared libraries), zipped as `bootstrap` into
## target/package/ with a table of sizes; and the Azure handler linked for glibc 2.31
## (cargo-zigbuild, pinned Zig), checked against the Functions host's image, zipped with
## host.json and the function.json files, beside the template with the agent inlined.
package:
	python3 infra/package/package.py

## The packaged functions and the template to S3 under <PREFIX>/<version>/, one bucket per
## region (BUCKET in REGION, and each REGION=BUCKET of TARGETS), each region's template's
## code locations pointing at its bucket; prints per region the console's Launch Stack URL
## and the read policy (not applied) that lets the READERS' accounts (or anyone) launch.
##   make publish BUCKET=name [REGION=us-east-1] [PREFIX=swarmhook]
##                [TARGETS="eu-west-1=bucket-eu us-east-1=bucket-us"] [READERS="111122223333 …" | PUBLIC=1]
publish: setup package
	@test -n "$(BUCKET)$(TARGETS)" || { echo 'usage: make publish BUCKET=name [REGION=us-east-1] [PREFIX=swarmhook] [TARGETS="eu-west-1=bucket-eu us-east-1=bucket-us"] [READERS="111122223333 ..." | PUBLIC=1]'; exit 2; }
	$(PY) infra/package/publish.py $(if $(BUCKET),--bucket $(BUCKET)) $(if $(REGION),--region $(REGION)) \
		$(if $(PREFIX),--prefix $(PREFIX)) $(foreach t,$(TARGETS),--target $(t)) \
		$(foreach r,$(READERS),--reader $(r)) $(if $(PUBLIC),--public)

## The Azure package, template and portal form to Blob storage (a container anyone may
## read blob by blob) under <PREFIX>/<version>/; prints the Deploy to Azure link.
## ACCOUNT=lab publishes to the running lab's Azurite.
##   make publish-azure ACCOUNT=storage-account [CONTAINER=swarmhook] [PREFIX=swarmhook]
publish-azure: package
	@test -n "$(ACCOUNT)" || { echo 'usage: make publish-azure ACCOUNT=storage-account|lab [CONTAINER=name] [PREFIX=swarmhook]'; exit 2; }
ifeq ($(ACCOUNT),lab)
	$(LAB) publish-azure $(if $(CONTAINER),--container $(CONTAINER)) $(if $(PREFIX),--prefix $(PREFIX)) \
		--record $(ROOT)/target/package/published-azure.json
else
	cd infra/package && python3 publish_azure.py --account $(ACCOUNT) $(if $(CONTAINER),--container $(CONTAINER)) \
		$(if $(PREFIX),--prefix $(PREFIX)) --record $(ROOT)/target/package/published-azure.json
endif

## Rust format and lints, the lab's Python compiles and its unit tests pass (the policy
## evaluator among them), every template passes cfn-lint, and checkov finds nothing in
## the product's templates, AWS and Azure (each skipped check says why in it).
lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(PY) -m compileall -q infra/lab/swarmlab bench/swarmbench infra/package
	cd infra/lab && $(PY) -m unittest discover -s tests
	$(ROOT)/target/lab/venv/bin/cfn-lint $(TEMPLATES)
	$(ROOT)/target/lint/venv/bin/checkov --quiet --compact --skip-download --framework cloudformation -f infra/aws/swarmhook.yaml
	LOG_LEVEL=ERROR $(ROOT)/target/lint/venv/bin/checkov --quiet --compact --skip-download --framework arm -f infra/azure/azuredeploy.json

fmt:
	$(CARGO) fmt --all

## Lab controls (the lab runs as root; see README.md).
##   make lab-up [TEMPLATE=file STACK=name PARAMS="K=V K2=V2"]
##   make lab-up CLOUD=azure [TEMPLATE=file.json GROUP=rg STACK=deployment PARAMS="K=V"]
## With CLOUD=azure the controls below take Azure ids: SET= a scale set, VM= a VM.
lab-up: setup
	$(LAB) up $(if $(TEMPLATE),--template $(abspath $(TEMPLATE)) --stack $(or $(STACK),swarm) $(foreach p,$(PARAMS),--param $(p))) \
		$(if $(filter azure,$(CLOUD)),--cloud azure --group $(or $(GROUP),swarm))

lab-status:
	$(LAB) status

lab-scale:
ifeq ($(CLOUD),azure)
	@test -n "$(SET)" -a -n "$(N)" || { echo "usage: make lab-scale CLOUD=azure SET=scale-set-id N=count"; exit 2; }
	$(LAB) scale --cloud azure $(SET) $(N)
else
	@test -n "$(GROUP)" -a -n "$(N)" || { echo "usage: make lab-scale GROUP=name N=count"; exit 2; }
	$(LAB) scale $(GROUP) $(N)
endif

lab-terminate:
ifeq ($(CLOUD),azure)
	@test -n "$(VM)" || { echo "usage: make lab-terminate CLOUD=azure VM=vm-id"; exit 2; }
	$(LAB) terminate --cloud azure $(VM)
else
	@test -n "$(INSTANCE)" || { echo "usage: make lab-terminate INSTANCE=i-… [DECREMENT=1]"; exit 2; }
	$(LAB) terminate $(INSTANCE) $(if $(DECREMENT),--decrement)
endif

lab-kill:
ifeq ($(CLOUD),azure)
	@test -n "$(VM)" || { echo "usage: make lab-kill CLOUD=azure VM=vm-id"; exit 2; }
	$(LAB) kill --cloud azure $(VM)
else
	@test -n "$(INSTANCE)" || { echo "usage: make lab-kill INSTANCE=i-…"; exit 2; }
	$(LAB) kill $(INSTANCE)
endif

lab-stop-engine:
	@test -n "$(INSTANCE)" || { echo "usage: make lab-stop-engine INSTANCE=i-… (Azure: the VM's name)"; exit 2; }
	$(LAB) stop-engine $(INSTANCE)

lab-reconcile:
	$(LAB) fire-schedules $(if $(filter azure,$(CLOUD)),--cloud azure)

lab-down:
	@if [ -x "$(PY)" ]; then $(LAB) down; else echo "no lab venv: nothing to stop"; fi

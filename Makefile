# aws-cicd: every command a person or CI runs is a target here. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON      ?= python3.13            # .python-version makes pyenv's shim pick 3.13 in this folder
UV_ENV      := .tools/uv
UV          := $(UV_ENV)/bin/uv
VENV        := .venv
SAM_ENV     := .tools/sam
CHECKOV_ENV := .tools/checkov
GATES_ENV   := .tools/gates
MINISTACK_ENV := .tools/ministack
GATES       := $(GATES_ENV)/bin/python scripts/gates.py
SAM         := $(SAM_ENV)/bin/sam
CFN_LINT    := $(SAM_ENV)/bin/cfn-lint
CHECKOV     := $(CHECKOV_ENV)/bin/checkov
BUILD_DIR   := .aws-sam
REPORTS     := .reports
INFRA       := $(wildcard infra/*.yaml)
# The Chalice flavour (chalice_app/): chalice package + merge template -> SAM template -> sam build
CHALICE_DIR   := $(BUILD_DIR)/chalice
CHALICE_BUILT := $(CHALICE_DIR)/build/template.yaml
CHALICE_STACK  = aws-cicd-chalice-$(strip $(ENV))
CHALICE_SOURCES := $(shell find chalice_app layers/shared functions/pre_traffic functions/post_traffic events -type f \
                     -not -path '*/.chalice/deployments/*' -not -name '*.pyc') scripts/chalice_package.py

# Offline tooling: no telemetry, a region for the translator, no Python downloads by uv.
export SAM_CLI_TELEMETRY := 0
export UV_PYTHON_DOWNLOADS := never
export BC_SKIP_MAPPING := TRUE
OFFLINE := AWS_DEFAULT_REGION=us-east-1

ENV         ?= dev                   # samconfig.toml section: dev | prod
PIPELINE_STACK ?= aws-cicd-pipeline  # samconfig.toml [pipeline]

.PHONY: help run install sam sam-local-engine sam-local-engine-stop test test-journeys test-versions lint format typecheck requirements check-requirements validate cfn-lint build \
        translate checkov unit test-hostile openapi contract test-sam-local test-container sam-local-tier-if-possible test-emulator emulator-tier-if-possible test-ec2-boot ec2-boot-tier-if-possible image-context ec2-bundle ec2-release bench package deploy set-secret destroy clean \
        execution-policy pipeline-artifacts teardown api-canary-watch pipeline pipeline-destroy put-secret delete-secret \
        pr secrets secrets-baseline sast sbom sca sca-if-possible hooks \
        chalice-run chalice-package chalice-translate chalice-deploy chalice-destroy

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- install
$(UV): tools/uv/requirements.txt
	$(PYTHON) -m venv $(UV_ENV)
	$(UV_ENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r tools/uv/requirements.txt
	touch $@

$(VENV)/.installed: uv.lock pyproject.toml $(UV)
	$(UV) sync --frozen --python $(PYTHON) --quiet
	touch $@

$(SAM_ENV)/.installed: tools/sam/requirements.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SAM_ENV)
	VIRTUAL_ENV=$(SAM_ENV) $(UV) pip sync --quiet --require-hashes tools/sam/requirements.txt
	touch $@

$(CHECKOV_ENV)/.installed: tools/checkov/requirements.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(CHECKOV_ENV)
	VIRTUAL_ENV=$(CHECKOV_ENV) $(UV) pip sync --quiet --require-hashes tools/checkov/requirements.txt
	touch $@

$(GATES_ENV)/.installed: tools/gates/requirements.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(GATES_ENV)
	VIRTUAL_ENV=$(GATES_ENV) $(UV) pip sync --quiet --require-hashes tools/gates/requirements.txt
	touch $@

# ministack (make test-emulator) and the Lambda runtime's boto3 beside it, which is all the emulated
# functions see besides their code and layers (scripts/lambda_runtime_path.py, imported by a .pth).
$(MINISTACK_ENV)/.installed: tools/ministack/requirements.txt tools/ministack/lambda-runtime.txt scripts/lambda_runtime_path.py $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(MINISTACK_ENV)
	VIRTUAL_ENV=$(MINISTACK_ENV) $(UV) pip sync --quiet --require-hashes tools/ministack/requirements.txt
	rm -rf $(MINISTACK_ENV)/lambda-runtime
	$(UV) pip install --quiet --python $(MINISTACK_ENV)/bin/python --target $(MINISTACK_ENV)/lambda-runtime \
	  --no-deps --require-hashes -r tools/ministack/lambda-runtime.txt
	site=$$($(MINISTACK_ENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
	  && cp scripts/lambda_runtime_path.py $$site/awscicd_lambda_runtime_path.py \
	  && echo 'import awscicd_lambda_runtime_path' > $$site/zz-awscicd-lambda-runtime-path.pth
	touch $@

install: $(VENV)/.installed $(SAM_ENV)/.installed $(CHECKOV_ENV)/.installed $(GATES_ENV)/.installed ## create the app env and the isolated tool envs from the lock files

# ---------------------------------------------------------------- run
run: $(VENV)/.installed ## serve the API on 127.0.0.1:3000 (PORT=) with a local AWS (moto, AWS_PORT=) holding the secret; Ctrl-C stops
	PYTHONPATH=.:layers/shared $(VENV)/bin/python -m host.local $(if $(REAL_AWS),--real-aws) \
	  $(if $(ENV_VARS),--env-file $(ENV_VARS))

# ---------------------------------------------------------------- sam, for a person at a shell
sam: $(SAM_ENV)/.installed ## install the pinned SAM CLI in .tools/sam; prints the PATH line that puts it first
	@echo 'export PATH="$(CURDIR)/$(SAM_ENV)/bin:$$PATH"'

# A private Docker engine (root, Debian's docker.io) with the stand-in Lambda image, left running for
# `sam local`. `eval "$$(make -s sam-local-engine)"` also exports its DOCKER_HOST.
ENGINE_DIR ?= /tmp/aws-cicd-engine-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)
sam-local-engine: ## start the private Docker engine for sam local (root); prints `export DOCKER_HOST=...`
	@bash scripts/docker-engine.sh start $(ENGINE_DIR)

sam-local-engine-stop: ## stop the engine sam-local-engine started
	@bash scripts/docker-engine.sh stop $(ENGINE_DIR)

# ---------------------------------------------------------------- checks
OFFLINE_CHECKS := lint typecheck check-requirements secrets sast validate cfn-lint translate chalice-translate sbom \
                  checkov unit

test: install ## every offline check and gate (what CI runs), then SCA and the Docker and EC2 tiers where they can run
	@mkdir -p $(REPORTS) && rm -f $(REPORTS)/timings.tsv
	@$(VENV)/bin/python -m bench.provenance > $(REPORTS)/timings.tree  # make bench reports the timings only on this tree
	@for stage in $(OFFLINE_CHECKS); do scripts/timed.sh $$stage $(MAKE) $$stage || exit 1; done
	@scripts/timed.sh journeys $(MAKE) test-journeys
	@scripts/timed.sh versions $(MAKE) test-versions
	@scripts/timed.sh hostile-tier $(MAKE) test-hostile
	@scripts/timed.sh sca $(MAKE) sca-if-possible
	@scripts/timed.sh emulator-tier $(MAKE) emulator-tier-if-possible
	@scripts/timed.sh docker-tiers $(MAKE) sam-local-tier-if-possible
	@scripts/timed.sh ec2-boot-tier $(MAKE) ec2-boot-tier-if-possible

lint: $(VENV)/.installed ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(VENV)/.installed ## mypy (strict on simple_api, functions and scripts)
	$(VENV)/bin/mypy

pr: test ## what the pipeline's Build stage runs before packaging (commit hooks: .pre-commit-config.yaml)

# ---------------------------------------------------------------- gates (scripts/gates.py; thresholds in pyproject.toml)
secrets: $(GATES_ENV)/.installed ## secrets detection over the tree against the audited .secrets.baseline
	$(GATES) secrets

secrets-baseline: $(GATES_ENV)/.installed ## rewrite .secrets.baseline after a false positive (then audit it)
	$(GATES) secrets --update-baseline

sast: $(GATES_ENV)/.installed ## bandit over the Python code, failing at the committed severity
	$(GATES) sast

sbom: $(GATES_ENV)/.installed $(UV) ## CycloneDX SBOMs of the layer, the functions and the image -> .aws-sam/sbom/
	$(GATES) sbom $(BUILD_DIR)/sbom

sca: $(GATES_ENV)/.installed $(UV) ## pip-audit of the pinned dependencies; SCA_REQUIRED=true fails when the database is unreachable
	$(GATES) sca $(if $(filter true,$(SCA_REQUIRED)),--required)

sca-if-possible: $(GATES_ENV)/.installed $(UV)
	$(GATES) sca $(if $(filter true,$(SCA_REQUIRED)),--required) || { rc=$$?; [ $$rc -eq 77 ] || exit $$rc; }

hooks: $(GATES_ENV)/.installed $(VENV)/.installed ## install the git pre-commit hooks (.pre-commit-config.yaml)
	$(GATES_ENV)/bin/pre-commit install

openapi: $(VENV)/.installed ## regenerate docs/openapi.json from template.yaml routes and events/expected.json
	PYTHONPATH=.:layers/shared $(VENV)/bin/python -m host.openapi docs/openapi.json

requirements: $(UV) ## regenerate layers/shared/requirements.txt from uv.lock
	$(UV) export --frozen --no-default-groups --no-emit-project --no-header --quiet --format requirements-txt \
	  -o layers/shared/requirements.txt

check-requirements: $(UV) ## the layer's requirements match uv.lock
	$(UV) export --frozen --no-default-groups --no-emit-project --no-header --quiet --format requirements-txt \
	  | diff -u layers/shared/requirements.txt - \
	  || { echo "layers/shared/requirements.txt is stale: run 'make requirements'"; exit 1; }

validate: $(SAM_ENV)/.installed ## sam validate --lint (infra/pipeline.yaml's SAM resources: cfn-lint transforms them too)
	$(OFFLINE) $(SAM) validate --lint --template-file template.yaml

# With awslabs' serverless rules. WS1004 wants a /aws/lambda/<name> group; ours log to their own group
# with retention through LoggingConfig (a test checks every function's), which the rule cannot see.
cfn-lint: $(SAM_ENV)/.installed ## cfn-lint (+ the serverless rules) over template.yaml and infra/*.yaml
	$(CFN_LINT) template.yaml $(INFRA) --append-rules cfn_lint_serverless.rules --ignore-checks WS1004

build: $(SAM_ENV)/.installed ## sam build (cached, parallel)
	$(OFFLINE) $(SAM) build --cached --parallel --build-dir $(BUILD_DIR)/build

# SAM resolves some parameters while translating (DeploymentPreference.Type), so translate per environment.
# W2001 (unused parameter) is expected on the result: SAM consumed DeploymentType.
translate: build ## SAM -> plain CloudFormation offline, per environment, then cfn-lint on the result
	for env in dev prod; do \
	  $(OFFLINE) $(SAM_ENV)/bin/python scripts/translate.py $(BUILD_DIR)/build/template.yaml samconfig.toml $$env \
	    $(BUILD_DIR)/translated-$$env.json; \
	done
	$(CFN_LINT) --ignore-checks W2001 -- $(BUILD_DIR)/translated-dev.json $(BUILD_DIR)/translated-prod.json
	$(OFFLINE) $(SAM) local generate-event apigateway aws-proxy > $(BUILD_DIR)/generated-aws-proxy-event.json

checkov: $(CHECKOV_ENV)/.installed ## checkov over every template and the translated ones (suppressions inline, with reasons)
	$(CHECKOV) --framework cloudformation --skip-download --compact --quiet \
	  $(foreach f,template.yaml $(INFRA) $(wildcard $(CHALICE_DIR)/package/template.yaml $(BUILD_DIR)/translated-*.json),-f $(f))

unit: $(VENV)/.installed ## pytest on every core: unit, host, contract and template tests; JUnit + coverage reports
	mkdir -p $(REPORTS)
	COVERAGE_CORE=sysmon $(VENV)/bin/pytest -n auto --junitxml=$(REPORTS)/junit.xml \
	  --ignore=tests/journeys --ignore=tests/versions --ignore=tests/hostile \
	  --cov --cov-report=xml:$(REPORTS)/coverage.xml --cov-report=term

# The user's commands as typed (README, make targets), with the real SAM CLI and no credentials.
test-journeys: $(VENV)/.installed $(SAM_ENV)/.installed ## every deploy command and the README's guided line, run up to the missing credentials
	mkdir -p $(REPORTS)
	$(VENV)/bin/pytest tests/journeys -n 2 --junitxml=$(REPORTS)/journeys.xml -p no:cacheprovider

# What publishes a new Lambda version, asked as a deploy asks it: sam build + sam package + SAM's translator.
test-versions: $(VENV)/.installed $(SAM_ENV)/.installed ## which changes publish new Lambda versions (real sam build/package, translated)
	mkdir -p $(REPORTS)
	$(VENV)/bin/pytest tests/versions --junitxml=$(REPORTS)/versions.xml -p no:cacheprovider

# One process, no xdist: the tier measures latency, so nothing else of ours competes for the cores.
test-hostile: $(VENV)/.installed ## the host under hostile and heavy traffic (slow clients, crowds, oversized and garbage requests), as make run starts it
	mkdir -p $(REPORTS)
	$(VENV)/bin/pytest tests/hostile -p no:xdist --junitxml=$(REPORTS)/hostile.xml $(if $(BASE_URL),--base-url $(BASE_URL))

contract: $(VENV)/.installed ## the contract suite against BASE_URL=... or every URL output of STACK=... (needs network)
	@test -n "$(BASE_URL)$(STACK)" || { echo "usage: make contract BASE_URL=<url> | STACK=<stack name>"; exit 2; }
	mkdir -p $(REPORTS)
	$(VENV)/bin/pytest tests/contract/test_contract.py -p no:socket -o addopts="-ra" --junitxml=$(REPORTS)/contract.xml \
	  $(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(STACK),--stack-name $(STACK))

# The sam local tier needs root and Debian's docker.io; where it cannot start it prints a loud SKIPPED line.
test-sam-local: install ## sam local invoke for every events/ fixture + the contract suite against sam local start-api
	TIERS=sam-local bash scripts/sam-local-tier.sh

test-container: install ## docker build the Fargate image (local base, local wheels), run it, contract suite
	TIERS=container bash scripts/sam-local-tier.sh

sam-local-tier-if-possible: install
	bash scripts/sam-local-tier.sh || { rc=$$?; [ $$rc -eq 77 ] || exit $$rc; }

# The emulator tier (docs/emulator.md); where ministack cannot install or start it prints a loud SKIPPED line.
test-emulator: install build $(CHALICE_BUILT) $(MINISTACK_ENV)/.installed ## deploy dev and prod (and the Chalice flavour in dev) into a local AWS emulator (ministack): contract suite, update, delete
	$(VENV)/bin/python scripts/emulator_tier.py

emulator-tier-if-possible: install build $(CHALICE_BUILT)
	@$(MAKE) $(MINISTACK_ENV)/.installed \
	  || { printf '\n*** SKIPPED: emulator tier: cannot install ministack (tools/ministack/requirements.txt) ***\n\n'; exit 0; }
	$(VENV)/bin/python scripts/emulator_tier.py || { rc=$$?; [ $$rc -eq 77 ] || exit $$rc; }

bench: install build ## speed and size figures against same-run baselines -> .reports/performance.md; fails on a missed goal
	$(VENV)/bin/python bench/run.py

# The EC2 boot path in a local Debian rootfs (the sam local tier's); needs root, else SKIPPED.
test-ec2-boot: install ## install the EC2 bundle in a local Debian rootfs as cfn-init would, run it, contract suite
	$(VENV)/bin/python scripts/ec2_boot_tier.py

ec2-boot-tier-if-possible: install
	$(VENV)/bin/python scripts/ec2_boot_tier.py || { rc=$$?; [ $$rc -eq 77 ] || exit $$rc; }

image-context: $(VENV)/.installed ## wheelhouse for docker build (.wheels/); PLATFORM=manylinux2014_x86_64 for amd64
	$(VENV)/bin/python scripts/build_bundle.py .wheels --wheelhouse --platform $(or $(PLATFORM),manylinux2014_aarch64)

ec2-bundle: $(VENV)/.installed ## the EC2 application bundle (arm64 wheels) -> .aws-sam/bundle/simple-api.zip
	$(VENV)/bin/python scripts/build_bundle.py $(BUILD_DIR)/bundle/simple-api.zip --platform manylinux2014_aarch64

# ---------------------------------------------------------------- the Chalice flavour (chalice_app/)
chalice-run: $(VENV)/.installed ## the Chalice flavour under chalice local on 127.0.0.1:3000 with a local AWS (moto); Ctrl-C stops
	$(VENV)/bin/python scripts/chalice_local.py $(if $(REAL_AWS),--real-aws)

# chalice package runs on Chalice's dev stage only for its own config; the environment comes from
# samconfig.toml at deploy time, as for template.yaml.
$(CHALICE_BUILT): $(CHALICE_SOURCES) $(VENV)/.installed $(SAM_ENV)/.installed
	rm -rf $(CHALICE_DIR)/package
	$(OFFLINE) PYTHONPATH=layers/shared $(VENV)/bin/chalice --project-dir chalice_app package --stage dev \
	  --merge-template $(CURDIR)/chalice_app/merge-template.yaml $(CURDIR)/$(CHALICE_DIR)/package
	$(VENV)/bin/python scripts/chalice_package.py $(CHALICE_DIR)/package/sam.yaml $(CHALICE_DIR)/package/template.yaml
	$(OFFLINE) $(SAM) build --template-file $(CHALICE_DIR)/package/template.yaml --build-dir $(CHALICE_DIR)/build \
	  --cache-dir $(CHALICE_DIR)/cache --cached --parallel

chalice-package: $(CHALICE_BUILT) ## chalice package + merge template + the alias rewrite, then sam build -> .aws-sam/chalice/build/

chalice-translate: $(CHALICE_BUILT) ## the Chalice flavour's template -> plain CloudFormation per environment; cfn-lint on all of it
	for env in dev prod; do \
	  $(OFFLINE) $(SAM_ENV)/bin/python scripts/translate.py $(CHALICE_BUILT) samconfig.toml $$env \
	    $(BUILD_DIR)/translated-chalice-$$env.json; \
	done
	$(CFN_LINT) -- $(CHALICE_DIR)/package/template.yaml
	$(CFN_LINT) --ignore-checks W2001 -- $(BUILD_DIR)/translated-chalice-dev.json $(BUILD_DIR)/translated-chalice-prod.json

chalice-deploy: $(CHALICE_BUILT) ## sam deploy the Chalice flavour as stack aws-cicd-chalice-ENV with samconfig.toml section ENV; PARAMS="K=V ..."
	SAM="$(abspath $(SAM))" $(VENV)/bin/python scripts/deploy.py --template $(CHALICE_BUILT) --stack-name $(CHALICE_STACK) $(strip $(ENV)) $(PARAMS)

chalice-destroy: $(SAM_ENV)/.installed ## delete the Chalice flavour's ENV stack (asks for confirmation)
	$(SAM) delete --config-env $(strip $(ENV)) --stack-name $(CHALICE_STACK)

# ---------------------------------------------------------------- delivery (needs AWS credentials)
ec2-release: build $(VENV)/.installed ## build + upload the EC2 bundle to BUCKET, deploy ENV with EnableEc2=true (blue/green fleet)
	@test -n "$(BUCKET)" || { echo "usage: make ec2-release ENV=dev|prod BUCKET=<bucket>"; exit 2; }
	SAM="$(abspath $(SAM))" $(VENV)/bin/python scripts/release_ec2.py $(strip $(ENV)) $(BUCKET)

package: build ## upload code to ARTIFACT_BUCKET, write .aws-sam/packaged.yaml; SIGNING_PROFILE=<name> signs it (CodeBuild)
	ARTIFACT_BUCKET="$(ARTIFACT_BUCKET)" ARTIFACT_PREFIX="$(ARTIFACT_PREFIX)" SIGNING_PROFILE="$(SIGNING_PROFILE)" \
	  SAM="$(abspath $(SAM))" $(VENV)/bin/python scripts/package.py

deploy: build $(VENV)/.installed ## sam deploy with samconfig.toml section ENV (dev|prod); PARAMS="K=V ..." adds or replaces parameters
	SAM="$(abspath $(SAM))" $(VENV)/bin/python scripts/deploy.py $(strip $(ENV)) $(PARAMS)

set-secret: build $(VENV)/.installed ## deploy ENV with a new secret (asked without echo; scripts pipe it on stdin)
	SAM="$(abspath $(SAM))" $(VENV)/bin/python scripts/set_secret.py $(strip $(ENV))

put-secret: $(VENV)/.installed ## write ENV's secret as an SSM SecureString for the pipeline (asked without echo or piped; KEY_ID=<kms key id>)
	PYTHONPATH=.:layers/shared $(VENV)/bin/python scripts/put_secret.py $(strip $(ENV)) $(KEY_ID)

delete-secret: $(VENV)/.installed ## delete ENV's SecureString written by put-secret
	PYTHONPATH=.:layers/shared $(VENV)/bin/python scripts/put_secret.py $(strip $(ENV)) --delete

destroy: $(SAM_ENV)/.installed ## delete the ENV stack (asks for confirmation)
	$(SAM) delete --config-env $(strip $(ENV))

# ---------------------------------------------------------------- the pipeline (infra/pipeline.yaml)
execution-policy: translate ## regenerate the CloudFormation execution roles' policies (one role per environment) in infra/pipeline.yaml
	$(VENV)/bin/python scripts/execution_policy.py

# SAM looks for samconfig.toml beside the template it deploys (here .aws-sam/pipeline-build/, from the
# [pipeline] section's template_file), so the guided deploy is pointed at the project's file by path.
pipeline: $(SAM_ENV)/.installed ## build and deploy or update the pipeline stack (sam deploy --guided; samconfig.toml [pipeline])
	$(SAM) build --template-file infra/pipeline.yaml --build-dir $(BUILD_DIR)/pipeline-build --cached --parallel
	$(SAM) deploy --guided --config-env pipeline --config-file "$(CURDIR)/samconfig.toml"

pipeline-destroy: $(VENV)/.installed $(SAM_ENV)/.installed ## empty the artifact bucket and image repository, then delete the pipeline stack
	$(VENV)/bin/python scripts/pipeline_clean.py --stack $(strip $(PIPELINE_STACK))
	$(SAM) delete --config-env pipeline --stack-name $(strip $(PIPELINE_STACK))

pipeline-artifacts: $(VENV)/.installed ## (Build stage) EC2 bundle, Fargate image, per-environment CloudFormation configuration files
	$(VENV)/bin/python scripts/pipeline_artifacts.py

teardown: $(VENV)/.installed ## start the pipeline's teardown of ENV (dev|prod): it deletes that stack once you approve
	$(VENV)/bin/python scripts/teardown.py "$(strip $(ENV))" --stack "$(strip $(PIPELINE_STACK))"

api-canary-watch: $(VENV)/.installed ## (DeployProd stage) follow release RELEASE's API stage canary in STACK; fails unless it reached the stage
	@test -n "$(STACK)" && test -n "$(RELEASE)" || { echo "usage: make api-canary-watch STACK=<stack> RELEASE=<release id>"; exit 2; }
	$(VENV)/bin/python scripts/api_canary_watch.py "$(STACK)" "$(RELEASE)" $(if $(TIMEOUT),--timeout $(TIMEOUT))

clean: ## remove build output and caches (keeps the environments)
	rm -rf $(BUILD_DIR) $(REPORTS) .mypy_cache .ruff_cache .pytest_cache chalice_app/.chalice/deployments

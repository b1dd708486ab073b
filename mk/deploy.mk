# Deploy tooling (included by the top-level Makefile): SAM CLI and cfn-lint live in their own
# venv so they never fight the app's pins, and checkov (the template's security scan) in a third,
# since its dependencies clash with SAM CLI's. `sam build` needs neither Docker nor python3.12:
# the layer and functions use BuildMethod: makefile and `pip --platform` Lambda wheels.
SAM_CLI_VERSION  := 1.170.0
CFN_LINT_VERSION := 1.58.0
CHECKOV_VERSION  := 3.3.30
SAM_VENV   := .venv-sam
SAM_BIN    := $(SAM_VENV)/bin
SAM_STAMP  := $(SAM_VENV)/.installed
SAM_REGION ?= us-east-1
SAM        := SAM_CLI_TELEMETRY=0 $(SAM_BIN)/sam

$(SAM_STAMP): mk/deploy.mk
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_BIN)/pip install --quiet --upgrade pip
	$(SAM_BIN)/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION) cfn-lint==$(CFN_LINT_VERSION)
	touch $(SAM_STAMP)

CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): mk/deploy.mk
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $(CHECKOV_STAMP)

build: $(SAM_STAMP)
	$(SAM) build --template template.yaml

# Every finding is fixed or suppressed in template.yaml with a written reason (checkov: the
# resource's Metadata.checkov.skip comments). --skip-download: no call to checkov's platform.
validate: $(SAM_STAMP) $(CHECKOV_STAMP)
	$(SAM) validate --lint --template template.yaml --region $(SAM_REGION)
	$(SAM_BIN)/cfn-lint --include-checks I -- template.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

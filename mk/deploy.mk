# Deploy tooling (included by the top-level Makefile): SAM CLI and cfn-lint live in their own
# venv so they never fight the app's pins. `sam build` needs neither Docker nor python3.12:
# the layer and functions use BuildMethod: makefile and `pip --platform` Lambda wheels.
SAM_CLI_VERSION  := 1.170.0
CFN_LINT_VERSION := 1.58.0
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

build: $(SAM_STAMP)
	$(SAM) build --template template.yaml

validate: $(SAM_STAMP)
	$(SAM) validate --lint --template template.yaml --region $(SAM_REGION)
	$(SAM_BIN)/cfn-lint template.yaml

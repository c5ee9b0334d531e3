# How `sam build` builds every function and the layer of template.yaml (their Metadata says
# `BuildMethod: makefile`). SAM copies the CodeUri folder to a scratch folder and runs
# `make build-<LogicalId>` there with ARTIFACTS_DIR set. Each CodeUri's Makefile is a link to this
# file, so SAM's cache (`sam build --cached` hashes the CodeUri, links followed) sees every change here.
#
# The output is what SAM's python3.13 builder makes (the sources, the pinned wheels of
# requirements.txt unpacked, no caches) plus hash-based bytecode: a .pyc beside every .py that the
# runtime can use from a read-only tree whose files are all dated 1980 by `sam package`, where a
# timestamp-based .pyc no longer matches its source (docs/decisions.md). The .py files stay, for
# tracebacks. Bytecode is compiled for the co_filename Lambda loads it from (/var/task, /opt/python)
# and in one process, so the same sources give the same bytes (and the same code hash) on every build.
RUNTIME := python3.13
# pyenv picks the interpreter by the folder's .python-version: ask in the repository, not the scratch folder.
# A venv's python3.13 may have no pip (the README puts .tools/sam/bin first on PATH, a venv without
# pip): its base interpreter is the same Python and brings pip, so every build uses that one.
ROOT    := $(realpath $(dir $(realpath $(lastword $(MAKEFILE_LIST))))..)
PYTHON  := $(shell cd "$(ROOT)" && $(RUNTIME) -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))' 2>/dev/null)
SOURCES := $(filter-out Makefile,$(wildcard *))
# Functions at /var/task; a layer's python/ at /opt/python. Pure-Python wheels only: the layer serves
# both architectures (a package with native code fails the build here instead of at run time).
build-%Function: TARGET = $(ARTIFACTS_DIR)
build-%Function: LOADED_FROM = /var/task
build-%Layer: TARGET = $(ARTIFACTS_DIR)/python
build-%Layer: LOADED_FROM = /opt/python

build-%:
	@test -n "$(PYTHON)" || { echo "lambda.mk: no $(RUNTIME) found (from $(ROOT))" >&2; exit 1; }
	@test -n "$(TARGET)" || { echo "lambda.mk: $@ names neither a Function nor a Layer" >&2; exit 1; }
	@"$(PYTHON)" -m pip --version >/dev/null 2>&1 || { echo "lambda.mk: $(PYTHON) has no pip (install it for $(RUNTIME))" >&2; exit 1; }
	@mkdir -p "$(TARGET)"
	@cp -RL $(SOURCES) "$(TARGET)/"
	@find "$(TARGET)" -depth \( -name __pycache__ -o -name '*.pyc' -o -name .pytest_cache \) -exec rm -rf {} +
	@"$(PYTHON)" -m pip install --quiet --no-compile --no-deps --root-user-action ignore --only-binary=:all: \
	  --implementation py --abi none --platform any --python-version $(RUNTIME:python%=%) --target "$(TARGET)" -r requirements.txt
	@"$(PYTHON)" -m compileall -q --invalidation-mode checked-hash -s "$(TARGET)" -p $(LOADED_FROM) "$(TARGET)"
	@echo "lambda.mk: $@: sources, requirements and checked-hash bytecode in $(TARGET) (loaded from $(LOADED_FROM))"

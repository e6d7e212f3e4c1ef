# The README's quick start: `make demo` and `make test` set up everything they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
DEMO ?= sample_failures/apt-invalid-operation

.PHONY: demo test setup test-tools podman venv docker-daemon base-images lint bench clean

$(BIN)/dbugbuild: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/dbugbuild

docker-daemon:
	bash scripts/setup-docker.sh

base-images: docker-daemon
	bash scripts/setup-base-images.sh

setup: venv base-images

# What the tests' second daemons need (sshd, registry, htpasswd, crun, CLI plugins); not the demo.
test-tools: docker-daemon
	bash scripts/setup-test-tools.sh

# Podman for the tests marked `podman`: bookworm's podman when missing, the tests' private
# containers.conf, the base images copied from Docker (idempotent; fast when done).
podman: base-images
	bash scripts/setup-podman.sh >/dev/null

# Runs dbugbuild on the bundled failing sample (it fails on purpose: exit 100).
demo: setup
	$(BIN)/dbugbuild $(DEMO) || test $$? -eq 100

test: setup test-tools podman
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: setup podman
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/bisection.py
	test ! -f benchmarks/parsing.py || $(BIN)/python benchmarks/parsing.py

clean:
	-$(BIN)/dbugbuild clean

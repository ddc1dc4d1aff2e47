# The Lambda bundle, built by `sam build` (template.yaml: Metadata BuildMethod: makefile).
#
# SAM runs `make build-<LogicalId>` with ARTIFACTS_DIR set to the function's build directory
# (samconfig.toml sets build_in_source, so make runs here, in the repository root). The bundle is
# exactly: engine/, handlers/, rules/ and the locked dependencies of requirements.txt - nothing
# else from the work tree (no tests, bench, docs, samples, caches, build leftovers).
#
# Dependencies are the Lambda platform's wheels (Linux arm64, CPython 3.12), whatever the host:
# pip downloads them by platform tag, so no container and no arm64 machine is needed. Every
# dependency has such a wheel (tests/test_packaging.py builds this target).
#
#   make bundle                 build into .aws-sam/bundle and print the zipped size
#   make build-StreamFunction ARTIFACTS_DIR=/tmp/x WITH_DEPS=0   the code part only (no network)
#   make lock                   regenerate requirements.txt from pyproject.toml (needs uv)

PYTHON ?= python3
# Must match template.yaml (Runtime python3.12, Architectures arm64).
LAMBDA_PYTHON_VERSION := 3.12
LAMBDA_PLATFORMS := manylinux2014_aarch64 manylinux_2_28_aarch64
UV_PYTHON_PLATFORM := aarch64-manylinux2014
# 0 = copy the code only (what the offline test checks); 1 = also install requirements.txt.
WITH_DEPS ?= 1
SOURCES := engine handlers rules

.PHONY: build-StreamFunction build-HealthFunction build-SlackActionsFunction build-ArchiveFunction bundle lock

# The functions run the same code (different handlers), so they share one recipe.
build-StreamFunction build-HealthFunction build-SlackActionsFunction build-ArchiveFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R $(SOURCES) "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" \( -name __pycache__ -o -name '*.pyc' -o -name '.*' \) -prune \
		-exec rm -rf {} +
ifeq ($(WITH_DEPS),1)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --no-compile \
		--require-hashes --no-deps --only-binary=:all: \
		--implementation cp --python-version $(LAMBDA_PYTHON_VERSION) \
		$(addprefix --platform ,$(LAMBDA_PLATFORMS)) \
		--target "$(ARTIFACTS_DIR)" -r requirements.txt
	rm -rf "$(ARTIFACTS_DIR)/bin"
endif

bundle:
	rm -rf .aws-sam/bundle
	$(MAKE) --no-print-directory build-StreamFunction ARTIFACTS_DIR="$(CURDIR)/.aws-sam/bundle"
	cd .aws-sam/bundle && rm -f ../bundle.zip && zip -q -r -9 ../bundle.zip .
	@echo "bundle: $$(du -sk .aws-sam/bundle | cut -f1) KiB unzipped," \
		"$$(( $$(wc -c < .aws-sam/bundle.zip) / 1024 )) KiB zipped (.aws-sam/bundle.zip)"

# The lock is resolved for the Lambda platform, not the host: markers and wheels are those of
# CPython 3.12 on Linux arm64. uv is a tool of this step only, never part of the bundle.
lock:
	uv pip compile pyproject.toml --quiet --generate-hashes \
		--python-version $(LAMBDA_PYTHON_VERSION) --python-platform $(UV_PYTHON_PLATFORM) \
		--custom-compile-command "make lock" --output-file requirements.txt

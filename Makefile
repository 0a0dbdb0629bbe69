# Two commands do all the set-up on a fresh machine (Python 3.11, npm):
#   make demo   the folder runner on examples/ with the shipped model (light environment, no TensorFlow)
#   make test   the whole test suite (full environment)
# Both also install the web page's LiteRT.js (package.json, pinned in package-lock.json) into
# node_modules/, which the server serves itself: the page needs no network at run time.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
export NO_ALBUMENTATIONS_UPDATE = 1
export TF_CPP_MIN_LOG_LEVEL = 2
PIP_FLAGS = --quiet --disable-pip-version-check

.PHONY: demo test venv venv-deploy clean

demo: .venv-deploy/.done node_modules/.done
	.venv-deploy/bin/python deploy/run_on_folder.py examples/

test: .venv/.done .venv-deploy/.done node_modules/.done
	.venv/bin/python -m pytest -q --durations=15 tests

venv: .venv/.done
venv-deploy: .venv-deploy/.done

.venv/.done: requirements.txt deploy/requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv .venv
	.venv/bin/pip install $(PIP_FLAGS) -r requirements.txt -c constraints.txt
	.venv/bin/pip install $(PIP_FLAGS) --no-deps -r requirements-nodeps.txt
	.venv/bin/pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e . || .venv/bin/pip install $(PIP_FLAGS) --no-deps -e .
	touch $@

.venv-deploy/.done: deploy/requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv .venv-deploy
	.venv-deploy/bin/pip install $(PIP_FLAGS) -r deploy/requirements.txt -c constraints.txt
	.venv-deploy/bin/pip install $(PIP_FLAGS) --no-deps -r requirements-nodeps.txt
	.venv-deploy/bin/pip install $(PIP_FLAGS) --no-deps -e .
	touch $@

node_modules/.done: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf .venv .venv-deploy node_modules

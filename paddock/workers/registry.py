"""The model registry of this deployment: the kernel's registry at ``MODEL_REGISTRY_DIR``.

One function for the pipeline steps that register models and the generation workers that
load them, so both read the same folder.
"""

from __future__ import annotations

from django.conf import settings

from paddock.kernel.registry import ModelRegistry


def model_registry() -> ModelRegistry:
    return ModelRegistry(settings.MODEL_REGISTRY_DIR)

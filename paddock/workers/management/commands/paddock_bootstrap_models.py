"""``manage.py paddock_bootstrap_models --tiny``: the base checkpoints the loop starts from.

On a GPU installation the bases are real checkpoints on shared storage, named by
``PADDOCK_REWARD_BASE_MODEL`` and ``PADDOCK_POLICY_BASE_MODEL``. For the CPU demo and the
tests, ``--tiny`` builds tiny Llama models from a config (no download) into those paths.
Existing folders are kept, so running it twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEMO_CORPUS = (
    "How do tides work? The moon pulls the oceans, so the water rises and falls twice a day.",
    "Water boils at one hundred degrees Celsius at sea level, and lower on a mountain.",
    "To bake bread, mix flour, water, salt and yeast, let it rise, then bake it hot.",
    "I cannot help with that, because it could hurt someone. Here is safer information.",
    "A reward model learns from pairs of responses which one people prefer, and by how much.",
    "Lists in Python can change; tuples cannot, so tuples can be dictionary keys.",
)


class Command(BaseCommand):
    help = "Build tiny base models for the CPU demo (--tiny) where none are configured."

    def add_arguments(self, parser):
        parser.add_argument("--tiny", action="store_true",
                            help="build tiny Llama models from a config (demo, tests)")

    def handle(self, *args, **options):
        targets = {"reward base": Path(settings.PADDOCK_REWARD_BASE_MODEL),
                   "policy base": Path(settings.PADDOCK_POLICY_BASE_MODEL)}
        missing = {name: path for name, path in targets.items()
                   if not (path / "config.json").is_file()}
        for name, path in targets.items():
            if name not in missing:
                self.stdout.write(f"{name}: {path} (kept)")
        if not missing:
            return
        if not options["tiny"]:
            raise CommandError(
                "no checkpoint at " + ", ".join(str(p) for p in missing.values())
                + ": set PADDOCK_REWARD_BASE_MODEL / PADDOCK_POLICY_BASE_MODEL, or pass "
                "--tiny to build tiny demo models")
        from paddock.training.tiny import build_tiny_llama

        for name, path in missing.items():
            build_tiny_llama(path, corpus=DEMO_CORPUS, vocab_size=512, hidden_size=64,
                             layers=2, heads=4, max_positions=512)
            self.stdout.write(f"{name}: built a tiny Llama at {path}")

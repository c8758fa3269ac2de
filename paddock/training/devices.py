"""Where training runs and in which precision, decided the same way for every trainer.

bf16 autocast pays off where the hardware has bf16 arithmetic: CUDA GPUs from Ampere on,
and CPUs with AVX512-BF16 or AMX (MiniLM's forward and backward run about 1.75x faster
on such a CPU than in fp32, with the same accuracy). Elsewhere autocast emulates bf16
and only costs time, so "auto" leaves it off there.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

BF16_CHOICES = ("auto", "yes", "no", "cuda")  # "cuda": auto on GPUs, never on a CPU
_CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.cache
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True where the CPU advertises bf16 instructions (Linux; elsewhere False)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_CPU_BF16_FLAGS & set(line.split(":", 1)[1].split()))
    return False


def use_bf16(setting: str, device: torch.device) -> bool:
    if setting not in BF16_CHOICES:
        raise ValueError(f"bf16 {setting!r} is not one of {', '.join(BF16_CHOICES)}")
    if setting in ("yes", "no"):
        return setting == "yes"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return setting == "auto" and device.type == "cpu" and cpu_has_native_bf16()

"""Sampling responses from a causal LM, batched, with a seed per response.

Everything downstream of generation (annotation pairs, rejection sampling, PPO rollouts)
needs to say which seed produced which response and to get the same response again from
it. ``model.generate`` draws every row of a batch from one global random stream, so a
response would depend on its batch neighbours; :class:`TransformersBackend` runs its own
decode loop instead, in which each row samples from its own ``torch.Generator`` seeded
from its request. Those generators live on the CPU and draw one uniform number per row and
step. The same requests therefore give the same responses on every run, and a response
depends on its batch neighbours only through floating-point noise: padding changes the
order of some sums, which moves logits by about 1e-5 and now and then flips a draw that
lands right at the border between two tokens. Greedy decoding does not depend on the
batch (short of exact ties).

The loop: requests are sorted by prompt length into batches (less padding), prompts are
left-padded, the attention mask marks the padding and position ids are counted from each
row's first real token, the prompt is run once and then one token a step through the KV
cache (``transformers.DynamicCache``). A row stops at the tokenizer's end-of-sequence
token, at any of its request's stop tokens (neither appears in the returned tokens or
text; ``Generation.stop_token_id`` records which one it was) or after ``max_new_tokens``;
finished rows are dropped from the batch and the cache while the others go on.

``load_backend`` picks a backend by name: "transformers" (the default, tested here) or
"vllm" (a thin adapter for GPU serving throughput; see :class:`VLLMBackend`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from paddock.training.checkpoints import CAUSAL_LM, check_model_folder
from paddock.training.devices import pick_device, use_bf16
from paddock.training.policy.chat import ChatFormat, Message

FinishReason = Literal["stop", "length"]
MAX_SEED = 2**63 - 1  # seeds are recorded in JSON and in signed 64-bit database columns
DEFAULT_BACKEND = "transformers"


@dataclass(frozen=True)
class SamplingParams:
    """How one response is sampled. ``temperature`` 0 is greedy decoding (top_p unused)."""

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 256
    seed: int = 0
    stop_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.temperature, int | float) and math.isfinite(self.temperature)
                and self.temperature >= 0):
            raise ValueError(f"temperature {self.temperature!r}: expected a number >= 0")
        if not (isinstance(self.top_p, int | float) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p {self.top_p!r}: expected a number in (0, 1]")
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) \
                or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens {self.max_new_tokens!r}: expected an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed {self.seed!r}: expected an integer in [0, 2**63 - 1]")
        stops = tuple(self.stop_token_ids)
        if any(isinstance(t, bool) or not isinstance(t, int) or t < 0 for t in stops):
            raise ValueError(f"stop_token_ids {stops!r}: expected token ids (integers >= 0)")
        object.__setattr__(self, "stop_token_ids", stops)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class GenerationRequest:
    """One response to sample: a conversation ending with a user turn (rendered with the
    backend's chat format) or prompt ids already rendered, never both."""

    id: str
    messages: Sequence[Message] | None = None
    prompt_ids: Sequence[int] | None = None
    params: SamplingParams = field(default_factory=SamplingParams)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt_ids is None):
            raise ValueError(f"request {self.id!r}: give exactly one of messages and prompt_ids")
        if self.prompt_ids is not None:
            ids = tuple(self.prompt_ids)
            if not ids:
                raise ValueError(f"request {self.id!r}: prompt_ids is empty")
            object.__setattr__(self, "prompt_ids", ids)


@dataclass(frozen=True)
class Generation:
    """A sampled response and everything needed to reproduce it."""

    request_id: str
    prompt_ids: tuple[int, ...]
    token_ids: tuple[int, ...]  # the response, without the token that stopped it
    text: str  # token_ids decoded, special tokens skipped
    finish_reason: FinishReason  # "stop": a stop/EOS token; "length": max_new_tokens
    seed: int
    temperature: float
    top_p: float
    stop_token_id: int | None = None  # the EOS or stop token that ended it, if any

    @property
    def output_ids(self) -> tuple[int, ...]:
        """What the model emitted, stop token included (what PPO and SFT train on)."""
        return self.token_ids + (() if self.stop_token_id is None else (self.stop_token_id,))


@dataclass(frozen=True)
class GenerationStats:
    """Totals since the backend was made; tokens count every sampled token."""

    requests: int = 0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def __add__(self, other: GenerationStats) -> GenerationStats:
        return GenerationStats(self.requests + other.requests, self.tokens + other.tokens,
                               self.seconds + other.seconds)


class GenerationBackend(Protocol):
    name: str

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One generation per request, in request order."""
        ...

    @property
    def stats(self) -> GenerationStats: ...


class BackendUnavailableError(RuntimeError):
    """A backend whose package is not installed."""


def local_model_dir(path: str | Path) -> Path:
    """Models load from local folders only: nothing is downloaded on a worker."""
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"model folder {str(directory)!r} does not exist; expected a local folder "
            "(models are never downloaded)")
    return directory


def _stop_ids(tokenizer, model_config=None, generation_config=None) -> frozenset[int]:
    """The tokenizer's EOS plus any the model's generation config names (Llama 3 has two)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for config in (generation_config, model_config):
        eos = getattr(config, "eos_token_id", None) if config is not None else None
        ids.update([eos] if isinstance(eos, int) else (eos or []))
    return frozenset(ids)


def _decode(tokenizer, token_ids: Sequence[int]) -> str:
    return tokenizer.decode(list(token_ids), skip_special_tokens=True,
                            clean_up_tokenization_spaces=False)


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by prompt length (stable), cut into batches of ``batch_size``: the
    batches :meth:`TransformersBackend.generate` runs. PPO ranks split a batch of requests
    along them, so every response is sampled beside the same neighbours as in one process.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


class TransformersBackend:
    """Batched sampling with a Hugging Face causal LM and its own seeded decode loop."""

    name = "transformers"

    # Called after each batch with (requests done, requests in this call): the CLIs turn it
    # into progress lines, so a long sampling pass is not silent.
    on_batch: Callable[[int, int], None] | None = None

    def __init__(self, model, tokenizer, *, device: str | torch.device | None = None,
                 batch_size: int = 32, bf16: str = "auto") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size}: expected at least 1")
        self.device = torch.device(device) if device is not None else pick_device()
        # A model already on the device is left as it is: ``.to()`` on an FSDP model whose
        # shards a PPO trainer has gathered for sampling would re-shard it.
        on_device = next(model.parameters()).device == self.device
        self.model = model if on_device else model.to(self.device)
        self.tokenizer = tokenizer
        self.chat = ChatFormat(tokenizer)
        self.batch_size = batch_size
        # Autocast only where the weights are fp32: a model loaded in bf16 already is.
        self.autocast = (use_bf16(bf16, self.device)
                         and next(model.parameters()).dtype == torch.float32)
        self.pad_id = (tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                       else tokenizer.eos_token_id)
        self.eos_ids = _stop_ids(tokenizer, model.config,
                                 getattr(model, "generation_config", None))
        self.max_positions = getattr(model.config, "max_position_embeddings", None)
        self.vocab_size = model.get_input_embeddings().num_embeddings
        self._stats = GenerationStats()

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | torch.device | None = None,
                        batch_size: int = 32, bf16: str = "auto") -> TransformersBackend:
        """Load a local Hugging Face folder; on a GPU with bf16 the weights load in bf16."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory = local_model_dir(path)
        check_model_folder(directory, CAUSAL_LM)
        target = torch.device(device) if device is not None else pick_device()
        bf16_weights = target.type == "cuda" and use_bf16(bf16, target)
        dtype = torch.bfloat16 if bf16_weights else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True,
                                                     dtype=dtype)
        return cls(model, tokenizer, device=target, batch_size=batch_size, bf16=bf16)

    @property
    def stats(self) -> GenerationStats:
        return self._stats

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Checks every request before running any, so a bad one costs no compute. The
        model samples in eval mode and is handed back in the mode it was in (a trainer
        sharing it, as PPO does, keeps training)."""
        prompts = [self._prompt_ids(request) for request in requests]
        order = [i for batch in length_batches([len(p) for p in prompts], len(prompts))
                 for i in batch]
        results: list[Generation | None] = [None] * len(requests)
        started = time.perf_counter()
        tokens = 0
        training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(order), self.batch_size):
                batch = order[start: start + self.batch_size]
                generations = self._generate_batch([requests[i] for i in batch],
                                                   [prompts[i] for i in batch])
                for index, generation in zip(batch, generations, strict=True):
                    results[index] = generation
                    tokens += len(generation.output_ids)
                if self.on_batch is not None:
                    self.on_batch(min(start + self.batch_size, len(order)), len(order))
        finally:
            self.model.train(training)
        self._stats += GenerationStats(len(requests), tokens, time.perf_counter() - started)
        return results  # type: ignore[return-value]  # every slot is filled above

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        if request.prompt_ids is not None:
            ids = list(request.prompt_ids)
            bad = next((t for t in ids if not (isinstance(t, int) and 0 <= t < self.vocab_size)),
                       None)
            if bad is not None:
                raise ValueError(f"request {request.id!r}: prompt id {bad!r} is not a token of "
                                 f"the model's {self.vocab_size}-token vocabulary")
        else:
            try:
                ids = self.chat.prompt_ids(request.messages)
            except ValueError as exc:
                raise ValueError(f"request {request.id!r}: {exc}") from exc
        limit = self.max_positions
        if limit is not None and len(ids) + request.params.max_new_tokens > limit:
            raise ValueError(
                f"request {request.id!r}: a {len(ids)}-token prompt plus max_new_tokens "
                f"{request.params.max_new_tokens} exceeds the model's {limit} positions")
        return ids

    @torch.inference_mode()
    def _generate_batch(self, requests: list[GenerationRequest],
                        prompts: list[list[int]]) -> list[Generation]:
        from transformers import DynamicCache

        rows, width = len(prompts), max(map(len, prompts))
        input_ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((rows, width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            mask[row, width - len(ids):] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        params = [request.params for request in requests]
        temperature = torch.tensor([p.temperature for p in params], device=self.device)
        top_p = torch.tensor([p.top_p for p in params], device=self.device)
        generators = [torch.Generator().manual_seed(p.seed) for p in params]
        stops = [self.eos_ids | set(p.stop_token_ids) for p in params]
        outputs: list[list[int]] = [[] for _ in requests]
        ended: list[tuple[FinishReason, int | None] | None] = [None] * rows
        active = list(range(rows))  # original row of each row still in the batch
        cache = DynamicCache(config=self.model.config)
        logits = self._forward(input_ids, mask, positions, cache)
        while True:
            uniform = torch.cat([torch.rand(1, generator=generators[r]) for r in active])
            chosen = sample_tokens(logits, temperature, top_p, uniform.to(self.device))
            keep = []
            for slot, (row, token) in enumerate(zip(active, chosen.tolist(), strict=True)):
                if token in stops[row]:
                    ended[row] = ("stop", token)
                    continue
                outputs[row].append(token)
                if len(outputs[row]) >= params[row].max_new_tokens:
                    ended[row] = ("length", None)
                else:
                    keep.append(slot)
            if not keep:
                break
            if len(keep) < len(active):  # drop finished rows from the batch and the cache
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                chosen, mask, positions = chosen[index], mask[index], positions[index]
                temperature, top_p = temperature[index], top_p[index]
                active = [active[slot] for slot in keep]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
            positions = positions[:, -1:] + 1
            logits = self._forward(chosen[:, None], mask, positions, cache)
        return [
            Generation(
                request_id=request.id, prompt_ids=tuple(prompt), token_ids=tuple(tokens),
                text=_decode(self.tokenizer, tokens), finish_reason=end[0],
                seed=request.params.seed, temperature=request.params.temperature,
                top_p=request.params.top_p, stop_token_id=end[1],
            )
            for request, prompt, tokens, end in zip(requests, prompts, outputs, ended,
                                                    strict=True)
        ]

    def _forward(self, input_ids, mask, positions, cache) -> torch.Tensor:
        """Next-token logits (fp32) of each row's last position."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                             past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :].float()


def sample_tokens(logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor,
                  uniform: torch.Tensor) -> torch.Tensor:
    """One token per row: argmax where the temperature is 0, else nucleus sampling.

    The draw is inverse-CDF sampling from the row's own uniform number, so it is vectorised
    over the batch yet consumes exactly one number per row from that row's generator. The
    nucleus is found in probability order but the draw walks the vocabulary in id order:
    near-equal probabilities that swap places under floating-point noise (another batch
    shape, another device) then leave the sampled token unchanged. Subtracting the max
    before dividing keeps a tiny temperature from overflowing.
    """
    greedy = logits.argmax(dim=-1)
    scale = temperature.clamp(min=1e-6)[:, None]
    probs = torch.softmax((logits - logits.max(dim=-1, keepdim=True).values) / scale, dim=-1)
    ranked, order = probs.sort(dim=-1, descending=True)
    in_nucleus = (ranked.cumsum(dim=-1) - ranked) < top_p[:, None]  # mass ranked above
    kept = torch.zeros_like(in_nucleus).scatter(-1, order, in_nucleus)
    cumulative = (probs * kept).cumsum(dim=-1)
    threshold = uniform * cumulative[:, -1]
    choice = (cumulative <= threshold[:, None]).sum(dim=-1)
    last_kept = kept.shape[-1] - 1 - kept.flip(-1).to(torch.int8).argmax(dim=-1)
    sampled = torch.minimum(choice, last_kept)  # rounding never leaves the nucleus
    return torch.where(temperature == 0, greedy, sampled)


class VLLMBackend:
    """The same interface over vLLM's ``LLM`` (imported lazily), for GPU throughput.

    Untested here: vLLM needs a CUDA GPU and is not a dependency of this project, so no
    test in this repository runs this class; the "transformers" backend is the reference.
    Each request passes its seed to vLLM's per-request ``SamplingParams.seed``, so
    responses are reproducible within vLLM but not token-identical to the transformers
    backend's. Token ids come back without the stop token and the text is decoded from
    them with the same tokenizer, as :class:`TransformersBackend` does.
    """

    name = "vllm"

    def __init__(self, model_path: str | Path, *, tensor_parallel_size: int = 1,
                 dtype: str = "auto", gpu_memory_utilization: float = 0.9,
                 **llm_kwargs: Any) -> None:
        directory = local_model_dir(model_path)
        check_model_folder(directory, CAUSAL_LM)
        try:
            import vllm
        except ImportError as exc:
            raise BackendUnavailableError(
                "the 'vllm' generation backend needs the vllm package, which is not "
                "installed (pip install vllm, on a CUDA machine); the 'transformers' "
                "backend needs nothing more") from exc
        self._vllm = vllm
        self.llm = vllm.LLM(model=str(directory), tokenizer=str(directory),
                            tensor_parallel_size=tensor_parallel_size, dtype=dtype,
                            gpu_memory_utilization=gpu_memory_utilization, **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.chat = ChatFormat(self.tokenizer)
        self.eos_ids = _stop_ids(self.tokenizer)
        self._stats = GenerationStats()

    @property
    def stats(self) -> GenerationStats:
        return self._stats

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        prompts = [list(r.prompt_ids) if r.prompt_ids is not None
                   else self.chat.prompt_ids(r.messages) for r in requests]
        settings = [
            self._vllm.SamplingParams(
                n=1, temperature=r.params.temperature, top_p=r.params.top_p,
                max_tokens=r.params.max_new_tokens, seed=r.params.seed,
                stop_token_ids=list(r.params.stop_token_ids))
            for r in requests
        ]
        started = time.perf_counter()
        outputs = self.llm.generate([{"prompt_token_ids": ids} for ids in prompts], settings,
                                    use_tqdm=False)
        seconds = time.perf_counter() - started
        results = []
        for request, prompt, output in zip(requests, prompts, outputs, strict=True):
            completion = output.outputs[0]
            tokens = list(completion.token_ids)
            if completion.finish_reason not in ("stop", "length"):
                raise RuntimeError(f"request {request.id!r}: vLLM finished with "
                                   f"{completion.finish_reason!r}")
            stop_id = None
            stops = self.eos_ids | set(request.params.stop_token_ids)
            if completion.finish_reason == "stop" and tokens and tokens[-1] in stops:
                stop_id = tokens.pop()
            results.append(Generation(
                request_id=request.id, prompt_ids=tuple(prompt), token_ids=tuple(tokens),
                text=_decode(self.tokenizer, tokens), finish_reason=completion.finish_reason,
                seed=request.params.seed, temperature=request.params.temperature,
                top_p=request.params.top_p, stop_token_id=stop_id))
        tokens = sum(len(g.output_ids) for g in results)
        self._stats += GenerationStats(len(requests), tokens, seconds)
        return results


BACKENDS: dict[str, Callable[..., GenerationBackend]] = {
    "transformers": TransformersBackend.from_pretrained,
    "vllm": VLLMBackend,
}


def load_backend(name: str | None, model_path: str | Path, **kwargs: Any) -> GenerationBackend:
    """The backend called ``name`` (None: "transformers") on a local model folder."""
    name = name or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise ValueError(f"generation backend {name!r} is not one of {', '.join(BACKENDS)}")
    return BACKENDS[name](model_path, **kwargs)

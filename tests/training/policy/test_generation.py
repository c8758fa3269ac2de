"""The seeded, batched decode loop on a tiny random Llama (CPU, seconds)."""

from __future__ import annotations

import pytest
import torch

from paddock.training.policy.generation import (
    BackendUnavailableError,
    GenerationRequest,
    SamplingParams,
    TransformersBackend,
    load_backend,
    sample_tokens,
)
from paddock.training.tiny import build_tiny_llama

QUESTIONS = [
    "How do tides work?",
    "Why does water boil at one hundred degrees Celsius at sea level, and higher up?",
    "Bread?",
    "Please explain how a reward model is trained from human preferences, step by step.",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny") / "policy", max_positions=128))


@pytest.fixture(scope="module")
def backend(model_dir) -> TransformersBackend:
    return TransformersBackend.from_pretrained(model_dir, device="cpu", batch_size=8)


def requests_for(questions, **params) -> list[GenerationRequest]:
    return [
        GenerationRequest(f"q{i}", messages=[{"role": "user", "content": q}],
                          params=SamplingParams(**({"seed": i} | params)))
        for i, q in enumerate(questions)
    ]


def test_same_requests_give_the_same_tokens(backend):
    requests = requests_for(QUESTIONS, temperature=1.0, top_p=0.95, max_new_tokens=12)
    first, second = backend.generate(requests), backend.generate(requests)
    assert [g.token_ids for g in first] == [g.token_ids for g in second]
    assert [g.request_id for g in first] == [r.id for r in requests]  # request order
    assert [g.seed for g in first] == [0, 1, 2, 3]


def test_different_seeds_give_different_samples(backend):
    messages = [{"role": "user", "content": QUESTIONS[0]}]
    requests = [GenerationRequest(f"s{seed}", messages=messages,
                                  params=SamplingParams(temperature=1.0, top_p=1.0,
                                                        max_new_tokens=10, seed=seed))
                for seed in range(4)]
    samples = {g.token_ids for g in backend.generate(requests)}
    assert len(samples) == 4


def test_greedy_rows_do_not_depend_on_their_batch(backend, model_dir):
    """Left padding, the mask and position ids make a padded row decode as if alone."""
    requests = requests_for(QUESTIONS, temperature=0.0, max_new_tokens=10)
    batched = backend.generate(requests)
    alone = TransformersBackend.from_pretrained(model_dir, device="cpu", batch_size=1)
    assert [g.token_ids for g in alone.generate(requests)] == [g.token_ids for g in batched]
    assert len({len(g.prompt_ids) for g in batched}) == len(QUESTIONS)  # padding was needed


def test_stop_token_ends_its_row_only_and_is_left_out(backend):
    free = backend.generate(requests_for(QUESTIONS, temperature=0.0, max_new_tokens=10))
    tokens = free[1].token_ids
    stop = tokens[3] if tokens[3] not in tokens[:3] else next(
        t for i, t in enumerate(tokens) if t not in tokens[:i])
    cut = tokens.index(stop)
    requests = requests_for(QUESTIONS, temperature=0.0, max_new_tokens=10)
    requests[1] = GenerationRequest("q1", messages=requests[1].messages, params=SamplingParams(
        temperature=0.0, max_new_tokens=10, seed=1, stop_token_ids=(stop,)))
    stopped = backend.generate(requests)
    assert stopped[1].token_ids == tokens[:cut]
    assert (stopped[1].finish_reason, stopped[1].stop_token_id) == ("stop", stop)
    assert stopped[1].output_ids == tokens[: cut + 1]
    assert stopped[1].text == backend.tokenizer.decode(tokens[:cut], skip_special_tokens=True,
                                                        clean_up_tokenization_spaces=False)
    for index in (0, 2, 3):  # the others went on to their full length
        assert stopped[index].token_ids == free[index].token_ids
        assert stopped[index].finish_reason == "length"


def test_eos_stops_generation(model_dir, backend):
    """Swapping the lm_head rows of EOS and the token greedy decoding emits at step 4 makes
    EOS win there; nothing before changes, as neither token appeared."""
    free = backend.generate(requests_for(QUESTIONS[:1], temperature=0.0, max_new_tokens=8))[0]
    tokens = free.token_ids
    step = next(i for i in range(3, len(tokens)) if tokens[i] not in tokens[:i])
    eos = backend.tokenizer.eos_token_id
    assert eos not in tokens
    swapped = TransformersBackend.from_pretrained(model_dir, device="cpu")
    with torch.no_grad():
        weight = swapped.model.lm_head.weight
        weight[[eos, tokens[step]]] = weight[[tokens[step], eos]]
    result = swapped.generate(requests_for(QUESTIONS[:1], temperature=0.0,
                                           max_new_tokens=8))[0]
    assert result.token_ids == tokens[:step]
    assert (result.finish_reason, result.stop_token_id) == ("stop", eos)


def test_max_new_tokens_per_request(backend):
    requests = [
        GenerationRequest(f"m{n}", prompt_ids=[1, 20, 30 + n],
                          params=SamplingParams(temperature=0.8, max_new_tokens=n, seed=n))
        for n in (1, 3, 7)
    ]
    backend.model.train()
    results = backend.generate(requests)
    assert backend.model.training  # handed back in the mode it came in
    backend.model.eval()
    for n, result in zip((1, 3, 7), results, strict=True):
        if result.finish_reason == "length":
            assert len(result.token_ids) == n
        else:
            assert len(result.output_ids) <= n
    assert backend.stats.tokens >= sum(len(r.output_ids) for r in results)
    assert backend.stats.tokens_per_second > 0


def test_bad_requests_are_refused_before_any_compute(backend):
    with pytest.raises(ValueError, match="exactly one of messages and prompt_ids"):
        GenerationRequest("x", messages=[{"role": "user", "content": "hi"}], prompt_ids=[1])
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0.0)
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(temperature=-1)
    before = backend.stats
    too_long = GenerationRequest("long", prompt_ids=[5] * 100,
                                 params=SamplingParams(max_new_tokens=64))
    with pytest.raises(ValueError, match=r"request 'long'.*128 positions"):
        backend.generate([*requests_for(QUESTIONS[:1], max_new_tokens=8), too_long])
    with pytest.raises(ValueError, match="request 'oov': prompt id 100000 is not a token"):
        backend.generate([GenerationRequest("oov", prompt_ids=[1, 100000])])
    ends_with_assistant = GenerationRequest("bad", messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    with pytest.raises(ValueError, match="request 'bad'"):
        backend.generate([ends_with_assistant])
    assert backend.stats == before


def test_sample_tokens_respects_temperature_and_nucleus():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]] * 3)
    uniform = torch.tensor([0.99, 0.99, 0.0])
    tokens = sample_tokens(logits, torch.tensor([0.0, 1.0, 1.0]),
                           torch.tensor([1.0, 0.01, 1.0]), uniform)
    assert tokens.tolist() == [1, 1, 0]  # greedy; a nucleus of one; the first id at u=0
    draws = sample_tokens(logits[:1].expand(4000, 4), torch.ones(4000), torch.full((4000,), 0.7),
                          torch.rand(4000, generator=torch.Generator().manual_seed(0)))
    assert set(draws.tolist()) == {1, 3}  # 0.644 + 0.237: the 0.7 nucleus holds two tokens


def test_load_backend(model_dir, tmp_path):
    assert load_backend(None, model_dir, device="cpu").name == "transformers"
    with pytest.raises(ValueError, match="'nope' is not one of transformers, vllm"):
        load_backend("nope", model_dir)
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        load_backend("transformers", tmp_path / "missing")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailableError, match="vllm package"):
            load_backend("vllm", model_dir)

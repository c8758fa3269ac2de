"""Tiny Llama-architecture checkpoints built from a config, for tests and the demo.

Nothing may download weights at run time, so tests build their models: a byte-level BPE
tokenizer trained by ``tokenizers`` on a few sentences and a randomly initialised Llama
of the requested size, saved as an ordinary Hugging Face folder that every loader in
this package reads like a real checkpoint. The same builder makes 1B-class models for
GPU throughput benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from paddock.kernel.origin import write_origin

DEFAULT_CORPUS = (
    "The tide rises and falls twice a day because of the moon.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "Please explain how a reward model is trained from human preferences.",
    "I cannot help with that request, but here is some safety information.",
    "User: how do I bake bread? Assistant: Mix flour, water, salt and yeast.",
)
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer that adds <s> in front, as Llama's does."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tokenizer.train_from_iterator(list(corpus), trainer=trainer)
    bos = tokenizer.token_to_id("<s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B:1", special_tokens=[("<s>", bos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>",
    )


def build_tiny_llama(directory: str | Path, *, corpus: Iterable[str] = DEFAULT_CORPUS,
                     vocab_size: int = 512, hidden_size: int = 64, layers: int = 2,
                     heads: int = 4, intermediate_size: int | None = None,
                     max_positions: int = 512, seed: int = 0) -> Path:
    """Write a randomly initialised Llama causal LM and its tokenizer to ``directory``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = Path(directory)
    tokenizer = train_tokenizer(corpus, vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads,
        intermediate_size=intermediate_size or hidden_size * 4,
        max_position_embeddings=max_positions, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    write_origin(directory, model="tiny random Llama", licence="none (random weights)",
                 tiny=True)
    return directory

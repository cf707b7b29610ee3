"""A tiny random-init Qwen3 chat model with an offline word-level tokenizer, saved to a folder.

Its answers are garbage: tests use it to check the local-judge plumbing (loading, chat
template, generation, token counts) and that garbage answers end as recorded failures.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["[UNK]", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
WORDS = ("{ } [ ] : , \" missing incorrect hallucinated events event the a man dog caption video "
         "reply json answer 1 2 3 4 5 true false").split()


def build_tiny_judge(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    vocab = {tok: i for i, tok in enumerate(SPECIALS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = Qwen3Config(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=4096,
        eos_token_id=vocab["<|im_end|>"], pad_token_id=vocab["<|endoftext|>"],
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = None  # never stop early: the answer is always max_new_tokens long
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# A judge answer the scripted model below always gives, one word-level token per piece: event 1
# missing, nothing incorrect, one hallucination. Decoded with spaces between tokens it is valid JSON.
SCRIPTED_ANSWER = ['{"missing":', "[1],", '"incorrect":', "[],", '"hallucinated":', '["A', "cat", 'sleeps."]}']


def build_scripted_judge(folder: Path, answer: list[str] = SCRIPTED_ANSWER) -> Path:
    """A real Qwen3 checkpoint whose greedy output is always ``answer``, then end of turn.

    Its weights make it a bigram machine: one-hot embeddings pass through a layer whose output
    projections are zero (attention and MLP add nothing to the residual stream), and the LM head
    maps each token to the next token of the script. The local-judge success path (template,
    generate, decode, parse, score) then runs on genuine transformers code with a known answer.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    words = list(dict.fromkeys([*WORDS, "assistant", *answer]))
    vocab = {tok: i for i, tok in enumerate(SPECIALS + words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    size = 64
    assert len(vocab) <= size
    config = Qwen3Config(
        vocab_size=len(vocab), hidden_size=size, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, head_dim=32, max_position_embeddings=4096, tie_word_embeddings=False,
        eos_token_id=vocab["<|im_end|>"], pad_token_id=vocab["<|endoftext|>"],
    )
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
        model.model.embed_tokens.weight[:, :] = torch.eye(len(vocab), size)
        model.model.norm.weight.fill_(1.0)
        for norm in ("input_layernorm", "post_attention_layernorm"):
            getattr(model.model.layers[0], norm).weight.fill_(1.0)
        chain = ["assistant", *answer, "<|im_end|>"]
        for current, following in zip(chain, chain[1:]):
            model.lm_head.weight[vocab[following], vocab[current]] = 10.0
    model.generation_config.eos_token_id = vocab["<|im_end|>"]
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder

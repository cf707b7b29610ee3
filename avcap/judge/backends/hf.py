"""A local transformers chat model as the judge (``--judge hf --judge-model PATH``).

The video-SALMONN 2 paper (Appendix B) finds a Qwen3-4B judge close to GPT-3.5, so a local
judge is a real option, not only a test double. Generation runs in a worker thread, one
request at a time (a lock), so the event loop stays free for the cache and the progress bar.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from avcap.errors import ConfigError, JudgeError
from avcap.judge.registry import BackendOptions
from avcap.judge.types import ChatReply, Message, one_line


class HFChatBackend:
    name = "hf"

    def __init__(self, model_path: str, *, device: str = "cpu", dtype: str = "auto", max_new_tokens: int = 1024):
        if not model_path:
            raise ConfigError("the hf judge needs a model folder (--judge-model PATH)")
        self.model = str(model_path)
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        self._tokenizer = None
        self._model = None
        self._load_lock = threading.Lock()
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"HFChatBackend(model={self.model!r}, device={self.device!r})"

    def load(self) -> None:
        """Load tokenizer and weights now (the CLI calls this to fail fast with one line)."""
        with self._load_lock:
            if self._model is not None:
                return
            path = Path(self.model).expanduser()
            looks_like_hub_id = self.model.count("/") == 1 and not self.model.startswith((".", "/", "~"))
            if not path.exists() and not looks_like_hub_id:  # fail before importing torch
                raise JudgeError(f"cannot load judge model {self.model}: no such folder")
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model)
                dtype = self.dtype if self.dtype == "auto" else getattr(torch, self.dtype)
                model = AutoModelForCausalLM.from_pretrained(self.model, dtype=dtype)
            except (OSError, ValueError, AttributeError) as err:
                raise JudgeError(f"cannot load judge model {self.model}: {one_line(str(err), 200)}") from None
            if not getattr(tokenizer, "chat_template", None):
                raise JudgeError(f"judge model {self.model} has no chat template (tokenizer_config.json)")
            self._tokenizer, self._model = tokenizer, model.to(self.device).eval()

    def _generate(self, messages: list[Message], temperature: float | None, max_tokens: int | None,
                  seed: int | None = None, top_p: float | None = None) -> ChatReply:
        import torch

        self.load()
        tok = self._tokenizer
        # enable_thinking=False: Qwen3 judges answer directly; other templates ignore the flag.
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
        inputs = tok(text, return_tensors="pt", add_special_tokens=False).to(self.device)
        # None (a protocol that leaves sampling to the server) decodes greedily here: a local model
        # has no server default to defer to, and greedy is the reproducible choice.
        sample = temperature is not None and temperature > 0
        kwargs = {"max_new_tokens": max_tokens or self.max_new_tokens, "do_sample": sample}
        if sample:
            kwargs["temperature"] = temperature
            if top_p is not None:
                kwargs["top_p"] = top_p
            if seed is not None:  # under the lock: one generation at a time, so the seed is this call's
                torch.manual_seed(int(seed))
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        with torch.inference_mode():
            out = self._model.generate(**inputs, pad_token_id=pad, **kwargs)
        new = out[0, inputs["input_ids"].shape[1]:]
        return ChatReply(tok.decode(new, skip_special_tokens=True), int(inputs["input_ids"].shape[1]), int(new.shape[0]))

    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        response_format_json: bool = True,
        seed: int | None = None,
        top_p: float | None = None,
    ) -> ChatReply:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            try:
                return await asyncio.to_thread(self._generate, messages, temperature, max_tokens, seed, top_p)
            except JudgeError:
                raise
            except (RuntimeError, ValueError, IndexError) as err:
                raise JudgeError(f"local judge {Path(self.model).name} failed: {one_line(str(err), 200)}") from None


def from_options(options: BackendOptions) -> HFChatBackend:
    return HFChatBackend(options.model or "", device=options.device, dtype=options.dtype,
                         max_new_tokens=options.max_new_tokens)

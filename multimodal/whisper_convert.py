"""Convert a CTranslate2 Whisper model (faster-whisper's format) into an openai-whisper checkpoint.

The CTranslate2 ``model.bin`` holds the same tensors as openai-whisper's ``.pt``, under other names, with the
self-attention q/k/v and the cross-attention k/v fused into one matrix each (and a zero bias for the bias-free
key projection). ctranslate2's Python API cannot read a model's variables back, so :func:`read_ct2` parses the
file format that ``ctranslate2.specs.ModelSpec._serialize`` writes (version 6):

    u32 version, str spec name, u32 revision, u32 n, n x (str name, u8 rank, rank x u32 dim, u8 dtype,
    u32 nbytes, bytes), u32 n_alias, n_alias x (str alias, str target);   str = u16 len+1, utf-8, NUL

The checkpoint is ``{"dims": ..., "model_state_dict": ...}`` as ``whisper.load_model(path)`` reads it, in the
model's own precision (float16 like OpenAI's files), plus ``alignment_heads`` from ``config.json`` (for word
timestamps; ``load_model`` ignores the key, :mod:`.whisper_openai` applies it).
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from sensorium.errors import ModelNotAvailableError
from sensorium.extras import require

# ctranslate2's type ids (specs/model_spec.py: _dtype_to_type_id); bfloat16 is read as raw uint16.
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}
CHECKPOINT_NAME = "openai-whisper.pt"


def read_ct2(path: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """``(spec name, {variable name: array})`` of a CTranslate2 ``model.bin``; aliases resolved."""
    buf = Path(path).read_bytes()
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = take("H")
        text = buf[pos : pos + n - 1].decode("utf-8")
        pos += n
        return text

    version = take("I")
    if not 5 <= version <= 6:
        raise ValueError(f"{path}: CTranslate2 binary version {version} is not supported (5 or 6).")
    spec_name = string()
    take("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype = _DTYPES[take("B")]
        nbytes = take("I")
        variables[name] = np.frombuffer(
            buf, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=pos
        )
        variables[name] = variables[name].reshape(shape)
        pos += nbytes
    for _ in range(take("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return spec_name, variables


def _weights(v: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    """A linear layer's weight, de-quantized when the model was converted with int8/int16 weights."""
    w = v[prefix + "/weight"]
    scale = v.get(prefix + "/weight_scale")
    if scale is not None and w.dtype.kind == "i":
        w = (w.astype(np.float32) / scale.astype(np.float32).reshape(-1, 1)).astype(np.float16)
    return w


def _linear(out: dict[str, Any], v: dict[str, np.ndarray], src: str, dst: str, bias: bool = True) -> None:
    out[dst + ".weight"] = _weights(v, src)
    if bias:
        out[dst + ".bias"] = v[src + "/bias"]


def _split(out: dict[str, Any], v: dict[str, np.ndarray], src: str, dsts: list[str]) -> None:
    """A fused projection -> its parts; the key projection has no bias in Whisper (CTranslate2 stores zeros)."""
    weights = np.split(_weights(v, src), len(dsts), axis=0)
    biases = np.split(v[src + "/bias"], len(dsts), axis=0)
    for dst, w, b in zip(dsts, weights, biases, strict=True):
        out[dst + ".weight"] = w
        if not dst.endswith(".key"):
            out[dst + ".bias"] = b


def _norm(out: dict[str, Any], v: dict[str, np.ndarray], src: str, dst: str) -> None:
    out[dst + ".weight"] = v[src + "/gamma"]
    out[dst + ".bias"] = v[src + "/beta"]


def _layers(v: dict[str, np.ndarray], side: str) -> int:
    return len({k.split("/")[1] for k in v if re.match(side + r"/layer_\d+/", k)})


def ct2_to_state_dict(v: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Map CTranslate2 WhisperSpec variables to openai-whisper's ``(dims, state_dict)`` (numpy arrays)."""
    sd: dict[str, Any] = {}
    for conv in ("conv1", "conv2"):
        sd[f"encoder.{conv}.weight"] = v[f"encoder/{conv}/weight"]
        sd[f"encoder.{conv}.bias"] = v[f"encoder/{conv}/bias"]
    sd["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    n_audio_layer, n_text_layer = _layers(v, "encoder"), _layers(v, "decoder")
    for side, n in (("encoder", n_audio_layer), ("decoder", n_text_layer)):
        for i in range(n):
            s, d = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            _norm(sd, v, f"{s}/self_attention/layer_norm", f"{d}.attn_ln")
            _split(
                sd, v, f"{s}/self_attention/linear_0", [f"{d}.attn.query", f"{d}.attn.key", f"{d}.attn.value"]
            )
            _linear(sd, v, f"{s}/self_attention/linear_1", f"{d}.attn.out")
            if side == "decoder":
                _norm(sd, v, f"{s}/attention/layer_norm", f"{d}.cross_attn_ln")
                _linear(sd, v, f"{s}/attention/linear_0", f"{d}.cross_attn.query")
                _split(sd, v, f"{s}/attention/linear_1", [f"{d}.cross_attn.key", f"{d}.cross_attn.value"])
                _linear(sd, v, f"{s}/attention/linear_2", f"{d}.cross_attn.out")
            _norm(sd, v, f"{s}/ffn/layer_norm", f"{d}.mlp_ln")
            _linear(sd, v, f"{s}/ffn/linear_0", f"{d}.mlp.0")
            _linear(sd, v, f"{s}/ffn/linear_1", f"{d}.mlp.2")
    _norm(sd, v, "encoder/layer_norm", "encoder.ln_post")
    sd["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    sd["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    _norm(sd, v, "decoder/layer_norm", "decoder.ln")
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(v["encoder/position_encodings/encodings"].shape[1]),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/position_encodings/encodings"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    return dims, sd


def convert_ct2_to_openai(source: str | Path, target: str | Path) -> Path:
    """Write the openai-whisper checkpoint of the CTranslate2 model directory ``source`` to ``target``.

    Writes ``target`` directly; callers wanting atomicity pass a temporary path (``supply.derive_file`` does).
    """
    torch = require("torch", "speech", purpose="writing the openai-whisper checkpoint")
    source = Path(source)
    model_bin = source / "model.bin" if source.is_dir() else source
    if not model_bin.is_file():
        raise ModelNotAvailableError(f"{model_bin}: no CTranslate2 model.bin to convert.")
    spec_name, variables = read_ct2(model_bin)
    if spec_name != "WhisperSpec":
        raise ModelNotAvailableError(f"{model_bin} holds a {spec_name}, not a Whisper model.")
    dims, state = ct2_to_state_dict(variables)
    checkpoint: dict[str, Any] = {
        "dims": dims,
        "model_state_dict": {k: torch.from_numpy(np.array(a)) for k, a in state.items()},
    }
    config = model_bin.parent / "config.json"
    if config.is_file():
        heads = json.loads(config.read_text()).get("alignment_heads")
        if heads:
            checkpoint["alignment_heads"] = [[int(layer), int(head)] for layer, head in heads]
    with open(target, "wb") as fh:
        torch.save(checkpoint, fh)
    return Path(target)


def checkpoint_for(model_dir: Path) -> Path:
    """The converted checkpoint of ``model_dir``, converting it now (once, cached, hash-checked) if needed.

    A registry role's model converts to ``$SENSORIUM_MODELS/<role>/openai-whisper.pt`` (what ``sensorium models
    prepare`` writes); any other directory to a cache folder keyed by its path, size and modification time.
    """
    from sensorium.supply import derived_for

    model_dir = Path(model_dir)
    return derived_for(
        model_dir, CHECKPOINT_NAME, f"{__name__}:convert_ct2_to_openai", model_dir / "model.bin"
    )

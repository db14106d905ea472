"""The CTranslate2 -> openai-whisper conversion, proven on a seeded tiny random Whisper (no weights needed).

A random openai-whisper model is written as a CTranslate2 WhisperSpec (fused q/k/v, fused cross-attention k/v,
zero key bias), which ctranslate2's own runtime loads. The runtime's encoder output and next-token logits must
equal openai-whisper's on the same input: so the layout is the one CTranslate2 uses. Then our converter must turn
that directory back into exactly the original state dict.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
whisper = pytest.importorskip("whisper")
ctranslate2 = pytest.importorskip("ctranslate2")

STATE, HEADS, LAYERS = 64, 2, 2


def _to_ct2_spec(model, sd: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    from ctranslate2.specs import whisper_spec

    spec = whisper_spec.WhisperSpec(LAYERS, HEADS, LAYERS, HEADS)

    def linear(target, prefix: str, weight=None, bias=None) -> None:  # type: ignore[no-untyped-def]
        target.weight = sd[prefix + ".weight"] if weight is None else weight
        target.bias = sd[prefix + ".bias"] if bias is None else bias

    def norm(target, prefix: str) -> None:  # type: ignore[no-untyped-def]
        target.gamma, target.beta = sd[prefix + ".weight"], sd[prefix + ".bias"]

    zeros = np.zeros(STATE, np.float32)

    def self_attention(target, p: str) -> None:  # type: ignore[no-untyped-def]
        norm(target.layer_norm, p + "_ln")
        w = np.concatenate([sd[f"{p}.{x}.weight"] for x in ("query", "key", "value")])
        b = np.concatenate([sd[f"{p}.query.bias"], zeros, sd[f"{p}.value.bias"]])
        linear(target.linear[0], "", w, b)
        linear(target.linear[1], p + ".out")

    def ffn(target, p: str) -> None:  # type: ignore[no-untyped-def]
        norm(target.layer_norm, p + ".mlp_ln")
        linear(target.linear_0, p + ".mlp.0")
        linear(target.linear_1, p + ".mlp.2")

    enc, dec = spec.encoder, spec.decoder
    linear(enc.conv1, "encoder.conv1")
    linear(enc.conv2, "encoder.conv2")
    enc.position_encodings.encodings = sd["encoder.positional_embedding"]
    norm(enc.layer_norm, "encoder.ln_post")
    for i, layer in enumerate(enc.layer):
        self_attention(layer.self_attention, f"encoder.blocks.{i}.attn")
        ffn(layer.ffn, f"encoder.blocks.{i}")
    dec.embeddings.weight = sd["decoder.token_embedding.weight"]
    dec.projection.weight = sd["decoder.token_embedding.weight"]
    dec.position_encodings.encodings = sd["decoder.positional_embedding"]
    norm(dec.layer_norm, "decoder.ln")
    for i, layer in enumerate(dec.layer):
        p = f"decoder.blocks.{i}"
        self_attention(layer.self_attention, p + ".attn")
        norm(layer.attention.layer_norm, p + ".cross_attn_ln")
        linear(layer.attention.linear[0], p + ".cross_attn.query")
        kv = np.concatenate([sd[p + ".cross_attn.key.weight"], sd[p + ".cross_attn.value.weight"]])
        linear(layer.attention.linear[1], "", kv, np.concatenate([zeros, sd[p + ".cross_attn.value.bias"]]))
        linear(layer.attention.linear[2], p + ".cross_attn.out")
        ffn(layer.ffn, p)
    tokenizer = whisper.tokenizer.get_tokenizer(multilingual=False)
    vocabulary = [f"t{i}" for i in range(model.dims.n_vocab)]
    for name, index in tokenizer.special_tokens.items():
        vocabulary[index] = name
    spec.register_vocabulary(vocabulary)
    spec.config.suppress_ids, spec.config.suppress_ids_begin, spec.config.lang_ids = [], [], []
    spec.config.alignment_heads = [[1, 0], [1, 1]]
    return spec, tokenizer


def test_conversion_is_exact_and_matches_the_ctranslate2_runtime(tmp_path: Path) -> None:
    from whisper.model import ModelDimensions, Whisper

    from sensorium.multimodal.whisper_convert import convert_ct2_to_openai

    torch.manual_seed(0)
    dims = ModelDimensions(80, 1500, STATE, HEADS, LAYERS, 51864, 448, STATE, HEADS, LAYERS)
    model = Whisper(dims).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    spec, tokenizer = _to_ct2_spec(model, sd)
    spec.validate()
    spec.optimize(quantization=None)
    ct2_dir = tmp_path / "ct2"
    ct2_dir.mkdir()
    spec.save(str(ct2_dir))

    runtime = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32")
    mel = torch.randn(1, 80, 3000)
    features = ctranslate2.StorageView.from_array(mel.numpy())
    prompt = [tokenizer.sot, tokenizer.no_timestamps]
    with torch.no_grad():
        audio = model.embed_audio(mel)
        want_logits = model.logits(torch.tensor([prompt]), audio)[0, -1].numpy()
    np.testing.assert_allclose(np.array(runtime.encode(features)), audio.numpy(), atol=1e-4)
    out = runtime.generate(
        features,
        [prompt],
        beam_size=1,
        max_length=3,
        return_logits_vocab=True,
        suppress_blank=False,
        suppress_tokens=[],
    )
    np.testing.assert_allclose(np.array(out[0].logits[0][0]).reshape(-1), want_logits, atol=1e-4)

    convert_ct2_to_openai(ct2_dir, tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["dims"] == dims.__dict__
    assert checkpoint["alignment_heads"] == [[1, 0], [1, 1]]
    converted = whisper.load_model(str(tmp_path / "model.pt"), device="cpu")
    for name, tensor in model.state_dict().items():
        assert torch.equal(converted.state_dict()[name], tensor), name

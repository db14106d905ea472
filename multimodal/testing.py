"""Seeded tiny random models of the real architectures, saved to a directory so the real loading path runs.

No CLIP, VLM or diffusion weights are reachable offline, so tests (and anyone trying the code without weights)
build miniature versions from configs: an OpenCLIP ViT in open_clip's hub format, a LLaVA model (SigLIP vision
tower + Qwen2 language model, like LLaVA-Interleave-Qwen) with its processor, and a Stable Diffusion pipeline
(UNet2DConditionModel + AutoencoderKL + CLIPTextModel + Euler scheduler, like SD-Turbo). The same seed gives the
same weights, so the same inputs give the same outputs. The tokenizer is CLIP's real BPE vocabulary, which
open_clip ships inside its wheel.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

from sensorium.extras import require

# Qwen-style chat template (what LLaVA-Interleave-Qwen's processor uses), images as "<image>" placeholders.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def _seed(seed: int) -> Any:
    torch = require("torch", "vision")
    torch.manual_seed(seed)
    return torch


def write_clip_tokenizer(directory: str | Path) -> Path:
    """Write CLIP's BPE tokenizer (vocab.json, merges.txt) as transformers reads it, from open_clip's vocabulary."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    open_clip_tok = require("open_clip.tokenizer", "vision")
    bpe = Path(open_clip_tok.default_bpe())
    with gzip.open(bpe) as f:
        merges = f.read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    byte_chars = list(open_clip_tok.bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return out


def _clip_tokenizer(**kwargs: Any) -> Any:
    transformers = require("transformers", "vision")
    with tempfile.TemporaryDirectory() as tmp:
        return transformers.CLIPTokenizer.from_pretrained(
            str(write_clip_tokenizer(tmp)), model_max_length=77, **kwargs
        )


def build_tiny_clip(directory: str | Path, seed: int = 0) -> Path:
    """A tiny OpenCLIP ViT in hub format (open_clip_config.json + open_clip_model.safetensors); load with
    ``local-dir:`` like a downloaded checkpoint."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    _seed(seed)
    open_clip = require("open_clip", "vision")
    safetensors_torch = require("safetensors.torch", "vision")
    model = open_clip.CLIP(**TINY_CLIP_CONFIG)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    safetensors_torch.save_file(state, str(out / "open_clip_model.safetensors"))
    config = {
        "model_cfg": TINY_CLIP_CONFIG,
        "preprocess_cfg": {
            "mean": list(open_clip.OPENAI_DATASET_MEAN),
            "std": list(open_clip.OPENAI_DATASET_STD),
        },
    }
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out


def build_tiny_vlm(directory: str | Path, seed: int = 0) -> Path:
    """A tiny LLaVA (SigLIP vision tower, 2-layer MLP projector, Qwen2 LM) with processor, via save_pretrained."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    torch = _seed(seed)
    transformers = require("transformers", "vision")
    tok = _clip_tokenizer(pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<|im_start|>", "<|im_end|>"]})
    image_size, patch = 32, 8
    vision = transformers.SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch,
    )
    text = transformers.Qwen2Config(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    config = transformers.LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_seq_length=(image_size // patch) ** 2,
    )
    model = transformers.LlavaForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = text.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    image_processor = transformers.SiglipImageProcessor(size={"height": image_size, "width": image_size})
    processor = transformers.LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy="full",
        num_additional_image_tokens=0,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    del torch
    return out


def build_tiny_imagegen(directory: str | Path, seed: int = 0) -> Path:
    """A tiny Stable Diffusion pipeline (the SD-Turbo layout) saved with ``save_pretrained``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    _seed(seed)
    diffusers = require("diffusers", "imagegen")
    transformers = require("transformers", "imagegen")
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=2,
    )
    vae = diffusers.AutoencoderKL(
        block_out_channels=[8, 16],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
        sample_size=32,
    )
    tok = _clip_tokenizer()
    text_encoder = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
    )
    scheduler = diffusers.EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
        steps_offset=1,
    )
    pipe = diffusers.StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tok,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out)
    return out

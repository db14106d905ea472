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


# -- images with known text (OCR tests and benchmarks) --------------------------------------------------------
FONT_FILES = {  # Debian's fonts-dejavu-core; PIL's own Aileron is always there
    "dejavu-sans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "dejavu-serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "dejavu-mono": "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
}


def text_fonts() -> list[str]:
    """Font names :func:`load_font` can load here: ``aileron`` (inside Pillow) and the DejaVu fonts present."""
    return ["aileron", *(name for name, path in FONT_FILES.items() if Path(path).is_file())]


def load_font(name: str, px: int) -> Any:
    ImageFont = require("PIL.ImageFont", "vision")
    if name == "aileron":
        return ImageFont.load_default(size=px)
    return ImageFont.truetype(FONT_FILES[name], px)


def render_text_image(
    lines: list[str],
    px: int,
    font: str = "aileron",
    *,
    ink: str = "black",
    ground: str = "white",
    width: int | None = None,
) -> Any:
    """A PIL image with ``lines`` drawn at ``px`` pixels (the font size), 1.5 line spacing, a margin of ``px``."""
    Image = require("PIL.Image", "vision")
    ImageDraw = require("PIL.ImageDraw", "vision")
    face = load_font(font, px)
    w = width or max(int(face.getlength(line)) for line in lines) + 2 * px
    h = int(len(lines) * px * 1.5) + 2 * px
    image = Image.new("RGB", (w, h), ground)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((px, px + i * px * 1.5), line, fill=ink, font=face)
    return image


def write_caption_video(
    path: str | Path,
    scenes: list[tuple[float, str]],
    *,
    seconds: float,
    audio: Any = None,
    audio_rate: int = 16000,
    size: tuple[int, int] = (1280, 720),
    fps: int = 10,
    px: int = 40,
) -> Path:
    """An H.264/AAC MP4: from each ``(start, caption)`` on, a coloured background with the caption drawn on it;
    ``audio`` (mono float32 samples at ``audio_rate``) as the sound track. For video tests and benchmarks."""
    av = require("av", "video")
    np = require("numpy", "vision")
    Image = require("PIL.Image", "vision")
    ImageDraw = require("PIL.ImageDraw", "vision")
    path = Path(path)
    face = load_font("aileron", px)
    colours = ["#f4f1de", "#e0fbfc", "#fdf0d5", "#e9edc9", "#f1faee", "#fefae0"]
    pictures = []
    for i, (_, caption) in enumerate(scenes):
        image = Image.new("RGB", size, colours[i % len(colours)])
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, size[1] - 90, size[0], size[1]), fill="#333333")  # a lower-third bar, like a video
        draw.text((60, size[1] // 2 - px), caption, fill="#111111", font=face)
        draw.text((60, size[1] - 70), f"scene {i + 1}", fill="#ffffff", font=load_font("aileron", 28))
        pictures.append(np.asarray(image))
    with av.open(str(path), "w") as out:
        vstream = out.add_stream("libx264", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = size[0], size[1], "yuv420p"
        vstream.options = {"preset": "ultrafast"}
        astream = out.add_stream("aac", rate=audio_rate) if audio is not None else None
        if astream is not None:
            astream.layout = "mono"
        for n in range(int(seconds * fps)):
            t = n / fps
            index = max(i for i, (start, _) in enumerate(scenes) if start <= t or i == 0)
            frame = av.VideoFrame.from_ndarray(pictures[index], format="rgb24")
            for packet in vstream.encode(frame):
                out.mux(packet)
        for packet in vstream.encode(None):
            out.mux(packet)
        if astream is not None:
            samples = np.asarray(audio, dtype=np.float32).reshape(-1)[: int(seconds * audio_rate)]
            step = 1024
            for i in range(0, len(samples), step):
                chunk = samples[i : i + step]
                aframe = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
                aframe.sample_rate = audio_rate
                aframe.pts = i
                for packet in astream.encode(aframe):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return path

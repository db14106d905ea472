"""Diffusion seconds per image: sensorium's DiffusersImageGenerator.generate against the bare diffusers pipeline.

The pipeline has SD-Turbo's architecture (SD 2.1 UNet, 4-channel VAE, OpenCLIP ViT-H text encoder, Euler
trailing scheduler) with random weights: no weights are reachable offline, and speed does not depend on weight
values. Both sides call the same pipeline object with the same prompt, seed, steps and size; runs alternate after
a warm-up and the median of --repeats is reported. On 2 CPU cores 512x512 takes minutes, so the default here is
256x256, 1 step (say which size you ran when you quote a figure).

    .venv/bin/python bench/imagegen.py [--size 256] [--steps 1] [--repeats 3] [--device cpu] [--tiny]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def sd_turbo_like(tiny: bool):  # -> StableDiffusionPipeline with random weights
    import diffusers
    import transformers

    from sensorium.multimodal import testing

    if tiny:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            return diffusers.StableDiffusionPipeline.from_pretrained(testing.build_tiny_imagegen(tmp))
    unet = diffusers.UNet2DConditionModel(
        sample_size=96,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=(
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=1024,
        attention_head_dim=(5, 10, 20, 20),
        use_linear_projection=True,
    )
    vae = diffusers.AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=2,
        sample_size=768,
    )
    text_encoder = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            vocab_size=49408,
            hidden_size=1024,
            intermediate_size=4096,
            num_hidden_layers=23,
            num_attention_heads=16,
            hidden_act="gelu",
            projection_dim=1024,
        )
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = transformers.CLIPTokenizer.from_pretrained(
            str(testing.write_clip_tokenizer(tmp)), model_max_length=77
        )
    scheduler = diffusers.EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
        steps_offset=1,
    )
    return diffusers.StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tiny", action="store_true", help="the tiny test pipeline instead of SD-Turbo's size")
    args = ap.parse_args()

    import torch

    from sensorium.multimodal.imagegen import DiffusersImageGenerator, GenerationRequest

    torch.manual_seed(0)
    t0 = time.perf_counter()
    pipe = sd_turbo_like(args.tiny)
    pipe.set_progress_bar_config(disable=True)
    params = sum(p.numel() for m in (pipe.unet, pipe.vae, pipe.text_encoder) for p in m.parameters())
    ours = DiffusersImageGenerator.from_pipeline(pipe, model="sd-turbo-arch-random", device=args.device)
    bare = ours.pipe  # the very same object, so only the wrapper differs
    print(f"built {params / 1e6:.0f}M-parameter pipeline in {time.perf_counter() - t0:.0f} s", flush=True)
    request = GenerationRequest(
        "a lighthouse at dusk", seed=1, steps=args.steps, width=args.size, height=args.size
    )

    def run_bare():
        g = torch.Generator("cpu").manual_seed(1)
        with torch.inference_mode():
            return bare(
                prompt=request.prompt,
                num_inference_steps=args.steps,
                guidance_scale=0.0,
                width=args.size,
                height=args.size,
                generator=g,
            ).images[0]

    def run_ours():
        return ours.generate(request).image

    assert np.array_equal(np.asarray(run_bare()), np.asarray(run_ours()))  # warm-up, and the same image
    times: dict[str, list[float]] = {"bare": [], "ours": []}
    for _ in range(args.repeats):
        for name, fn in (("bare", run_bare), ("ours", run_ours)):
            start = time.perf_counter()
            fn()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    b, o = statistics.median(times["bare"]), statistics.median(times["ours"])
    print(
        f"{'tiny' if args.tiny else 'SD-Turbo-size'} text-to-image {args.size}x{args.size}, {args.steps} step(s), "
        f"{args.device}, {torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"  bare diffusers : {b:8.2f} s/image")
    print(f"  sensorium      : {o:8.2f} s/image")
    print(f"  ratio (sensorium / bare time): {o / b:.3f}  (overhead {o / b - 1:+.1%})")


if __name__ == "__main__":
    main()

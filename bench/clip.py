"""CLIP images per second: sensorium's ClipModel.embed_images against bare open_clip, same model, same images.

The model is OpenCLIP ViT-B-32 with random weights (no weights are reachable offline; speed does not depend on
weight values), saved in open_clip's hub format and loaded by both sides from that folder. Both sides decode
nothing (PIL images in memory), preprocess with the same transform, run batches of --batch on --device, and
L2-normalise. Runs alternate (bare, ours, bare, ours, ...) after a warm-up; the median of --repeats is reported.

    .venv/bin/python bench/clip.py [--images 64] [--batch 32] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="ViT-B-32")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()

    import open_clip
    import safetensors.torch
    import torch
    from PIL import Image
    from skimage import data

    from sensorium.multimodal.clip import ClipModel

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    photos = [
        Image.fromarray(getattr(data, n)()).convert("RGB")
        for n in ("chelsea", "astronaut", "coffee", "rocket")
    ]
    images = [photos[i % len(photos)].rotate(i) for i in range(args.images)]  # distinct pixels per image

    with tempfile.TemporaryDirectory() as tmp:
        cfg = open_clip.get_model_config(args.arch)
        model = open_clip.create_model(args.arch)
        safetensors.torch.save_file(
            {k: v.contiguous() for k, v in model.state_dict().items()},
            str(Path(tmp) / "open_clip_model.safetensors"),
        )
        pre = {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)}
        (Path(tmp) / "open_clip_config.json").write_text(
            json.dumps({"model_cfg": cfg, "preprocess_cfg": pre})
        )
        del model

        bare, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{tmp}", device=args.device)
        bare.eval()
        ours = ClipModel(tmp, device=args.device, batch_size=args.batch)

    def run_bare() -> np.ndarray:
        out = []
        with torch.inference_mode():
            for s in range(0, len(images), args.batch):
                x = torch.stack([preprocess(im) for im in images[s : s + args.batch]]).to(args.device)
                f = bare.encode_image(x)
                out.append((f / f.norm(dim=-1, keepdim=True)).float().cpu().numpy())
        return np.concatenate(out)

    def run_ours() -> np.ndarray:
        return ours.embed_images(images)

    np.testing.assert_allclose(run_bare(), run_ours(), atol=1e-4)  # warm-up, and the same answer
    times: dict[str, list[float]] = {"bare": [], "ours": []}
    for _ in range(args.repeats):
        for name, fn in (("bare", run_bare), ("ours", run_ours)):
            start = time.perf_counter()
            fn()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    bare_ips = args.images / statistics.median(times["bare"])
    ours_ips = args.images / statistics.median(times["ours"])
    print(
        f"CLIP {args.arch} image embeddings, {args.images} images, batch {args.batch}, {args.device}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"  bare open_clip : {bare_ips:8.2f} images/s")
    print(f"  sensorium      : {ours_ips:8.2f} images/s")
    print(
        f"  ratio (sensorium / bare throughput): {ours_ips / bare_ips:.3f}  (overhead {1 - ours_ips / bare_ips:+.1%})"
    )


if __name__ == "__main__":
    main()

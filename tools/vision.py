"""Vision tools for the brain: describe_image, classify_image, find_images.

Models load on the first call (process-wide caches in ``sensorium.multimodal.perceive``), never at import.
"""

from __future__ import annotations

from sensorium.multimodal.perceive import describe_image_file, get_clip

from .base import ToolResult, tool
from .files import media_file


@tool(idempotent=True)
def describe_image(path: str, question: str = "") -> ToolResult:
    """Describe an image file: its size and format, the text in it, likely labels, a caption, and an answer to a question.

    Args:
        path: Path of the image file (PNG, JPEG or WebP): attached to this turn, or relative to the workspace.
        question: Optional question about the image, e.g. "How many people are there?"; empty for a caption only.
    """
    with media_file(path, "image") as readable:  # the workspace and the turn's attachments only
        report = describe_image_file(readable, question=question or None)
    info = report["image"]
    lines = [f"{info['format']} image, {info['width']}x{info['height']} pixels."]
    if report.get("text"):
        lines.append(f"Text in the image (OCR):\n{report['text']}")
    elif "text" in report:
        lines.append("No text found in the image.")
    if report["caption"]:
        lines.append(f"Caption: {report['caption']}")
    if report.get("answer"):
        lines.append(f"Answer: {report['answer']}")
    if report["labels"]:
        lines.append("Labels: " + ", ".join(f"{x['label']} ({x['score']:.0%})" for x in report["labels"]))
    lines.extend(f"Note: {n}" for n in report["notes"])
    return ToolResult(content="\n".join(lines), data=report)


@tool(idempotent=True)
def classify_image(path: str, labels: list[str]) -> ToolResult:
    """Score an image against a set of candidate labels with CLIP (zero-shot); most likely first.

    Args:
        path: Path of the image file (PNG, JPEG or WebP).
        labels: Candidate labels, e.g. ["cat", "dog", "car"].
    """
    from sensorium.multimodal.image import load_image

    with media_file(path, "image") as readable:
        image = load_image(readable)
    ranked = get_clip().classify(image, labels)
    data = [x.model_dump() for x in ranked]
    return ToolResult(content=", ".join(f"{x.label}: {x.score:.1%}" for x in ranked), data=data)


@tool(idempotent=True)
def find_images(query: str, k: int = 5) -> ToolResult:
    """Search the images remembered so far (attachments seen in earlier turns) by a text description.

    Args:
        query: What the image shows, e.g. "a cat on a sofa".
        k: How many images to return, best match first.
    """
    from sensorium.multimodal.image_index import ImageIndex

    index = ImageIndex()
    if not len(index):
        return ToolResult(content="No images are remembered yet.", data=[])
    hits = index.search(query, get_clip(), k=max(1, min(k, 50)))
    data = [h.model_dump() for h in hits]
    return ToolResult(content="\n".join(f"{h.path} (similarity {h.score:.2f})" for h in hits), data=data)

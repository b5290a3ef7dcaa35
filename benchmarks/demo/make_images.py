"""Draw the demo benchmark's images and write its items and ground truth (run once; output is shipped).

    python benchmarks/demo/make_images.py

Deterministic: plain PIL drawing, no randomness. The ground truth lists the COCO
objects drawn in each image, in LLaVA's caps_boxes format (captions + instances).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZE = 224
PROMPTS = [
    "Provide a thorough description of the given image.",
    "What is this photo about? Please answer in great detail.",
    "Provide a thorough description of the given picture.",
    "Please provide a detailed description of the image, including its visual elements, such as colors, shapes, textures, objects, and people.",
]


def octagon(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    return [
        (
            cx + r * math.cos(math.pi / 8 + k * math.pi / 4),
            cy + r * math.sin(math.pi / 8 + k * math.pi / 4),
        )
        for k in range(8)
    ]


def stop_sign(d: ImageDraw.ImageDraw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill=(170, 200, 230))
    d.rectangle([106, 110, 118, 224], fill=(120, 120, 120))
    d.polygon(octagon(112, 80, 60), fill=(200, 20, 30), outline=(255, 255, 255))
    d.text((88, 74), "STOP", fill=(255, 255, 255))


def sports_ball(d: ImageDraw.ImageDraw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill=(60, 150, 60))
    d.ellipse([72, 72, 152, 152], fill=(250, 250, 250), outline=(0, 0, 0), width=3)
    d.polygon([(112, 98), (126, 108), (121, 124), (103, 124), (98, 108)], fill=(0, 0, 0))


def clock(d: ImageDraw.ImageDraw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill=(235, 225, 200))
    d.ellipse([42, 42, 182, 182], fill=(255, 255, 255), outline=(40, 40, 40), width=6)
    d.line([112, 112, 112, 62], fill=(0, 0, 0), width=5)
    d.line([112, 112, 150, 126], fill=(0, 0, 0), width=4)


def traffic_light(d: ImageDraw.ImageDraw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill=(150, 180, 210))
    d.rectangle([82, 20, 142, 190], fill=(30, 30, 30))
    for k, color in enumerate([(230, 30, 30), (240, 200, 0), (30, 200, 60)]):
        d.ellipse([94, 30 + 52 * k, 130, 66 + 52 * k], fill=color)
    d.rectangle([106, 190, 118, 224], fill=(80, 80, 80))


def cup_and_bowl(d: ImageDraw.ImageDraw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill=(245, 240, 230))
    d.rectangle([0, 140, SIZE, SIZE], fill=(140, 90, 50))  # table top
    d.rectangle([40, 90, 80, 145], fill=(30, 90, 200))  # cup
    d.arc([72, 100, 96, 130], start=270, end=90, fill=(30, 90, 200), width=5)
    d.chord([120, 100, 200, 160], start=0, end=180, fill=(220, 200, 60))  # bowl


def television(d: ImageDraw.ImageDraw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill=(200, 190, 180))
    d.rectangle([32, 40, 192, 150], fill=(20, 20, 20))
    d.rectangle([42, 50, 182, 140], fill=(60, 120, 200))
    d.rectangle([100, 150, 124, 175], fill=(20, 20, 20))
    d.rectangle([70, 175, 154, 185], fill=(20, 20, 20))


IMAGES = [
    ("stop_sign", stop_sign, ["stop sign"], ["A red stop sign on a gray pole under a blue sky."]),
    ("sports_ball", sports_ball, ["sports ball"], ["A white soccer ball on green grass."]),
    ("clock", clock, ["clock"], ["A round white clock on a beige wall."]),
    (
        "traffic_light",
        traffic_light,
        ["traffic light"],
        ["A traffic light with red, yellow and green lights."],
    ),
    (
        "cup_and_bowl",
        cup_and_bowl,
        ["cup", "bowl", "dining table"],
        ["A blue cup and a yellow bowl on a wooden table."],
    ),
    ("television", television, ["tv"], ["A television with a blue screen on a stand."]),
]


def main() -> None:
    (HERE / "images").mkdir(exist_ok=True)
    items, gt = [], []
    for k, (name, draw, objects, captions) in enumerate(IMAGES, start=1):
        img = Image.new("RGB", (SIZE, SIZE))
        draw(ImageDraw.Draw(img))
        img.save(HERE / "images" / f"{name}.png", optimize=True)
        items.append(
            {
                "id": f"demo-{k}",
                "image": f"images/{name}.png",
                "image_id": k,
                "question": PROMPTS[(k - 1) % len(PROMPTS)],
            }
        )
        gt.append(
            {
                "id": k,
                "image": f"images/{name}.png",
                "captions": captions,
                "instances": [{"category": o} for o in objects],
            }
        )
    (HERE / "items.jsonl").write_text("".join(json.dumps(x) + "\n" for x in items))
    (HERE / "ground_truth.jsonl").write_text("".join(json.dumps(x) + "\n" for x in gt))


if __name__ == "__main__":
    main()

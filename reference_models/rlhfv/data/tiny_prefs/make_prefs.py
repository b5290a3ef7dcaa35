"""Write prefs.jsonl: 24 toy preference pairs on the six drawn demo images (configs/tiny.yaml).

Chosen describes what is drawn; rejected names a hallucinated object instead (a substitution,
which DDPO up-weights) or adds one (the last sentence differs). Run from anywhere:
``python reference_models/rlhfv/data/tiny_prefs/make_prefs.py``.
"""

import json
from pathlib import Path

IMAGES = {  # image: (what is drawn, a hallucinated replacement, a hallucinated extra object)
    "stop_sign.png": (
        "a red stop sign on a gray pole",
        "a red traffic light on a gray pole",
        "car",
    ),
    "sports_ball.png": ("a white ball on green grass", "a white dog on green grass", "person"),
    "clock.png": ("a round white clock on the wall", "a round white plate on the wall", "chair"),
    "traffic_light.png": (
        "a traffic light with red, yellow and green lights",
        "a stop sign with red, yellow and green lights",
        "bus",
    ),
    "cup_and_bowl.png": (
        "a blue cup and a yellow bowl on a wooden table",
        "a blue phone and a yellow bowl on a wooden table",
        "pizza",
    ),
    "television.png": (
        "a tv with a blue screen on a stand",
        "a clock with a blue screen on a stand",
        "cat",
    ),
}
QUESTIONS = [
    "Provide a thorough description of the given image.",
    "What is this photo about? Please answer in great detail.",
    "Describe the image.",
    "What can you see in the picture?",
]


def main() -> None:
    here = Path(__file__).parent
    lines = []
    for n, (image, (true, wrong, extra)) in enumerate(IMAGES.items()):
        for q, question in enumerate(QUESTIONS):
            rid = f"tiny-{n * len(QUESTIONS) + q + 1:02d}"
            chosen = f"The image shows {true}. There is nothing else in the picture."
            if q % 2 == 0:  # substitution of the main object
                rejected = f"The image shows {wrong}. There is nothing else in the picture."
            else:  # a hallucinated extra object in the last sentence
                rejected = f"The image shows {true}. There is also a {extra} in the picture."
            lines.append(
                {
                    "id": rid,
                    "image": f"images/{image}",
                    "question": question,
                    "chosen": chosen,
                    "rejected": rejected,
                    "meta": {"source": "halbench toy set (make_prefs.py)"},
                }
            )
    text = "".join(json.dumps(x) + "\n" for x in lines)
    (here / "prefs.jsonl").write_text(text)


if __name__ == "__main__":
    main()

"""Paint examples/brushstrokes.jpg, the example style image: swirling strokes along a flow field.

The project generates this image itself so that it can ship under the project's own licence.
Run: python examples/make_style.py
"""

import argparse
import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
PALETTE = [(24, 42, 96), (38, 78, 160), (90, 140, 210), (236, 200, 70), (250, 232, 150), (20, 24, 40),
           (200, 90, 40), (60, 120, 90)]


def flow_angle(x: float, y: float) -> float:
    # A few vortices: the swirls give the style image strong, recognizable texture at several scales.
    angle = 0.0
    for cx, cy, strength in ((0.3, 0.35, 1.0), (0.72, 0.6, -1.2), (0.5, 0.85, 0.8)):
        dx, dy = x - cx, y - cy
        angle += strength * math.atan2(dy, dx) / (1 + 6 * (dx * dx + dy * dy))
    return angle + 2.0 * y + math.sin(5 * x)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help, not a run
    rng = random.Random(1889)
    image = Image.new("RGB", (SIZE, SIZE), PALETTE[0])
    draw = ImageDraw.Draw(image)
    for _ in range(9000):
        x, y = rng.random() * SIZE, rng.random() * SIZE
        base = PALETTE[rng.randrange(len(PALETTE))]
        colour = tuple(max(0, min(255, c + rng.randint(-18, 18))) for c in base)
        width = rng.choice((3, 4, 5, 7))
        points = [(x, y)]
        for _ in range(rng.randint(4, 12)):
            angle = flow_angle(x / SIZE, y / SIZE)
            x, y = x + 4 * math.cos(angle), y + 4 * math.sin(angle)
            points.append((x, y))
        draw.line(points, fill=colour, width=width, joint="curve")
    image = image.filter(ImageFilter.SMOOTH_MORE)
    image.save(Path(__file__).with_name("brushstrokes.jpg"), quality=90)


if __name__ == "__main__":
    main()

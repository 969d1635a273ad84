"""Test cards for checking inline images in real terminals (see run_checks.sh).

Each has a white frame, red corner squares and diagonals, so a cropped, clipped or
stretched picture is easy to see: python tests/terminal/make_images.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw


def card(size: tuple[int, int]) -> Image.Image:
    width, height = size
    # A smooth two-axis gradient (shows Sixel's palette banding honestly).
    x = Image.linear_gradient("L").rotate(90).resize(size)
    y = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (x.transpose(Image.Transpose.FLIP_LEFT_RIGHT), y, x))
    draw = ImageDraw.Draw(image)
    mark = max(8, min(size) // 12)
    draw.rectangle([0, 0, width - 1, height - 1], outline="white", width=max(2, mark // 5))
    draw.line([0, 0, width - 1, height - 1], fill="black", width=max(2, mark // 6))
    draw.line([0, height - 1, width - 1, 0], fill="black", width=max(2, mark // 6))
    r = min(size) // 3
    draw.ellipse(
        [width // 2 - r, height // 2 - r, width // 2 + r, height // 2 + r],
        outline="yellow",
        width=max(2, mark // 4),
    )
    for cx, cy in [(0, 0), (width - mark, 0), (0, height - mark), (width - mark, height - mark)]:
        draw.rectangle([cx, cy, cx + mark - 1, cy + mark - 1], fill="red")
    return image


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, size in [("square", (512, 512)), ("wide", (1024, 384)), ("tall", (300, 800))]:
        card(size).save(out / f"{name}.png")
    (out / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/doorways-cards"))

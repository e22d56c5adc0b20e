"""Time to the first picture in the studio page (`stylize serve`), measured through its HTTP API in process.

For a 12 MP photo (the example photo enlarged to 4000x3000) and the example painting: the upload (decode and
checks), then a preview at the page's preview size with a shipped style model, with the arbitrary-style model,
and the first forming picture of the optimization; then the shipped model at full size; then the camera's frames a
second (the page sends one when the last is back) at 640x480 and 512x384, with a style model and any painting's one
pass, each frame's round trip through the API (a JPEG of the example photo up, the painted JPEG back). Prints
seconds and frames a second.

    python benchmarks/studio_latency.py [--device cuda] [--camera-only]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

from PIL import Image
from starlette.testclient import TestClient

from stylize.serve.app import StudioSettings, create_app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _timed(client: TestClient, body: dict, until: str = "done") -> float:
    started = time.perf_counter()
    job = client.post("/api/jobs", json=body).json()
    while True:
        status = client.get(f"/api/jobs/{job['id']}").json()
        if status["state"] in ("failed", "cancelled"):
            raise SystemExit(f"{body}: {status['message']}")
        if (until == "picture" and status["preview_version"] is not None) or status["state"] == "done":
            seconds = time.perf_counter() - started
            if status["state"] != "done":
                client.post(f"/api/jobs/{job['id']}/cancel")
            return seconds
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--camera-only", action="store_true", help="only the camera's frames a second")
    args = parser.parse_args()
    photo = io.BytesIO()
    Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(
        photo, format="JPEG", quality=92)
    painting = (EXAMPLES / "brushstrokes.jpg").read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(StudioSettings(output_dir=Path(folder), device=args.device))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            if not args.camera_only:
                _measure(client, photo.getvalue(), painting)
            _camera(client, painting)


def _measure(client: TestClient, photo: bytes, painting: bytes) -> None:
    started = time.perf_counter()
    photo_id = client.post("/api/uploads?name=photo.jpg", content=photo).json()["id"]
    print(f"upload of a 12 MP JPEG ({len(photo) / 2**20:.1f} MB): {time.perf_counter() - started:.2f} s")
    painting_id = client.post("/api/uploads?name=painting.jpg", content=painting).json()["id"]
    info = client.get("/api/info").json()
    print(f"device: {info['device']}")
    for label, body, until in [
        ("preview, shipped model (starry), cold", {"model": "starry"}, "done"),
        ("preview, shipped model (starry), warm", {"model": "starry"}, "done"),
        ("preview, any painting (arbitrary), cold", {"model": "arbitrary", "style": painting_id}, "done"),
        ("preview, any painting (arbitrary), warm", {"model": "arbitrary", "style": painting_id}, "done"),
        ("optimization, first forming picture", {"style": painting_id, "settings": {"size": 512}}, "picture"),
    ]:
        recipe = {"kind": "style", "photo": photo_id, "preview": True, **body}
        print(f"{label}: {_timed(client, recipe, until):.2f} s")
    full = {"kind": "style", "photo": photo_id, "model": "starry"}
    print(f"full size 4000x3000, shipped model, written: {_timed(client, full):.2f} s")



def _camera(client: TestClient, painting: bytes, frames: int = 20) -> None:
    """Frames a second of the camera, each frame sent when the last came back (as the page does), after 2 frames
    that load the model."""
    painting_id = client.post("/api/uploads?name=painting.jpg", content=painting).json()["id"]
    for width, height in ((640, 480), (512, 384)):
        frame = io.BytesIO()
        Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize((width, height)).save(frame, "JPEG", quality=85)
        for label, recipe in [("style model (starry)", {"kind": "style", "model": "starry"}),
                              ("any painting, one pass", {"kind": "style", "model": "arbitrary", "style": painting_id,
                                                          "settings": {"refine": 0}})]:
            url = f"/api/live?recipe={json.dumps(recipe)}"
            for _ in range(2):
                client.post(url, content=frame.getvalue()).raise_for_status()
            started = time.perf_counter()
            for _ in range(frames):
                client.post(url, content=frame.getvalue()).raise_for_status()
            rate = frames / (time.perf_counter() - started)
            print(f"camera {width}x{height}, {label}: {rate:.1f} frames a second")


if __name__ == "__main__":
    main()

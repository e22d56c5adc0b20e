"""`stylize serve` without a browser: the token, the host check, upload guards, the queue and cancel, sessions,
and that no request reads a file outside the output folder."""

from __future__ import annotations

import io
import json
import os
import shlex
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
from clips import shown  # noqa: E402
from conftest import gradient_image  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from stylize.images import pil_to_tensor  # noqa: E402
from stylize.serve.app import MAX_JSON_BYTES, SESSION_COOKIE, TOKEN_HEADER, StudioSettings, create_app  # noqa: E402
from stylize.serve.uploads import safe_stem  # noqa: E402

BASE = "http://127.0.0.1"


def _png(width: int = 48, height: int = 40, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    gradient_image(width, height, seed).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def studio(tmp_path):
    """A studio app on a temporary output folder and a client (a browser session) for it."""
    settings = StudioSettings(output_dir=tmp_path / "out", device="cpu", max_upload_bytes=200_000, max_pixels=40_000,
                              max_queue=2)
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client


def _upload(client: TestClient, data: bytes, name: str = "photo.png") -> dict:
    return client.post(f"/api/uploads?name={name}", content=data).json()


def _wait(client: TestClient, job_id: str, states=("done", "failed", "cancelled"), seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] in states:
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {status}")


def test_the_page_and_its_files_come_from_the_package_with_safe_headers(studio):
    page = studio.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from the network
    for name in ("app.js", "style.css"):
        response = studio.get(f"/static/{name}")
        assert response.status_code == 200 and "https://" not in response.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.cookies.get(SESSION_COOKIE)


def test_a_fast_model_job_writes_a_result_with_its_settings_and_command(studio, tmp_path):
    photo = _upload(studio, _png(), "my photo.png")
    assert (photo["width"], photo["height"]) == (48, 40)
    job = studio.post("/api/jobs", json={"kind": "style", "photo": photo["id"], "model": "starry",
                                         "settings": {"strength": 0.5}})
    assert job.status_code == 202
    status = _wait(studio, job.json()["id"])
    assert status["state"] == "done", status
    output = tmp_path / "out" / status["result"]
    assert status["command"] == f"stylize run 'my photo.png' --model starry --strength 0.5 -o {output}"
    result = studio.get(f"/results/{status['result']}")
    assert result.status_code == 200
    pixels = pil_to_tensor(Image.open(io.BytesIO(result.content)).convert("RGB"))
    original = pil_to_tensor(Image.open(io.BytesIO(_png())).convert("RGB"))
    assert pixels.shape == original.shape and (pixels - original).abs().mean() > 0.02  # painted, not the photo
    (listed,) = studio.get("/api/results").json()
    assert listed["name"] == status["result"] and listed["settings"]["strength"] == 0.5
    assert listed["inputs"] == {"photo": "my photo.png"}
    assert studio.get(f"/api/jobs/{status['id']}/preview").headers["content-type"] == "image/png"


def test_any_painting_is_refined_as_the_page_asks_and_the_command_says_so(studio, tmp_path):
    """The page's refinement slider is `--refine` (issue 29): sent, checked, recorded and in the command."""
    photo, painting = _upload(studio, _png(64, 48, 1)), _upload(studio, _png(64, 64, 2), "monet.png")
    job = {"kind": "style", "photo": photo["id"], "model": "arbitrary", "style": painting["id"]}
    refined = _wait(studio, studio.post("/api/jobs", json={**job, "settings": {"refine": 2}}).json()["id"])
    assert refined["state"] == "done", refined
    assert refined["done"] == refined["total"] == 2  # its steps were the job's progress (and cancel points)
    output = tmp_path / "out" / refined["result"]
    assert refined["command"] == (f"stylize run photo.png --model arbitrary --style monet.png --refine 2 "
                                  f"-o {output}")
    plain = _wait(studio, studio.post("/api/jobs", json=job).json()["id"])
    assert "--refine" not in plain["command"]  # the default, 5
    bad = studio.post("/api/jobs", json={**job, "settings": {"refine": 101}})
    assert bad.status_code == 400 and "refine" in bad.json()["error"]


@pytest.mark.parametrize(("name", "stem"), [
    ("家族.jpg", "家族"),  # letters of any script stay: a result named photo_starry_001 says nothing
    ("Zo\u0308e.png", "Zo\u0308e".replace("o\u0308", "\u00f6")),  # macOS's decomposed accent, composed
    ("a/b/../../c.png", "c"), ("\\..\\win.png", "win"), ("a\nb.png", "a_b"),
    ("x\u202egnp.exe.png", "x_gnp.exe"),  # a bidi override, which makes a name read backwards, goes
    ("name with spaces.png", "name_with_spaces"), ("<script>.png", "script"), ("..", "image"), (" .png", "image"),
])
def test_result_names_keep_letters_of_any_script_and_nothing_that_is_a_path(name, stem):
    assert safe_stem(name) == stem


def test_a_result_named_in_any_script_is_listed_and_downloaded(studio):
    photo = _upload(studio, _png(), "家族 写真.png")
    job = studio.post("/api/jobs", json={"kind": "style", "photo": photo["id"], "model": "starry"}).json()
    name = _wait(studio, job["id"])["result"]
    assert name == "家族_写真_starry_001.png"
    assert [entry["name"] for entry in studio.get("/api/results").json()] == [name]
    download = studio.get(f"/results/{name}", params={"download": 1})
    assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
    assert "attachment" in download.headers["content-disposition"]


def test_names_never_overwrite_and_a_restart_lists_earlier_results(tmp_path):
    settings = StudioSettings(output_dir=tmp_path / "out", device="cpu")
    with TestClient(create_app(settings), base_url=BASE) as client:
        photo = _upload(client, _png())
        names = []
        for _ in range(2):
            job = client.post("/api/jobs", json={"kind": "style", "photo": photo["id"], "model": "starry"}).json()
            names.append(_wait(client, job["id"])["result"])
        session = client.cookies.get(SESSION_COOKIE)
    assert names == ["photo_starry_001.png", "photo_starry_002.png"]
    (tmp_path / "out" / "photo_starry_003.png").write_bytes(b"someone else's file")
    with TestClient(create_app(settings), base_url=BASE, cookies={SESSION_COOKIE: session}) as client:
        assert [entry["name"] for entry in client.get("/api/results").json()] == names[::-1]
        photo = _upload(client, _png())
        job = client.post("/api/jobs", json={"kind": "style", "photo": photo["id"], "model": "starry"}).json()
        assert _wait(client, job["id"])["result"] == "photo_starry_004.png"
    assert (tmp_path / "out" / "photo_starry_003.png").read_bytes() == b"someone else's file"
    with TestClient(create_app(settings), base_url=BASE) as stranger:
        assert stranger.get("/api/results").json() == []
        assert stranger.get(f"/results/{names[0]}").status_code == 404


@pytest.mark.parametrize(("data", "name", "status", "message"), [
    (b"this is not an image", "notes.png", 400, "notes.png is not an image"),
    (b"", "empty.png", 400, "empty"),
    (b"x" * 300_000, "big.png", 413, "over the upload limit of"),
    (None, "huge.png", 400, "over the limit of 0 MP"),
])
def test_uploads_are_checked_like_files_and_answer_one_line(studio, data, name, status, message):
    if data is None:  # 300x300 px: over the 40,000 pixels this studio allows, though small in bytes
        data = _png(300, 300)
    response = studio.post(f"/api/uploads?name={name}", content=data)
    assert response.status_code == status and message in response.json()["error"], response.text
    assert "/tmp" not in response.json()["error"] and "Traceback" not in response.text


def test_bad_requests_are_one_line_4xx(studio):
    photo, painting = _upload(studio, _png()), _upload(studio, _png(64, 64, 2), "monet.png")
    cases = [
        ({"kind": "paint", "photo": photo["id"]}, "unknown kind"),
        ({"kind": "style", "photo": "nope"}, "no uploaded image"),
        ({"kind": "style", "photo": photo["id"], "model": "../../etc/passwd"}, "unknown model"),
        ({"kind": "style", "photo": photo["id"]}, "drop a painting first"),
        ({"kind": "style", "photo": photo["id"], "model": "starry", "settings": {"strength": 3}}, "strength"),
        ({"kind": "style", "photo": photo["id"], "model": "starry", "settings": {"tile": 7}}, "unknown setting"),
        ({"kind": "style", "photo": photo["id"], "model": "starry", "settings": {"strength": None}}, "is null"),
        ({"kind": "upscale", "photo": photo["id"], "model": "starry"}, "is a model for 'style'"),
        # a shared page bounds the optimization's steps: one job runs at a time
        ({"kind": "style", "photo": photo["id"], "style": painting["id"], "settings": {"steps": 10**9}},
         "over the page's limit of 300"),
    ]
    for body, message in cases:
        response = studio.post("/api/jobs", json=body)
        assert response.status_code == 400 and message in response.json()["error"], (body, response.text)
    assert studio.post("/api/jobs", content=b"{not json").status_code == 400
    # Red-team: thousands of nested brackets were a 500 (RecursionError), and a recipe's body had no limit.
    for route in ("/api/jobs", "/api/estimate"):
        nested = studio.post(route, content=b"[" * 20_000 + b"]" * 20_000)
        assert nested.status_code == 400 and nested.json()["error"] == "the request is not JSON", nested.text
        huge = studio.post(route, content=b" " * (MAX_JSON_BYTES + 1) + b"{}")
        assert huge.status_code == 413 and "the request is over 64 KB" in huge.json()["error"], huge.text


def test_the_stage_of_a_step_says_what_is_running():
    """Refinement counts its fixed steps; one scale is not "scale 1 of 1"; the optimization names its scale."""
    from stylize.serve.queue import step_stage
    from stylize.tasks.gatys import StepInfo

    def info(scale: int, scales: int) -> StepInfo:
        return StepInfo(scale=scale, scales=scales, side=512, step=2, steps=5, done=2, work_done=2, work_total=5)

    assert step_stage(info(0, 1), refining=True) == "refining, step 2 of 5"
    assert step_stage(info(0, 1), refining=False) == "512 px, step 2"
    assert step_stage(info(1, 3), refining=False) == "scale 2 of 3 (512 px), step 2"


def test_cancel_stops_an_optimization_within_a_step_and_writes_nothing(studio, tmp_path):
    photo, painting = _upload(studio, _png(180, 150, 1)), _upload(studio, _png(64, 64, 2), "monet.png")
    body = {"kind": "style", "photo": photo["id"], "style": painting["id"],
            "settings": {"size": 180, "steps": 300}}
    job = studio.post("/api/jobs", json=body).json()
    running = _wait(studio, job["id"], states=("running",))
    deadline = time.monotonic() + 30
    while running["done"] == 0 and time.monotonic() < deadline:  # the picture starts to form
        running = studio.get(f"/api/jobs/{job['id']}").json()
    assert running["stage"].startswith("180 px, step ") and 0 < running["done"] < running["total"]  # one scale
    assert running["eta"] is not None and running["eta"] > 0
    asked = time.monotonic()
    studio.post(f"/api/jobs/{job['id']}/cancel")
    status = _wait(studio, job["id"])
    assert status["state"] == "cancelled" and time.monotonic() - asked < 10
    assert not [p for p in (tmp_path / "out").iterdir() if p.suffix == ".png"]


def test_the_queue_shows_places_refuses_more_than_its_limit_and_cancels_waiting_jobs(studio):
    photo, painting = _upload(studio, _png(180, 150, 1)), _upload(studio, _png(64, 64, 2), "monet.png")
    slow = {"kind": "style", "photo": photo["id"], "style": painting["id"], "settings": {"size": 180, "steps": 300}}
    first = studio.post("/api/jobs", json=slow).json()
    _wait(studio, first["id"], states=("running",))
    second = studio.post("/api/jobs", json=slow).json()
    third = studio.post("/api/jobs", json=slow).json()
    assert (second["position"], third["position"]) == (1, 2)
    refused = studio.post("/api/jobs", json=slow)
    assert refused.status_code == 429 and "jobs are waiting" in refused.json()["error"]
    assert studio.post("/api/cancel-all").json() == {"cancelled": 3}
    for job in (first, second, third):
        assert _wait(studio, job["id"])["state"] == "cancelled"


def test_a_second_browser_sees_only_its_own_jobs_and_uploads(studio):
    photo = _upload(studio, _png())
    job = studio.post("/api/jobs", json={"kind": "style", "photo": photo["id"], "model": "starry"}).json()
    with TestClient(studio.app, base_url=BASE) as other:
        assert other.get(f"/api/jobs/{job['id']}").status_code == 404
        assert other.post(f"/api/jobs/{job['id']}/cancel").status_code == 404
        assert other.get("/api/jobs").json() == []
        response = other.post("/api/jobs", json={"kind": "style", "photo": photo["id"], "model": "starry"})
        assert response.status_code == 400 and "no uploaded image" in response.json()["error"]


@pytest.mark.parametrize("path", [
    "/results/..%2f..%2fetc%2fpasswd", "/results/%2e%2e%2fout.png", "/results/.hidden.png", "/results/%2fetc%2fpasswd",
    "/results/photo_starry_001.png.json", "/static/..%2fapp.py", "/static/%2e%2e/recipe.py", "/static/index.html/x",
    "/results/..\\..\\secret.png", "/api/jobs/..%2f..%2fetc", "/etc/passwd", "/static//etc/passwd",
])
def test_no_request_reads_a_file_outside_what_the_studio_serves(studio, tmp_path, path):
    (tmp_path / "secret.png").write_bytes(_png())
    response = studio.get(path)
    assert response.status_code in (404, 405), (path, response.status_code)
    assert b"PNG" not in response.content[:8] and b"root:" not in response.content


def test_the_token_is_needed_everywhere_once_set(tmp_path):
    settings = StudioSettings(output_dir=tmp_path / "out", device="cpu", host="0.0.0.0", token="s3cret-token-value")
    with TestClient(create_app(settings), base_url=BASE) as client:
        for path in ("/", "/api/info", "/static/app.js", "/api/results"):
            response = client.get(path)
            assert response.status_code == 401 and "needs its token" in response.json()["error"]
        assert client.get("/api/info", headers={TOKEN_HEADER: "wrong"}).status_code == 401
        assert client.get("/api/info", headers={TOKEN_HEADER: "s3cret-token-value"}).status_code == 200
        visit = client.get("/?token=s3cret-token-value", follow_redirects=False)
        assert visit.status_code == 303 and visit.headers["location"] == "/"
        assert client.get("/api/info").status_code == 200  # the cookie carries it from now on


def test_other_hosts_and_sites_are_refused_on_loopback(studio):
    rebinding = studio.get("/api/info", headers={"host": "attacker.example:7860"})
    assert rebinding.status_code == 403
    cross_site = studio.post("/api/cancel-all", headers={"origin": "http://attacker.example"})
    assert cross_site.status_code == 403
    assert studio.post("/api/cancel-all", headers={"origin": BASE}).status_code == 200


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_stops_the_studio_as_a_server_ends(tmp_path, signum):
    """Red-team: Ctrl-C, which the banner names as the way to stop it, ended the studio with "Error: interrupted"
    and exit 130 (SIGTERM: 143, which systemd counts as a failed service unless told otherwise). uvicorn shuts down
    gracefully and then raises the signal again; the studio now says it stopped and exits 0."""
    import signal
    import subprocess
    import sys

    port = _free_port()
    studio = subprocess.Popen([sys.executable, "-m", "stylize", "serve", "--port", str(port), "--output-dir",
                               str(tmp_path / "out")], stderr=subprocess.PIPE, text=True)
    try:
        assert "stylize studio at http://127.0.0.1:" in studio.stderr.readline()
        # Past the banner, into uvicorn's loop (its signal handlers are set before it serves): polled until it
        # answers a request (the socket listens before uvicorn accepts), not slept for, so that a loaded machine
        # does not send the signal too early.
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=2).close()
                break
            except urllib.error.HTTPError:  # any answer (the token is not given here) is uvicorn serving
                break
            except OSError:
                assert time.monotonic() < deadline, "the studio never answered"
                time.sleep(0.05)
        studio.send_signal(getattr(signal, signum))
        code = studio.wait(timeout=30)
        rest = studio.stderr.read()
    finally:
        studio.kill()
        studio.stderr.close()
    assert code == 0, rest
    assert rest.strip() == f"Stopped the studio (results in {tmp_path / 'out'})"


def test_the_command_binds_loopback_and_makes_a_token_off_it(monkeypatch, invoke, tmp_path):
    import uvicorn

    started = []

    def run(server, sockets):
        started.append((server.config, sockets[0].getsockname()))
        sockets[0].close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    port = _free_port()
    result = invoke("serve", "--port", port, "-o", tmp_path / "out")
    assert result.exit_code == 0 and f"http://127.0.0.1:{port}/" in result.stderr and "token" not in result.stderr
    assert not any(temporary.iterdir())  # the upload folder goes with the server, run or not
    assert started[-1][0].host == "127.0.0.1" and started[-1][1] == ("127.0.0.1", port)
    port = _free_port()
    result = invoke("serve", "--host", "0.0.0.0", "--port", port, "-o", tmp_path / "out")
    assert result.exit_code == 0 and "?token=" in result.stderr and started[-1][1] == ("0.0.0.0", port)
    invoke.error_line(invoke("serve", "--port", "0"), 2, "'--port'")
    Path(tmp_path / "file").write_text("x")
    assert invoke("serve", "-o", tmp_path / "file").exit_code == 2


def test_a_port_in_use_is_a_one_line_error_before_any_address_is_printed(invoke, tmp_path, monkeypatch):
    """It was the banner, then uvicorn's log line "[Errno 98] error while attempting to bind", and exit 3."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("serve", "--port", port, "-o", tmp_path / "out")
    line = invoke.error_line(result, 1, f"cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "choose another --port" in line and "stylize studio at" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no upload folder was made for a server that never listened


def test_a_page_that_stops_polling_has_its_jobs_cancelled(tmp_path):
    """Closing a tab: the page's beacon cancels at once (cancel-all, above); a tab that vanishes without one
    (a crash, a laptop lid) stops polling, and its jobs are cancelled after the heartbeat."""
    settings = StudioSettings(output_dir=tmp_path / "out", device="cpu", heartbeat_seconds=1.0)
    with TestClient(create_app(settings), base_url=BASE) as client:
        photo, painting = _upload(client, _png(180, 150, 1)), _upload(client, _png(64, 64, 2), "monet.png")
        body = {"kind": "style", "photo": photo["id"], "style": painting["id"], "settings": {"size": 180, "steps": 300}}
        job = client.post("/api/jobs", json=body).json()
        time.sleep(3.0)  # no polling meanwhile
        status = client.get(f"/api/jobs/{job['id']}").json()
        deadline = time.monotonic() + 20
        while status["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
            status = client.get(f"/api/jobs/{job['id']}").json()
        assert status["state"] == "cancelled"


def test_a_mask_keeps_the_photo_outside_it_and_the_command_names_it(studio):
    photo = _upload(studio, _png(48, 40, 1))
    mask = io.BytesIO()
    left = Image.new("L", (48, 40), 0)
    left.paste(255, (0, 0, 24, 40))
    left.save(mask, format="PNG")
    mask_upload = _upload(studio, mask.getvalue(), "left.png")
    body = {"kind": "style", "photo": photo["id"], "model": "starry", "mask": mask_upload["id"],
            "settings": {"feather": 0}}
    status = _wait(studio, studio.post("/api/jobs", json=body).json()["id"])
    assert status["state"] == "done", status
    assert "--mask left.png" in status["command"]
    result = pil_to_tensor(Image.open(io.BytesIO(studio.get(f"/results/{status['result']}").content)).convert("RGB"))
    original = pil_to_tensor(Image.open(io.BytesIO(_png(48, 40, 1))).convert("RGB"))
    assert (result - original)[..., 24:].abs().max() < 1 / 255 + 1e-6  # the photo where the mask is black
    assert (result - original)[..., :24].abs().mean() > 0.02
    refused = studio.post("/api/jobs", json={"kind": "upscale", "photo": photo["id"], "mask": mask_upload["id"]})
    assert refused.status_code == 400 and "for styling only" in refused.json()["error"]


def test_the_estimate_says_size_memory_and_only_measured_time(studio):
    photo, painting = _upload(studio, _png(48, 40)), _upload(studio, _png(32, 32, 2), "monet.png")
    optimize = {"kind": "style", "photo": photo["id"], "style": painting["id"], "settings": {"size": 96}}
    estimate = studio.post("/api/estimate", json=optimize).json()
    assert (estimate["width"], estimate["height"]) == (96, 80) and estimate["seconds"] is None
    assert estimate["memory_gib"] > 0.8 and estimate["fits"]  # the optimization's measured model: 900 MiB + pixels
    model = {"kind": "style", "photo": photo["id"], "model": "starry"}
    assert studio.post("/api/estimate", json=model).json()["memory_gib"] is None
    _wait(studio, studio.post("/api/jobs", json=model).json()["id"])
    measured = studio.post("/api/estimate", json=model).json()
    assert measured["seconds"] is not None and measured["seconds"] >= 0
    upscale = studio.post("/api/estimate", json={"kind": "upscale", "photo": photo["id"], "settings": {"scale": 3}})
    assert (upscale.json()["width"], upscale.json()["height"]) == (144, 120)
    upscale = studio.post("/api/estimate", json={"kind": "upscale", "photo": photo["id"], "settings": {"scale": 1.5}})
    assert (upscale.json()["width"], upscale.json()["height"]) == (72, 60)


def test_folder_jobs_read_only_below_root_and_mirror_the_tree(tmp_path):
    root = tmp_path / "root"
    (root / "trip" / "day2").mkdir(parents=True)
    gradient_image(40, 30, 1).save(root / "trip" / "a.png")
    gradient_image(40, 30, 2).save(root / "trip" / "day2" / "b.jpg")
    (tmp_path / "private").mkdir()
    (root / "escape").symlink_to(tmp_path / "private")
    settings = StudioSettings(output_dir=tmp_path / "out", device="cpu", root=root)
    with TestClient(create_app(settings), base_url=BASE) as client:
        assert client.get("/api/folders").json() == [".", "trip", "trip/day2"]
        for bad in ("..", "/etc", "escape", "trip/../..", "nope"):
            response = client.post("/api/jobs", json={"kind": "style", "folder": bad, "model": "starry"})
            assert response.status_code == 400 and "under the studio's --root" in response.json()["error"], bad
        job = client.post("/api/jobs", json={"kind": "style", "folder": "trip", "model": "starry"}).json()
        status = _wait(client, job["id"])
        assert status["state"] == "done" and status["files"] == 2 and status["message"] == "2 done, 0 failed"
        assert status["command"].startswith("stylize batch trip --model starry -o ")
        written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
        assert written == ["trip_starry_001/a.png", "trip_starry_001/day2/b.png"]
        (entry,) = client.get("/api/results").json()
        assert entry["files"] == 2 and entry["inputs"] == {"folder": "trip"}
        assert client.get(f"/results/{entry['name']}").status_code == 404  # a folder is not a download
        (root / "notes").mkdir()
        (root / "notes" / "todo.txt").write_text("no pictures here")
        job = client.post("/api/jobs", json={"kind": "style", "folder": "notes", "model": "starry"}).json()
        status = _wait(client, job["id"])
        assert status["state"] == "failed" and status["message"] == "no images in the folder 'notes'"
        assert len(client.get("/api/results").json()) == 1 and not list((tmp_path / "out").glob("notes_*"))
    without_root = StudioSettings(output_dir=tmp_path / "out2", device="cpu")
    with TestClient(create_app(without_root), base_url=BASE) as client:
        assert client.get("/api/folders").json() == []
        response = client.post("/api/jobs", json={"kind": "style", "folder": ".", "model": "starry"})
        assert response.status_code == 400 and "--root" in response.json()["error"]


def test_a_folder_whose_name_is_not_utf8_is_listed_and_done(tmp_path):
    """Red-team: one folder named in Latin-1 ("f\xeate" from an old Windows disk) below --root made /api/folders a
    500 (Starlette encodes JSON as UTF-8, which a name Python holds with a lone surrogate is not): no folder could
    be chosen. JSON goes out in ASCII, escaped, and the name comes back in the recipe (as a browser's
    JSON.stringify escapes it) to the same folder."""
    root = tmp_path / "root"
    folder = root / os.fsdecode(b"f\xeate")
    try:
        folder.mkdir(parents=True)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    gradient_image(40, 30, 1).save(folder / os.fsdecode(b"\xe9t\xe9.png"))
    settings = StudioSettings(output_dir=tmp_path / "out", device="cpu", root=root)
    with TestClient(create_app(settings), base_url=BASE) as client:
        listed = client.get("/api/folders")
        assert listed.status_code == 200 and listed.content.isascii()
        assert listed.json() == [".", folder.name]
        body = json.dumps({"kind": "style", "folder": folder.name, "model": "starry"})  # ensure_ascii: escaped
        job = client.post("/api/jobs", content=body, headers={"content-type": "application/json"})
        status = _wait(client, job.json()["id"])
        assert status["state"] == "done" and status["files"] == 1, status
        (written,) = (tmp_path / "out").rglob("*.png")
        assert written.name == os.fsdecode(b"\xe9t\xe9.png")
        assert client.get("/api/results").json()[0]["inputs"] == {"folder": folder.name}


def test_a_video_is_previewed_by_its_first_frame_and_painted_whole(studio, tmp_path):
    """Issue 30: for a video, a preview frame before the whole clip; the clip then as `stylize video` makes
    it, listed and downloadable like any result."""
    pytest.importorskip("av")
    from clips import make_clip

    data = make_clip(tmp_path / "clip.mp4", frames=4, width=64, height=48).read_bytes()
    video = studio.post("/api/uploads?name=holiday.mp4", content=data).json()
    assert video["video"] and (video["width"], video["height"]) == (64, 48) and video["frame"]
    frame = studio.get(f"/api/uploads/{video['frame']}/image")
    assert frame.status_code == 200 and pil_to_tensor(Image.open(io.BytesIO(frame.content))).shape[-2:] == (48, 64)
    preview = studio.post("/api/jobs", json={"kind": "style", "photo": video["frame"], "model": "starry",
                                             "preview": True})
    previewed = _wait(studio, preview.json()["id"])
    assert previewed["state"] == "done", previewed
    refused = studio.post("/api/jobs", json={"kind": "style", "photo": video["id"], "model": "starry"})
    assert refused.status_code == 400 and "is a video" in refused.json()["error"]
    painting = _upload(studio, _png(64, 64, 2), "monet.png")
    refined = studio.post("/api/jobs", json={"kind": "video", "photo": video["id"], "model": "arbitrary",
                                             "style": painting["id"], "settings": {"refine": 3}})
    assert refined.status_code == 400 and "unknown setting 'refine'" in refined.json()["error"]  # frames: one pass
    job = studio.post("/api/jobs", json={"kind": "video", "photo": video["id"], "model": "starry"}).json()
    status = _wait(studio, job["id"])
    assert status["state"] == "done", status
    assert status["result"] == "holiday_starry_001.mp4" and status["command"].startswith("stylize video holiday.mp4")
    clip = studio.get(f"/results/{status['result']}")
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    from stylize.videoio import probe

    (tmp_path / "back.mp4").write_bytes(clip.content)
    assert probe(tmp_path / "back.mp4").frames == 4
    broken = studio.post("/api/uploads?name=broken.mp4", content=b"not a video at all")
    assert broken.status_code == 400 and "broken.mp4" in broken.json()["error"] and "/tmp" not in broken.text


def test_a_phones_hdr_clip_is_painted_as_sdr_and_the_note_names_it_as_dropped(studio, tmp_path):
    """The studio's clip jobs bring an HDR clip to SDR as `stylize video` does (hdr.py); its note, like the notes of
    a clip cut short, named the server's temporary upload instead of the file the browser sent."""
    av = pytest.importorskip("av")
    if "libx265" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libx265 encoder")
    from clips import make_clip

    from stylize.videoio import VideoColour, probe

    data = make_clip(tmp_path / "clip.mov", frames=3, audio=False, colour=(9, 9, 18), codec="libx265",
                     pix_fmt="yuv420p10le").read_bytes()
    video = studio.post("/api/uploads?name=IMG_0042.MOV", content=data).json()
    job = studio.post("/api/jobs", json={"kind": "video", "photo": video["id"], "model": "starry"}).json()
    status = _wait(studio, job["id"])
    assert status["state"] == "done", status
    assert status["notices"] == ["IMG_0042.MOV is HDR (HLG, BT.2020): its frames were brought to SDR (BT.709) for "
                                 "the style, as an SDR screen shows them, and the output is SDR"]
    (tmp_path / "back.mov").write_bytes(studio.get(f"/results/{status['result']}").content)
    assert probe(tmp_path / "back.mov").colour == VideoColour(1, 1, 1)


def test_an_animated_gif_dropped_on_the_page_is_a_clip(studio, tmp_path):
    """An animated GIF (or PNG, or WebP) was an image to the page, its other frames dropped unsaid: it is a clip,
    previewed by its first frame and painted whole, as `stylize video` takes it, and comes back as its own kind (it
    came back as an MP4), a sticker's transparency kept."""
    pytest.importorskip("av")
    frames = [Image.new("RGB", (48, 32), (60 * shade, 90, 30)) for shade in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    clip = studio.post("/api/uploads?name=loop.gif", content=buffer.getvalue()).json()
    assert clip["video"] and (clip["width"], clip["height"]) == (48, 32) and clip["frame"]
    job = studio.post("/api/jobs", json={"kind": "video", "photo": clip["id"], "model": "starry"}).json()
    status = _wait(studio, job["id"])
    assert status["state"] == "done" and status["command"].startswith("stylize video loop.gif"), status
    assert status["result"].endswith(".gif") and status["command"].endswith(f"/{status['result']}")
    answer = studio.get(f"/results/{status['result']}")
    assert answer.headers["content-type"] == "image/gif"
    with Image.open(io.BytesIO(answer.content)) as back:
        assert (back.format, back.n_frames, back.size) == ("GIF", 3, (48, 32))
    stickers = []
    for frame in frames:
        pixels = np.array(frame.convert("RGBA"))
        pixels[16:, :, 3] = 0  # a clear bottom
        stickers.append(Image.fromarray(pixels, "RGBA"))
    buffer = io.BytesIO()
    stickers[0].save(buffer, format="WEBP", save_all=True, append_images=stickers[1:], duration=100, lossless=True)
    clip = studio.post("/api/uploads?name=sticker.webp", content=buffer.getvalue()).json()
    job = studio.post("/api/jobs", json={"kind": "video", "photo": clip["id"], "model": "starry"}).json()
    status = _wait(studio, job["id"])
    assert status["state"] == "done" and status["result"].endswith(".webp"), status
    with Image.open(io.BytesIO(studio.get(f"/results/{status['result']}").content)) as back:
        back.seek(2)
        alpha = np.asarray(back.convert("RGBA"))[..., 3]
        assert back.n_frames == 3 and (alpha[:14] == 255).all() and (alpha[18:] == 0).all()
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF")
    still = studio.post("/api/uploads?name=still.gif", content=buffer.getvalue()).json()
    assert not still.get("video") and (still["width"], still["height"]) == (48, 32)  # one frame: a picture


def test_a_clip_dropped_in_the_upscale_or_colorize_tab_is_enlarged_or_colorized_whole(studio, tmp_path, invoke,
                                                                                     monkeypatch):
    """As `stylize upscale CLIP` and `stylize colorize CLIP` do, and the command shown makes the same clip."""
    pytest.importorskip("av")
    from clips import make_clip

    from stylize.videoio import probe

    data = make_clip(tmp_path / "clip.mp4", frames=3, width=48, height=32).read_bytes()
    video = studio.post("/api/uploads?name=film.mp4", content=data).json()
    preview = studio.post("/api/jobs", json={"kind": "upscale", "photo": video["id"], "preview": True})
    assert preview.status_code == 400 and "a video has no preview job" in preview.json()["error"]
    for recipe, size, name in (({"kind": "upscale", "settings": {"scale": 2}}, (96, 64), "film_x2_001.mp4"),
                               ({"kind": "colorize"}, (48, 32), "film_color_001.mp4")):
        job = studio.post("/api/jobs", json={**recipe, "photo": video["id"]})
        assert job.status_code == 202, job.text
        status = _wait(studio, job.json()["id"], seconds=120)
        assert status["state"] == "done" and status["result"] == name, status
        (tmp_path / name).write_bytes(studio.get(f"/results/{name}").content)
        info = probe(tmp_path / name)
        assert (info.width, info.height, info.frames) == (*size, 3)
        words = shlex.split(status["command"])
        assert words[:3] == ["stylize", recipe["kind"], "film.mp4"] and words[-2] == "-o"
        (tmp_path / "film.mp4").write_bytes(data)
        monkeypatch.chdir(tmp_path)
        again = tmp_path / f"again_{recipe['kind']}.mp4"
        assert invoke(*words[1:-1], again, "--device", "cpu", "-q").exit_code == 0
        assert probe(again).frames == 3 and (probe(again).width, probe(again).height) == size


def test_a_portrait_clip_shows_its_first_frame_upright_and_a_mask_painted_on_it_lands_there(studio, tmp_path):
    """A phone's portrait clip is stored on its side with a display rotation: its first frame is shown as the
    clip plays, and a mask painted over that frame covers the same part of every frame of the result."""
    pytest.importorskip("av")
    from clips import make_clip

    data = make_clip(tmp_path / "clip.mp4", frames=3, width=64, height=48, rotation=90, audio=False).read_bytes()
    video = studio.post("/api/uploads?name=portrait.mp4", content=data).json()
    frame = Image.open(io.BytesIO(studio.get(f"/api/uploads/{video['frame']}/image").content))
    assert frame.size == (48, 64) and (video["width"], video["height"]) == (48, 64)  # stored 64x48, shown 48x64
    top = Image.new("L", (48, 64), 0)
    top.paste(255, (0, 0, 48, 32))
    mask = io.BytesIO()
    top.save(mask, format="PNG")
    job = studio.post("/api/jobs", json={"kind": "video", "photo": video["id"], "model": "starry",
                                         "mask": _upload(studio, mask.getvalue(), "top.png")["id"]}).json()
    status = _wait(studio, job["id"])
    assert status["state"] == "done", status
    (tmp_path / "back.mp4").write_bytes(studio.get(f"/results/{status['result']}").content)
    pairs = zip(shown(tmp_path / "clip.mp4"), shown(tmp_path / "back.mp4"), strict=True)
    change = np.mean([np.abs(np.rot90(a.astype(float) - b)).mean(axis=(1, 2)) for a, b in pairs], axis=0)  # by row
    assert change[:28].mean() > 10 and change[36:].mean() < 3  # stylized where the mask was painted


def test_a_masked_video_job_paints_only_the_masked_region_of_its_frames(studio, tmp_path):
    """A mask painted on the page goes with a clip too: its command is `stylize video ... --mask`, which runs."""
    pytest.importorskip("av")
    from clips import make_clip

    data = make_clip(tmp_path / "clip.mp4", frames=3, width=64, height=48, audio=False).read_bytes()
    video = studio.post("/api/uploads?name=holiday.mp4", content=data).json()
    left = Image.new("L", (64, 48), 0)
    left.paste(255, (0, 0, 32, 48))
    mask = io.BytesIO()
    left.save(mask, format="PNG")
    mask_upload = _upload(studio, mask.getvalue(), "left.png")
    job = studio.post("/api/jobs", json={"kind": "video", "photo": video["id"], "model": "starry",
                                         "mask": mask_upload["id"]}).json()
    status = _wait(studio, job["id"])
    assert status["state"] == "done", status
    assert "--mask left.png" in status["command"] and status["command"].startswith("stylize video")
    (tmp_path / "back.mp4").write_bytes(studio.get(f"/results/{status['result']}").content)
    pairs = zip(shown(tmp_path / "clip.mp4"), shown(tmp_path / "back.mp4"), strict=True)
    change = np.mean([np.abs(a.astype(float) - b).mean(axis=(0, 2)) for a, b in pairs], axis=0)
    assert change[:28].mean() > 10 and change[36:].mean() < 3  # stylized on the left; the clip on the right
    matte = studio.post("/api/uploads?name=matte.mp4", content=data).json()  # any clip works as a matte
    job = studio.post("/api/jobs", json={"kind": "video", "photo": video["id"], "model": "starry",
                                         "mask": matte["id"]}).json()
    assert _wait(studio, job["id"])["state"] == "done"
    still = studio.post("/api/jobs", json={"kind": "style", "photo": video["frame"], "model": "starry",
                                           "mask": matte["id"], "preview": True})
    assert still.status_code == 400 and "matte.mp4 is a video of masks" in still.json()["error"]


def test_without_the_extra_the_command_names_the_install(tmp_path):
    """A missing extra is one line naming the install command (the core install has no web server)."""
    import subprocess
    import sys

    code = ("import sys, runpy; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
            f"sys.argv = ['stylize', 'serve', '-o', {str(tmp_path / 'out')!r}]\n"
            "runpy.run_module('stylize', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1 and 'pip install "stylize[serve]"' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def _mask_png(width: int, height: int) -> bytes:
    left = Image.new("L", (width, height), 0)
    left.paste(255, (0, 0, width // 2, height))
    buffer = io.BytesIO()
    left.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("recipe", [
    pytest.param({"kind": "style", "model": "starry", "settings": {"strength": 0.5, "preserve_color": True}},
                 id="style model"),
    pytest.param({"kind": "style", "model": "arbitrary", "style": True, "settings": {"refine": 2, "size": 64}},
                 id="any painting"),
    pytest.param({"kind": "style", "style": True, "settings": {"size": 48, "steps": 3, "seed": 7}},
                 id="optimization"),
    pytest.param({"kind": "style", "model": "starry", "mask": True, "settings": {"feather": 3, "mask_invert": True}},
                 id="mask"),
    pytest.param({"kind": "upscale", "settings": {"scale": 2, "sharpness": 0.5}}, id="upscale"),
    pytest.param({"kind": "upscale", "settings": {"scale": 2.5}}, id="upscale by 2.5"),
    pytest.param({"kind": "upscale", "settings": {"scale": 2}, "web_jpeg": True}, id="upscale a web JPEG"),
    pytest.param({"kind": "upscale", "settings": {"scale": 2, "degradation": "real"}}, id="upscale as a JPEG"),
    pytest.param({"kind": "colorize", "settings": {"strength": 0.8}}, id="automatic colorize"),
    pytest.param({"kind": "colorize", "model": "colorize-portrait"}, id="colorize for portraits"),
    pytest.param({"kind": "colorize", "reference": True}, id="colorize with a reference"),
    pytest.param({"kind": "colorize", "hints": [{"x": 0.3127, "y": 0.4, "colour": "#3050d0"},
                                                {"x": 0.9, "y": 0.05, "colour": "tan"}]}, id="colorize with points"),
    pytest.param({"kind": "style", "model": "starry", "cutout": True}, id="a cut-out photo"),
])
def test_the_command_a_result_shows_makes_the_same_result(studio, tmp_path, invoke, monkeypatch, recipe):
    """"Copy command" is a promise: run from a folder holding the dropped files under their names, the command
    writes the picture the page made."""
    photo = _png(48, 40, 1)
    if recipe.get("cutout"):  # transparent around an opaque middle: the result keeps it (test_cli_fast.py)
        image = Image.open(io.BytesIO(photo)).convert("RGBA")
        image.putalpha(Image.new("L", (48, 40), 0))
        image.paste(Image.open(io.BytesIO(photo)).crop((8, 8, 40, 32)), (8, 8))
        photo = _encoded(image, "PNG")
    photo_name = "my photo.png"
    if recipe.get("web_jpeg"):  # saved at quality 40: --degradation auto takes the network for JPEG photos
        buffer = io.BytesIO()
        Image.open(io.BytesIO(photo)).save(buffer, format="JPEG", quality=40)
        photo, photo_name = buffer.getvalue(), "web photo.jpg"
    files = {"photo": (photo_name, photo), "style": ("monet.png", _png(32, 32, 2)),
             "reference": ("today.png", _png(40, 40, 3)), "mask": ("left.png", _mask_png(48, 40))}
    body = {key: value for key, value in recipe.items() if value is not True}
    for key, (name, data) in files.items():
        if key == "photo" or recipe.get(key) is True:
            body[key] = _upload(studio, data, name)["id"]
            (tmp_path / name).write_bytes(data)
    job = studio.post("/api/jobs", json=body)
    assert job.status_code == 202, job.text
    status = _wait(studio, job.json()["id"], seconds=120)
    assert status["state"] == "done", status
    words = shlex.split(status["command"])
    assert words[-2] == "-o"
    monkeypatch.chdir(tmp_path)
    result = invoke(*words[1:-1], tmp_path / "again.png", "--device", "cpu", "-q")
    assert result.exit_code == 0, (status["command"], result.output)
    page = Image.open(io.BytesIO(studio.get(f"/results/{status['result']}").content))
    again = Image.open(tmp_path / "again.png")
    assert page.mode == again.mode == ("RGBA" if recipe.get("cutout") else "RGB"), status["command"]
    if recipe.get("cutout"):
        assert page.getchannel("A").tobytes() == again.getchannel("A").tobytes()
        assert page.getpixel((0, 0))[3] == 0 and page.getpixel((24, 20))[3] == 255
    page, again = pil_to_tensor(page.convert("RGB")), pil_to_tensor(again.convert("RGB"))
    assert page.shape == again.shape, status["command"]
    assert (page - again).abs().max() <= 1 / 255 + 1e-6, (status["command"], (page - again).abs().max())
    entry = next(entry for entry in studio.get("/api/results").json() if entry["name"] == status["result"])
    network = "a JPEG of quality 40: the network for JPEG and noisy photos" if recipe.get("web_jpeg") else None
    assert entry["settings"].get("network") == network  # the result says which network enlarged it


def test_colour_points_colour_the_photo_and_bad_ones_are_one_line_400s(studio, tmp_path):
    """Colorize's colour points (the page's `--hint`): a blue point turns the photo blue around it, the command
    names it; malformed points, too many, and points for another job are refused in one line."""
    photo = _upload(studio, _png(48, 40, 1))
    plain = _wait(studio, studio.post("/api/jobs", json={"kind": "colorize", "photo": photo["id"]}).json()["id"])
    body = {"kind": "colorize", "photo": photo["id"], "hints": [{"x": 0.5, "y": 0.5, "colour": "#2040e0"}]}
    hinted = _wait(studio, studio.post("/api/jobs", json=body).json()["id"])
    assert plain["state"] == hinted["state"] == "done", (plain, hinted)
    assert "--hint '50%,50%,#2040e0'" in hinted["command"] and "--hint" not in plain["command"]
    from stylize.colorspace import rgb_to_lab

    before, after = (rgb_to_lab(pil_to_tensor(Image.open(tmp_path / "out" / job["result"]).convert("RGB")))
                     for job in (plain, hinted))
    middle = after[0, 1:, 16:24, 20:28].mean(dim=(1, 2))
    assert middle[1] < -20 and (after - before)[0, 1:, 16:24, 20:28].norm(dim=0).mean() > 15  # blue: b* well below 0
    too_many = [{"x": 0.5, "y": 0.5, "colour": "red"}] * 65
    for hints, words in [("red", "a list"), (too_many, "at most 64"), ([{"x": 0.5, "y": 0.5}], '"colour"'),
                         ([{"x": "1", "y": 0.5, "colour": "red"}], "numbers from 0 to 1"),
                         ([{"x": True, "y": 0.5, "colour": "red"}], "numbers from 0 to 1"),
                         ([{"x": 1.5, "y": 0.5, "colour": "red"}], "lie in the photo"),
                         ([{"x": 0.5, "y": 0.5, "colour": "blurple"}], "not a colour"),
                         ([{"x": 0.5, "y": 0.5, "colour": "x" * 41}], "a string such as")]:
        answer = studio.post("/api/jobs", json={**body, "hints": hints})
        assert answer.status_code == 400 and words in answer.json()["error"], (hints, answer.text)
    answer = studio.post("/api/jobs", json={"kind": "upscale", "photo": photo["id"], "hints": body["hints"]})
    assert answer.status_code == 400 and "for colorizing one photo" in answer.json()["error"]


def _encoded(image: Image.Image, fmt: str) -> bytes:
    data = io.BytesIO()
    image.save(data, format=fmt)
    return data.getvalue()


def test_an_image_no_browser_shows_is_shown_through_a_jpeg_of_it(studio):
    """Red-team: a TIFF (a scanner's file) dropped on the page showed a broken picture: browsers show no TIFF
    (nor HEIC). The page now shows the server's JPEG of it; a job still reads the TIFF itself."""
    photo = gradient_image(120, 80)
    tiff = studio.post("/api/uploads?name=scan.tif", content=_encoded(photo, "TIFF")).json()
    png = studio.post("/api/uploads?name=photo.png", content=_encoded(photo, "PNG")).json()
    assert (tiff["shown"], png["shown"]) == (True, False)
    shown = studio.get(f"/api/uploads/{tiff['id']}/image")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    jpeg = Image.open(io.BytesIO(shown.content))
    assert jpeg.size == (120, 80)
    difference = pil_to_tensor(jpeg.convert("RGB")) - pil_to_tensor(photo)
    assert difference.abs().mean() < 0.02
    assert studio.get(f"/api/uploads/{png['id']}/image").content == _encoded(photo, "PNG")  # the file as sent


def test_a_heif_photo_without_the_extra_is_a_400_that_names_the_install_command(studio, monkeypatch):
    import sys

    from stylize import images

    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    images._read_heif.cache_clear()
    answer = studio.post("/api/uploads?name=IMG_0003.HEIC",
                         content=b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    images._read_heif.cache_clear()
    assert answer.status_code == 400
    assert answer.json()["error"] == ('IMG_0003.HEIC is a HEIF photo (as iPhones save them): pip install '
                                      '"stylize[heic]" to read it')


def test_a_camera_raw_dropped_on_the_page_is_developed_whole_and_shown_through_a_jpeg(studio, tmp_path):
    """A photographer drops a NEF: the page shows the developed photo (a JPEG the server makes: browsers show no
    RAW), at the sensor's size, not the small preview in front of its data that Pillow would read."""
    import numpy as np

    pytest.importorskip("rawpy")
    from raws import write_dng

    picture = np.asarray(gradient_image(120, 80))
    raw = studio.post("/api/uploads?name=DSC_0001.NEF", content=write_dng(tmp_path / "a.nef", picture).read_bytes())
    assert raw.status_code == 201, raw.text
    assert (raw.json()["width"], raw.json()["height"], raw.json()["shown"]) == (120, 80, True)
    jpeg = Image.open(io.BytesIO(studio.get(f"/api/uploads/{raw.json()['id']}/image").content))
    assert jpeg.format == "JPEG" and jpeg.size == (120, 80)
    broken = studio.post("/api/uploads?name=DSC_0002.NEF", content=b"II*\0" + bytes(200))
    assert broken.status_code == 400 and broken.json()["error"].startswith("DSC_0002.NEF is corrupt, truncated or not")


def test_a_camcorders_interlaced_mts_clip_is_a_video_and_its_first_frame_is_deinterlaced(studio, tmp_path):
    """Red-team: the page took only .mp4, .mov, .mkv, .webm, .m4v and .avi as videos; an AVCHD camcorder's .MTS
    (interlaced 1080i, in MPEG-TS) was read as an image and refused. It is a video now, shown deinterlaced."""
    pytest.importorskip("av")
    from clips import make_interlaced_clip

    cat = np.asarray(Image.open(Path(__file__).resolve().parents[1] / "examples" / "chelsea.jpg").convert("RGB"))
    data = make_interlaced_clip(tmp_path / "00001.mts", cat, frames=3, pan=6).read_bytes()
    video = studio.post("/api/uploads?name=00001.MTS", content=data)
    assert video.status_code == 201, video.text
    assert video.json()["video"] and video.json()["frames"] in (0, 3)
    frame = np.asarray(Image.open(io.BytesIO(studio.get(f"/api/uploads/{video.json()['frame']}/image").content)))
    rows = frame.astype(float)
    comb = np.abs(rows[1:-1:2] - (rows[0:-2:2] + rows[2::2]) / 2).mean()  # a woven frame's odd rows stand apart
    truth = cat[:96, :128].astype(float)
    assert comb < 6 and np.abs(frame - truth).mean() < 6


def test_a_clip_of_pixels_that_are_not_square_is_shown_in_its_shape_and_masked_there(studio, tmp_path):
    """An HDV camcorder's pixels are 4:3 wide: its first frame is shown as players show it (72x54 stored, 96x54
    shown), and a mask painted over the left half of that frame covers the left half of every frame, which comes
    back in that shape (square pixels: the style's strokes are not stretched)."""
    pytest.importorskip("av")
    from fractions import Fraction

    from clips import make_clip

    data = make_clip(tmp_path / "hdv.mp4", frames=3, width=72, height=54, audio=False,
                     pixel_aspect=Fraction(4, 3)).read_bytes()
    (tmp_path / "clip.mp4").write_bytes(data)
    video = studio.post("/api/uploads?name=hdv.mp4", content=data).json()
    frame = Image.open(io.BytesIO(studio.get(f"/api/uploads/{video['frame']}/image").content))
    assert frame.size == (96, 54) and (video["width"], video["height"]) == (96, 54)
    job = studio.post("/api/jobs", json={"kind": "video", "photo": video["id"], "model": "starry",
                                         "mask": _upload(studio, _mask_png(96, 54), "left.png")["id"]}).json()
    status = _wait(studio, job["id"])
    assert status["state"] == "done", status
    (tmp_path / "back.mp4").write_bytes(studio.get(f"/results/{status['result']}").content)
    cv2 = pytest.importorskip("cv2")
    stretched = [cv2.resize(rgb, (96, 54), interpolation=cv2.INTER_CUBIC) for rgb in shown(tmp_path / "clip.mp4")]
    pairs = zip(stretched, shown(tmp_path / "back.mp4"), strict=True)
    change = np.mean([np.abs(a.astype(float) - b).mean(axis=(0, 2)) for a, b in pairs], axis=0)  # by column
    assert change.shape == (96,) and change[:40].mean() > 10 and change[56:].mean() < 3


def _jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    gradient_image(width, height, seed).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _live(client: TestClient, recipe: dict, frame: bytes):
    return client.post(f"/api/live?recipe={json.dumps(recipe)}", content=frame)


def test_a_camera_frame_comes_back_painted_at_its_own_size(studio):
    frame = _jpeg(64, 48)
    response = _live(studio, {"kind": "style", "model": "starry", "settings": {"strength": 1}}, frame)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg" and response.headers["cache-control"] == "no-store"
    painted = Image.open(io.BytesIO(response.content))
    assert painted.format == "JPEG" and painted.size == (64, 48)
    original = pil_to_tensor(Image.open(io.BytesIO(frame)))
    assert (pil_to_tensor(painted) - original).abs().mean() > 0.05
    # The sliders apply to the next frame: strength 0 gives the frame back (up to JPEG's rounding).
    unpainted = _live(studio, {"kind": "style", "model": "starry", "settings": {"strength": 0}}, frame)
    assert (pil_to_tensor(Image.open(io.BytesIO(unpainted.content))) - original).abs().mean() < 0.02
    # Nothing is written: a frame is shown, never kept.
    assert studio.get("/api/results").json() == [] and studio.get("/api/jobs").json() == []


@pytest.mark.parametrize(("recipe", "frame", "status", "says"), [
    ({"kind": "style", "settings": {}}, None, 400, "the camera paints with a style model or any painting"),
    ({"kind": "upscale"}, None, 400, "the camera paints with a style model"),
    ({"kind": "style", "model": "starry", "photo": "x"}, None, 400, "send no photo"),
    ({"kind": "style", "model": "starry", "preview": True}, None, 400, "send no photo, folder or preview"),
    ({"kind": "style", "model": "arbitrary", "settings": {"refine": 5}}, None, 400, "drop a painting first"),
    ({"kind": "style", "model": "nosuch"}, None, 400, "unknown model 'nosuch'"),
    ({"kind": "style", "model": "starry"}, b"not an image", 400, "the frame is not a JPEG, PNG or WebP image"),
    ({"kind": "style", "model": "starry"}, "tiff", 400, "the frame is not a JPEG, PNG or WebP image"),
    ({"kind": "style", "model": "starry"}, "huge", 400, "over the limit of 921,600 pixels for a camera frame"),
    ({"kind": "style", "model": "starry"}, "truncated", 400, "the frame is corrupt or truncated"),
    ({"kind": "style", "model": "starry"}, "heavy", 413, "the frame is over 4 MB"),
])
def test_a_camera_frame_or_recipe_the_studio_cannot_take_is_a_one_line_4xx(studio, recipe, frame, status, says):
    frames = {None: _jpeg(), "truncated": _jpeg()[:300], "heavy": b"\xff" * (4 * 2**20 + 1)}
    buffer = io.BytesIO()
    if frame == "tiff":
        gradient_image(32, 32).save(buffer, format="TIFF")
    elif frame == "huge":  # larger than 1280x720, a small file
        Image.new("RGB", (1600, 1200)).save(buffer, format="JPEG")
    frames["tiff"] = frames["huge"] = buffer.getvalue()
    response = _live(studio, recipe, frames[frame] if frame in frames else frame)
    assert response.status_code == status and says in response.json()["error"], response.text
    assert "\n" not in response.json()["error"]


def test_the_camera_takes_any_paintings_one_pass_and_no_mask(studio):
    painting = _upload(studio, _png(32, 32, seed=1), "painting.png")
    arbitrary = {"kind": "style", "model": "arbitrary", "style": painting["id"]}
    refined = _live(studio, {**arbitrary, "settings": {"refine": 5}}, _jpeg())
    assert refined.status_code == 400 and "one pass: send refine 0" in refined.json()["error"]
    one_pass = _live(studio, {**arbitrary, "settings": {"refine": 0}}, _jpeg(48, 40))
    assert one_pass.status_code == 200 and Image.open(io.BytesIO(one_pass.content)).size == (48, 40)
    mask = _upload(studio, _png(32, 32), "mask.png")
    masked = _live(studio, {"kind": "style", "model": "starry", "mask": mask["id"]}, _jpeg())
    assert masked.status_code == 400 and "a mask is drawn for one photo" in masked.json()["error"]
    assert _live(studio, {"kind": "style", "model": "starry"}, _jpeg()).status_code == 200
    bad = studio.post("/api/live?recipe={not json", content=_jpeg())
    assert bad.status_code == 400 and bad.json()["error"] == "the recipe (?recipe=) is not JSON"


def test_a_camera_frame_goes_before_waiting_jobs_and_is_told_busy_while_a_job_has_the_device(studio, monkeypatch):
    """A running job is not interrupted by the camera: a frame waits for it at most LIVE_WAIT_SECONDS, then is
    answered 503 (the page says so and tries again); a frame sent while it runs is painted before the jobs that
    wait, and once it ends, the frames are painted again."""
    import threading

    from stylize.serve import queue as studio_queue

    gate, order = threading.Event(), []
    built = studio_queue.build_task

    class HeldTask:
        """The photo jobs wait at the gate; a camera frame (camera.jpg) is painted at once, darkened."""

        def __init__(self, task):
            self.device, self.task = task.device, task

        def process(self, images, jobs):
            order.append(jobs[0].source.name)
            if jobs[0].source.name != "camera.jpg":
                assert gate.wait(30)
                return self.task.process(images, jobs)
            return [image.pixels * 0.5 for image in images]

    monkeypatch.setattr(studio_queue, "build_task", lambda *a, **k: HeldTask(built(*a, **k)))
    monkeypatch.setattr(studio_queue, "LIVE_WAIT_SECONDS", 0.5)
    photo = _upload(studio, _png())
    job = studio.post("/api/jobs", json={"kind": "style", "photo": photo["id"], "model": "starry"}).json()
    _wait(studio, job["id"], states=("running",))
    recipe = {"kind": "style", "model": "starry"}
    busy = _live(studio, recipe, _jpeg())
    assert busy.status_code == 503 and busy.json()["error"] == (
        "the studio is busy with a job: the camera goes on when it ends")
    second = studio.post("/api/jobs", json={"kind": "style", "photo": photo["id"], "model": "starry"}).json()
    monkeypatch.setattr(studio_queue, "LIVE_WAIT_SECONDS", 30)
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(_live(studio, recipe, _jpeg())))
    waiting.start()
    # The frame waits behind the running job, beside the second job: polled, not slept for (a fixed 0.3 s was too
    # short on a loaded CI machine, where the frame came after the gate had opened and the second job had begun).
    queue = studio.app.state.studio.queue
    deadline = time.monotonic() + 30
    while not queue._live:
        assert time.monotonic() < deadline, "the camera frame never reached the queue"
        time.sleep(0.01)
    gate.set()
    waiting.join(30)
    assert answers[0].status_code == 200
    assert _wait(studio, job["id"])["state"] == _wait(studio, second["id"])["state"] == "done"
    # The frame went before the job that waited (the photo jobs read the server's copy of the upload).
    assert [name == "camera.jpg" for name in order] == [False, True, False]
    painted = _live(studio, recipe, _jpeg())
    assert painted.status_code == 200
    darkened = pil_to_tensor(Image.open(io.BytesIO(painted.content)))
    assert abs(darkened.mean() - pil_to_tensor(Image.open(io.BytesIO(_jpeg()))).mean() * 0.5) < 0.02


def _certificate(folder: Path, name: str, subject: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate and its key, made by the openssl command (the test is skipped without it)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate with")
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", f"/CN={subject}"], check=True, capture_output=True)
    return cert, key


def test_the_studio_serves_https_with_a_certificate_and_refuses_a_wrong_pair(invoke, tmp_path):
    """A browser gives a page on another machine's address (a phone on the LAN) its camera only over HTTPS."""
    import ssl
    import subprocess
    import sys
    import urllib.request

    cert, key = _certificate(tmp_path, "studio")
    other_cert, other_key = _certificate(tmp_path, "other", "elsewhere")
    invoke.error_line(invoke("serve", "--certfile", cert), 2, "--certfile and --keyfile go together")
    invoke.error_line(invoke("serve", "--certfile", cert, "--keyfile", other_key), 2,
                      f"--certfile {cert}, --keyfile {other_key}: the key is not this certificate's")
    invoke.error_line(invoke("serve", "--certfile", key, "--keyfile", key), 2,
                      "they are not a PEM certificate and a PEM private key")
    port = _free_port()
    studio = subprocess.Popen([sys.executable, "-m", "stylize", "serve", "--port", str(port), "--certfile", str(cert),
                               "--keyfile", str(key), "--output-dir", str(tmp_path / "out")], stderr=subprocess.PIPE,
                              text=True)
    try:
        assert f"stylize studio at https://127.0.0.1:{port}/" in studio.stderr.readline()
        trusted = ssl.create_default_context(cafile=str(cert))
        trusted.check_hostname = False  # the certificate names 127.0.0.1 as its subject, not as an address
        deadline = time.monotonic() + 30
        while True:  # the socket is bound before the banner; uvicorn listens a moment later
            try:
                answer = urllib.request.urlopen(f"https://127.0.0.1:{port}/api/info", context=trusted, timeout=30)
                break
            except urllib.error.URLError as error:
                if not isinstance(error.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with answer:
            assert json.loads(answer.read())["version"] and "Secure" in answer.headers["set-cookie"]
    finally:
        studio.terminate()
        studio.wait(timeout=30)
        studio.stderr.close()

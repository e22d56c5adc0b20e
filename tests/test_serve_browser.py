"""`stylize serve` in a real browser: headless Chromium (Debian's package) driven by Playwright through the page.

Skipped, with the reason, where the browser or Playwright is missing (`.ci/run` installs both).
Set STYLIZE_SCREENSHOT=PATH to keep the page's screenshot (the README's picture is made this way).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image, ImageStat

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
if CHROMIUM is None:
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)

from stylize.images import load_image  # noqa: E402
from stylize.serve.app import StudioSettings, create_app  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    output = tmp_path_factory.mktemp("studio")
    port = _free_port()
    app = create_app(StudioSettings(output_dir=output, device="cpu"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", output
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        # Two fake cameras (Chromium's test pattern, a moving pie and a clock) and no permission prompt to answer.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--use-fake-device-for-media-stream=device-count=2", "--use-fake-ui-for-media-stream"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(server[0])
    yield page
    context.close()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The repository's example photo and painting (what the README's screenshot shows), and a text file."""
    folder = tmp_path_factory.mktemp("inputs")
    photo, painting = folder / "photo.jpg", folder / "painting.jpg"
    shutil.copy(EXAMPLES / "chelsea.jpg", photo)
    shutil.copy(EXAMPLES / "brushstrokes.jpg", painting)
    text = folder / "notes.png"
    text.write_text("this is not an image")
    return photo, painting, text


def _wait_loaded(page, selector: str) -> None:
    """Until the image has arrived and decoded (a selector cannot say it; this evaluates no string, which the
    page's Content-Security-Policy forbids)."""
    image = page.locator(selector)
    deadline = time.monotonic() + 30
    while not image.evaluate("element => element.complete && element.naturalWidth > 0"):
        assert time.monotonic() < deadline, f"{selector} never loaded"
        time.sleep(0.05)


def _wait_text(page, selector: str, text: str, seconds: float = 30) -> None:
    """Until the element's text holds `text` (polled from here: the page's Content-Security-Policy forbids the
    string that wait_for_function would evaluate)."""
    deadline = time.monotonic() + seconds
    while text not in page.inner_text(selector):
        assert time.monotonic() < deadline, f"{selector} never said {text!r}"
        time.sleep(0.05)


def _small_pixels(page, selector: str) -> list[int]:
    """The image's pixels drawn at 32x18 (RGBA levels): enough to tell two pictures apart, few to send."""
    return page.locator(selector).evaluate("""image => {
        const canvas = document.createElement("canvas");
        canvas.width = 32; canvas.height = 18;
        const context = canvas.getContext("2d");
        context.drawImage(image, 0, 0, 32, 18);
        return Array.from(context.getImageData(0, 0, 32, 18).data);
    }""")


def test_a_shipped_model_paints_the_dropped_photo(page, server, photos):
    photo = photos[0]
    page.set_input_files("#photo-input", str(photo))
    page.wait_for_selector("#photos img")
    page.select_option("#model", "starry")  # a preview at reduced size comes at once
    page.wait_for_selector("#result-img[src*='/preview']")
    page.click("#full-size")
    page.wait_for_selector("#result-img[src*='/results/']", timeout=60_000)
    _wait_loaded(page, "#result-img")
    assert "stylize run photo.jpg --model starry" in page.inner_text("#command")
    (written,) = [p for p in server[1].glob("*.png")]
    result, original = load_image(written).pixels, load_image(photo).pixels
    assert result.shape == original.shape and (result - original).abs().mean() > 0.02
    page.click("[data-tab=results]")
    page.wait_for_selector("#result-list .card")
    assert written.name in page.inner_text("#result-list")


def test_a_jobs_notes_are_shown_beside_its_result(page, server, photos):
    """Red-team: what a job decided or left out (an HDR clip brought to SDR, the frames or the sound an animated image
    cannot hold, a colour photo's colours not used) reached the page's API but was never shown. The page shows it, as
    the command line's "Note:" lines."""
    page.set_input_files("#photo-input", str(photos[0]))  # a colour photo, to the colorizer
    page.wait_for_selector("#photos img")
    page.click("[data-tab=colorize]")
    page.click("#colorize-run")
    page.wait_for_selector("#result-img[src*='/results/']", timeout=60_000)
    page.wait_for_selector("#notes:not([hidden])")
    assert page.inner_text("#notes") == ("Note: photo.jpg is a colour photo: its own colours were not used, only the "
                                         "lightness (colorize is for black-and-white photos)")
    assert page.is_hidden("#message"), page.inner_text("#message")  # a note is not an error


def test_a_preview_due_does_not_replace_a_job_run_on_another_tab(page, server, photos):
    """Red-team (a CI run failed on it): a photo dropped on the style tab asks for a preview 350 ms later. A user who
    went to the colorize tab and ran it within that time got the preview's job shown in place of theirs (or, with no
    model listed yet, its error beside their result)."""
    page.wait_for_selector("#model option[value=starry]", state="attached")
    page.select_option("#model", "starry")
    page.set_input_files("#photo-input", str(photos[0]))  # a preview is now due
    page.wait_for_selector("#photos img")
    page.click("[data-tab=colorize]")
    page.click("#colorize-run")
    page.wait_for_timeout(1000)  # past when the preview was due
    jobs = page.request.get(server[0] + "api/jobs").json()
    assert [job["kind"] for job in jobs] == ["colorize"], jobs  # no preview was made once it was not wanted
    page.wait_for_selector("#result-img[src*='/results/']", timeout=60_000)
    assert page.inner_text("#command").startswith("stylize colorize photo.jpg")
    assert page.is_hidden("#message"), page.inner_text("#message")


def test_the_optimization_shows_its_progress_and_cancels(page, server, photos):
    photo, painting, _ = photos
    page.set_input_files("#photo-input", str(photo))
    page.wait_for_selector("#photos img")
    page.select_option("#model", "optimize")
    page.set_input_files("#painting-input", str(painting))
    page.wait_for_selector("#painting-label:has-text('painting.jpg')")
    page.fill("#size", "1024")  # slow enough on a CPU to watch and to cancel
    page.click("#run")
    page.wait_for_selector("#stage:text-matches('^scale')", timeout=60_000)
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)  # the picture as it forms
    assert 0 < float(page.get_attribute("#progress", "value")) < float(page.get_attribute("#progress", "max"))
    before = len(list(server[1].glob("*.png")))
    page.click("#cancel")
    page.wait_for_selector("body[data-job=cancelled]", timeout=30_000)
    assert len(list(server[1].glob("*.png"))) == before


def test_a_text_file_dropped_as_a_photo_gets_one_clear_message(page, photos):
    page.set_input_files("#photo-input", str(photos[2]))
    page.wait_for_selector("#message:not([hidden])")
    message = page.inner_text("#message")
    assert "notes.png is not an image" in message and "Traceback" not in message


def test_the_page_is_drawn(page, photos):
    page.set_input_files("#photo-input", str(photos[0]))
    page.wait_for_selector("#photos img")
    page.select_option("#model", "arbitrary")
    page.set_input_files("#painting-input", str(photos[1]))  # any painting: a preview when it lands
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)
    _wait_loaded(page, "#result-img")
    page.fill("#divider", "60")
    page.dispatch_event("#divider", "input")
    shot = page.screenshot(path=os.environ.get("STYLIZE_SCREENSHOT") or None)
    image = Image.open(BytesIO(shot)).convert("L")
    assert image.size == (1280, 860) and ImageStat.Stat(image).stddev[0] > 20  # not blank: text, photo, result


def test_any_painting_has_a_refinement_slider_that_reaches_the_command(page, photos):
    page.set_input_files("#photo-input", str(photos[0]))
    page.wait_for_selector("#photos img")
    page.select_option("#model", "starry")
    assert not page.is_visible("#refine")  # a per-style model has nothing to refine
    page.select_option("#model", "arbitrary")
    assert page.is_visible("#refine")
    page.fill("#refine", "0")
    page.dispatch_event("#refine", "input")
    page.set_input_files("#painting-input", str(photos[1]))
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)
    page.click("#full-size")
    page.wait_for_selector("#command:has-text('--refine 0')", timeout=60_000)


def test_a_mask_painted_with_the_brush_is_used(page, photos):
    page.set_input_files("#photo-input", str(photos[0]))
    page.wait_for_selector("#photos img")
    _wait_loaded(page, "#before")
    page.select_option("#model", "starry")
    page.click("#mask-tools summary")
    page.click("#brush")
    box = page.locator("#mask-canvas").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    page.click("#brush")  # "Use this mask": uploaded as a PNG, white strokes on black
    page.wait_for_selector("#mask-label:has-text('painted-mask.png')")
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)
    page.click("#full-size")
    page.wait_for_selector("#command:has-text('--mask painted-mask.png')", timeout=60_000)


def test_a_brush_stroke_on_a_panorama_lands_in_the_mask_where_it_was_drawn(page, server, tmp_path):
    """Red-team: a panorama is letterboxed in the picture's box (object-fit: contain within its least height), and
    the brush's canvas covered the box: a dab drawn a quarter of the way down the picture landed 41 % of the way
    down the mask. The canvas now lies over the picture itself."""
    import numpy as np

    panorama = tmp_path / "panorama.jpg"
    Image.open(EXAMPLES / "chelsea.jpg").resize((1200, 200)).save(panorama)
    page.set_input_files("#photo-input", str(panorama))
    page.wait_for_selector("#photos img")
    _wait_loaded(page, "#before")
    page.select_option("#model", "starry")
    page.click("#mask-tools summary")
    page.fill("#brush_size", "4")
    page.click("#brush")
    box = page.locator("#before").bounding_box()
    shown_height = box["width"] * 200 / 1200
    assert box["height"] > 1.5 * shown_height  # letterboxed: the case this test is about
    x, y = box["x"] + box["width"] / 4, box["y"] + (box["height"] - shown_height) / 2 + shown_height / 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 3, y, steps=2)
    page.mouse.up()
    page.click("#brush")
    page.wait_for_selector("#mask-label:has-text('painted-mask.png')")
    mask_id = page.evaluate("state.mask.id")
    mask = Image.open(BytesIO(page.request.get(f"{server[0]}api/uploads/{mask_id}/image").body())).convert("L")
    rows, columns = np.nonzero(np.asarray(mask) > 128)
    assert abs(columns.mean() / mask.width - 0.25) < 0.02 and abs(rows.mean() / mask.height - 0.25) < 0.04


def test_the_drop_zones_are_reached_from_the_keyboard(page):
    """Red-team: the file inputs were display: none, so Tab skipped every drop zone: without a mouse no photo could
    be chosen. They are hidden from sight only; Tab reaches the photo's, and its zone shows the focus."""
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "photo-input":
            break
    assert page.evaluate("document.activeElement.id") == "photo-input"
    outline = page.evaluate("getComputedStyle(document.querySelector('#photo-drop')).outlineStyle")
    assert outline == "solid"


def test_before_the_model_list_arrives_no_way_s_sliders_show(browser, server):
    """Red-team, on a busy machine: until /api/info answered, the page showed the sliders of every way at once
    (strength, style weight, stroke size, refinement) and the painting's drop zone, then hid most of them. They
    wait for the list now, and then show the default way's: any painting's strength and refinement."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    held = []
    context.route("**/api/info", lambda route: held.append(route))  # answered when the test lets it go
    page = context.new_page()
    page.goto(server[0])
    deadline = time.monotonic() + 30
    while not held:
        assert time.monotonic() < deadline, "the page never asked for /api/info"
        page.wait_for_timeout(50)
    ways = ['[data-for="strength"]', '[data-for="style_weight"]', '[data-for="work_size"]', '[data-for="refine"]',
            "#painting-drop"]
    assert [page.locator(way).is_visible() for way in ways] == [False] * 5
    held[0].continue_()
    page.wait_for_selector("#model option[value=arbitrary]", state="attached")
    page.wait_for_selector('[data-for="refine"]')
    assert [page.locator(way).is_visible() for way in ways] == [True, False, False, True, True]
    context.close()


def test_on_a_phone_the_page_fits_its_width_and_the_picture_fills_it(browser, server, photos):
    """Red-team, at a phone's 390 px: the title, tabs and device line were squeezed into one row, and the picture
    sat in a box half the screen tall, letterboxed in empty space above and below it."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.goto(server[0])
    phone.set_input_files("#photo-input", str(photos[0]))
    phone.wait_for_selector("#photos img")
    _wait_loaded(phone, "#before")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    box = phone.locator("#before").bounding_box()
    width, height = Image.open(photos[0]).size
    assert abs(box["height"] - box["width"] * height / width) < 2  # the box is the picture: no letterbox
    context.close()


def test_a_video_shows_its_first_frame_then_paints_the_whole_clip(page, server, tmp_path):
    pytest.importorskip("av")
    from clips import make_clip

    clip = make_clip(tmp_path / "holiday.mp4", frames=4, width=96, height=64)
    page.select_option("#model", "arbitrary")
    assert page.is_visible("#refine")
    page.set_input_files("#photo-input", str(clip))
    page.wait_for_selector("#photos img[src*='/api/uploads/']")
    _wait_loaded(page, "#before")  # the first frame, served back
    assert not page.is_visible("#refine")  # a clip's frames are one pass: nothing to refine
    # Nothing painted yet (any painting waits for a painting): no broken-image icon over the frame.
    assert page.evaluate("getComputedStyle(document.querySelector('#result-img')).visibility") == "hidden"
    page.select_option("#model", "starry")
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)  # a preview of that frame
    page.click("#video-run")
    page.wait_for_selector("#result-video[src*='.mp4']", timeout=60_000)
    assert "stylize video holiday.mp4 --model starry" in page.inner_text("#command")
    assert any(p.suffix == ".mp4" for p in server[1].iterdir())
    page.click("nav button[data-tab='colorize']")
    page.click("#colorize-frame")  # a look at the first frame first: a picture
    page.wait_for_selector("#result-img[src*='holiday_frame1_color_001.png']", timeout=60_000)
    page.click("nav button[data-tab='upscale']")
    page.select_option("#scale", "2")
    page.select_option("#degradation", "real")  # a phone's compressed clip: the network for JPEG and noisy photos
    assert page.is_disabled("#sharpness")  # which has no crisp twin
    assert page.inner_text("#upscale-run") == "Upscale the clip"
    page.click("#upscale-run")
    page.wait_for_selector("#command:has-text('stylize upscale holiday.mp4 --scale 2 --degradation real')",
                           timeout=60_000)
    assert page.get_attribute("#result-video", "src").endswith("holiday_x2_001.mp4")


def test_a_video_of_masks_masks_the_preview_by_its_first_frame_and_the_clip_frame_by_frame(page, server, tmp_path):
    """A matte dropped as the mask: its first frame shows and masks the preview, and "Whole clip" sends the
    whole matte, which `stylize video --mask matte.mp4` takes frame by frame."""
    pytest.importorskip("av")
    from clips import make_clip

    clip = make_clip(tmp_path / "walk.mp4", frames=4, width=96, height=64)
    matte = make_clip(tmp_path / "matte.mp4", frames=4, width=96, height=64, audio=False)  # any clip masks
    page.set_input_files("#photo-input", str(clip))
    page.wait_for_selector("#photos img[src*='/api/uploads/']")
    _wait_loaded(page, "#before")
    page.select_option("#model", "starry")
    page.click("#mask-tools summary")
    page.set_input_files("#mask-input", str(matte))
    page.wait_for_selector("#mask-label:has-text('a video of masks, 4 frames')")
    _wait_loaded(page, "#mask-thumb")  # its first frame, served back
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)  # masked by that frame
    page.click("#video-run")
    page.wait_for_selector("#result-video[src*='.mp4']", timeout=60_000)
    assert "stylize video walk.mp4 --model starry --mask matte.mp4" in page.inner_text("#command")


def test_a_tiff_scan_and_a_tiff_painting_are_shown_and_painted(page, server, tmp_path):
    """Red-team: Chromium shows no TIFF, and a TIFF dropped on the page was a broken picture: the page shows the
    server's JPEG of it, and the job reads the TIFF."""
    scan, painting = tmp_path / "scan.tif", tmp_path / "painting.tiff"
    Image.open(EXAMPLES / "chelsea.jpg").save(scan)
    Image.open(EXAMPLES / "brushstrokes.jpg").save(painting)
    page.set_input_files("#photo-input", str(scan))
    page.wait_for_selector("#photos img[src*='/api/uploads/']")
    _wait_loaded(page, "#photos img")
    _wait_loaded(page, "#before")
    page.select_option("#model", "arbitrary")
    page.set_input_files("#painting-input", str(painting))
    _wait_loaded(page, "#painting-thumb")
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)
    _wait_loaded(page, "#result-img")


def test_colour_points_clicked_on_the_photo_reach_the_colorize_command(page, server, photos):
    """Colorize's colour points: clicked onto the picture where it is shown (not its letterboxed box), drawn as dots,
    previewed at once, sent with the job as `--hint` points at the fractions clicked; a new photo starts without
    points."""
    page.set_input_files("#photo-input", str(photos[0]))
    page.wait_for_selector("#photos img")
    _wait_loaded(page, "#before")
    page.click("[data-tab=colorize]")
    page.click("#hint-tools summary")
    page.fill("#hint_colour", "#2040e0")
    page.click("#hint-place")
    box = page.locator("#hint-layer").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
    page.click("#hint-place")  # "Done", then a swatch: a common colour in one click
    page.click("#swatches button[title='grass']")
    assert page.input_value("#hint_colour") == "#5a8040"
    assert page.get_attribute("#swatches button[title='grass']", "aria-pressed") == "true"
    page.click("#hint-place")
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.2)
    page.click("#hint-place")  # "Done": clicks go to the picture's slider again
    assert page.locator(".hint-dot").count() == 2 and "(2 points)" in page.inner_text("#hint-tools summary")
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)  # the colours with the points, at once
    previews = [job for job in page.request.get(server[0] + "api/jobs").json() if job["preview_only"]]
    assert previews and {job["kind"] for job in previews} == {"colorize"}, previews
    points = page.evaluate("hints.points")
    assert [point["colour"] for point in points] == ["#2040e0", "#5a8040"]
    assert abs(points[0]["x"] - 0.25) < 0.01 and abs(points[0]["y"] - 0.5) < 0.01, points
    page.click("#colorize-run")
    page.wait_for_selector("#command:has-text('--hint')", timeout=60_000)
    assert page.inner_text("#command").count("--hint") == 2
    page.click("#hint-clear")
    page.click("[data-tab=results]")  # "Tweak" puts the result's points back on its photo
    page.wait_for_selector("#result-list .card")
    page.locator("#result-list .card button", has_text="Tweak").first.click()
    assert page.locator(".hint-dot").count() == 2 and page.evaluate("hints.points") == points
    page.set_input_files("#photo-input", str(photos[1]))
    page.wait_for_selector("#photos img >> nth=1")
    assert page.locator(".hint-dot").count() == 0 and page.evaluate("hints.points.length") == 0


def test_a_slider_moved_after_a_preview_shows_the_new_preview(page, photos):
    """Red-team: each preview job counts its pictures from 1, and the page kept only the count, so after the first
    preview no other (a strength moved, another model) was ever shown: the picture stayed the first one's."""
    page.set_input_files("#photo-input", str(photos[0]))
    page.wait_for_selector("#photos img")
    page.select_option("#model", "starry")
    page.wait_for_selector("#result-img[src*='/preview']")
    first = page.get_attribute("#result-img", "src")
    page.fill("#strength", "0.2")
    page.dispatch_event("#strength", "input")
    deadline = time.monotonic() + 60
    while page.get_attribute("#result-img", "src") == first:  # the new job's picture, a moment later
        assert time.monotonic() < deadline, "the preview after the slider never came"
        time.sleep(0.05)
    assert "/preview" in page.get_attribute("#result-img", "src")


def test_the_camera_is_painted_live_and_a_frame_kept_becomes_a_photo(page, photos):
    page.select_option("#model", "optimize")
    page.click("#camera")  # the optimization takes too long a frame: said, and no camera is opened
    assert "the camera paints with a style model or any painting" in page.inner_text("#message").lower()
    assert page.inner_text("#camera") == "Camera"
    page.select_option("#model", "udnie")
    page.click("#camera")
    page.wait_for_selector("#result-img[src^='blob:']", timeout=30_000)
    _wait_loaded(page, "#result-img")
    _wait_text(page, "#camera-status", "frames a second")
    painted, frame = _small_pixels(page, "#result-img"), _small_pixels(page, "#before")
    assert sum(abs(a - b) for a, b in zip(painted, frame, strict=True)) / len(frame) > 10
    size = page.locator("#result-img").evaluate("image => [image.naturalWidth, image.naturalHeight]")
    assert max(size) == 512  # the Size slider's 512, within the camera's 640
    page.click("#run")  # a job asked for stops the camera: its picture is the one shown
    assert page.inner_text("#camera") == "Camera" and page.is_hidden("#camera-tools")
    page.click("#camera")
    _wait_text(page, "#camera-status", "frames a second")
    page.click("#camera-keep")  # the camera's whole picture, as a photo of the page's
    page.wait_for_selector("#photos img[title^='camera-']")
    assert page.inner_text("#camera") == "Camera" and page.is_hidden("#camera-tools")
    title = page.get_attribute("#photos img[title^='camera-']", "title")
    assert title.endswith("(1280x720)") or title.endswith("(640x480)"), title
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)  # the kept frame previews, as a photo


def test_a_phone_s_other_camera_is_switched_to_and_painted(page, photos):
    """"Switch camera" (shown where the device has two, as a phone's back and front ones): the frames go on from the
    next camera, painted."""
    page.select_option("#model", "udnie")
    page.click("#camera")
    _wait_text(page, "#camera-status", "frames a second")
    page.wait_for_selector("#camera-switch:not([hidden])")
    assert page.evaluate("camera.devices.length") == 2
    first = page.evaluate("camera.stream.getVideoTracks()[0].label")
    page.click("#camera-switch")
    deadline = time.monotonic() + 30
    while page.evaluate("camera.stream.getVideoTracks()[0].label") == first:
        assert time.monotonic() < deadline, "the camera was not switched"
        time.sleep(0.05)
    shown = page.get_attribute("#result-img", "src")
    deadline = time.monotonic() + 30
    while page.get_attribute("#result-img", "src") == shown:  # painted frames from the other camera
        assert time.monotonic() < deadline, "no frame painted after the switch"
        time.sleep(0.05)
    assert page.inner_text("#camera") == "Stop camera" and not page.is_hidden("#camera-tools")
    page.click("#camera")
    assert page.is_hidden("#camera-tools")


def test_mirror_flips_the_frames_painted_and_kept(page, photos):
    """"Mirror" (a selfie camera's own view): the frame grabbed from the camera, the one that is painted and the one
    that is kept, is the camera's picture flipped left to right (two grabs of the same video frame compared)."""
    page.select_option("#model", "udnie")
    page.click("#camera")
    _wait_text(page, "#camera-status", "frames a second")
    assert not page.is_checked("#camera-mirror")  # Chromium's fake camera says nothing of where it faces
    plain, mirrored = page.evaluate("""() => {
        const box = document.querySelector("#camera-mirror");
        const pixels = (flip) => {
            box.checked = flip;
            const canvas = grabFrame(64);
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            return [canvas.width, Array.from(data)]; };
        const grabs = [pixels(false), pixels(true)];
        box.checked = false;
        return grabs; }""")
    width, plain, mirrored = plain[0], plain[1], mirrored[1]
    rows = len(plain) // (4 * width)
    flipped = [plain[(row * width + width - 1 - x) * 4 + channel]
               for row in range(rows) for x in range(width) for channel in range(4)]
    assert plain != mirrored
    assert sum(abs(a - b) for a, b in zip(flipped, mirrored, strict=True)) / len(plain) < 1


def test_where_the_browser_gives_no_camera_the_page_says_why(browser, server):
    """A studio opened on a LAN address over plain HTTP: browsers give such a page no navigator.mediaDevices."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_init_script("Object.defineProperty(navigator, 'mediaDevices', { value: undefined });")
    page = context.new_page()
    page.goto(server[0])
    page.wait_for_selector("#model option[value=udnie]", state="attached")
    page.select_option("#model", "udnie")
    page.click("#camera")
    message = page.inner_text("#message")
    assert "no camera at this address" in message and "127.0.0.1" in message and "HTTPS" in message
    assert page.inner_text("#camera") == "Camera" and page.is_hidden("#camera-tools")
    context.close()


def test_the_colorize_tab_offers_the_portrait_model_and_its_command_names_it(page, server, photos):
    """With two automatic colorizers shipped (colorize-auto, colorize-portrait), the Colorize tab offers the choice
    (the default, their blend, first chosen; each alone after it); the portrait model previews at once and its
    job's command says --model; with a reference dropped there is no choice, and no --model."""
    shipped = {model["name"] for model in page.request.get(server[0] + "api/info").json()["models"]}
    if not {"colorize-auto", "colorize-portrait"} <= shipped:
        pytest.skip("colorize-portrait is not shipped")
    page.set_input_files("#photo-input", str(photos[0]))
    page.wait_for_selector("#photos img")
    page.click("[data-tab=colorize]")
    assert page.is_visible("#color_model") and page.input_value("#color_model") == ""  # the default: the blend
    assert "faces from colorize-portrait" in page.locator("#color_model option[value='']").inner_text()
    assert "for portraits" in page.locator("#color_model option[value='colorize-portrait']").inner_text()
    page.wait_for_selector("#result-img[src*='/preview']", timeout=60_000)
    first = page.get_attribute("#result-img", "src")
    page.select_option("#color_model", "colorize-portrait")
    deadline = time.monotonic() + 60
    while page.get_attribute("#result-img", "src") == first:  # the portrait model's preview, at once
        assert time.monotonic() < deadline, "no preview with the portrait model"
        time.sleep(0.1)
    page.click("#colorize-run")
    page.wait_for_selector("#command:has-text('stylize colorize')", timeout=60_000)
    assert "--model colorize-portrait" in page.inner_text("#command")
    # A reference takes the place of any network: the choice goes, and the job is the reference's alone (the model
    # sent beside it failed the job: "--model is the automatic colorizer, for photos without --reference").
    page.set_input_files("#reference-input", str(photos[1]))
    page.wait_for_selector("#reference-thumb:not([hidden])")
    assert not page.is_visible("#color_model")
    page.click("#colorize-run")
    page.wait_for_selector("#command:has-text('--reference')", timeout=60_000)
    assert "--model" not in page.inner_text("#command")

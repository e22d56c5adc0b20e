"""The studio's HTTP side: a small Starlette app over the upload store, the recipes, the queue and the
result folder. Safe by default (see create_app); every failure is one line of JSON with a 4xx status.

Why Starlette and plain JavaScript rather than Gradio: the page needs a job queue, cancellation, a per-browser
view and a token, all of which it keeps in about 200 lines here; Starlette and uvicorn are two pure-Python
packages (about 1 MB together) with a short security record, and Starlette's test client drives every route
without a browser. Gradio would bring over 100 MB of dependencies, load web fonts from the network by default,
and has had several path-traversal advisories for serving files it should not (CVE-2023-51449,
CVE-2024-1561).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from stylize.errors import StylizeError
from stylize.extras import require
from stylize.images import decode_frame, preview_jpeg
from stylize.serve.queue import Busy, JobQueue, QueueFull, StudioJob
from stylize.serve.recipe import folders_below, parse_recipe
from stylize.serve.results import ResultFolder
from stylize.serve.uploads import Uploads

require("starlette")
from starlette.applications import Starlette  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

SESSION_COOKIE = "stylize_session"
TOKEN_COOKIE = "stylize_token"
TOKEN_HEADER = "x-stylize-token"
# A recipe is a few settings and upload ids (under 1 KB from the page); a body this large is not one.
MAX_JSON_BYTES = 64 * 1024
# A camera frame: the page sends at most 640 px a side as a JPEG (about 50 to 150 KB); these leave room for a
# 1280x720 one, and no more (a frame is painted whole, ahead of the queue).
MAX_FRAME_BYTES = 4 * 2**20
MAX_FRAME_PIXELS = 1280 * 720
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Static files are package data, named here: no path from a request is ever looked up on disk.
STATIC = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
SECURITY_HEADERS = {
    # Everything from this server only: no CDN, no inline script, no framing by another site.
    "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; "
                               "style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
}


@dataclass(frozen=True)
class StudioSettings:
    output_dir: Path
    device: str = "auto"
    host: str = "127.0.0.1"
    token: str | None = None  # required from every request when set
    root: Path | None = None  # folder jobs read folders below this one only (None: no folder jobs)
    max_upload_bytes: int = 64 * 2**20
    max_pixels: int = 50_000_000  # an upload's pixels (the command line allows more: a page is shared)
    max_queue: int = 16
    heartbeat_seconds: float = 30.0
    preview_side: int = 512


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def new_token() -> str:
    return secrets.token_urlsafe(18)


class Studio:
    """What the routes share: the uploads, the result folder and the queue, with the server's settings."""

    def __init__(self, settings: StudioSettings) -> None:
        self.settings = settings
        self.results = ResultFolder(settings.output_dir)
        self.uploads = Uploads(settings.max_upload_bytes, settings.max_pixels)
        self.queue = JobQueue(settings.device, self.results, self.uploads.folder, settings.max_queue,
                              settings.heartbeat_seconds, settings.preview_side, settings.max_pixels)

    def models(self) -> list[dict[str, str]]:
        from stylize.zoo import available_models, describe

        return [{"name": entry.name, "task": entry.info.task, "summary": describe(entry.info)}
                for entry in available_models() if entry.info is not None and entry.hidden_by is None]

    def model_tasks(self) -> dict[str, str]:
        return {model["name"]: model["task"] for model in self.models()}

    def close(self) -> None:
        self.queue.close()
        self.uploads.close()


class AsciiJSONResponse(JSONResponse):
    """JSON in ASCII, every other character escaped: a file or folder name that is not UTF-8 (Latin-1 "café" of an
    old Windows disk, which Python holds as a lone surrogate) made Starlette's UTF-8 encoding fail, a 500 for the
    whole folder list. Escaped, it goes to the page and comes back in a recipe as the same name."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def _error(status: int, message: str) -> AsciiJSONResponse:
    return AsciiJSONResponse({"error": message}, status_code=status)


def _session(request: Request) -> str:
    return request.state.session


async def _index(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    if studio.settings.token and request.query_params.get("token"):
        # The printed URL carries the token once; from then on a cookie does, and the address bar is clean.
        response: Response = RedirectResponse("/", status_code=303)
        response.set_cookie(TOKEN_COOKIE, request.query_params["token"], httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")  # over HTTPS (--certfile), never sent in clear
        return response
    return _static_response("index.html")


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC or name == "index.html":
        return _error(404, "no such file")
    return _static_response(name)


def _static_response(name: str) -> Response:
    data = resources.files("stylize.serve").joinpath("static", name).read_bytes()
    return Response(data, media_type=STATIC[name], headers={"cache-control": "no-cache"})


async def _info(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    from stylize.device import resolve_device
    from stylize.version import __version__

    settings = studio.settings
    return AsciiJSONResponse({
        "version": __version__, "device": str(resolve_device(settings.device)), "models": studio.models(),
        "limits": {"upload_mb": settings.max_upload_bytes / 2**20, "megapixels": settings.max_pixels / 1e6,
                   "queue": settings.max_queue, "preview_side": settings.preview_side},
        "output_dir": str(settings.output_dir),
    })


async def _upload(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    limit = studio.settings.max_upload_bytes
    data = await _body(request, limit, f"the file is over the upload limit of {limit / 2**20:.0f} MB (`stylize "
                                       "serve --max-upload-mb N` raises it)")
    name = request.query_params.get("name", "image")[:200]
    # Decoding a large photo takes a moment: off the event loop, so other pages' polls are answered. A file
    # that is no image or video is a StylizeError, which the guard answers with 400 and its one line.
    upload = await run_in_threadpool(studio.uploads.add, _session(request), name, data)
    return AsciiJSONResponse({"id": upload.id, "name": upload.name, "width": upload.width, "height": upload.height,
                              "video": upload.video, "frame": upload.frame, "frames": upload.frames,
                              "shown": upload.shown is not None}, status_code=201)


class TooLarge(Exception):
    """A request body over its limit: a 413 with the message."""


async def _body(request: Request, limit: int, message: str) -> bytes:
    """The request's body, read no further than `limit` bytes (TooLarge past it, or at once when the declared
    length says so): a hostile client cannot make the server hold more."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(message)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(message)
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request) -> Any:
    data = await _body(request, MAX_JSON_BYTES, f"the request is over {MAX_JSON_BYTES // 1024} KB")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        raise StylizeError("the request is not JSON") from None


async def _submit(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    session = _session(request)
    try:
        recipe = parse_recipe(await _json_body(request), session, studio.uploads, studio.model_tasks(),
                              studio.settings.root)
        job = studio.queue.submit(session, recipe)
    except QueueFull as error:
        return _error(429, str(error))
    except StylizeError as error:
        return _error(400, str(error))
    return AsciiJSONResponse(studio.queue.status(job), status_code=202)


async def _live(request: Request) -> Response:
    """A camera frame (the body: JPEG, PNG or WebP bytes) painted with the recipe in the query (`?recipe=` the
    style recipe's JSON, without a photo): the picture back as a JPEG of the same size. 503 while a job keeps the
    device (the page tries again), 400 for a frame or recipe it cannot take."""
    studio: Studio = request.app.state.studio
    session = _session(request)
    text = request.query_params.get("recipe", "")
    if len(text) > MAX_JSON_BYTES:
        return _error(413, f"the recipe is over {MAX_JSON_BYTES // 1024} KB")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return _error(400, "the recipe (?recipe=) is not JSON")
    recipe = parse_recipe(body, session, studio.uploads, studio.model_tasks(), live=True)
    data = await _body(request, MAX_FRAME_BYTES, f"the frame is over {MAX_FRAME_BYTES // 2**20} MB")
    pixels = await run_in_threadpool(decode_frame, data, MAX_FRAME_PIXELS)
    try:
        painted = await run_in_threadpool(studio.queue.live, session, recipe, pixels)
    except Busy as error:
        return _error(503, str(error))
    encoded = await run_in_threadpool(preview_jpeg, painted, max(painted.shape[-2:]))
    return Response(encoded, media_type="image/jpeg", headers={"cache-control": "no-store"})


async def _estimate(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    recipe = parse_recipe(await _json_body(request), _session(request), studio.uploads, studio.model_tasks(),
                          studio.settings.root)
    return AsciiJSONResponse(studio.queue.estimate(recipe))


async def _folders(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    root = studio.settings.root
    return AsciiJSONResponse([] if root is None else folders_below(root))


async def _jobs(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    session = _session(request)
    studio.queue.seen(session)  # the page polls this: its jobs go on while it does
    return AsciiJSONResponse([studio.queue.status(job) for job in studio.queue.jobs(session)])


class NotFound(Exception):
    """Nothing of this browser's by that id or name: a 404 with the message."""


def _own_job(studio: Studio, request: Request) -> StudioJob:
    try:
        return studio.queue.get(_session(request), request.path_params["job"])
    except KeyError:
        raise NotFound("no such job") from None


async def _job(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    job = _own_job(studio, request)
    studio.queue.seen(_session(request))
    return AsciiJSONResponse(studio.queue.status(job))


async def _preview(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    job = _own_job(studio, request)
    if job.preview is None:
        return _error(404, "no picture yet")
    return Response(job.preview, media_type="image/png", headers={"cache-control": "no-store"})


async def _cancel(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    job = _own_job(studio, request)
    studio.queue.cancel(job)
    return AsciiJSONResponse(studio.queue.status(job))


async def _cancel_all(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    return AsciiJSONResponse({"cancelled": studio.queue.cancel_session(_session(request))})


async def _results(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    entries = await run_in_threadpool(studio.results.entries, _session(request))
    return AsciiJSONResponse([entry.__dict__ for entry in entries])


# A result's type by its extension: a picture's PNG, a clip's MP4 or animated image.
_MEDIA_TYPES = {".mp4": "video/mp4", ".gif": "image/gif", ".webp": "image/webp", ".apng": "image/apng"}


async def _result_file(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    name = request.path_params["name"]
    try:
        path = studio.results.path_for(_session(request), name)
    except KeyError:
        raise NotFound("no such result") from None
    disposition = "attachment" if request.query_params.get("download") else "inline"
    media_type = _MEDIA_TYPES.get(path.suffix, "image/png")
    return FileResponse(path, media_type=media_type, content_disposition_type=disposition, filename=name)


async def _upload_image(request: Request) -> Response:
    """An image this browser uploaded, by its id: a video's first frame, which the page has no file of, or a
    JPEG of an image no browser shows (a TIFF, a HEIC: Uploads.shown)."""
    studio: Studio = request.app.state.studio
    try:
        upload = studio.uploads.get(_session(request), request.path_params["upload"])
    except KeyError:
        raise NotFound("no such upload") from None
    if upload.video:
        raise NotFound("a video is shown by its first frame")
    return FileResponse(upload.shown or upload.path, headers={"cache-control": "private, max-age=3600"})


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(studio: Studio, handler: Handler) -> Handler:
    """Every route behind the same checks: the Host (DNS rebinding), the Origin of a change (another site's
    form), the token when one is set, and the browser session; failures are one line, never a traceback."""
    settings = studio.settings
    allowed_hosts = None if settings.host in ("0.0.0.0", "::", "") else LOOPBACK | {settings.host}

    async def guarded(request: Request) -> Response:
        if allowed_hosts is not None and (request.url.hostname or "") not in allowed_hosts:
            return _error(403, f"this studio answers to {settings.host} only")
        origin = request.headers.get("origin")
        if request.method != "GET" and origin is not None and origin.split("//", 1)[-1] != request.headers.get("host"):
            return _error(403, "requests from another site are refused")
        if settings.token:
            given = (request.cookies.get(TOKEN_COOKIE) or request.headers.get(TOKEN_HEADER)
                     or request.query_params.get("token") or "")
            if not hmac.compare_digest(given.encode(), settings.token.encode()):
                return _error(401, "this studio needs its token: open the address `stylize serve` printed")
        session = request.cookies.get(SESSION_COOKIE, "")
        fresh = not (16 <= len(session) <= 64 and session.replace("-", "").replace("_", "").isalnum())
        request.state.session = new_token() if fresh else session
        try:
            response = await handler(request)
        except NotFound as error:
            response = _error(404, str(error))
        except TooLarge as error:
            response = _error(413, str(error))
        except StylizeError as error:
            response = _error(400, str(error))
        except Exception as error:  # one line for the page; the server goes on
            response = _error(500, f"internal error ({type(error).__name__})")
        if fresh:
            response.set_cookie(SESSION_COOKIE, request.state.session, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https",
                                max_age=365 * 86400)
        response.headers.update(SECURITY_HEADERS)
        return response

    return guarded


def create_app(settings: StudioSettings) -> Starlette:
    """The studio's app. Loopback unless a token is set (cli/serve.py enforces it for other hosts)."""
    studio = Studio(settings)
    routes = [
        ("/", _index, ["GET"]), ("/static/{name}", _static, ["GET"]), ("/api/info", _info, ["GET"]),
        ("/api/uploads", _upload, ["POST"]), ("/api/uploads/{upload}/image", _upload_image, ["GET"]),
        ("/api/jobs", _submit, ["POST"]), ("/api/jobs", _jobs, ["GET"]), ("/api/live", _live, ["POST"]),
        ("/api/estimate", _estimate, ["POST"]), ("/api/folders", _folders, ["GET"]),
        ("/api/jobs/{job}", _job, ["GET"]), ("/api/jobs/{job}/preview", _preview, ["GET"]),
        ("/api/jobs/{job}/cancel", _cancel, ["POST"]), ("/api/cancel-all", _cancel_all, ["POST"]),
        ("/api/results", _results, ["GET"]), ("/results/{name}", _result_file, ["GET"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        studio.close()

    app = Starlette(routes=[Route(path, _guarded(studio, handler), methods=methods)
                            for path, handler, methods in routes], lifespan=lifespan)
    app.state.studio = studio
    return app

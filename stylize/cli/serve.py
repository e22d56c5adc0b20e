"""`stylize serve`: the studio page in the browser, served locally (the extra `stylize[serve]`)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import click

from stylize.cli.options import device_option

DEFAULT_PORT = 7860  # the port of the field's Gradio demos, which users of style-transfer pages know


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --token (one is made and printed when not "
                   "given), and every request must then carry it.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="Port.")
@click.option("--token", help="A secret every request must carry (given once in the printed address, then kept in "
                              "a cookie). Required off loopback.")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("stylize-studio"),
              show_default=True, help="Where results are written (with the settings of each beside it).")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder whose subfolders the page may run folder jobs on (like `stylize batch`); nothing "
                   "outside it is ever read. Without it the page has no folder jobs.")
@click.option("--max-upload-mb", type=click.IntRange(1, 2048), default=64, show_default=True,
              help="Largest file the page may upload.")
@click.option("--max-megapixels", type=click.FloatRange(0.1, 150), default=50, show_default=True,
              help="Largest image the page may upload, in millions of pixels (the pixel guard of the command line "
                   "is 150).")
@click.option("--max-queue", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="Most jobs waiting at once, from every browser.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Serve over HTTPS with this certificate (PEM; with --keyfile): a browser gives a page on another "
                   "machine's address its camera only over HTTPS.")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The private key of --certfile (PEM).")
@device_option
def serve(host: str, port: int, token: str | None, output_dir: Path, root: Path | None, max_upload_mb: int,
          max_megapixels: float, max_queue: int, certfile: Path | None, keyfile: Path | None, device: str) -> None:
    """Serve the studio: drop photos and paintings into a page, move sliders, compare, keep results.

    Opens nothing by itself: visit the printed address. Everything the page needs is served from the package
    (no CDN, no fonts from the network), so it works offline. Results go to --output-dir under names that
    never overwrite each other; a restart lists them again.
    """
    from stylize.extras import require

    require("starlette")
    uvicorn = require("uvicorn")
    from stylize.device import resolve_device
    from stylize.serve.app import StudioSettings, create_app, is_loopback, new_token

    if (certfile is None) != (keyfile is None):
        raise click.UsageError("--certfile and --keyfile go together (a certificate and its private key)")
    if certfile is not None and keyfile is not None:
        _check_certificate(certfile, keyfile)
    if not is_loopback(host) and not token:
        token = new_token()
    resolve_device(device)  # a missing CUDA is a usage error now, not a failed first job
    settings = StudioSettings(output_dir=output_dir.resolve(), device=device, host=host, token=token,
                              root=root.resolve() if root else None,
                              max_upload_bytes=max_upload_mb * 2**20, max_pixels=int(max_megapixels * 1e6),
                              max_queue=max_queue)
    listening = _listening_socket(host, port)  # before the app: a port in use leaves no upload folder behind
    app = create_app(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    scheme = "https" if certfile else "http"
    address = f"{scheme}://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    click.echo(f"stylize studio at {address}{'?token=' + token if token else ''}  (results in {output_dir}; "
               "Ctrl-C stops)", err=True)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=5, ssl_certfile=certfile, ssl_keyfile=keyfile))
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM (Terminated) is how a server ends, not a failure: uvicorn shuts down gracefully, then
        # raises the signal again, which exited 130 or 143 with "Error: interrupted" (and systemd took 143 for a
        # failed service). The studio says it stopped and exits 0.
        pass
    finally:  # the app's shutdown does it too; not when the server stops before its startup (Ctrl-C at once)
        app.state.studio.close()
    click.echo(f"Stopped the studio (results in {output_dir})", err=True)


def _check_certificate(certfile: Path, keyfile: Path) -> None:
    """The certificate and key loaded as the server will load them, so that a wrong file or a key of another
    certificate is a one-line usage error now, not uvicorn's traceback after the address was printed."""
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except ssl.SSLError as error:
        why = ("the key is not this certificate's" if error.reason == "KEY_VALUES_MISMATCH"
               else "they are not a PEM certificate and a PEM private key")
        raise click.UsageError(f"--certfile {certfile}, --keyfile {keyfile}: {why}") from None
    except OSError as error:
        raise click.UsageError(f"cannot read --certfile or --keyfile: {error.strerror or error}") from None


def _listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before the address is printed: a port in use or an address this machine does
    not have is then a one-line error (exit 1), not a banner followed by uvicorn's log line (exit 3)."""
    listening = None
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
        listening = socket.socket(family, kind, protocol)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a restart needs no wait
        listening.bind(address)
    except OSError as error:  # socket.gaierror (a host name that does not resolve) too
        if listening is not None:
            listening.close()
        hint = ": another program listens there (choose another --port)" if error.errno == errno.EADDRINUSE else ""
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror or error}{hint}") from None
    return listening

"""`mobilabel serve`: the HTTP API on uvicorn. Loopback only, unless a token guards it."""

from __future__ import annotations

import ipaddress

import click

from ..config import Settings, SettingsError

# A token guarding a public address: long enough that guessing it, even at full speed, is hopeless.
MIN_PUBLIC_TOKEN_LENGTH = 32


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any other than loopback needs MOBILABEL_API_TOKEN.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.pass_obj
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the HTTP API (OpenAPI description at /docs): jobs, results, predict, images, models."""
    if not is_loopback(host) and not settings.api_token:
        # A bad option/setting pair: SettingsError, so one Error: line and exit 2, as for any bad setting.
        raise SettingsError(
            f"refusing to listen on {host} without a token: set MOBILABEL_API_TOKEN (every request must then send "
            "'Authorization: Bearer TOKEN'), or keep the default --host 127.0.0.1"
        )
    if not is_loopback(host) and len(settings.api_token.strip()) < MIN_PUBLIC_TOKEN_LENGTH:
        raise SettingsError(
            f"refusing to listen on {host} with a {len(settings.api_token.strip())}-character token: MOBILABEL_API_TOKEN needs "
            f"at least {MIN_PUBLIC_TOKEN_LENGTH} on a public address (e.g. the output of `openssl rand -hex 32`)"
        )
    import uvicorn

    from ..api.app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False, server_header=False)

"""Helpers for tests that run `drivetrain serve` as a real subprocess."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx

POLL_SECONDS = 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base: str, process: subprocess.Popen[bytes], *, within: float = 90.0) -> None:
    """Poll /healthz until the server answers; waiting on the process between polls catches an early exit."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            try:
                process.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"server exited with {process.returncode}") from None
    raise RuntimeError(f"server did not come up in {within:.0f} s")

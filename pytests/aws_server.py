"""Start and stop a local AWS endpoint (moto's server mode) on 127.0.0.1 for tests.

moto's server is a real HTTP server speaking the S3 REST protocol (and Glue, Athena,
IAM, KMS, SNS, Lambda, STS): boto3, s3fs and pyarrow reach it exactly as they would reach
AWS, through ``endpoint_url``. It runs as a child process on a free port, keeps its state
in memory and is thrown away when it stops.

Use from Python::

    with start_server() as server:
        os.environ.update(server.environ())

or from a shell (prints the endpoint, stops on Ctrl-C)::

    python pytests/aws_server.py
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

HOST = "127.0.0.1"
REGION = "us-east-1"
#: Credentials moto accepts; they never leave this machine.
ACCESS_KEY, SECRET_KEY = "testing", "testing"
START_TIMEOUT_S = 30.0


class AwsEndpointUnavailable(RuntimeError):
    """The local endpoint could not be started (the reason is in the message)."""


@dataclass
class AwsServer:
    process: subprocess.Popen
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def environ(self) -> dict[str, str]:
        """The standard AWS variables that point boto3, s3fs and shoplake at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> AwsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server() -> AwsServer:
    """Start moto's server on a free port of 127.0.0.1 and wait until it answers."""
    port = _free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server process
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,  # a file, not a pipe: moto logs every request and would fill a pipe
            start_new_session=True,
        )
    except OSError as exc:
        raise AwsEndpointUnavailable(f"cannot run moto's server: {exc}") from exc
    server = AwsServer(process, port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            err = log.read()[-2000:].decode(errors="replace")
            raise AwsEndpointUnavailable(f"moto's server exited ({process.returncode}): {err}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=1),
        ):
            return server
        time.sleep(0.1)
    server.stop()
    raise AwsEndpointUnavailable(f"moto's server did not answer within {START_TIMEOUT_S:.0f} s")


@contextlib.contextmanager
def running() -> Iterator[AwsServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    with running() as srv:
        print(srv.endpoint_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    os._exit(0)

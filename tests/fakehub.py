"""A stand-in for the Hugging Face Hub, served on 127.0.0.1, for tests that download.

It answers the requests ``huggingface_hub`` makes for a file, the way the real Hub does:

    HEAD/GET /{owner}/{name}/resolve/{revision}/{file}
        large files: 302 to localhost:PORT/cdn/{sha256} (another host, like the Hub's CDN)
            with X-Repo-Commit, X-Linked-Etag, X-Linked-Size
        small (.json) files: 200 with ETag = git blob sha1, X-Repo-Commit, Content-Length
        unknown file: 404 X-Error-Code EntryNotFound; unknown or private repo: 401 RepoNotFound
    GET /cdn/{sha256} and any path added with add_url(): the bytes, honouring Range (206)

Knobs for failure tests: ``break_after`` (send that many body bytes, then drop the
connection, once), ``stop_on_break`` (and shut the server down, as if killed),
``corrupt`` (serve different bytes than announced), ``token`` + ``private`` repos.
Every request is recorded in ``requests`` as (method, path, headers).

Run it by hand to try the real CLI against tiny models:
    python tests/fakehub.py TINY_MODELS_DIR   (prints the environment to set)
"""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "ab12" * 10


class FakeHub:
    def __init__(self, port: int = 0):
        self.files: dict[tuple[str, str], bytes] = {}
        self.urls: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.private: set[str] = set()
        self.token: str | None = None
        self.break_after: int | None = None
        self.stop_on_break = False
        self.corrupt: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def cdn_url(self) -> str:
        """The same server under another host name, as the Hub's CDN is another host."""
        return self.url.replace("127.0.0.1", "localhost")

    def add(self, repo: str, filename: str, data: bytes | Path) -> None:
        self.files[(repo, filename)] = data.read_bytes() if isinstance(data, Path) else data

    def add_url(self, path: str, data: bytes | Path) -> str:
        """Serve ``data`` at ``path`` as a plain download; returns its full URL."""
        self.urls[path] = data.read_bytes() if isinstance(data, Path) else data
        return self.url + path

    def paths(self, method: str = "GET") -> list[str]:
        return [p for m, p, _ in self.requests if m == method]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean
            pass

        def do_HEAD(self):
            self._answer(body=False)

        def do_GET(self):
            self._answer(body=True)

        def _answer(self, body: bool):
            hub.requests.append((self.command, self.path, dict(self.headers)))
            resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path)
            if resolve:
                return self._resolve(*resolve.groups(), body=body)
            if self.path.startswith("/cdn/"):
                blobs = {hashlib.sha256(d).hexdigest(): d for d in hub.files.values()}
                data = blobs.get(self.path[5:])
            else:
                data = hub.urls.get(self.path)
            if data is None:
                return self._status(404, {"X-Error-Code": "EntryNotFound"})
            self._send_bytes(data, body)

        def _resolve(self, repo: str, revision: str, filename: str, body: bool):
            known = {r for r, _ in hub.files}
            allowed = repo not in hub.private or self.headers.get("Authorization") == f"Bearer {hub.token}"
            if repo not in known or not allowed:
                return self._status(401, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
            data = hub.files.get((repo, filename))
            if data is None:
                return self._status(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
            if filename.endswith(".json"):
                return self._send_bytes(data, body, {"ETag": f'"{git_sha1(data)}"', "X-Repo-Commit": COMMIT})
            sha = hashlib.sha256(data).hexdigest()
            self._status(302, {
                "Location": f"{hub.cdn_url}/cdn/{sha}", "X-Repo-Commit": COMMIT, "ETag": f'"{git_sha1(data)}"',
                "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
            })

        def _send_bytes(self, data: bytes, body: bool, headers: dict | None = None):
            if self.path in hub.corrupt or any(self.path.endswith(n) for n in hub.corrupt):
                data = bytes(len(data))
            start, status = 0, 200
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if wanted:
                start, status = int(wanted.group(1)), 206
                if start >= len(data):
                    return self._status(416, {"Content-Range": f"bytes */{len(data)}"})
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return
            payload = data[start:]
            if hub.break_after is not None and len(payload) > hub.break_after:
                self.wfile.write(payload[: hub.break_after])
                self.wfile.flush()
                hub.break_after = None
                self.close_connection = True
                if hub.stop_on_break:
                    threading.Thread(target=hub.stop).start()
                return
            self.wfile.write(payload)

        def _status(self, code: int, headers: dict):
            self.send_response(code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def serve_tiny(hub: FakeHub, tiny: Path) -> dict[str, str]:
    """Serve the tiny models under the catalogue's real names; returns the environment to use them.

    German and Large English get the tiny quantizers, facebook/hubert-base-ls960 the tiny
    HuBERT, and the EnCodec URL the tiny EnCodec (its name carries its own sha256 prefix).
    """
    hub.add("CountFloyd/bark-voice-cloning-german-HuBERT-quantizer", "german-HuBERT-quantizer_14_epoch.pth",
            tiny / "quantizer-v0.pth")
    hub.add("GitMylo/bark-voice-cloning", "quantifier_V1_hubert_base_ls960_23.pth", tiny / "quantizer-v0.pth")
    for path in (tiny / "hubert").iterdir():
        hub.add("facebook/hubert-base-ls960", path.name, path)
    codec = (tiny / "encodec_24khz.th").read_bytes()
    url = hub.add_url(f"/encodec/v0/encodec_24khz-{hashlib.sha256(codec).hexdigest()[:8]}.th", codec)
    return {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HUBERT_QUANT_ENCODEC_URL": url}


if __name__ == "__main__":
    import sys
    import time

    server = FakeHub(port=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    for key, value in serve_tiny(server, Path(sys.argv[1])).items():
        print(f"export {key}={value}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()

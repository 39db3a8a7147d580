"""A local stand-in for the Hugging Face Hub (``HF_ENDPOINT``): ``/{repo}/resolve/{revision}/{file}`` answers
HEAD with the headers ``huggingface_hub`` reads and GET with the bytes (honouring ``Range``, for resume)."""

from __future__ import annotations

import hashlib
import http.server
import threading


class FakeHub:
    """Serves ``files[(repo, filename)] = bytes`` at any revision; records each request's path and Range; can
    cut a download short once (``cut_next_get_at``), as a dropped connection does."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.cut_next_get_at: int | None = None  # send only this many bytes of the next GET, then hang up
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _lookup(self) -> bytes | None:
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                parts = self.path.split("/resolve/", 1)
                if len(parts) != 2:
                    return None
                revision, _, filename = parts[1].partition("/")
                self.commit = revision if len(revision) == 40 else "0" * 40
                return hub.files.get((parts[0].strip("/"), filename))

            def _headers(self, data: bytes, status: int = 200, start: int = 0) -> None:
                self.send_response(status)
                self.send_header("X-Repo-Commit", self.commit)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()

            def do_HEAD(self) -> None:  # noqa: N802
                data = self._lookup()
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                self._headers(data)

            def do_GET(self) -> None:  # noqa: N802
                data = self._lookup()
                if data is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
                self._headers(data, 206 if start else 200, start)
                cut, hub.cut_next_get_at = hub.cut_next_get_at, None
                self.wfile.write(data[start:cut] if cut else data[start:])
                if cut:
                    self.wfile.flush()
                    self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

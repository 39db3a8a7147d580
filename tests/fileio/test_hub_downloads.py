"""A registered pre-trained checkpoint comes from a local copy, then the Hub (``HF_ENDPOINT``), then its original
URL; a dead or silent first source costs seconds; offline mode uses caches only; when all fail, one line says
what was tried and the fixes. Both servers are local (127.0.0.1): ``FakeHub`` and ``http.server``."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import threading
import time

import pytest
import torch

from seglab.fileio import download, hub
from seglab.fileio.download import DownloadError
from seglab.fileio.hub import HubFile
from seglab.fileio.pretrained import fetch_pretrained, read_safetensors
from seglab.fileio.sources import MIRROR_ENV, OPENMMLAB, PretrainedSource, hub_cache_path

from .hub_server import FakeHub


def checkpoint_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(2)}}, buffer)
    return buffer.getvalue()


REPO, REVISION = "timm/tiny_test.in1k", "1234567890abcdef1234567890abcdef12345678"
HUB_BYTES = b"hub file " * 100
ORIGINAL_BYTES = checkpoint_bytes()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def servers(tmp_path, monkeypatch):
    """(fake Hub, original server base URL, source): the Hub serves the Hub file, the original its file."""
    fake = FakeHub()
    fake.files[(REPO, "model.safetensors")] = HUB_BYTES
    served = tmp_path / "served"
    served.mkdir()
    name = f"tiny-{hashlib.sha256(ORIGINAL_BYTES).hexdigest()[:8]}.pth"
    (served / name).write_bytes(ORIGINAL_BYTES)
    original = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=original.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{original.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("SEGLAB_OPENMMLAB_MIRROR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    source = PretrainedSource("test://tiny", f"{base}/{name}", HubFile(REPO, revision=REVISION), convert=dict)
    yield fake, base, source
    fake.close()
    original.shutdown()
    original.server_close()


def dead_url() -> str:
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_the_hub_comes_before_the_original_url_at_the_pinned_revision(servers):
    fake, _, source = servers
    path = fetch_pretrained(source)
    assert path.read_bytes() == HUB_BYTES and f"snapshots/{REVISION}" in str(path)
    assert any(REVISION in request[1] for request in fake.requests)


def test_a_local_copy_of_the_original_comes_before_the_hub(servers):
    fake, _, source = servers
    cached = hub_cache_path(source.url)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(ORIGINAL_BYTES)
    assert fetch_pretrained(source) == cached and fake.requests == []


def silent_server() -> socket.socket:
    """A socket that accepts connections into its backlog and never answers them."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    return silent


def test_a_silent_mirror_is_tried_first_then_the_hub(servers, monkeypatch):
    _, _, source = servers
    silent = silent_server()
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setattr(download, "TIMEOUT_S", 0.3)
    name = source.url.rsplit("/", 1)[1]
    mirrored_source = PretrainedSource(source.name, f"{OPENMMLAB}/pretrain/{name}", source.hub, convert=dict)
    try:
        assert fetch_pretrained(mirrored_source).read_bytes() == HUB_BYTES
        silent.setblocking(False)
        silent.accept()[0].close()  # the mirror was tried (raises BlockingIOError when nothing connected)
    finally:
        silent.close()


def test_a_silent_original_server_after_a_hub_miss_fails_within_its_timeout(servers, monkeypatch):
    fake, _, source = servers
    fake.files.clear()  # the Hub answers 404
    silent = silent_server()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/tiny-0123abcd.pth"
    monkeypatch.setattr(download, "TIMEOUT_S", 0.3)
    start = time.monotonic()
    try:
        with pytest.raises(DownloadError) as err:
            fetch_pretrained(PretrainedSource(source.name, url, source.hub, convert=dict))
    finally:
        silent.close()
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "\n" not in message and f"cannot download {url} (no answer within 0.3 s)" in message and REPO in message


@pytest.mark.parametrize("dead", ["refused", "never answers"])
def test_a_dead_hub_falls_back_to_the_original_url(servers, monkeypatch, dead):
    _, _, source = servers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections into its backlog and never answers them
    endpoint = dead_url() if dead == "refused" else f"http://127.0.0.1:{silent.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(hub, "TIMEOUT_S", 0.3)
    try:
        assert fetch_pretrained(source).read_bytes() == ORIGINAL_BYTES
    finally:
        silent.close()


def test_when_every_source_fails_one_line_says_what_was_tried_and_the_fixes(servers, monkeypatch):
    fake, _, source = servers
    fake.files.clear()
    dead = dead_url()
    source = PretrainedSource(source.name, f"{dead}/tiny-0123abcd.pth", source.hub, convert=dict)
    with pytest.raises(DownloadError) as err:
        fetch_pretrained(source)
    message = str(err.value)
    assert "\n" not in message and f"cannot get pre-trained weights '{source.name}'" in message
    assert REPO in message and f"{dead}/tiny-0123abcd.pth" in message and "refused" in message.lower()
    assert "put the file at" in message and "HF_ENDPOINT" in message and "HF_HUB_OFFLINE" in message


def test_offline_mode_uses_the_hub_cache_and_never_the_network(servers, monkeypatch):
    fake, _, source = servers
    first = fetch_pretrained(source)
    fake.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert fetch_pretrained(source) == first and fake.requests == []
    missing = PretrainedSource("test://other", source.url.replace("tiny-", "other-"), HubFile("timm/other.in1k"), dict)
    with pytest.raises(DownloadError, match="offline .*HF_HUB_OFFLINE.*put the file at"):
        fetch_pretrained(missing)
    assert fake.requests == []


def test_a_hub_download_cut_short_is_resumed_where_it_stopped(servers, monkeypatch):
    fake, _, source = servers
    monkeypatch.setattr("huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE", 100)  # 900 bytes arrive in 9 chunks
    fake.cut_next_get_at = 300  # the connection drops after 300 bytes (huggingface_hub resumes within a run)
    assert fetch_pretrained(source).read_bytes() == HUB_BYTES
    ranges = [r for method, path, r in fake.requests if method == "GET" and path.endswith("/model.safetensors")]
    assert ranges == [None, "bytes=300-"], fake.requests


def test_safetensors_are_read_through_the_package(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    state = {"a": torch.randn(2, 3), "b": torch.arange(4, dtype=torch.int64), "c": torch.randn(3).half()}
    safetensors.save_file(state, tmp_path / "m.safetensors")
    loaded = read_safetensors(tmp_path / "m.safetensors")
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)

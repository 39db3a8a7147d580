"""Every checkpoint URL seglab reads is checked against the SHA-256 prefix in its file name, when it is
downloaded and whenever the cached file is reused; a wrong file is one error line and never stays cached.

The "network" is ``http.server`` on 127.0.0.1 (OpenMMLab URLs reach it through SEGLAB_OPENMMLAB_MIRROR)
and the cache is a temporary TORCH_HOME. Checkpoints are a single stem tensor of the tiny model."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from seglab import zoo
from seglab.cli import main
from seglab.errors import CheckpointError
from seglab.fileio import download, sources
from seglab.fileio.checkpoint import load_checkpoint, read_checkpoint
from seglab.fileio.download import DownloadError
from seglab.models.builder import build_model

from ..conftest import TINY_MODEL

STEM = "backbone.stem.0.weight"  # (8, 3, 3, 3) in the tiny model
RELEASE = "https://download.openmmlab.com/mmsegmentation/v0.5/fake/fake_20200101_000000"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(folder served, its base URL): a local stand-in for download.openmmlab.com and download.pytorch.org."""
    root = tmp_path_factory.mktemp("served")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch, server) -> Path:
    """torch.hub's checkpoint folder under a temporary TORCH_HOME, with the OpenMMLab mirror pointed at ``server``."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv(sources.MIRROR_ENV, server[1])
    monkeypatch.setenv("HF_ENDPOINT", server[1])  # the Hub, tried for registered names, is local too (404s)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    return tmp_path / "torch_home" / "hub" / "checkpoints"


def weights(value: float, key: str = "stem.0.weight") -> bytes:
    buffer = io.BytesIO()
    torch.save({"state_dict": {key: torch.full((8, 3, 3, 3), value)}}, buffer)
    return buffer.getvalue()


def big(value: float) -> bytes:
    """A checkpoint of about 100 kB, to cut in the middle: its bytes past 50,000 are ``value``s."""
    buffer = io.BytesIO()
    torch.save(
        {"state_dict": {"stem.0.weight": torch.full((8, 3, 3, 3), value), "pad": torch.full((25_000,), value)}}, buffer
    )
    return buffer.getvalue()


def sha8(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def tiny(**model) -> Callable[[], float]:
    """Build the tiny model with ``model`` keys set; returns its loaded stem's value."""

    def run() -> float:
        return build_model({**TINY_MODEL, **model}).state_dict()[STEM][0, 0, 0, 0].item()

    return run


def pretrained_via(scheme: str, table: dict, name: str, key: str = "stem.0.weight"):
    """A named source: the table entry points at a file name carrying ``right``'s hash."""

    def setup(monkeypatch, base: str, right: bytes) -> tuple[str, Callable[[], float]]:
        sources.ensure_loaded()  # the families' tables fill on first lookup
        url = table[name].rsplit("-", 1)[0] + f"-{sha8(right)}.pth"
        if not url.startswith(sources.OPENMMLAB):  # torchvision: its own host, served locally too
            url = f"{base}/models/{sources.file_name(url)}"
        monkeypatch.setitem(table, name, url)
        return url, tiny(pretrained=f"{scheme}{name}")

    return setup, key


def plain_url(build: Callable[[str], Callable[[], float]]):
    def setup(monkeypatch, base: str, right: bytes) -> tuple[str, Callable[[], float]]:
        url = f"{RELEASE}-{sha8(right)}.pth"
        return url, build(url)

    return setup, "stem.0.weight"


def load_from(url: str) -> Callable[[], float]:
    def run() -> float:
        model = build_model(TINY_MODEL, load_pretrained=False)
        load_checkpoint(model, url)  # what Runner does with load_from (refusals go through the CLI below)
        return model.state_dict()[STEM][0, 0, 0, 0].item()

    return run


def init_cfg(url: str) -> Callable[[], float]:
    backbone = {**TINY_MODEL["backbone"], "init_cfg": dict(type="Pretrained", checkpoint=url)}
    return tiny(backbone=backbone)


def read_for_test_or_infer(url: str) -> Callable[[], float]:
    return lambda: read_checkpoint(url)["state_dict"]["stem.0.weight"][
        0, 0, 0, 0
    ].item()  # seglab test|infer CONFIG URL


SOURCES = {
    "test or infer": plain_url(read_for_test_or_infer),
    "pretrained": plain_url(lambda url: tiny(pretrained=url)),
    "init_cfg": plain_url(init_cfg),
    "load_from": (plain_url(load_from)[0], "backbone.stem.0.weight"),
    "open-mmlab": pretrained_via("open-mmlab://", sources.OPEN_MMLAB_URLS, "resnet18_v1c"),
    "torchvision": pretrained_via("torchvision://", sources.TORCHVISION_URLS, "resnet18"),
    "mmcls": pretrained_via("mmcls://", sources.MMCLS_URLS, "mobilenet_v2", key="backbone.stem.0.weight"),
}


def serve(server, url: str, data: bytes) -> None:
    root, base = server
    path = root / sources.mirrored(url).removeprefix(base + "/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.mark.parametrize("case", ["right", "wrong cached", "wrong download"])
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_url_source_accepts_the_right_file_and_refuses_a_wrong_one(source, case, cache, server, monkeypatch):
    setup, key = SOURCES[source]
    right, wrong = weights(0.5, key), weights(-1.0, key)
    url, use = setup(monkeypatch, server[1], right)
    target = cache / sources.file_name(url)
    if case == "right":
        serve(server, url, right)
        assert use() == 0.5  # downloaded and checked
        serve(server, url, wrong)
        assert use() == 0.5 and target.read_bytes() == right  # reused from the cache, checked again
        return
    if case == "wrong cached":
        cache.mkdir(parents=True)
        target.write_bytes(wrong)
    else:
        serve(server, url, wrong)
    with pytest.raises(CheckpointError) as err:
        use()
    message = str(err.value)
    assert "\n" not in message and sha8(right) in message and sha8(wrong) in message, message
    assert "download it again" in message
    if case == "wrong cached":
        assert f"'{target}'" in message and "delete it" in message and target.read_bytes() == wrong
    else:
        assert sources.mirrored(url) in message and sorted(cache.iterdir()) == []  # nothing kept, no half file


@pytest.mark.parametrize("case", ["right", "wrong cached", "wrong download"])
def test_zoo_download_checks_fresh_and_cached_files(case, cache, server, monkeypatch, capsys):
    right, wrong = weights(0.5), weights(-1.0)
    url = f"{RELEASE}-{sha8(right)}.pth"
    published, unpublished = zoo._tables()
    row = {"name": "fake/fake_config", "family": "fake", "dataset": "Dummy", "weights": url}
    monkeypatch.setattr(zoo, "_tables", lambda: ({**published, row["name"]: row}, unpublished))
    target = cache / sources.file_name(url)
    serve(server, url, wrong if case == "wrong download" else right)
    if case == "wrong cached":
        cache.mkdir(parents=True)
        target.write_bytes(wrong)
    code = main(["zoo", "--download", "fake/fake_config"])
    out, err = capsys.readouterr()
    if case == "right":
        assert code == 0 and f"downloaded: {target}" in out and target.read_bytes() == right
        serve(server, url, wrong)
        assert main(["zoo", "--download", "fake/fake_config"]) == 0 and "already cached" in capsys.readouterr().out
        return
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert sha8(right) in err and sha8(wrong) in err and "download it again" in err
    assert sorted(cache.iterdir()) == ([target] if case == "wrong cached" else [])


def test_load_from_a_wrong_file_stops_seglab_train_in_one_line(tiny_config, cache, server, capsys):
    right, wrong = weights(0.5, "backbone.stem.0.weight"), weights(-1.0, "backbone.stem.0.weight")
    url = f"{RELEASE}-{sha8(right)}.pth"
    config = tiny_config(max_iters=1, extra=f"load_from = {url!r}")
    serve(server, url, wrong)
    assert main(["train", str(config)]) == 2  # a wrong download
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and sha8(wrong) in err and "download it again" in err
    assert not cache.is_dir() or sorted(cache.iterdir()) == []
    cache.mkdir(parents=True, exist_ok=True)
    (cache / sources.file_name(url)).write_bytes(wrong)
    assert main(["train", str(config)]) == 2  # a wrong file in the cache
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "delete it and download it again" in err and sha8(right) in err


def test_a_dead_server_fails_at_once_in_one_line_naming_the_url_and_the_fix(cache, monkeypatch, capsys):
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv(sources.MIRROR_ENV, dead)
    url = f"{RELEASE}-0123abcd.pth"
    published, unpublished = zoo._tables()
    row = {"name": "fake/fake_config", "family": "fake", "dataset": "Dummy", "weights": url}
    monkeypatch.setattr(zoo, "_tables", lambda: ({**published, row["name"]: row}, unpublished))
    assert main(["zoo", "--download", "fake/fake_config"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"cannot download {dead}/mmsegmentation/v0.5/fake/" in err, err
    assert "refused" in err.lower() and str(cache / sources.file_name(url)) in err and sources.MIRROR_ENV in err
    with pytest.raises(DownloadError, match="model.pretrained=None"):
        tiny(pretrained="open-mmlab://resnet18_v1c")()
    assert not cache.is_dir() or sorted(cache.iterdir()) == []


class Ranged(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (path -> bytes) with an ETag, honouring ``Range`` and ``If-Range`` as a CDN does.

    Each request takes the next offset of ``server.cuts`` (None once they run out) and stops its body at that
    byte of the file; ``server.ranges = False`` makes it ignore ``Range``. ``server.seen`` records each
    request's (Range, If-Range) and the status answered."""

    def do_GET(self) -> None:
        data, srv = self.server.files.get(self.path), self.server
        wanted, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        cut = srv.cuts.pop(0) if srv.cuts else None
        if data is None:
            return self.send_error(404)
        etag, start = f'"{sha8(data)}"', 0
        if wanted and srv.ranges and if_range in (None, etag):
            start = int(wanted.removeprefix("bytes=").split("-")[0])
        srv.seen.append((wanted, if_range, 416 if start >= len(data) else 206 if start else 200))
        if start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start : len(data) if cut is None else max(start, cut)])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def ranged(cache, monkeypatch):
    """A server that honours ranges and cuts answers on demand, serving RELEASE's checkpoint (its name carries the
    hash of ``big(0.5)``); yields (server, the URL, the right bytes, the cache file, its part file)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ranged)
    right = big(0.5)
    url = f"{RELEASE}-{sha8(right)}.pth"
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv(sources.MIRROR_ENV, base)
    httpd.files, httpd.cuts, httpd.ranges, httpd.seen = {sources.mirrored(url).removeprefix(base): right}, [], True, []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    target = cache / sources.file_name(url)
    yield httpd, url, right, target, target.with_name(target.name + ".part")
    httpd.shutdown()
    httpd.server_close()


def cut_short(ranged, at: int) -> str:
    """Download ``ranged``'s checkpoint with every answer cut at byte ``at``; returns the error line."""
    httpd, url, *_ = ranged
    httpd.cuts = [at] * (download.RETRIES + 1)
    with pytest.raises(DownloadError, match="cannot download") as err:
        download.cached_download(url, progress=False)
    httpd.cuts = []
    return str(err.value)


def test_a_download_cut_short_keeps_its_part_file_and_no_checkpoint(ranged):
    httpd, url, right, target, part = ranged
    message = cut_short(ranged, 50_000)
    assert "\n" not in message and "closed after 50,000 of" in message and str(target) in message, message
    assert f"kept in {part}, the next run resumes from there" in message
    assert not target.exists() and part.read_bytes() == right[:50_000]
    assert sorted(p.name for p in target.parent.iterdir()) == [part.name, part.name + ".json"]
    assert [status for *_, status in httpd.seen] == [200, 206]  # one resume within the call, which got nothing


def test_the_next_run_resumes_with_a_range_request_and_verifies_the_whole_file(ranged, caplog):
    httpd, url, right, target, part = ranged
    cut_short(ranged, 50_000)
    httpd.seen.clear()
    with caplog.at_level("INFO", logger="seglab"):
        assert download.cached_download(url, progress=False) == (target, True)
    etag = f'"{sha8(right)}"'
    assert httpd.seen == [("bytes=50000-", etag, 206)] and target.read_bytes() == right
    assert f"resuming at 50,000 bytes of {len(right):,} bytes" in caplog.text
    assert sorted(target.parent.iterdir()) == [target]


def test_a_connection_dropped_within_a_call_is_resumed_there(ranged):
    httpd, url, right, target, part = ranged
    httpd.cuts = [30_000, 60_000]
    assert download.cached_download(url, progress=False) == (target, True) and target.read_bytes() == right
    assert [(wanted, status) for wanted, _, status in httpd.seen] == [
        (None, 200),
        ("bytes=30000-", 206),
        ("bytes=60000-", 206),
    ]


@pytest.mark.parametrize("case", ["ignores ranges", "file changed", "part too long"])
def test_a_part_the_server_cannot_continue_starts_over_instead_of_splicing(case, ranged):
    httpd, url, right, target, part = ranged
    old = right
    if case == "part too long":
        cut_short(ranged, 50_000)
        part.write_bytes(bytes(len(right) + 10))  # the server answers 416: no such range
    elif case == "file changed":  # the part holds the start of an older version, with its ETag
        (path,) = httpd.files
        old = big(-1.0)
        assert old[:50_000] != right[:50_000]
        httpd.files[path] = old
        cut_short(ranged, 50_000)
        httpd.files[path] = right
    else:
        cut_short(ranged, 50_000)
        httpd.ranges = False
    httpd.seen.clear()
    assert download.cached_download(url, progress=False) == (target, True) and target.read_bytes() == right
    assert httpd.seen[0][0] == (f"bytes={len(right) + 10}-" if case == "part too long" else "bytes=50000-")
    assert httpd.seen[0][1] == f'"{sha8(old if case == "file changed" else right)}"'  # the ETag saved
    assert [status for *_, status in httpd.seen] == ([416, 200] if case == "part too long" else [200])
    assert sorted(target.parent.iterdir()) == [target]


def test_a_corrupted_part_file_ends_in_the_hash_error_and_leaves_nothing(ranged):
    httpd, url, right, target, part = ranged
    cut_short(ranged, 50_000)
    part.write_bytes(right[:40_000] + big(-1.0)[40_000:50_000])  # the last bytes kept are not this file's
    with pytest.raises(DownloadError) as err:
        download.cached_download(url, progress=False)
    message = str(err.value)
    assert "\n" not in message and "not the published file" in message and sha8(right) in message, message
    assert httpd.seen[-1] == ("bytes=50000-", f'"{sha8(right)}"', 206)
    assert sorted(target.parent.iterdir()) == []


def test_the_mirror_replaces_openmmlab_in_every_url_seglab_derives(monkeypatch):
    monkeypatch.setenv(sources.MIRROR_ENV, "https://mirror.example.org/openmmlab/")
    assert sources.named_url("open-mmlab://resnet50_v1c") == (
        "https://mirror.example.org/openmmlab/pretrain/third_party/resnet50_v1c-2cccc1ad.pth"
    )
    name = "pspnet_r50-d8_512x1024_40k_cityscapes_20200605_003338-2966598c.pth"
    assert sources.release_url(name).startswith("https://mirror.example.org/openmmlab/mmsegmentation/v0.5/pspnet/")
    assert sources.named_url("torchvision://resnet50").startswith("https://download.pytorch.org/")
    monkeypatch.setenv(sources.MIRROR_ENV, "mirror.example.org")
    with pytest.raises(CheckpointError, match=f"{sources.MIRROR_ENV}='mirror.example.org' is not a URL"):
        sources.named_url("open-mmlab://resnet50_v1c")


def test_every_known_name_and_published_url_carries_a_hash_prefix():
    urls = [url for table in sources.SCHEMES.values() for url in table.values()]
    urls += [row["weights"] for row in zoo.published_table().values()]
    assert len(urls) > 600 and all(sources.hash_prefix(sources.file_name(url)) for url in urls)

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
from seglab.fileio import sources
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


def test_a_download_cut_short_leaves_nothing_in_the_cache(cache, monkeypatch):
    class Short(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"PK\x03\x04" + bytes(1000))

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Short)
    threading.Thread(target=httpd.handle_request, daemon=True).start()
    monkeypatch.setenv(sources.MIRROR_ENV, f"http://127.0.0.1:{httpd.server_address[1]}")
    with pytest.raises(DownloadError, match=r"cannot download .*IncompleteRead|cannot download .*closed"):
        tiny(pretrained="open-mmlab://resnet18_v1c")()
    httpd.server_close()
    assert not cache.is_dir() or sorted(cache.iterdir()) == []


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

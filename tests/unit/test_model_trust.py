"""Model files never run code: malicious CLIP files through every route that loads one,
real CLIP files in both forms, and checkpoints that declare more than they hold.

The malicious files are built here, in tmp_path; none is committed."""

from __future__ import annotations

import builtins
import pickle
import re
import shutil
import struct
import time
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from doorways_engine import GenerationConfig, load_models
from doorways_engine.clip_file import load_clip_file
from doorways_engine.errors import BadConfigFileError, ChecksumError, CorruptCheckpointError
from doorways_engine.fetch import sha256_file
from doorways_engine.tiny import build_tiny_clip, write_tiny_clip, write_tiny_clip_torchscript
from doorways_engine.vqgan import load_vqgan, safe_torch_load
from doorways_tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


class _WritesAFile(torch.nn.Module):
    """A scripted module whose ``__setstate__`` creates (or overwrites) a file on load."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.weight = torch.nn.Parameter(torch.ones(3))

    @torch.jit.export
    def __getstate__(self) -> tuple[str, torch.Tensor, bool]:
        return (self.marker, self.weight, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, torch.Tensor, bool]) -> None:
        self.marker = state[0]
        self.training = state[2]
        # Used, so TorchScript cannot drop it: maps the file shared, creating it.
        self.weight = state[1] + torch.from_file(self.marker, shared=True, size=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


def write_evil_torchscript(path: Path, marker: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(_WritesAFile(str(marker))), str(path))
    return path


class _OpensAFile:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def write_evil_pickle(path: Path, marker: Path) -> Path:
    """A "state dict" whose unpickling creates a file (any callable would do)."""
    state = build_tiny_clip().state_dict()
    state["visual.proj"] = _OpensAFile(marker)
    torch.save(state, path)
    return path


@pytest.fixture(params=["default", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1"])
def torch_env(request, monkeypatch) -> str:
    """Each route runs twice: as is, and with the variable that makes torch.load unpickle."""
    if request.param != "default":
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    return request.param


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "marker-written-by-the-model-file"


@pytest.fixture(params=["torchscript", "pickle"])
def evil_clip(request, tmp_path, marker) -> Path:
    if request.param == "torchscript":
        return write_evil_torchscript(tmp_path / "evil-clip.pt", marker)
    return write_evil_pickle(tmp_path / "evil-clip.pt", marker)


def test_the_malicious_files_do_write_when_torch_loads_them(tmp_path):
    """The control: what the routes below refuse is real."""
    first, second = tmp_path / "one", tmp_path / "two"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.load(str(write_evil_torchscript(tmp_path / "a.pt", first)))
        torch.load(write_evil_pickle(tmp_path / "b.pt", second), weights_only=False)
    assert first.exists() and second.exists()


def _demo_copy(model_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(model_dir / "demo", root / "demo")
    return root


def _assert_one_line_refusal(text: str) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("doorways: error:"), text
    assert "Traceback" not in text


def test_clip_path_on_the_command_line(evil_clip, marker, torch_env, tmp_path, capsys):
    out = tmp_path / "a.png"
    argv = ["generate", "x", "--vqgan", "demo", "--clip", str(evil_clip), "--size", "64x64"]
    code = main([*argv, "--steps", "1", "--cutn", "4", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    _assert_one_line_refusal(err)
    assert not marker.exists() and not out.exists()


def test_load_models_with_a_clip_path(evil_clip, marker, torch_env):
    with pytest.raises(CorruptCheckpointError):
        load_models(GenerationConfig(vqgan="demo", clip=str(evil_clip)), device="cpu")
    assert not marker.exists()


def test_cached_release_fails_its_checksum_before_anything_reads_it(
    evil_clip, marker, torch_env, model_dir, tmp_path, monkeypatch
):
    models = _demo_copy(model_dir, tmp_path)
    cached = models / "clip" / "ViT-B-32.pt"
    cached.parent.mkdir()
    shutil.copy(evil_clip, cached)
    import doorways_engine.models

    reads: list[Path] = []
    monkeypatch.setattr(doorways_engine.models, "load_clip_file", lambda p: reads.append(p))
    with pytest.raises(ChecksumError, match="not the release"):
        load_models(GenerationConfig(vqgan="demo", clip="ViT-B/32"), model_dir=models)
    assert reads == [] and not marker.exists()


def test_a_release_whose_checksum_matches_is_still_read_as_data(
    evil_clip, marker, torch_env, model_dir, tmp_path, monkeypatch
):
    """A registry that named a malicious file would still not run it."""
    from doorways_engine import registry
    from doorways_engine.registry import CLIPEntry

    models = _demo_copy(model_dir, tmp_path)
    cached = models / "clip" / "ViT-B-32.pt"
    cached.parent.mkdir()
    shutil.copy(evil_clip, cached)
    fake = {
        **registry.clip_entries(),
        "ViT-B/32": CLIPEntry("ViT-B/32", "", sha256_file(cached), 1),
    }
    monkeypatch.setattr(registry, "clip_entries", lambda: fake)
    monkeypatch.setattr("doorways_engine.model_files.clip_entries", lambda: fake)
    with pytest.raises(CorruptCheckpointError):
        load_models(GenerationConfig(vqgan="demo", clip="ViT-B/32"), model_dir=models)
    assert not marker.exists()


def test_the_demo_clip_file(evil_clip, marker, torch_env, model_dir, tmp_path):
    models = _demo_copy(model_dir, tmp_path)
    shutil.copy(evil_clip, models / "demo" / "clip-tiny.pt")
    with pytest.raises(CorruptCheckpointError):
        load_models(GenerationConfig(vqgan="demo", clip="demo"), model_dir=models)
    assert not marker.exists()


def test_a_theme_pack_naming_a_clip_file_loaded_by_a_worker(
    evil_clip, marker, torch_env, model_dir, tmp_path, capsys
):
    from doorways_tui.store import Library
    from doorways_tui.worker.loop import run_worker
    from doorways_tui.worker.options import WorkerOptions

    theme = tmp_path / "shared.toml"
    theme.write_text(
        f"""name = "Shared"
seeds = 1
[settings]
size = "64x64"
steps = 2
cutn = 4
vqgan = "demo"
clip = "{evil_clip}"
[[groups]]
name = "G"
pairs = [["Sea", "Sky"]]
""",
        encoding="utf-8",
    )
    lib_path = tmp_path / "lib"
    assert main(["--library", str(lib_path), "theme", "queue", str(theme)]) == 0
    capsys.readouterr()
    options = WorkerOptions(
        device="cpu", model_dir=model_dir, worker_id="w-trust", exit_when_idle=True, poll_s=0.05
    )
    with Library.open(lib_path) as lib:
        run_worker(lib, options, install_signals=False)
        jobs = lib.queue.jobs()
        assert jobs and all(j.status == "failed" for j in jobs)
        assert all(str(evil_clip) in (j.error or "") for j in jobs)
    assert not marker.exists()


def test_malicious_vqgan_checkpoint(marker, torch_env, model_dir, tmp_path):
    from doorways_engine.model_files import demo_paths

    yaml_path, ckpt_path, _ = demo_paths(model_dir)
    state = safe_torch_load(ckpt_path)
    del state["callbacks"]
    state["state_dict"]["evil"] = _OpensAFile(marker)
    torch.save(state, tmp_path / "evil.ckpt")
    with pytest.raises(
        CorruptCheckpointError, match=r"names the global \S*open, which could run code"
    ):
        load_vqgan(yaml_path, tmp_path / "evil.ckpt")
    assert not marker.exists()


# -- real CLIP files still load --------------------------------------------------------


def _clip_build_model_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What clip's own build_model makes of these weights (it rounds some to fp16)."""
    from clip.model import build_model

    return build_model(dict(model.state_dict())).float().state_dict()


def _resnet_clip() -> torch.nn.Module:
    from clip.model import CLIP

    with torch.random.fork_rng():
        torch.manual_seed(3)
        model = CLIP(32, 64, (1, 1, 1, 1), 4, None, 77, 49408, 64, 1, 1)
    return model.eval()


def _vit_clip_at(resolution: int) -> torch.nn.Module:
    from clip.model import CLIP

    with torch.random.fork_rng():
        torch.manual_seed(4)
        model = CLIP(32, resolution, 2, 64, 8, 77, 49408, 64, 1, 2)
    return model.eval()


def _trace(model: torch.nn.Module, path: Path) -> Path:
    size = model.visual.input_resolution
    image, text = torch.zeros(1, 3, size, size), torch.zeros(1, 77, dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace_module(
            model,
            {"forward": (image, text), "encode_image": image, "encode_text": text},
            check_trace=False,  # re-running each method to compare costs seconds
        )
        torch.jit.save(traced, str(path))
    return path


@pytest.mark.parametrize("form", ["torchscript", "state dict", "legacy state dict"])
def test_real_layout_clip_files_load_with_the_source_weights(form, tmp_path, torch_env):
    source = build_tiny_clip(seed=7)
    path = tmp_path / "clip.pt"
    if form == "torchscript":
        write_tiny_clip_torchscript(path, seed=7)
        assert any(n.endswith("/constants.pkl") for n in zipfile.ZipFile(path).namelist())
    elif form == "state dict":
        write_tiny_clip(path, seed=7)
    else:
        torch.save(source.state_dict(), path, _use_new_zipfile_serialization=False)
    loaded = load_clip_file(path)
    want = _clip_build_model_weights(source)
    got = loaded.state_dict()
    assert set(got) == set(want)
    for key, value in want.items():
        assert torch.equal(got[key], value), key
        assert torch.allclose(got[key], source.state_dict()[key].float(), atol=1e-2), key
    tokens = torch.zeros(1, 77, dtype=torch.long)
    with torch.no_grad():
        assert loaded.encode_text(tokens).shape == (1, 32)
        assert loaded.encode_image(torch.zeros(1, 3, 32, 32)).shape == (1, 32)


@pytest.mark.parametrize("make", [_resnet_clip, lambda: _vit_clip_at(48)], ids=["resnet", "vit48"])
def test_traced_clip_of_other_architectures_and_sizes(make, tmp_path):
    source = make()
    loaded = load_clip_file(_trace(source, tmp_path / "c.pt"))
    assert loaded.visual.input_resolution == source.visual.input_resolution
    want = _clip_build_model_weights(source)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in want.items())


def test_traced_clip_loads_through_load_models(tmp_path, model_dir):
    path = write_tiny_clip_torchscript(tmp_path / "traced.pt", seed=2)
    models = load_models(GenerationConfig(vqgan="demo", clip=str(path)), model_dir=model_dir)
    assert models.cut_size == 32 and models.embed_text("a door").shape == (32,)


def test_weights_that_share_one_storage_are_refused(tmp_path):
    """Many names on one small storage could describe a model far larger than the file."""
    state = build_tiny_clip().state_dict()
    base = state["transformer.resblocks.0.mlp.c_fc.weight"]
    state["transformer.resblocks.0.mlp.c_proj.weight"] = base.view(-1)[: 64 * 256].view(64, 256)
    torch.save(state, tmp_path / "shared.pt")
    with pytest.raises(CorruptCheckpointError, match="share memory"):
        load_clip_file(tmp_path / "shared.pt")


def test_no_source_file_calls_an_unsafe_loader():
    """No Doorways path may call torch.jit.load, clip.load, or torch.load at all."""
    pattern = re.compile(r"\b(torch\.jit\.load|jit\.load|clip\.load|torch\.load)\s*\(")
    found = []
    for folder in ("engine", "doorways_tui", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line) and not line.lstrip().startswith("#"):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


# -- checkpoints that declare more than they hold --------------------------------------


def _write_raw_zip(path: Path, entries: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip written by hand from (name, payload, method, declared size, crc), so an entry
    can be pre-compressed data that inflates to far more (a bomb)."""
    out, central = bytearray(), bytearray()
    for text, payload, method, file_size, crc in entries:
        name, offset = text.encode(), len(out)
        fields = (20, 0, method, 0, 0, crc, len(payload), file_size, len(name), 0)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name + payload
        central += (
            struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, offset) + name
        )
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0
    )
    path.write_bytes(bytes(out + central + end))


class _Storage:
    """Pickled as storage "0" (a persistent id), as torch.save writes storages."""


class _Tensor:
    """Pickled as ``_rebuild_tensor_v2`` over storage "0", then, with a ``state``, as a
    BUILD onto the rebuilt tensor (which calls ``Tensor.__setstate__``)."""

    def __init__(
        self, storage: _Storage, numel: int, state: tuple | None = None, view: tuple = ()
    ) -> None:
        self.storage, self.numel, self.state = storage, numel, state
        self.view = view or (0, (numel,), (1,))  # (offset, size, stride) as declared

    def __reduce__(self):
        from collections import OrderedDict

        args = (self.storage, *self.view, False, OrderedDict())
        extra = () if self.state is None else (self.state,)
        return (torch._utils._rebuild_tensor_v2, args, *extra)


def _pickle_with_storage(obj: object, storage: _Storage, numel: int) -> bytes:
    import io

    class Pickler(pickle.Pickler):
        def persistent_id(self, found):
            if found is storage:
                return ("storage", torch.FloatStorage, "0", "cpu", numel)
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _pickled_state_declaring(numel: int) -> bytes:
    """data.pkl of {'state_dict': {'w': tensor}} whose storage says it has ``numel`` floats."""
    storage = _Storage()
    return _pickle_with_storage({"state_dict": {"w": _Tensor(storage, numel)}}, storage, numel)


@pytest.mark.parametrize("build", ["re-view", "hooks"])
def test_a_pickle_that_builds_onto_a_tensor_is_refused(build, tmp_path):
    """Tensor.__setstate__ re-views the tensor (set_(source, 0, (10**9,), (0,))) or sets
    backward hooks (any callable the unpickler lets in); both are refused."""
    import zlib

    from doorways_engine.safe_load import read_torch_file

    storage = _Storage()
    states = {"re-view": (_Tensor(storage, 4), 0, (10**9,), (0,)), "hooks": (False, None, {0: set})}
    pkl = _pickle_with_storage({"w": _Tensor(storage, 4, states[build])}, storage, 4)
    data = bytes(16)
    path = tmp_path / "built.pt"
    _write_raw_zip(
        path,
        [
            ("archive/data.pkl", pkl, 0, len(pkl), zlib.crc32(pkl)),
            ("archive/data/0", data, 0, len(data), zlib.crc32(data)),
        ],
    )
    with pytest.raises(CorruptCheckpointError, match="larger than its storage|sets hooks"):
        read_torch_file(path, max_bytes=1 << 20)


def _pickle_legacy(obj: object, storage: _Storage, numel: int) -> bytes:
    """A pre-1.6 torch.save file (what _use_new_zipfile_serialization=False writes): three
    header pickles, the object, its storage keys, then each storage's count and bytes."""
    import io

    class Pickler(pickle.Pickler):
        def persistent_id(self, found):
            if found is storage:
                return ("storage", torch.FloatStorage, "0", "cpu", numel, None)
            return None

    buf = io.BytesIO()
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}
    for header in (0x1950A86A20F9469CFC6C, 1001, sys_info):
        pickle.dump(header, buf, protocol=2)
    Pickler(buf, protocol=2).dump(obj)
    pickle.dump(["0"], buf, protocol=2)
    buf.write(struct.pack("<q", numel) + bytes(4 * numel))
    return buf.getvalue()


def _write_torch_file(path: Path, form: str, obj: object, storage: _Storage, numel: int) -> Path:
    import zlib

    if form == "legacy":
        path.write_bytes(_pickle_legacy(obj, storage, numel))
        return path
    pkl, data = _pickle_with_storage(obj, storage, numel), bytes(4 * numel)
    _write_raw_zip(
        path,
        [
            ("archive/data.pkl", pkl, 0, len(pkl), zlib.crc32(pkl)),
            ("archive/data/0", data, 0, len(data), zlib.crc32(data)),
        ],
    )
    return path


@pytest.fixture
def storage_growth(monkeypatch) -> list[int]:
    """The largest storage, in bytes, that any ``Tensor.set_`` call left behind."""
    seen = [0]
    set_ = torch.Tensor.set_

    def spy(self, *args, **kwargs):
        try:
            return set_(self, *args, **kwargs)
        finally:
            seen[0] = max(seen[0], self.untyped_storage().nbytes())

    monkeypatch.setattr(torch.Tensor, "set_", spy)
    return seen


# (offset, size, stride) over a 4-float storage: each reaches past its end
_OUT_OF_REACH = {
    "huge stride": (0, (2,), (10**9,)),
    "huge offset": (10**9, (1,), (1,)),
    "one past the end": (1, (4,), (1,)),
    "2-d stride": (0, (2, 2), (3, 1)),
}


@pytest.mark.parametrize("form", ["legacy", "zip"])
@pytest.mark.parametrize("how", ["rebuild", "build"])
@pytest.mark.parametrize("view", list(_OUT_OF_REACH.values()), ids=list(_OUT_OF_REACH))
def test_a_view_reaching_past_its_storage_is_refused_without_growing_it(
    form, how, view, storage_growth, tmp_path
):
    """A 4-float storage with a view of stride 10**9: set_ would grow the storage to 4 GB
    (legacy files were read into resizable storages). Refused before any storage grows,
    whether the rebuild call declares the view or a BUILD re-views the tensor after."""
    from doorways_engine.safe_load import UnsafeFileError, read_torch_file

    storage = _Storage()
    if how == "rebuild":
        tensor = _Tensor(storage, 4, view=view)
    else:
        tensor = _Tensor(storage, 4, state=(_Tensor(storage, 4), *view))
    path = _write_torch_file(tmp_path / f"{form}.pt", form, {"w": tensor}, storage, 4)
    assert path.stat().st_size < 1000
    start = time.perf_counter()
    error = UnsafeFileError if how == "rebuild" else CorruptCheckpointError
    with pytest.raises(error) as caught:
        read_torch_file(path, max_bytes=1 << 20)
    assert time.perf_counter() - start < 2
    assert len(str(caught.value).splitlines()) == 1
    assert storage_growth[0] <= 16


@pytest.mark.parametrize("form", ["legacy", "zip"])
def test_views_that_end_at_their_storage_end_still_load(form, storage_growth, tmp_path):
    """The bound is exact: views reaching the last element (and empty ones) are data."""
    from doorways_engine.safe_load import read_torch_file

    storage = _Storage()
    views = {
        "tail": (2, (2,), (1,)),
        "strided": (1, (2,), (2,)),
        "grid": (0, (2, 2), (2, 1)),
        "empty": (4, (0,), (1,)),
    }
    obj = {name: _Tensor(storage, 4, view=view) for name, view in views.items()}
    path = _write_torch_file(tmp_path / f"{form}.pt", form, obj, storage, 4)
    loaded = read_torch_file(path, max_bytes=1 << 20)
    assert {name: tuple(t.shape) for name, t in loaded.items()} == {
        "tail": (2,),
        "strided": (2,),
        "grid": (2, 2),
        "empty": (0,),
    }
    assert storage_growth[0] == 16


def test_a_small_zip_declaring_a_huge_tensor_is_refused_before_inflating(model_dir, tmp_path):
    import zlib

    from doorways_engine.model_files import demo_paths

    yaml_path = demo_paths(model_dir)[0]
    numel = 3 << 28  # 3 GiB of float32
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(bytes(1 << 20)) + deflate.flush(zlib.Z_FULL_FLUSH)
    bomb = block * (numel * 4 >> 20) + deflate.flush()
    pkl = _pickled_state_declaring(numel)
    path = tmp_path / "bomb.ckpt"
    _write_raw_zip(
        path,
        [
            ("archive/data.pkl", pkl, 0, len(pkl), zlib.crc32(pkl)),
            ("archive/version", b"3\n", 0, 2, zlib.crc32(b"3\n")),
            ("archive/data/0", bomb, 8, numel * 4, 0),  # deflated; never read this far
        ],
    )
    assert path.stat().st_size < 4_000_000
    start = time.perf_counter()
    with pytest.raises(CorruptCheckpointError, match="decompression bomb") as info:
        load_vqgan(yaml_path, path)
    assert time.perf_counter() - start < 5
    assert "\n" not in str(info.value)


def test_a_storage_declared_larger_than_its_entry_is_refused(model_dir, tmp_path):
    import zlib

    from doorways_engine.model_files import demo_paths

    yaml_path = demo_paths(model_dir)[0]
    pkl = _pickled_state_declaring(750_000_000)
    data = bytes(4096)
    path = tmp_path / "liar.ckpt"
    _write_raw_zip(
        path,
        [
            ("archive/data.pkl", pkl, 0, len(pkl), zlib.crc32(pkl)),
            ("archive/data/0", data, 0, len(data), zlib.crc32(data)),
        ],
    )
    with pytest.raises(CorruptCheckpointError, match=r"declares 3,000\.0 MB for data/0"):
        load_vqgan(yaml_path, path)


def test_a_checkpoint_larger_than_its_architecture_allows_is_refused(
    model_dir, tmp_path, monkeypatch
):
    import doorways_engine.vqgan
    from doorways_engine.model_files import demo_paths

    yaml_path, ckpt_path, _ = demo_paths(model_dir)
    load_vqgan(yaml_path, ckpt_path)  # fits the default bound
    monkeypatch.setattr(doorways_engine.vqgan, "CHECKPOINT_MARGIN", 1)
    monkeypatch.setattr(doorways_engine.vqgan, "CHECKPOINT_SLACK", 0)
    state = safe_torch_load(ckpt_path)
    del state["callbacks"]
    state["optimizer_states"] = [torch.zeros(8_000_000)]  # 32 MB: more than the model
    torch.save(state, tmp_path / "fat.ckpt")
    with pytest.raises(CorruptCheckpointError, match="more than the .* its model's architecture"):
        load_vqgan(yaml_path, tmp_path / "fat.ckpt")


def test_a_config_describing_a_giant_vqgan_is_refused_without_building_it(model_dir, tmp_path):
    from doorways_engine.model_files import demo_paths

    yaml_path, ckpt_path, _ = demo_paths(model_dir)
    giant = tmp_path / "giant.yaml"
    giant.write_text(yaml_path.read_text().replace("ch: 32", "ch: 100000"))
    start = time.perf_counter()
    with pytest.raises(BadConfigFileError, match="GB of weights"):
        load_vqgan(giant, ckpt_path)
    assert time.perf_counter() - start < 10


def test_known_vqgan_checksums_are_checked_before_loading(model_dir, tmp_path, monkeypatch):
    import dataclasses

    from doorways_engine import registry
    from doorways_engine.model_files import demo_paths, vqgan_paths

    name = "vqgan_imagenet_f16_16384"
    models = _demo_copy(model_dir, tmp_path)
    yaml_src, ckpt_src, _ = demo_paths(model_dir)
    yaml_path, ckpt_path = vqgan_paths(models, name)
    yaml_path.parent.mkdir(parents=True)
    shutil.copy(yaml_src, yaml_path)
    shutil.copy(ckpt_src, ckpt_path)
    entry = registry.VQGANS[name]
    right = dataclasses.replace(
        entry, config_sha256=sha256_file(yaml_path), checkpoint_sha256=sha256_file(ckpt_path)
    )
    monkeypatch.setitem(registry.VQGANS, name, right)
    load_models(GenerationConfig(vqgan=name, clip="demo"), model_dir=models)
    wrong = dataclasses.replace(right, checkpoint_sha256="0" * 64)
    monkeypatch.setitem(registry.VQGANS, name, wrong)
    with pytest.raises(ChecksumError, match="not the release"):
        load_models(GenerationConfig(vqgan=name, clip="demo"), model_dir=models)


def test_every_registry_url_is_https():
    from doorways_engine.registry import VQGANS, clip_entries

    urls = [u for e in VQGANS.values() for u in (e.config_url, e.checkpoint_url)]
    urls += [e.url for e in clip_entries().values()]
    assert urls and all(u.startswith("https://") for u in urls), urls

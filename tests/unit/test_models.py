"""The real loading path, exercised with tiny models saved in the real formats."""

import io
import os
import pickle
import re
import sys

import pytest
import torch

from doorways_engine import GenerationConfig, load_models, pick_device, resolve_models
from doorways_engine.errors import (
    BadConfigFileError,
    ConfigMismatchError,
    CorruptCheckpointError,
    DeviceError,
    ModelFileMissingError,
    UnknownModelError,
)
from doorways_engine.tiny import write_tiny_clip, write_tiny_vqgan
from doorways_engine.vqgan import load_vqgan, safe_torch_load
from tests.fixtures_store import ROOT


@pytest.fixture(scope="module")
def vq_files(tmp_path_factory):
    return write_tiny_vqgan(tmp_path_factory.mktemp("vq"))


def test_lightning_checkpoint_loads_without_lightning(vq_files):
    yaml_path, ckpt_path = vq_files
    assert "pytorch_lightning.callbacks.model_checkpoint" not in sys.modules
    raw = safe_torch_load(ckpt_path)
    assert any(k.startswith("loss.") for k in raw["state_dict"])  # the real layout
    assert raw["global_step"] == 1234
    model = load_vqgan(yaml_path, ckpt_path)
    assert model.spec.factor == 16 and model.spec.n_embed == 128
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.training
    assert torch.equal(model.codebook, raw["state_dict"]["quantize.embedding.weight"])
    x = model.decode(torch.randn(1, 32, 2, 3))
    assert x.shape == (1, 3, 32, 48)


def test_gumbel_vqgan_loads_by_its_own_keys(tmp_path):
    yaml_path, ckpt_path = write_tiny_vqgan(tmp_path, gumbel=True)
    model = load_vqgan(yaml_path, ckpt_path)
    assert model.spec.kind == "gumbel" and model.spec.factor == 8
    z = model.encode(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert z.shape == (1, 32, 4, 4)
    # every encoded vector is a codebook entry
    flat = z.permute(0, 2, 3, 1).reshape(-1, 32)
    assert (flat[:, None] - model.codebook[None]).norm(dim=-1).min(1).values.max() < 1e-5


def test_net2net_config_loads_first_stage(tmp_path, vq_files):
    yaml_path, ckpt_path = vq_files
    from omegaconf import OmegaConf

    first = OmegaConf.load(yaml_path).model
    n2n = {
        "model": {
            "target": "taming.models.cond_transformer.Net2NetTransformer",
            "params": {"first_stage_config": first},
        }
    }
    OmegaConf.save(OmegaConf.create(n2n), tmp_path / "n2n.yaml")
    state = safe_torch_load(ckpt_path)["state_dict"]
    prefixed = {"first_stage_model." + k: v for k, v in state.items()}
    prefixed["transformer.tok_emb.weight"] = torch.zeros(2, 2)
    torch.save({"state_dict": prefixed}, tmp_path / "n2n.ckpt")
    model = load_vqgan(tmp_path / "n2n.yaml", tmp_path / "n2n.ckpt")
    assert torch.equal(model.codebook, state["quantize.embedding.weight"])


def test_clip_loads_through_clip_load(model_dir):
    models = load_models(
        GenerationConfig(vqgan="demo", clip="demo"), device="cpu", model_dir=model_dir
    )
    assert models.cut_size == 32
    assert next(models.clip.parameters()).dtype == torch.float32
    e1 = models.embed_text("entrance to heaven")
    assert e1.shape == (32,)
    assert models.embed_text("entrance to heaven") is e1  # cached per prompt


def test_missing_files(tmp_path, vq_files):
    yaml_path, ckpt_path = vq_files
    with pytest.raises(ModelFileMissingError, match="not found"):
        load_vqgan(tmp_path / "none.yaml", ckpt_path)
    with pytest.raises(ModelFileMissingError, match="checkpoint not found"):
        load_vqgan(yaml_path, tmp_path / "none.ckpt")
    cfg = GenerationConfig(vqgan="vqgan_imagenet_f16_16384", clip="demo")
    with pytest.raises(
        ModelFileMissingError, match="doorways models fetch vqgan_imagenet_f16_16384"
    ):
        resolve_models(cfg, tmp_path)


def test_truncated_checkpoint(tmp_path, vq_files):
    yaml_path, ckpt_path = vq_files
    data = ckpt_path.read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpointError, match="truncated"):
        load_vqgan(yaml_path, tmp_path / "cut.ckpt")
    (tmp_path / "tiny.ckpt").write_bytes(data[:100])
    with pytest.raises(CorruptCheckpointError, match="only 100 bytes"):
        load_vqgan(yaml_path, tmp_path / "tiny.ckpt")


def test_html_error_page_saved_as_config(tmp_path, vq_files):
    _, ckpt_path = vq_files
    page = tmp_path / "model.yaml"
    page.write_text("<!DOCTYPE html><html><body>Link does not exist :-(</body></html>")
    with pytest.raises(BadConfigFileError, match="HTML page"):
        load_vqgan(page, ckpt_path)


def test_config_that_is_not_yaml_or_not_a_vqgan(tmp_path, vq_files):
    _, ckpt_path = vq_files
    (tmp_path / "a.yaml").write_text("model: [unclosed\n  - : :")
    with pytest.raises(BadConfigFileError, match="not valid YAML"):
        load_vqgan(tmp_path / "a.yaml", ckpt_path)
    (tmp_path / "b.yaml").write_text("model:\n  target: some.Other\n")
    with pytest.raises(BadConfigFileError, match="not a VQGAN"):
        load_vqgan(tmp_path / "b.yaml", ckpt_path)


def test_config_checkpoint_mismatch(tmp_path, vq_files):
    yaml_path, ckpt_path = vq_files
    gumbel_yaml, gumbel_ckpt = write_tiny_vqgan(tmp_path, gumbel=True)
    with pytest.raises(ConfigMismatchError, match="does not match"):
        load_vqgan(yaml_path, gumbel_ckpt)
    (tmp_path / "wide.yaml").write_text(
        yaml_path.read_text().replace("n_embed: 128", "n_embed: 256")
    )
    with pytest.raises(ConfigMismatchError, match="quantize.embedding.weight"):
        load_vqgan(tmp_path / "wide.yaml", ckpt_path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_code_bearing_checkpoint_is_refused(tmp_path, vq_files):
    yaml_path, ckpt_path = vq_files
    state = safe_torch_load(ckpt_path)
    del state["callbacks"]  # read back as inert records, which torch.save would name
    state["evil"] = _Evil()
    torch.save(state, tmp_path / "evil.ckpt")
    with pytest.raises(CorruptCheckpointError, match=r"refused: it names the global \w+\.system"):
        load_vqgan(yaml_path, tmp_path / "evil.ckpt")
    buf = io.BytesIO()
    pickle.dump({"a": 1}, buf)
    (tmp_path / "plain.pkl").write_bytes(buf.getvalue() * 200)
    with pytest.raises(CorruptCheckpointError):
        load_vqgan(yaml_path, tmp_path / "plain.pkl")


def test_unknown_model_names(tmp_path):
    with pytest.raises(UnknownModelError, match="unknown VQGAN 'nope'.*vqgan_imagenet_f16_16384"):
        resolve_models(GenerationConfig(vqgan="nope", clip="demo"), tmp_path)
    with pytest.raises(UnknownModelError, match="unknown CLIP model 'ViT-Z'.*ViT-B/32"):
        resolve_models(GenerationConfig(vqgan="demo", clip="ViT-Z"), tmp_path)


def test_corrupt_clip_file(tmp_path, model_dir):
    bad = tmp_path / "clip.pt"
    bad.write_bytes(b"\x80\x02" + b"x" * 5000)
    with pytest.raises(CorruptCheckpointError):
        load_models(
            GenerationConfig(vqgan="demo", clip=str(bad)), device="cpu", model_dir=model_dir
        )
    other = write_tiny_clip(tmp_path / "ok.pt", seed=5)
    models = load_models(
        GenerationConfig(vqgan="demo", clip=str(other)), device="cpu", model_dir=model_dir
    )
    assert models.cut_size == 32


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_cuda_device():
    with pytest.raises(DeviceError, match="CUDA is not available"):
        pick_device("cuda:1")
    with pytest.raises(DeviceError, match="not a device name"):
        pick_device("gpu-please")
    assert pick_device("auto").type == "cpu"


def test_offline_fetch_names_every_missing_file_at_once(tmp_path, monkeypatch, capsys):
    import dataclasses

    from doorways_engine import registry
    from doorways_tui.cli import main

    name = "vqgan_imagenet_f16_16384"
    dead = dataclasses.replace(
        registry.VQGANS[name],
        config_url="http://127.0.0.1:9/model.yaml",
        checkpoint_url="http://127.0.0.1:9/last.ckpt",
    )
    monkeypatch.setitem(registry.VQGANS, name, dead)
    monkeypatch.setenv("DOORWAYS_MODEL_DIR", str(tmp_path))
    code = main(["models", "fetch", name])
    out, err = capsys.readouterr()
    assert "0/?" not in out
    assert code == 2
    from doorways_engine.model_files import vqgan_paths

    for dest in vqgan_paths(tmp_path, name):
        assert str(dest) in err
    assert len(err.strip().splitlines()) == 5  # the message, then URL -> path for each file
    assert "0/?" not in err


def test_fetch_unknown_name_fails_before_any_progress_bar(tmp_path, monkeypatch, capsys):
    from doorways_tui.cli import main

    monkeypatch.setenv("DOORWAYS_MODEL_DIR", str(tmp_path))
    code = main(["models", "fetch", "nosuchmodel"])
    out = capsys.readouterr()
    assert code == 2
    assert "unknown model 'nosuchmodel'" in out.err
    assert "bytes" not in out.out + out.err and "0/?" not in out.out + out.err


@pytest.mark.parametrize("width", [80, 70])
def test_models_list_never_cuts_names_and_says_whether_demo_is_built(
    tmp_path, monkeypatch, capsys, width
):
    from doorways_engine.model_files import demo_paths
    from doorways_engine.registry import VQGANS, clip_entries
    from doorways_tui.cli import main

    monkeypatch.setenv("DOORWAYS_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in [*VQGANS, *clip_entries()]:
        assert name in out, name
    assert "not built" in out
    for path in demo_paths(tmp_path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "not built" not in out and "built" in out


def test_verify_demo_says_there_is_nothing_to_verify(tmp_path, monkeypatch, capsys):
    """The demo models are built here, never downloaded: verify says so (it used to call
    demo an unknown CLIP model, then list it as known)."""
    from doorways_engine.model_files import demo_paths
    from doorways_tui.cli import main

    monkeypatch.setenv("DOORWAYS_MODEL_DIR", str(tmp_path))
    assert main(["models", "verify", "demo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        "demo: not built yet (built on first use);"
        " tiny models made here, not downloaded: nothing to verify\n"
    )
    for path in demo_paths(tmp_path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert main(["models", "verify", "demo"]) == 0
    assert capsys.readouterr().out.startswith("demo: built; ")
    # A typo is named before anything is hashed, with every name fetch knows.
    assert main(["models", "verify", "demo", "ViT-B/99"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "unknown model 'ViT-B/99'" in err and "ViT-B/32" in err


_DOCS = [p for p in ROOT.rglob("*.md") if ".venv" not in p.parts and ".git" not in p.parts]


@pytest.mark.parametrize("doc", _DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_model_the_docs_name_is_in_the_registry(doc):
    """``data/themes/README.md`` once told users to queue ``vqgan_gumbel_f8_8192``, which
    no registry has: every model name a doc passes to the CLI must resolve."""
    from doorways_engine.registry import VQGANS, clip_entries

    text = doc.read_text(encoding="utf-8")
    names = re.findall(r"--(?:vqgan|clip) ([^\s`]+)", text)
    for words in re.findall(r"models (?:fetch|verify) ([^`#\n]+)", text):
        names += words.split()
    for name in names:
        if name in ("NAME", "demo") or name.startswith(("/", "~", ".", "<")):
            continue  # a placeholder, the built demo models, or a local path
        assert name in VQGANS or name in clip_entries(), f"{doc.name}: {name}"

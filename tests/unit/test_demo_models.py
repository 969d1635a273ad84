"""The demo models answer the prompt: a demo theme shows as many pictures as it has prompts.

Plain random weights embedded every prompt alike and put the codes too far apart for a
40-step run to reach another one, so every prompt gave the seed's first picture.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from doorways_engine import GenerationConfig, generate
from doorways_engine.model_files import demo_paths
from doorways_engine.tiny import DEMO_STAMP, DEMO_VERSION, build_tiny_clip, ensure_demo_models
from doorways_tui.workstation.demo import DEMO_CHILDREN, DEMO_CONFIG, DEMO_ROOT, DEMO_STYLE

# Mean absolute difference, 0-255 per channel, that two pictures must at least differ by.
# Plain random weights gave 0.0 for every pair of prompts; these give ~30, two seeds ~40.
VISIBLY_DIFFERENT = 12.0
# The demo's settings at a quarter of the pixels and half the steps: cheaper, same verdict.
QUICK = {"width": 64, "height": 32, "steps": 20}


def _demo_image(models, prompt: str, seed: int = 0) -> np.ndarray:
    config = {**DEMO_CONFIG, **QUICK, "prompts": prompt, "style": DEMO_STYLE, "seed": seed}
    return np.asarray(generate(GenerationConfig(**config), models=models).image, dtype=np.float32)


@pytest.fixture(scope="module")
def demo_images(demo_models) -> list[np.ndarray]:
    """The demo's three variants at seed 0: each child differs from the root in a word."""
    prompts = [DEMO_ROOT, *(prompt for prompt, _ in DEMO_CHILDREN)]
    return [_demo_image(demo_models, prompt) for prompt in prompts]


def test_different_prompts_at_one_seed_give_visibly_different_pictures(demo_images):
    for i, j in ((0, 1), (0, 2), (1, 2)):
        difference = np.abs(demo_images[i] - demo_images[j]).mean()
        assert difference > VISIBLY_DIFFERENT, (i, j, difference)


def test_one_prompt_and_seed_give_the_same_picture_again(demo_models, demo_images):
    assert np.array_equal(_demo_image(demo_models, DEMO_ROOT), demo_images[0])


def test_the_text_tower_tells_prompts_one_word_apart():
    """CLIP's own init embeds these at cosine 0.998: one target for a whole theme."""
    import clip

    texts = [f"entrance to the {realm} realm by James Gurney" for realm in ("Moon", "Fall", "Sun")]
    with torch.no_grad():
        emb = F.normalize(build_tiny_clip().encode_text(clip.tokenize(texts)), dim=-1)
    cosines = (emb @ emb.T)[torch.triu_indices(3, 3, 1).unbind()]
    assert cosines.max() < 0.95, cosines


def test_a_demo_cache_of_another_version_is_rebuilt(tmp_path):
    paths = ensure_demo_models(tmp_path)
    stamp = demo_paths(tmp_path)[2].parent / DEMO_STAMP
    assert stamp.read_text().strip() == str(DEMO_VERSION)
    built = {name: path.read_bytes() for name, path in paths.items()}

    paths["clip"].write_bytes(b"kept")  # a current cache is read as it is, never rebuilt
    ensure_demo_models(tmp_path)
    assert paths["clip"].read_bytes() == b"kept"

    for path in paths.values():
        path.write_bytes(b"built by an older Doorways")
    stamp.write_text("1\n")
    ensure_demo_models(tmp_path)
    assert stamp.read_text().strip() == str(DEMO_VERSION)
    for name, path in paths.items():
        assert path.read_bytes() != b"built by an older Doorways", name
        assert path.read_bytes() == built[name], name

    stamp.unlink()  # a cache from before the stamp existed
    paths["vqgan_checkpoint"].write_bytes(b"old")
    ensure_demo_models(tmp_path)
    assert paths["vqgan_checkpoint"].read_bytes() != b"old" and stamp.is_file()

    stamp.write_bytes(b"\xff\xfe garbage")  # unreadable as text: rebuilt, no traceback
    paths["clip"].write_bytes(b"old")
    ensure_demo_models(tmp_path)
    assert paths["clip"].read_bytes() == built["clip"]
    assert stamp.read_text().strip() == str(DEMO_VERSION)

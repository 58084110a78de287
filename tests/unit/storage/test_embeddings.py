"""Stored embeddings: `label` keeps each content's pooled features (float16) under its backbone's fingerprint;
labelling again with the same backbone reuses them, a changed backbone embeds again; the quick head's sample of
the library is its smallest content hashes, answered ones left out."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.models import Checkpoint
from mobilabel.models.embedding import backbone_fingerprint
from mobilabel.storage import open_database
from mobilabel.storage.embedding_queries import count_embeddings, library_embeddings, library_sample
from mobilabel.storage.tables import Embedding
from mobilabel.storage.tables import Result as ResultRow
from mobilabel.versions.checkpoints import register_checkpoint
from tests.conftest import FLOWERS, IMAGENET_WEIGHTS


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def small_library(tmp_path: Path, count: int = 10) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    for path in sorted((FLOWERS / "val").glob("*/*.jpg"))[::12][:count]:
        shutil.copy(path, folder / f"{path.parent.name}-{path.name}")
    shutil.copy(next(folder.iterdir()), folder / "copy.jpg")  # one content at two paths: one embedding
    return folder


def test_label_keeps_one_embedding_per_content_that_the_head_reads_as_the_label(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        assert run("db", "upgrade").exit_code == 0
    folder = small_library(tmp_path)
    assert run("label", str(folder)).exit_code == 0
    imagenet = Checkpoint.load(IMAGENET_WEIGHTS)
    backbone = backbone_fingerprint(imagenet.state_dict)
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        assert count_embeddings(session, backbone) == 10
        sizes = session.scalars(select(func.length(Embedding.vector))).all()
        library = library_embeddings(session, backbone)
        labels = dict(session.execute(select(ResultRow.id, ResultRow.label)).all())
    assert set(sizes) == {1280 * 2}, "float16, 2,560 bytes an image"
    assert library.vectors.shape == (11, 1280) and library.vectors.dtype == np.float32
    assert len(set(library.content_hashes)) == 10
    # ImageNet's own head over the stored features gives the labels the full forward pass gave.
    weight, bias = imagenet.state_dict["classifier.1.weight"], imagenet.state_dict["classifier.1.bias"]
    logits = torch.from_numpy(library.vectors) @ weight.T + bias
    from_embeddings = [imagenet.classes[i] for i in logits.argmax(1).tolist()]
    assert from_embeddings == [labels[int(i)] for i in library.result_ids]


def test_an_unchanged_backbone_reuses_its_embeddings_and_a_changed_one_embeds_again(tmp_path: Path) -> None:
    folder = small_library(tmp_path, count=4)
    assert run("label", str(folder)).exit_code == 0
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        first = session.execute(select(Embedding.backbone, Embedding.content_hash, Embedding.created_at)).all()
    assert len(first) == 4

    imagenet = Checkpoint.load(IMAGENET_WEIGHTS)
    same_backbone = Checkpoint(imagenet.arch, imagenet.alpha, imagenet.classes[:], dict(imagenet.state_dict), source="head only")
    same_backbone.state_dict["classifier.1.bias"] = imagenet.state_dict["classifier.1.bias"] + 1.0
    register_checkpoint(db, same_backbone, activate=True)
    assert run("label", str(folder)).exit_code == 0
    with db.transaction() as session:
        assert session.execute(select(Embedding.backbone, Embedding.content_hash, Embedding.created_at)).all() == first

    changed = Checkpoint(imagenet.arch, imagenet.alpha, imagenet.classes[:], dict(imagenet.state_dict), source="new backbone")
    changed.state_dict["features.18.1.bias"] = imagenet.state_dict["features.18.1.bias"] + 0.5
    register_checkpoint(db, changed, activate=True)
    assert run("label", str(folder)).exit_code == 0
    with db.transaction() as session:
        backbones = dict(session.execute(select(Embedding.backbone, func.count()).group_by(Embedding.backbone)).all())
    assert backbones == {backbone_fingerprint(imagenet.state_dict): 4, backbone_fingerprint(changed.state_dict): 4}


def test_the_library_sample_is_the_smallest_content_hashes_leaving_out_those_asked(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        assert run("db", "upgrade").exit_code == 0
    assert run("label", str(small_library(tmp_path))).exit_code == 0
    backbone = backbone_fingerprint(Checkpoint.load(IMAGENET_WEIGHTS).state_dict)
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        library = library_embeddings(session, backbone)
        hashes = sorted(set(library.content_hashes))
        three = library_sample(session, backbone, 3, leaving_out={hashes[0], hashes[2]})
        every = library_sample(session, backbone, 100, leaving_out={hashes[0]})
    assert three.content_hashes == [hashes[1], *hashes[3:5]]
    row = library.content_hashes.index(hashes[1])
    np.testing.assert_array_equal(three.vectors[0], library.vectors[row])
    assert every.content_hashes == hashes[1:] and every.vectors.shape == (9, 1280), "one row per content"

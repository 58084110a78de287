"""Near ties of a reduced decode are settled by a full-size decode, so labels agree with the full decode's."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mobilabel.config import load_settings
from mobilabel.imaging import FULL_DECODE_PIXELS, ImageSource, bounded_min_side, load_source, read_picture
from mobilabel.models import Checkpoint, Classifier, Prediction
from mobilabel.pipeline.build import build_labeller
from mobilabel.pipeline.decoders import DECODERS, Decoded, Decoder, Reader
from mobilabel.pipeline.labeller import Labeller
from mobilabel.storage.results import ResultRecord
from tests.conftest import IMAGENET_WEIGHTS
from tests.phone_photos import phone_photo


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(Checkpoint.load(IMAGENET_WEIGHTS), engine="onnx", device="cpu")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, val_images: list[Path]) -> list[Path]:
    """Five flowers as camera photos of 1600x1200 (decoded at 5/8 scale for Resize(256)), one stored on its side."""
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for i, source in enumerate(val_images[::25][:5]):
        paths.append(folder / f"IMG_{i:04d}.jpg")
        phone_photo(source, paths[-1], i, 6 if i == 1 else 1, size=(1600, 1200))
    return paths


class CountingDecoder:
    """A decoder that records the files it decodes, then hands them to ``decoder``."""

    def __init__(self, decoder: Decoder) -> None:
        self.decoder = decoder
        self.paths: list[Path] = []

    def decode(self, source: ImageSource, classifier: Classifier) -> Decoded:
        self.paths.append(source.path)
        return self.decoder.decode(source, classifier)


def labelled(
    classifier: Classifier, paths: list[Path], margin: float, decoder: str
) -> tuple[dict[Path, ResultRecord], list[Path]]:
    """The records ``mobilabel label``'s labeller gives ``paths``, and the files it decoded again at full size."""
    labeller = Labeller(classifier, batch_size=2, decoder=decoder, refine_margin=margin)
    counting = CountingDecoder(labeller.reader.full)
    labeller.reader.full = counting
    return {Path(r.image_path): r for batch in labeller.label(paths) for r in batch.records}, counting.paths


def predicted(classifier: Classifier, items: list[Decoded]) -> list[Prediction]:
    return classifier.predict(classifier.stack([item.tensor for item in items]))


def reduced_and_full(classifier: Classifier, paths: list[Path], decoder: str) -> tuple[list[Prediction], list[Prediction]]:
    """Each photo's prediction from its reduced decode and from its full-size decode."""
    reader = Reader(10**9, decoder=decoder)
    reduced = [reader.read(p, classifier) for p in paths]
    assert all(item.reduced for item in reduced)
    full = [reader.read(p, classifier, reader.full) for p in paths]
    assert not any(item.reduced for item in full)
    return predicted(classifier, reduced), predicted(classifier, full)


def assert_from(record: ResultRecord, prediction: Prediction) -> None:
    assert record.label == prediction.label and record.confidence == pytest.approx(prediction.confidence, abs=1e-6)
    assert [r["label"] for r in record.top_k or []] == [label for label, _ in prediction.top_k]


@pytest.mark.parametrize("decoder", DECODERS)
def test_the_nearest_tie_is_decoded_again_at_full_size_and_the_confident_photos_are_not(
    classifier: Classifier, photos: list[Path], decoder: str
) -> None:
    reduced, full = reduced_and_full(classifier, photos, decoder)
    margins = sorted(p.margin for p in reduced)
    nearest = min(range(len(photos)), key=lambda i: reduced[i].margin)
    # A margin between the nearest tie's and the next: that photo alone is a near tie.
    records, redone = labelled(classifier, photos, (margins[0] + margins[1]) / 2, decoder)
    assert redone == [photos[nearest]]
    for i, path in enumerate(photos):
        assert_from(records[path], full[i] if i == nearest else reduced[i])


@pytest.mark.parametrize("decoder", DECODERS)
def test_every_photo_under_the_margin_takes_its_full_size_label(classifier: Classifier, photos: list[Path], decoder: str) -> None:
    _, full = reduced_and_full(classifier, photos, decoder)
    records, redone = labelled(classifier, photos, 1.0, decoder)
    assert sorted(redone) == photos  # each once
    for path, prediction in zip(photos, full, strict=True):
        assert_from(records[path], prediction)


def test_margin_zero_never_decodes_again(classifier: Classifier, photos: list[Path]) -> None:
    reduced, _ = reduced_and_full(classifier, photos, "torchvision")
    records, redone = labelled(classifier, photos, 0.0, "torchvision")
    assert redone == []
    for path, prediction in zip(photos, reduced, strict=True):
        assert_from(records[path], prediction)


def test_a_photo_decoded_at_full_size_already_is_never_decoded_again(classifier: Classifier, val_images: list[Path]) -> None:
    small = val_images[:6]  # the flowers' shorter sides are under 512: no reduced scale
    assert not any(Reader(10**9).read(p, classifier).reduced for p in small)
    for decoder in DECODERS:
        records, redone = labelled(classifier, small, 1.0, decoder)
        assert redone == [] and all(r.status == "ok" for r in records.values())


def test_the_setting_reaches_the_labeller(classifier: Classifier, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_labeller(load_settings(), classifier).refine_margin == 0.01
    monkeypatch.setenv("MOBILABEL_REFINE_MARGIN", "0")
    assert build_labeller(load_settings(), classifier).refine_margin == 0


def test_a_labeller_built_directly_refines_as_the_settings_default_does(classifier: Classifier) -> None:
    # bench and library callers build Labeller themselves: the same near ties settled as `mobilabel label` settles them.
    assert Labeller(classifier).refine_margin == load_settings().refine_margin == 0.01


def test_the_re_decode_of_a_big_scan_stays_within_the_pixel_budget(
    classifier: Classifier, tmp_path: Path, val_images: list[Path]
) -> None:
    """Issue 22, case 5: a near tie in a scan over FULL_DECODE_PIXELS is decoded again at the largest DCT scale
    within it, not at full size (a 182-megapixel scan would hold 546 MB as RGB)."""
    scan = tmp_path / "scan.jpg"
    Image.open(val_images[0]).convert("RGB").resize((9600, 6400)).save(scan, quality=80)  # 61.4 MP
    reader = Reader(10**9)
    assert reader.full.full_pixels == FULL_DECODE_PIXELS == 48_000_000
    picture = read_picture(load_source(scan), 10**9, 0, libjpeg=False, full_pixels=reader.full.full_pixels)
    assert picture.image.size == (4800, 3200) and picture.reduced  # 1/2 scale: 15.4 MP
    again = reader.read(scan, classifier, reader.full)
    assert again.tensor is not None and again.reduced
    records, redone = labelled(classifier, [scan], 1.0, "torchvision")
    assert redone == [scan] and records[scan].status == "ok"
    assert_from(records[scan], predicted(classifier, [again])[0])
    # The scale for other sizes: whole within the budget; 182 MP at 1/2, 400 MP at 1/4, beyond 3 GP at 1/8.
    assert bounded_min_side(8000, 6000, FULL_DECODE_PIXELS) == 0
    assert bounded_min_side(14000, 13000, FULL_DECODE_PIXELS) == 6500
    assert bounded_min_side(25000, 16000, FULL_DECODE_PIXELS) == 4000
    assert bounded_min_side(80000, 40000, FULL_DECODE_PIXELS) == 5000

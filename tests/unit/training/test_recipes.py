"""Training recipes: partial fine-tuning, schedule, augmentation, early stopping, weight averaging, the preset; flip TTA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from mobilabel.config import load_settings
from mobilabel.imaging import read_rgb
from mobilabel.models import Checkpoint, Classifier, Preprocessing
from mobilabel.models.architectures import backbone, backbone_blocks
from mobilabel.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from mobilabel.models.transforms import AUGMENTATIONS, ToNormalizedTensor
from mobilabel.pipeline.build import load_classifier
from mobilabel.storage import open_database
from mobilabel.training import TrainingError, TrainingOptions, find_split
from mobilabel.training.averaging import WeightAverage
from mobilabel.training.loader import make_loader
from mobilabel.training.loop import Learner, build_network, evaluate, fit, train_epoch
from mobilabel.training.recipes import PRESETS, apply_preset
from tests.conftest import IMAGENET_WEIGHTS
from tests.unit.cli.test_training_commands import one_error_line, run
from tests.unit.training.test_training import tiny_dataset


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_unfreeze_last_trains_exactly_the_last_k_blocks_and_what_follows_them(tmp_path: Path, engine: str) -> None:
    options = TrainingOptions(unfreeze_last=2, lr=1e-3, batch_size=4)
    model = build_network(options, 2, Checkpoint.load(IMAGENET_WEIGHTS))
    assert backbone_blocks(model) == list(range(1, 18)), "MobileNetV2 has 17 inverted-residual blocks: features[1:18]"
    learner = Learner(model, options, 224, engine)

    for name, parameter in model.named_parameters():
        layer = int(name.split(".")[1]) if name.startswith("features.") else None
        expected = layer is None or layer >= 16  # blocks 16 and 17, the last 1x1 conv (18), and the head
        assert parameter.requires_grad == expected, name
    (head_group, backbone_group) = learner.optimizer.param_groups
    assert head_group["lr"] == 1e-3 and backbone_group["lr"] == pytest.approx(1e-4), "the backbone's lr is a tenth by default"
    assert {id(p) for p in backbone_group["params"]} == {
        id(p) for layer in list(backbone(model).children())[16:] for p in layer.parameters()
    }

    images = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        reference = model.eval()(images)
    assert torch.allclose(learner.predict_logits(images), reference, atol=1e-4), "engine prefix + autograd tail = the network"

    split = find_split(tiny_dataset(tmp_path / "data", train_count=4, val_count=1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = make_loader(split.train, Preprocessing().train_transform(), 4, shuffle=True, workers=0, max_pixels=10**8)
    train_epoch(learner, loader)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "the unfrozen part learned"
    assert all(k.startswith(("features.16.", "features.17.", "features.18.", "classifier.")) for k in changed), changed
    assert not any(k.endswith(("running_mean", "running_var")) for k in changed), "BatchNorm keeps ImageNet's statistics"
    assert any(k.startswith("features.16.") and k.endswith("weight") for k in changed), "the unfrozen blocks' weights moved"


def test_unfreeze_last_out_of_range_is_refused_and_moot_when_every_block_trains() -> None:
    options = TrainingOptions(unfreeze_last=18)
    with pytest.raises(TrainingError, match="this network has 17 blocks; use --unfreeze"):
        Learner(build_network(options, 2, Checkpoint.load(IMAGENET_WEIGHTS)), options, 224, "torch")
    # --unfreeze and --from-scratch train every block, so a default --unfreeze-last cannot narrow them
    # (the CLI refuses the two given together: test_invalid_training_options_are_one_clear_error_line).
    assert TrainingOptions(unfreeze_last=2, unfreeze=True).tail_blocks == 0
    assert TrainingOptions(unfreeze_last=2, from_scratch=True).tail_blocks == 0
    assert TrainingOptions(unfreeze_last=2).tail_blocks == 2
    unfrozen = TrainingOptions(unfreeze_last=2, unfreeze=True)
    learner = Learner(build_network(unfrozen, 2, Checkpoint.load(IMAGENET_WEIGHTS)), unfrozen, 224, "torch")
    assert learner.trained_tail is None and all(p.requires_grad for p in learner.model.parameters())


@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")
def test_cosine_schedule_lowers_every_learning_rate_each_epoch_to_zero_at_the_end() -> None:
    options = TrainingOptions(unfreeze_last=1, schedule="cosine", epochs=4, lr=1e-3, backbone_lr=2e-4)
    learner = Learner(build_network(options, 2, Checkpoint.load(IMAGENET_WEIGHTS)), options, 224, "torch")
    rates = []
    for _ in range(4):
        rates.append([group["lr"] for group in learner.optimizer.param_groups])
        learner.end_epoch()
    assert rates[0] == [1e-3, 2e-4]
    assert all(a[0] > b[0] and a[1] > b[1] for a, b in zip(rates, rates[1:], strict=False))
    assert [group["lr"] for group in learner.optimizer.param_groups] == pytest.approx([0.0, 0.0], abs=1e-12)
    constant = Learner(build_network(TrainingOptions(), 2, Checkpoint.load(IMAGENET_WEIGHTS)), TrainingOptions(), 224, "torch")
    constant.end_epoch()
    assert [group["lr"] for group in constant.optimizer.param_groups] == pytest.approx([1e-3, 1e-4])  # the defaults: head, tail


@pytest.mark.parametrize("augment", AUGMENTATIONS)
def test_each_augmentation_gives_a_seeded_training_crop(val_images: list[Path], augment: str) -> None:
    transform = Preprocessing().train_transform(augment)
    image = read_rgb(val_images[0], 10**8)
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        outputs.append(transform(image))
    assert outputs[0].shape == (3, 224, 224) and torch.equal(outputs[0], outputs[1])
    torch.manual_seed(3)
    basic = Preprocessing().train_transform("basic")(image)
    assert torch.equal(basic, outputs[0]) == (augment == "basic"), "a stronger augmentation changes the pixels"


def test_min_crop_area_bounds_the_random_training_crop(val_images: list[Path]) -> None:
    photo = read_rgb(val_images[0], 10**8)
    side = min(photo.size)
    square = photo.crop((0, 0, side, side))  # aspect 1 lies within RandomResizedCrop's 3/4 to 4/3
    whole = ToNormalizedTensor(IMAGENET_MEAN, IMAGENET_STD)(square.resize((224, 224), Image.Resampling.BILINEAR))
    for seed in range(5):
        torch.manual_seed(seed)
        crop = Preprocessing().train_transform("basic", min_crop_area=1.0)(square)
        # a crop of all the area at aspect 1 is the whole square, resized (and perhaps mirrored)
        assert min((crop - whole).abs().max(), (crop - whole.flip(2)).abs().max()) < 0.05
    smaller = []
    for seed in range(5):
        torch.manual_seed(seed)
        crop = Preprocessing().train_transform("basic")(square)
        smaller.append(min((crop - whole).abs().max(), (crop - whole.flip(2)).abs().max()) > 0.5)
    assert all(smaller), "the default 8% bound crops part of the photo"


def test_patience_stops_when_validation_accuracy_stops_improving(tmp_path: Path) -> None:
    split = find_split(tiny_dataset(tmp_path / "data", train_count=2, val_count=2))
    # So small a learning rate cannot change a prediction: no epoch after the first is better.
    options = TrainingOptions(lr=1e-12, batch_size=4, patience=2, epochs=6)
    learner = Learner(build_network(options, 2, Checkpoint.load(IMAGENET_WEIGHTS)), options, 224, "torch")
    train_loader = make_loader(split.train, Preprocessing().train_transform(), 4, shuffle=True, workers=0, max_pixels=10**8)
    val_loader = make_loader(split.val, Preprocessing().eval_transform(), 4, shuffle=False, workers=0, max_pixels=10**8)
    result = fit(learner, train_loader, val_loader, options.epochs, patience=options.patience)
    assert (len(result.history), result.best_epoch) == (3, 1)
    assert evaluate(learner.predict_logits, val_loader).accuracy == result.best.accuracy


def test_weight_average_is_the_bias_corrected_moving_average_and_swaps_back() -> None:
    weight = nn.Parameter(torch.tensor([0.0, 1.0]))
    average = WeightAverage([weight], decay=0.5)
    for value in (4.0, 8.0):
        with torch.no_grad():
            weight.fill_(value)
        average.update()
    # the steps weigh decay ** (steps after them): 0.5 and 1; the start (0 and 1) weighs nothing
    expected = torch.tensor([(0.5 * 4 + 1 * 8) / 1.5] * 2)
    assert torch.allclose(average.averages()[0], expected)
    with average.swapped_in():
        assert torch.allclose(weight, expected)
    assert torch.equal(weight, torch.tensor([8.0, 8.0])), "training goes on from the trained weights"


def test_ema_decay_validates_and_keeps_the_average_not_the_last_step(tmp_path: Path) -> None:
    split = find_split(tiny_dataset(tmp_path / "data", train_count=3, val_count=1))
    options = TrainingOptions(unfreeze_last=1, batch_size=2, epochs=1, ema_decay=0.5)
    learner = Learner(build_network(options, 2, Checkpoint.load(IMAGENET_WEIGHTS)), options, 224, "torch")
    train_loader = make_loader(split.train, Preprocessing().train_transform(), 2, shuffle=True, workers=0, max_pixels=10**8)
    val_loader = make_loader(split.val, Preprocessing().eval_transform(), 2, shuffle=False, workers=0, max_pixels=10**8)
    head_weight = next(p for p in learner.model.parameters() if p.requires_grad and p.ndim == 2)  # the head's Linear
    last_step: list[torch.Tensor] = []
    fit(learner, train_loader, val_loader, options.epochs, on_progress=lambda p: last_step.append(head_weight.detach().clone()))
    assert learner.average is not None and learner.average.steps == 3  # 6 photos in batches of 2
    (index,) = [i for i, p in enumerate(learner.average.parameters) if p is head_weight]
    assert torch.equal(head_weight, learner.average.averages()[index])
    assert not torch.allclose(head_weight, last_step[2]), "the kept head is the average, not the last step's"


def test_label_smoothing_is_the_training_loss(tmp_path: Path) -> None:
    split = find_split(tiny_dataset(tmp_path / "data", train_count=2, val_count=1))
    loader = make_loader(split.train, Preprocessing().eval_transform(), 4, shuffle=False, workers=0, max_pixels=10**8)
    (batch,) = list(loader)
    losses = []
    for smoothing in (0.0, 0.3):
        options = TrainingOptions(label_smoothing=smoothing)
        torch.manual_seed(0)
        learner = Learner(build_network(options, 2, Checkpoint.load(IMAGENET_WEIGHTS)), options, 224, "torch")
        learner.model.eval()  # no dropout: the same logits for both
        with torch.no_grad():
            logits = learner.logits(batch.images)
        losses.append(
            (
                learner.step(batch)[0] / len(batch),
                nn.functional.cross_entropy(logits, batch.targets, label_smoothing=smoothing).item(),
            )
        )
    assert losses[0][0] == pytest.approx(losses[0][1], rel=1e-5) and losses[1][0] == pytest.approx(losses[1][1], rel=1e-5)
    assert losses[0][0] != pytest.approx(losses[1][0])


def test_the_finetune_preset_trains_and_explicit_options_override_it(tmp_path: Path) -> None:
    data = tiny_dataset(tmp_path / "data", train_count=3, val_count=1)
    result = run(
        "train", str(data), "--preset", "finetune", "--epochs", "1", "--batch-size", "4", "--output", str(tmp_path / "out")
    )
    assert result.exit_code == 0, result.output
    (metrics_file,) = (tmp_path / "out").glob("*.json")
    options = json.loads(metrics_file.read_text())["options"]
    assert options == {**options, **PRESETS["finetune"], "epochs": 1, "batch_size": 4}
    assert [e["epoch"] for e in json.loads(metrics_file.read_text())["epochs"]] == [1]
    assert apply_preset("finetune", {"lr": 5.0}, given={"lr"})["lr"] == 5.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unfreeze-last", "-1"], "Error: --unfreeze-last must be 0 or more, got -1"),
        (
            ["--unfreeze-last", "2", "--unfreeze"],
            "Error: --unfreeze-last trains part of the backbone; it cannot go with --unfreeze or --from-scratch",
        ),
        # an explicit 0 trains no part of the backbone, so it goes with --unfreeze (the next check speaks)
        (
            ["--unfreeze-last", "0", "--unfreeze", "--patience", "-2"],
            "Error: --patience must be 0 (never stop early) or more, got -2",
        ),
        (["--unfreeze-last", "40"], "Error: --unfreeze-last 40: this network has 17 blocks; use --unfreeze to train them all"),
        (
            ["--unfreeze-last", "0", "--backbone-lr", "1e-4"],
            "Error: --backbone-lr applies only to a backbone that trains (--unfreeze-last K or --unfreeze)",
        ),
        (["--unfreeze", "--backbone-lr", "0"], "Error: --backbone-lr must be positive, got 0.0"),
        (["--label-smoothing", "1"], "Error: --label-smoothing must be at least 0 and below 1, got 1.0"),
        (["--schedule", "linear"], "Error: unknown --schedule 'linear'; choose one of constant, cosine"),
        (["--augment", "mixup"], "Error: unknown --augment 'mixup'; choose one of basic, trivial, randaugment, colorjitter"),
        (["--patience", "-2"], "Error: --patience must be 0 (never stop early) or more, got -2"),
        (["--min-crop-area", "0"], "Error: --min-crop-area must be above 0 and at most 1, got 0.0"),
        (["--min-crop-area", "1.5"], "Error: --min-crop-area must be above 0 and at most 1, got 1.5"),
        (["--ema-decay", "1"], "Error: --ema-decay must be at least 0 and below 1, got 1.0"),
        (["--resolution", "0.1"], "Error: --resolution must be at least 0.143 (a 32-pixel input) and at most 1, got 0.1"),
        (["--resolution", "1.5"], "Error: --resolution must be at least 0.143 (a 32-pixel input) and at most 1, got 1.5"),
        (["--preset", "best"], "Error: unknown --preset 'best'; choose one of finetune"),
    ],
)
def test_invalid_training_options_are_one_clear_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    data = tiny_dataset(tmp_path / "data", train_count=1, val_count=1)
    assert one_error_line(run("train", str(data), "--epochs", "1", *args)) == message


def asymmetric_image(size: int = 224) -> torch.Tensor:
    """uint8 pixels (1, H, W, 3): a left-to-right colour ramp with a bright square near the left edge."""
    x = np.linspace(0, 255, size, dtype=np.float32)
    pixels = np.stack([np.tile(x, (size, 1)), np.tile(x[::-1], (size, 1)) * 0.5, np.full((size, size), 60.0)], axis=-1)
    pixels[40:100, 10:70] = (250, 250, 20)
    image = Image.fromarray(pixels.astype(np.uint8))
    return torch.from_numpy(np.array(image))[None]


def test_flip_tta_output_is_the_mean_softmax_of_the_image_and_its_mirror() -> None:
    checkpoint = Checkpoint.load(IMAGENET_WEIGHTS)
    plain = Classifier.load(checkpoint, engine="onnx", device="cpu", top_k=5)
    tta = Classifier.load(checkpoint, engine="onnx", device="cpu", top_k=5, tta="flip")
    pixels = asymmetric_image()
    assert not torch.equal(pixels, pixels.flip(2))
    image_p = torch.softmax(plain.engine.forward(pixels), dim=1)
    mirror_p = torch.softmax(plain.engine.forward(pixels.flip(2).contiguous()), dim=1)
    assert (image_p - mirror_p).abs().max() > 1e-3, "the mirror is labelled differently: the test can tell"
    expected = (image_p + mirror_p) / 2
    (prediction,) = tta.predict(pixels)
    for name, confidence in prediction.top_k:
        assert abs(confidence - expected[0, checkpoint.classes.index(name)].item()) < 1e-6
    assert prediction.label == checkpoint.classes[int(expected.argmax())]
    assert plain.predict(pixels)[0].confidence == pytest.approx(image_p.max().item(), abs=1e-6)


def test_tta_setting_is_off_by_default_and_a_bad_value_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().tta == "off"
    monkeypatch.setenv("MOBILABEL_TTA", "flip")
    assert load_settings().tta == "flip"
    monkeypatch.setenv("MOBILABEL_TTA", "mirror")
    refused = run("jobs")  # a bad setting exits 2, as a bad option does
    assert refused.exit_code == 2 and refused.output.strip().splitlines() == [
        "Error: MOBILABEL_TTA='mirror': Input should be 'off' or 'flip'"
    ]


def test_the_tta_setting_reaches_the_labelling_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_TTA", "flip")
    settings = load_settings()
    database = open_database(settings.database_url)
    assert load_classifier(settings, database, Checkpoint.load(IMAGENET_WEIGHTS), "onnx", "cpu").tta == "flip"

"""The training report as a PNG: loss and accuracy per epoch, and the confusion matrix.

Drawn from a version's stored metrics alone, so it can be drawn again on any
machine. Uses matplotlib's Agg canvas directly: no pyplot, no global backend,
no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def write_report_png(path: Path, metrics: dict[str, Any], title: str = "") -> Path:
    """Draw ``metrics`` (as ``train`` stores them in a version) to ``path``."""
    history = metrics["epochs"]
    classes = list(metrics["per_class"])
    confusion = metrics["confusion_matrix"]
    epochs = [e["epoch"] for e in history]

    figure = Figure(figsize=(15, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes, confusion_axes = figure.subplots(1, 3)

    loss_axes.plot(epochs, [e["train_loss"] for e in history], "o-", label="train")
    loss_axes.plot(epochs, [e["val_loss"] for e in history], "o-", label="val")
    loss_axes.set(title="loss", xlabel="epoch", xticks=epochs)
    loss_axes.legend()

    accuracy_axes.plot(epochs, [e["train_accuracy"] for e in history], "o-", label="train")
    accuracy_axes.plot(epochs, [e["val_accuracy"] for e in history], "o-", label="val")
    accuracy_axes.axvline(metrics["best_epoch"], color="grey", linestyle=":", label=f"kept: epoch {metrics['best_epoch']}")
    accuracy_axes.set(title="accuracy", xlabel="epoch", xticks=epochs, ylim=(0, 1.02))
    accuracy_axes.legend(loc="lower right")

    image = confusion_axes.imshow(confusion, cmap="Blues")
    figure.colorbar(image, ax=confusion_axes)
    confusion_axes.set(
        title=f"confusion (val accuracy {metrics['val_accuracy']:.3f})",
        xlabel="predicted",
        ylabel="true",
        xticks=range(len(classes)),
        yticks=range(len(classes)),
    )
    confusion_axes.set_xticklabels(classes, rotation=45, ha="right")
    confusion_axes.set_yticklabels(classes)
    peak = max((max(row) for row in confusion), default=0)
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            colour = "white" if count > peak / 2 else "black"
            confusion_axes.text(j, i, str(count), ha="center", va="center", color=colour)

    if title:
        figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path

"""The loss curve of a run as a PNG: training loss per step (raw and smoothed) and the
validation loss at each evaluation."""

from __future__ import annotations

from pathlib import Path

SMOOTHING = 0.9  # exponential moving average of the training loss (0: no smoothing)


def smooth(values: list[float], factor: float = SMOOTHING) -> list[float]:
    """Exponential moving average, bias-corrected (as in Adam) so the first points are
    not dragged towards zero or the first value."""
    out, average = [], 0.0
    for n, value in enumerate(values, start=1):
        average = factor * average + (1 - factor) * value
        out.append(average / (1 - factor**n) if factor else value)
    return out


def plot_losses(train: list, val: list, path: Path, *, title: str = "") -> Path:
    """train, val: [(step, loss)]. Writes `path` (PNG) and returns it."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    if train:
        steps, losses = zip(*train)
        axes.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8, label="train")
        axes.plot(steps, smooth(list(losses)), color="tab:blue", linewidth=1.8, label="train (smoothed)")
    if val:
        steps, losses = zip(*val)
        axes.plot(steps, losses, color="tab:orange", marker="o", linewidth=1.5, label="validation")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats per token)")
    axes.set_title(title or "loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path

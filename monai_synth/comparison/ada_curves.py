"""ADA's augmentation probability p and its overfitting heuristic r_t over a StyleGAN2-ADA run, and their plot.

Both are read from the loss history in the run's last checkpoint (window means of every logged value, against
kimg). r_t = E[sign(D(real))] rises towards 1 as the discriminator overfits its training images; ADA raises p
while r_t is above its target (Karras et al. 2020, section 3). A run without ADA keeps p at 0 and still
measures r_t, which is what shows the discriminator overfitting when nothing holds it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monai_synth.engines.checkpoint import latest_checkpoint, load_state
from monai_synth.engines.figures import save_figure

CURVE_KEYS = ("kimg", "ada_p", "r_t")


def ada_curve(run_dir: Path) -> dict[str, list[float]]:
    """``{"kimg", "ada_p", "r_t"}`` window means of a StyleGAN2-ADA run (``run_dir/checkpoints``); empty lists if none.

    ``r_t`` is empty for a run that had no ADA controller (its logged r_t is a constant placeholder, not a
    measurement).
    """
    path = latest_checkpoint(Path(run_dir) / "checkpoints")
    state = load_state(path) if path is not None else {}
    values = state.get("history", {}).get("values", {})
    curve = {key: [float(v) for v in values.get(key, [])] for key in CURVE_KEYS}
    if "ada" not in state:
        curve["r_t"] = []
    return curve


def plot_ada_curves(curves: Sequence[tuple[str, dict[str, list[float]]]], path: Path, target: float | None) -> Path:
    """Two panels against kimg, p and r_t, one colour per name (names may repeat, e.g. one line per seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(name for name, _ in curves))
    colours = {name: f"C{i}" for i, name in enumerate(names)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    labelled: set[str] = set()
    for name, curve in curves:
        label = None if name in labelled else name
        labelled.add(name)
        for ax, key in zip(axes, ("ada_p", "r_t")):
            ax.plot(curve["kimg"], curve[key], color=colours[name], label=label, linewidth=1.2)
    if target is not None:
        axes[1].axhline(target, color="grey", linestyle="--", linewidth=1, label=f"ADA target {target:g}")
    for ax, title in zip(axes, ("augmentation probability p", "overfitting heuristic r_t = E[sign(D(real))]")):
        ax.set_xlabel("kimg")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    return save_figure(fig, path)

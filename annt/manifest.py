"""Provenance of every output: resolved config, seed, package versions, machine, git commit, wall time."""
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .settings import Settings

PACKAGES = ("tensorflow", "tf_keras", "tensorpack", "adversarial-robustness-toolbox", "numpy")
REPO_ROOT = Path(__file__).resolve().parents[1]


def package_versions():
    """Versions of Python and of the packages that decide the numbers."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


#: The vector instruction sets that decide which kernels TensorFlow and oneDNN run, and so their summation order.
VECTOR_INSTRUCTIONS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def machine(cpuinfo="/proc/cpuinfo"):
    """The processor the numbers were computed on: another CPU's kernels sum in another order, which can flip a
    near-tie prediction (``instructions`` is None where ``cpuinfo`` cannot be read)."""
    fields = {}
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = fields.get("flags")
    return {"processor": fields.get("model name") or platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "instructions": None if flags is None else [name for name in VECTOR_INSTRUCTIONS if name in flags.split()]}


def machine_summary(described):
    """A :func:`machine` record in a few words, for reports ("machine not recorded" for None: records older than it)."""
    if described is None:
        return "machine not recorded"
    instructions = described["instructions"]
    return (f"{described['processor']}, {described['cores']} cores, "
            + ("instructions unknown" if instructions is None else
               "AVX-512" if "avx512f" in instructions else "AVX2, no AVX-512" if "avx2" in instructions
               else "no AVX2"))


def git_commit():
    """The commit of the ANNT checkout (``+dirty`` when it has uncommitted changes), or None."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "annt"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def command_line(argv=None):
    """The command that is running, as a user would type it (``python -m annt ...``)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "annt":
        argv[:1] = ["-m", "annt"]
    return shlex.join(["python"] + argv)


class RunRecord:
    """Provenance of one run: taken when it starts (code version, clock), written when it ends."""

    def __init__(self):
        self.started = time.time()
        self.git_commit = git_commit()

    def manifest(self, config, **extra):
        """The record written beside every output: config (:class:`~annt.settings.Settings` or a mapping),
        seed, versions, machine, commit, command, wall time."""
        config = config.as_config() if isinstance(config, Settings) else dict(config)
        return {
            "config": config,
            "seed": config.get("seed"),
            "versions": package_versions(),
            "machine": machine(),
            "git_commit": self.git_commit,
            "command": command_line(),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": round(time.time() - self.started, 2),
            **extra,
        }

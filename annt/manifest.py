"""Provenance of every output: resolved config, seed, package versions, git commit, wall time.

Also the one place that writes result files, atomically (temporary file, then rename).
"""
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .errors import ConfigError

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
        """The record written beside every output: config, seed, versions, commit, command, wall time."""
        return {
            "config": config,
            "seed": config.get("seed"),
            "versions": package_versions(),
            "git_commit": self.git_commit,
            "command": command_line(),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": round(time.time() - self.started, 2),
            **extra,
        }


def check_output_folder(folder, output, key="output.dir"):
    """Refuse an existing output folder unless ``output.resume`` or ``output.overwrite`` is set."""
    if Path(folder).exists() and not (output["resume"] or output["overwrite"]):
        raise ConfigError(f"{key}: {folder} exists; set output.resume: true to continue it or "
                          "output.overwrite: true to delete it and start again")
    return Path(folder)


def sha256_of(path):
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path, write):
    """Create ``path`` atomically: ``write(temporary_path)`` fills a sibling file, then it is renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=path.suffix)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically."""
    return write_atomic(path, lambda temporary: Path(temporary).write_text(json.dumps(data, indent=2) + "\n"))

"""Where results go: every output folder's name, the resume/overwrite policy, atomic writes, hashing,
and safe reading of ``.npz`` archives.

Folders, under ``output.dir``:

- training run ``<model>-<dataset>-<precision>`` (also the zoo's folder names), e.g. ``model_a-mnist-w1a1g32``;
- attack ``<run name>-<attack>``, with one ``run-N`` folder per run;
- evaluation ``<sets>-on-<target run name>``;
- experiment summary ``<model>-<dataset>-<attack>-experiment``;
- diagnosis ``<run name>-diagnose`` (``diagnostics.json``, the robustness curve);
- robustness ``<run name>-robustness`` (``robustness.json``: every attack of :mod:`annt.real_robustness` at each budget);
- study ``<model>-<dataset>-study``, holding ``cells/`` (one attack folder per attack and precision),
  ``transfer/`` (one evaluation folder per attack, source and target) and ``report/``.

An existing folder is used again only with ``resume`` and deleted only with ``overwrite``.
"""
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import OutputExistsError


#: What a study folder records about itself (its definition, the clean accuracies).
STUDY_FILE = "study.json"
#: What marks a report folder as published by task reproduce (its study folder, config and commit).
PUBLISHED = "published.json"


def run_name(model_name, dataset, precision, activation_bound="clip", seed=None, layout=None):
    """``<model>-<dataset>-<precision>``, e.g. ``model_a-mnist-w1a1g32`` (``fp`` for full precision),
    with ``-<bound>`` for an activation bound other than the default ``clip``, ``-original`` for a ResNet in the
    original ANNT tool's layout, and ``-seed<k>`` where models of one precision are told apart by their training
    seed."""
    return f"{model_name}-{dataset}-{precision.slug}" + ("" if activation_bound == "clip" else f"-{activation_bound}") \
        + ("" if layout in (None, "preactivation") else f"-{layout}") + ("" if seed is None else f"-seed{seed}")


def model_run_name(settings):
    """:func:`run_name` of the model ``settings`` name (``-tflite-<format>`` added for an exported model)."""
    model = settings.model
    return run_name(model.name, settings.data.dataset, model.precision, model.activation_bound, model.seed,
                    model.layout) + ("" if model.deployed is None else f"-tflite-{model.deployed}")


def training_folder(settings):
    """The run folder a training writes to."""
    return settings.output.dir / model_run_name(settings)


def attack_folder(settings):
    """``<run name>-<attack>``: the sets and direct results of an attack."""
    return settings.output.dir / f"{model_run_name(settings)}-{settings.attack.name}"


def evaluation_folder(settings, sets_name=None):
    """``<sets>-on-<target run name>``. ``<sets>`` is ``sets_name``, else the attack or set folder's name,
    or for a loose ``.npz`` its file name and the start of its SHA-256 (two files in one folder never share)."""
    if sets_name is None:
        source = settings.evaluate.adversarial.resolve()
        sets_name = f"{source.stem}-{sha256_of(source)[:8]}" if source.is_file() else source.name
    return settings.output.dir / f"{sets_name}-on-{model_run_name(settings)}"


def transfer_folder(attack_settings, target):
    """Where an experiment applies the sets of ``attack_settings`` to the model ``target`` (ModelSettings)."""
    return evaluation_folder(replace(attack_settings, model=target), attack_folder(attack_settings).name)


def experiment_folder(settings):
    """``<model>-<dataset>-<attack>-experiment``: an experiment's summary."""
    return settings.output.dir / f"{settings.model.name}-{settings.data.dataset}-{settings.attack.name}-experiment"


def diagnosis_folder(settings):
    """``<run name>-diagnose``: the gradient-masking checks of a model."""
    return settings.output.dir / f"{model_run_name(settings)}-diagnose"


def reference_parts_folder(settings):
    """``<reference's run name>-reference-parts``: the reference's attacks while diagnoses beside it go on."""
    model = settings.model
    return settings.output.dir / (run_name(model.name, settings.data.dataset, settings.diagnose.reference,
                                           model.activation_bound, None, model.layout) + "-reference-parts")


def robustness_folder(settings):
    """``<run name>-robustness``: one model's adversarial accuracy under the paper's and the field's attacks."""
    return settings.output.dir / f"{model_run_name(settings)}-robustness"


def export_folder(settings, format):
    """``<run name>-tflite-<format>``: a model exported to TensorFlow Lite, with its card."""
    return settings.output.dir / f"{model_run_name(settings)}-tflite-{format}"


def study_folder(settings):
    """``<model>-<dataset>-study``: a study's cells, transfers and report."""
    return settings.output.dir / f"{settings.model.name}-{settings.data.dataset}-study"


def check_free(folder, output):
    """Refuse an existing ``folder`` unless ``output`` says resume or overwrite."""
    folder = Path(folder)
    if folder.exists() and not (output.resume or output.overwrite):
        raise OutputExistsError(f"{folder} exists")
    return folder


def _holds_a_file(folder):
    return any(path.is_file() for path in Path(folder).rglob("*"))


#: Folders this process created (with what makes each worth keeping), until :func:`release_unfinished` or
#: :func:`forget_claims`.
_CLAIMED = []


def claim(folder, output, worth_keeping=_holds_a_file):
    """``folder``, ready to write into: checked by :func:`check_free`, emptied only with ``overwrite``.

    A folder made here is noted: if the task is interrupted before ``worth_keeping(folder)`` (default: it holds a
    file), :func:`release_unfinished` removes it, so that running the same command again is not refused.
    """
    folder = check_free(folder, output)
    if output.overwrite and folder.exists():
        shutil.rmtree(folder)
    if not folder.exists():
        _CLAIMED.append((folder, worth_keeping))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def release_unfinished():
    """Remove the folders :func:`claim` made that hold nothing worth keeping (after an interruption or a
    failure); returns ``(removed, kept)`` lists of folders."""
    removed, kept = [], []
    for folder, worth_keeping in reversed(_CLAIMED):
        if folder.is_dir() and not worth_keeping(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        elif folder.is_dir():
            kept.append(folder)
    _CLAIMED.clear()
    return removed, kept


def forget_claims():
    """A task finished: its folders are results, never removed by :func:`release_unfinished`."""
    _CLAIMED.clear()


def sha256_of(path):
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path, write):
    """Create ``path`` atomically: ``write(temporary_path)`` fills a sibling file, then it is renamed.

    The sibling is hidden (``.stem.<random>.suffix``), so that one left half-written by a killed process never
    matches a pattern for finished files such as ``part-*.npz``; it keeps the suffix because some writers
    (``np.savez``) append theirs otherwise.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_folder(folder, fill):
    """Create or replace ``folder`` whole: ``fill(staging)`` writes into a hidden sibling folder, which then takes
    its place (returns what ``fill`` returns). A crash while filling leaves the old folder as it was, never a mix
    of old and new files; only between the two renames at the end is the old one at ``.<name>.*.old``."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        result = fill(staging)
        os.chmod(staging, 0o755)
        if folder.exists():
            old = staging.with_name(staging.name + ".old")
            os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically."""
    return write_atomic(path, lambda temporary: Path(temporary).write_text(json.dumps(data, indent=2) + "\n"))


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    return write_atomic(path, lambda temporary: Path(temporary).write_text(text))


def read_json(path, error, what, required=()):
    """The JSON object in ``path``; a file that is not one (truncated, garbage, a list) or lacks a key of
    ``required`` raises ``error`` naming the file, what it should be, and that removing it lets ANNT redo it."""
    try:
        data = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        reason = f"not valid JSON: {problem.msg if hasattr(problem, 'msg') else 'not UTF-8 text'}"
    else:
        missing = [key for key in required if key not in data] if isinstance(data, dict) else None
        if missing == []:
            return data
        reason = f"lacks {', '.join(map(repr, missing))}" if missing else f"holds a {type(data).__name__}, not an object"
    raise error(f"{path} is not a readable {what} ({reason}); it is damaged: remove it, or the folder it describes, "
                "and run again")


def read_npz(path, error, what):
    """``{name: array}`` of an ``.npz`` (``allow_pickle=False``); an unreadable file raises ``error``
    saying that ``path`` is not a readable ``what`` and why."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as problem:
        raise error(f"{path} is not a readable {what} ({unreadable_reason(problem)})") from None


def unreadable_reason(problem):
    """Why a file could not be read, in one line. NumPy calls any file that is neither ``.npy`` nor a zip
    "pickled data"; ANNT never unpickles."""
    if "pickle" in str(problem):
        return "it holds object arrays or is not an .npz archive of plain arrays"
    return str(problem).splitlines()[0] if str(problem) else type(problem).__name__

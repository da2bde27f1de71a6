"""The verdicts scripts/ablations.py writes under its tables follow their stated rules; a partial report says what
is missing; a retrained model is kept in the repository in a state it can resume from, and restored from there."""
import importlib.util
import json

import pytest
from conftest import REPO, needs_mnist

from annt._backend import tf
from annt.reports import paper_table6

spec = importlib.util.spec_from_file_location("ablations", REPO / "scripts" / "ablations.py")
ablations = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablations)


def row(model, precision, fgsm, std=0.01, zero_gradient=0.0):
    return {"model": model, "precision": precision, "zero_gradient_fraction": zero_gradient,
            "fgsm_adversarial_accuracy": {"mean": fgsm, "std": std}}


def test_dead_first_layer_persists_only_when_every_retrained_model_has_it():
    paper = paper_table6("mnist", "model_a")
    zoo = [row("zoo 8,8,32", "8,8,32", 0.79, zero_gradient=0.59),
           row("zoo 12,12,32", "12,12,32", 0.81, zero_gradient=0.59)]
    healthy = [row("retrained (seed 1) 8,8,32", "8,8,32", 0.65), row("retrained (seed 1) 12,12,32", "12,12,32", 0.46)]
    dead = [row("retrained (seed 2) 8,8,32", "8,8,32", 0.80, zero_gradient=0.6)]
    assert "does not persist" in ablations.seeds_verdict(zoo + healthy, paper)[0]
    partly = ablations.seeds_verdict(zoo + healthy + dead, paper)
    assert "partly persists" in partly[0] and "1 of 3" in partly[0]
    assert partly[1] == "At 8,8,32, FGSM adversarial accuracy: zoo 0.790, retrained 0.650 and 0.800, paper 0.678."
    assert "effect persists" in ablations.seeds_verdict(zoo + dead, paper)[0]


def test_rise_with_bitwidth_is_judged_against_half_the_papers_rise():
    paper = paper_table6("cifar10", "resnet20")  # FP 0.119, 16 bits 0.367: a rise of 0.248

    def verdict(fp, sixteen, std=0.005):
        rows = [row("zoo FP", "FP", 0.080), row("zoo 16,16,32", "16,16,32", 0.127),
                row("retrained (seed 0) FP", "FP", fp, std), row("retrained (seed 0) 16,16,32", "16,16,32", sixteen, std)]
        return ablations.epochs_verdict(rows, paper)[0]

    assert "rise appears" in verdict(0.10, 0.23)
    assert "partly appears" in verdict(0.10, 0.20)
    assert "does not appear" in verdict(0.10, 0.13)
    assert "does not appear" in verdict(0.10, 0.16, std=0.02)
    assert "80 epochs +0.130" in verdict(0.10, 0.23)


def full_row(model, precision, fgsm):
    return {**row(model, precision, fgsm), "epochs": 20, "clean_accuracy": 0.885, "first_layer_biases": None,
            "negative_first_layer_biases": None, "fgsm_mean_l0_successful": {"mean": 3000.0, "std": 10.0}}


def test_a_partial_report_shows_the_unfinished_models_and_no_verdict(tmp_path):
    """While the 16-bit model still trains, the report holds what is measured and says what is missing."""
    definition = ablations.ABLATIONS["resnet20-epochs"]
    rows = [full_row("zoo FP", "FP", 0.08), full_row("zoo 16,16,32", "16,16,32", 0.127),
            full_row("retrained (seed 0) FP", "FP", 0.10)]
    manifest = ablations.RunRecord().manifest({"ablation": "resnet20-epochs"})
    training = {"retrained (seed 0) 16,16,32": {"epochs": 12, "validation_accuracy": 0.81234}}
    text = ablations.write_report(tmp_path, "resnet20-epochs", definition, rows, training, manifest)
    assert (tmp_path / "resnet20-epochs.md").read_text() == text
    assert "| retrained (seed 0) FP | 20 | 0.8850 |" in text
    assert "| retrained (seed 0) 16,16,32 (training, not finished yet) | 12 so far | 0.8123 (validation) | — |" in text
    assert "**Verdict pending**: retrained (seed 0) 16,16,32 not finished yet" in text and "rise appears" not in text
    assert text.endswith(f"Command: `{manifest['command']}`\n")
    assert f"Measured on {ablations.machine_summary(manifest['machine'])} (the processor matters" in text
    ablations.write_report(tmp_path, "resnet20-epochs", definition,
                           rows + [full_row("retrained (seed 0) 16,16,32", "16,16,32", 0.23)], {}, manifest)
    finished = (tmp_path / "resnet20-epochs.md").read_text()
    assert "rise appears" in finished and "validation" not in finished


def test_keep_refreshes_the_unfinished_rows_from_the_kept_state_and_nothing_measured(tmp_path, monkeypatch):
    """A report measured at epoch 4 shows the epochs kept since; its measured rows and manifest stay as they were."""
    monkeypatch.setattr(ablations, "REPORTS", tmp_path)
    monkeypatch.setattr(ablations, "KEPT", tmp_path / "models")
    definition = ablations.ABLATIONS["resnet20-epochs"]
    assert ablations.refresh_progress("resnet20-epochs", definition) is None  # no report yet: nothing written
    assert list(tmp_path.iterdir()) == []
    rows = [full_row("zoo FP", "FP", 0.08), full_row("zoo 16,16,32", "16,16,32", 0.127)]
    manifest = {"command": "python scripts/ablations.py resnet20-epochs --measure-only", "wall_time_s": 1839.2}
    early = {"epochs": 4, "validation_accuracy": 0.7}
    ablations.write_report(tmp_path, "resnet20-epochs", definition, rows,
                           {"retrained (seed 0) FP": early, "retrained (seed 0) 16,16,32": early}, manifest)
    kept = tmp_path / "models" / "resnet20-epochs" / "seed-0"
    (kept / "resnet20-cifar10-fp").mkdir(parents=True)
    (kept / "resnet20-cifar10-fp" / "stats.json").write_text(json.dumps(
        [{"epoch_num": e, "global_step": 390 * e, "validation_accuracy": 0.5 + e / 100} for e in range(1, 46)]))

    text = ablations.refresh_progress("resnet20-epochs", definition)
    assert "| retrained (seed 0) FP (training, not finished yet) | 45 so far | 0.9500 (validation) |" in text
    assert "| retrained (seed 0) 16,16,32 (training, not finished yet) | 0 so far | — |" in text  # nothing kept
    assert "| zoo FP | 20 | 0.8850 |" in text and "Verdict pending" in text
    assert text.endswith("Command: `python scripts/ablations.py resnet20-epochs --measure-only`\n")
    saved = json.loads((tmp_path / "resnet20-epochs.json").read_text())
    assert saved["rows"] == rows and saved["manifest"] == manifest
    assert saved["missing"]["retrained (seed 0) FP"] == {"epochs": 45, "validation_accuracy": 0.95}
    assert saved["progress_updated"]["command"] in text
    measured = [full_row("retrained (seed 0) FP", "FP", 0.1), full_row("retrained (seed 0) 16,16,32", "16,16,32", 0.2)]
    ablations.write_report(tmp_path, "resnet20-epochs", definition, rows + measured, {}, manifest)
    finished = {path.name: path.read_bytes() for path in tmp_path.glob("resnet20-epochs.*")}
    assert ablations.refresh_progress("resnet20-epochs", definition) is None  # all measured: left as it is
    assert {path.name: path.read_bytes() for path in tmp_path.glob("resnet20-epochs.*")} == finished


def training_folder(folder, epochs, saved_steps, card=False):
    """A run folder as Tensorpack leaves it: epoch history, the last checkpoints, a log (and a finished model)."""
    folder.mkdir(parents=True)
    (folder / "stats.json").write_text(json.dumps([{"epoch_num": e, "global_step": 390 * e} for e in epochs]))
    for step in saved_steps:
        (folder / f"model-{step}.index").write_text(f"index {step}")
        (folder / f"model-{step}.data-00000-of-00001").write_text(f"data {step}")
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "model-{saved_steps[-1]}"\n')
    (folder / "log.log").write_text("log")
    (folder / "events.out.tfevents.1").write_text("events")
    if card:
        (folder / "model.npz").write_text("weights")
        (folder / "model_card.json").write_text(json.dumps({"epochs": epochs[-1]}))
    return folder


def test_an_unfinished_training_is_kept_at_the_newest_checkpoint_its_history_reaches(tmp_path):
    """Tensorpack saves epoch 3's checkpoint before it writes epoch 3 into the history: keep epoch 2, consistently."""
    run = training_folder(tmp_path / "runs" / "seed-0" / "resnet20-cifar10-fp", [1, 2], [780, 1170])
    kept = tmp_path / "kept" / "seed-0" / "resnet20-cifar10-fp"
    assert ablations.keep(run, kept) == 2
    assert sorted(path.name for path in kept.iterdir()) == [
        "checkpoint", "log.log", "model-780.data-00000-of-00001", "model-780.index", "stats.json"]
    assert tf.train.latest_checkpoint(str(kept)) == str(kept / "model-780")
    assert ablations.progress(kept) == {"epochs": 2, "validation_accuracy": None}

    (run / "stats.json").write_text(json.dumps([{"epoch_num": e, "global_step": 390 * e} for e in (1, 2, 3)]))
    assert ablations.keep(run, kept) == 3
    assert (kept / "model-1170.index").read_text() == "index 1170" and not (kept / "model-780.index").exists()
    assert [path.name for path in kept.parent.iterdir()] == ["resnet20-cifar10-fp"]  # no staging folder left


def test_a_finished_model_is_kept_as_weights_and_card_and_restored_only_where_missing(tmp_path):
    run = training_folder(tmp_path / "runs" / "seed-0" / "resnet20-cifar10-fp", [1, 2], [390, 780], card=True)
    kept = tmp_path / "kept"
    assert ablations.keep(run, kept) == 2
    assert sorted(path.name for path in kept.iterdir()) == ["log.log", "model.npz", "model_card.json"]

    fresh = tmp_path / "clone" / "seed-0" / "resnet20-cifar10-fp"
    ablations.restore(fresh, kept)
    assert (fresh / "model.npz").read_text() == "weights"
    (kept / "model.npz").write_text("other weights")
    ablations.restore(fresh, kept)
    assert (fresh / "model.npz").read_text() == "weights"  # an existing run folder is never touched


def test_nothing_is_kept_before_the_first_epoch_is_saved(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert ablations.keep(run, tmp_path / "kept") is None and not (tmp_path / "kept").exists()


def test_train_only_names_the_precisions_the_ablation_retrains(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["ablations.py", "resnet20-epochs", "--train-only", "8,8,32"])
    with pytest.raises(SystemExit) as stop:
        ablations.main()
    assert stop.value.code == 2
    assert "--train-only: resnet20-epochs retrains FP, 16,16,32, not '8,8,32'" in capsys.readouterr().err


@pytest.mark.slow
@needs_mnist
def test_a_clean_clone_resumes_a_kept_training_at_its_next_epoch(tmp_path, monkeypatch):
    """Kept mid-training (after epoch 1 of 2, before the card), restored into an empty runs/ as on another machine."""
    monkeypatch.setattr(ablations, "KEPT", tmp_path / "kept")
    short = ablations.Ablation("model_a", "mnist", "configs/train_mnist_a.yaml", ("1,1,32",), (0,),
                               ["train.epochs=1", "train.train_samples=2048"], "a short one", None)
    run = ablations.trained("short", short, "1,1,32", 0, tmp_path / "machine-1")
    kept = tmp_path / "kept" / "short" / "seed-0" / run.name
    assert sorted(path.name for path in kept.iterdir()) == ["log.log", "model.npz", "model_card.json"]
    (run / "model_card.json").unlink()  # as if the session had ended between epoch 1 and epoch 2
    (run / "model.npz").unlink()
    assert ablations.keep(run, kept) == 1

    longer = short._replace(extra=["train.epochs=2", "train.train_samples=2048"])
    resumed = ablations.trained("short", longer, "1,1,32", 0, tmp_path / "machine-2")
    log = (resumed / "log.log").read_text()
    assert "Start Epoch 2" in log and "Start Epoch 1 " not in log
    assert json.loads((resumed / "model_card.json").read_text())["epochs"] == 2
    kept_files = sorted(path.name for path in kept.iterdir())
    assert kept_files[0] == "log.log" and kept_files[1].startswith("log.log.")  # both machines' training logs
    assert kept_files[2:] == ["model.npz", "model_card.json"]
    assert ablations.trained("short", longer, "1,1,32", 0, tmp_path / "machine-2", train=False) == resumed

"""The verdicts scripts/ablations.py writes under its tables follow their stated rules; a partial report says what
is missing."""
import importlib.util

from conftest import REPO

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
    text = ablations.write_report(tmp_path, "resnet20-epochs", definition, rows, ["retrained (seed 0) 16,16,32"],
                                  ablations.RunRecord())
    assert (tmp_path / "resnet20-epochs.md").read_text() == text
    assert "| retrained (seed 0) FP | 20 | 0.8850 |" in text
    assert "| retrained (seed 0) 16,16,32 (not finished yet) | — |" in text
    assert "**Verdict pending**: retrained (seed 0) 16,16,32 not finished yet" in text and "rise appears" not in text
    ablations.write_report(tmp_path, "resnet20-epochs", definition,
                           rows + [full_row("retrained (seed 0) 16,16,32", "16,16,32", 0.23)], [], ablations.RunRecord())
    assert "rise appears" in (tmp_path / "resnet20-epochs.md").read_text()

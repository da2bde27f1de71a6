"""Figures show what the results say."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import annt  # noqa: E402
from annt import viz  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("viz"))
    fp = annt.attack("model_a", "FP", "fgsm", samples=12, runs=2, output_dir=out)
    binary = annt.attack("model_a", "1,1,32", "fgsm", samples=12, runs=2, output_dir=out)
    transfer = annt.evaluate(fp["folder"], "model_a", "1,1,32", output_dir=out)
    return fp, binary, transfer


def test_image_grid_has_clean_adversarial_and_perturbation_rows(results, tmp_path):
    adversarial_set = viz.load_set(results[0]["folder"] + "/run-1")
    figure = viz.image_grid(adversarial_set, count=5, save=tmp_path / "grid.png")
    assert len(figure.axes) == 15 and (tmp_path / "grid.png").stat().st_size > 0
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0] == f"true {adversarial_set.labels[0]}\npred {adversarial_set.clean_predictions[0]}"
    assert titles[5] == f"adv. pred {adversarial_set.adversarial_predictions[0]}"
    shown = figure.axes[5].images[0].get_array()
    np.testing.assert_array_equal(shown, adversarial_set.adversarial[0].squeeze())


def test_sample_view_shows_the_models_probabilities(results):
    adversarial_set = viz.load_set(results[1]["folder"] + "/run-1")
    model = annt.load_model("model_a", "1,1,32")
    figure = viz.sample_view(adversarial_set, 0, model, top_k=2)
    bars = figure.axes[3].patches
    clean_probabilities = model.probabilities(viz.clean_images(adversarial_set)[:1])[0]
    assert max(bar.get_width() for bar in bars[:len(bars) // 2]) == pytest.approx(clean_probabilities.max())


def test_accuracy_vs_bitwidth_plots_the_means(results):
    figure = viz.accuracy_vs_bitwidth([results[0]["folder"], results[1]["folder"], results[2]["folder"]])
    line = figure.axes[0].containers[0].lines[0]  # the errorbar's data line
    expected = [results[1]["aggregate"]["adversarial_accuracy"]["mean"],   # 1 bit first, FP (32) last,
                np.nan, results[0]["aggregate"]["adversarial_accuracy"]["mean"]]  # not joined across the break
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), expected)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["1", "FP"]


def test_transfer_heatmap_cells_are_the_adversarial_accuracies(results):
    fp, binary, transfer = results
    figure = viz.transfer_heatmap([fp["folder"], binary["folder"], transfer["folder"]])
    matrix = np.ma.filled(figure.axes[0].images[0].get_array(), np.nan)
    # rows/columns ordered by bits: 1,1,32 then FP
    assert matrix[1, 1] == pytest.approx(fp["aggregate"]["adversarial_accuracy"]["mean"])
    assert matrix[0, 0] == pytest.approx(binary["aggregate"]["adversarial_accuracy"]["mean"])
    assert matrix[1, 0] == pytest.approx(transfer["aggregate"]["adversarial_accuracy"]["mean"])
    assert np.isnan(matrix[0, 1])


def test_histograms_count_the_successful_samples(results):
    figure = viz.distortion_histograms(results[0]["folder"])
    counts = sum(patch.get_height() for patch in figure.axes[0].patches)
    assert counts == sum(run["successful"] for run in results[0]["per_run"])


@pytest.mark.slow
def test_an_experiment_folder_stands_for_its_results(tmp_path):
    result = annt.run({"task": "experiment", "attack": {"name": "fgsm", "samples": 10},
                       "experiment": {"precisions": ["FP", "1,1,32"], "transfer": True},
                       "output": {"dir": str(tmp_path)}})
    matrix = np.ma.filled(viz.transfer_heatmap(result["folder"]).axes[0].images[0].get_array(), np.nan)
    assert matrix.shape == (2, 2) and not np.isnan(matrix).any()
    assert matrix[1, 0] == pytest.approx(result["transfer"]["FP -> 1,1,32"]["aggregate"]["adversarial_accuracy"]["mean"])
    lines = viz.accuracy_vs_bitwidth(result["folder"]).axes[0].containers
    assert len(lines) == 1

"""The reproduction pages' PGD++ section follows its stated rule and reads the robustness tables it names."""
import json

from annt import reproduction


def robustness_folder(reports, precision, pgd, njs, hns, eps=0.05):
    name = {"FP": "fp", "1,1,32": "w1a1g32"}[precision]
    folder = reports / "robustness" / f"resnet20-cifar10-{name}-robustness"
    folder.mkdir(parents=True)
    rows = [{"attack": label, "eps": eps, "adversarial_accuracy": accuracy} for label, accuracy in (
        ("FGSM", 0.5), ("PGD-40", pgd), ("PGD++ (NJS)", njs), ("PGD++ (HNS)", hns), ("APGD-CE", 0.01),
        ("AutoAttack", 0.0))]
    (folder / "robustness.json").write_text(json.dumps({"precision": precision, "rows": rows}))


def test_pgd_plus_plus_helps_only_where_its_better_row_is_more_than_005_below_pgd(tmp_path):
    robustness_folder(tmp_path, "FP", pgd=0.30, njs=0.40, hns=0.24)  # HNS 0.06 below: helps
    robustness_folder(tmp_path, "1,1,32", pgd=0.30, njs=0.25, hns=0.26)  # 0.05 below: not more than 0.05
    text = "\n".join(reproduction.temperature_scaling(tmp_path, "cifar10"))
    assert "| FP | 0.05 | 0.300 | 0.400 | 0.240 | 0.010 | 0.000 | yes |" in text
    assert "| 1,1,32 | 0.05 | 0.300 | 0.250 | 0.260 | 0.010 | 0.000 | no |" in text
    assert "PGD++ helps at FP of the 2 measured" in text
    assert "Not measured yet: 2,2,32, 4,4,32, 8,8,32, 12,12,32, 16,16,32." in text
    assert "8.57 %" in text and "0.03 %" in text


def test_a_precision_without_its_pgd_plus_plus_rows_is_not_decided(tmp_path):
    robustness_folder(tmp_path, "FP", pgd=0.30, njs=None, hns=None)
    folder = tmp_path / "robustness" / "resnet20-cifar10-fp-robustness"
    result = json.loads((folder / "robustness.json").read_text())
    result["rows"] = [row for row in result["rows"] if not row["attack"].startswith("PGD++")]
    (folder / "robustness.json").write_text(json.dumps(result))
    text = "\n".join(reproduction.temperature_scaling(tmp_path, "cifar10"))
    assert "| FP | 0.05 | 0.300 | — | — | 0.010 | 0.000 | — |" in text
    assert "Not measured yet: FP, 1,1,32" in text
    assert reproduction.temperature_scaling(tmp_path / "elsewhere", "cifar10") == []

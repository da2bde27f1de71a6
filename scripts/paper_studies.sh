#!/usr/bin/env bash
# Runs, or resumes where it stopped, every study of the paper's reproduction (issue #12) and beyond it (#13), one after the
# other; finished cells and batches are kept, so it is safe to run again in every session:
#   nohup scripts/paper_studies.sh > runs/paper_studies.log 2>&1 &
# The paper's own tables come first: the CIFAR-10 study's cells before their diagnosis (study.diagnose, ~4 h on
# resnet20), which runs after Table 7, Boundary on the 1-bit model and the resnet20 ablation.
# Each study's report is in <output.dir>/<model>-<dataset>-study/report/ (copied to reports/ when committed).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
run() {
    echo "== $* ($(date -u +%FT%TZ))"
    "$python" -m annt --config "configs/paper/$1.yaml" --set output.resume=true "${@:2}"
}
for config in mnist_study mnist_table7 mnist_boundary_1bit mnist_boundary_iterations mnist_pgd_study; do
    run "$config"
done
run cifar10_study --set study.diagnose=false
run cifar10_table7
run cifar10_boundary_1bit
echo "== ablation resnet20-epochs ($(date -u +%FT%TZ))"
"$python" scripts/ablations.py resnet20-epochs
run cifar10_study
run cifar10_pgd_study

#!/usr/bin/env bash
# Runs, or resumes where it stopped, every study of the paper's reproduction (issue #12) and beyond it (#13), one after the
# other; finished cells and batches are kept, so it is safe to run again in every session:
#   nohup scripts/paper_studies.sh > runs/paper_studies.log 2>&1 &
# Each study's report is in <output.dir>/<model>-<dataset>-study/report/ (copied to reports/ when committed).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
for config in mnist_study mnist_table7 mnist_boundary_1bit mnist_boundary_iterations mnist_pgd_study \
        cifar10_study cifar10_table7 cifar10_boundary_1bit cifar10_pgd_study; do
    echo "== $config ($(date -u +%FT%TZ))"
    "$python" -m annt --config "configs/paper/$config.yaml" --set output.resume=true
done
echo "== ablation resnet20-epochs ($(date -u +%FT%TZ))"
"$python" scripts/ablations.py resnet20-epochs

"""What Ray tasks get and give back, without a cluster: a packaged model (a file model's code travels with it),
and an attack's independent calls made apart equal the whole run. The two-node cluster tests are in test_study.py."""
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest

import annt
from annt.attack_params import resolve_params
from annt.attacks import attack_calls, generate, independent
from annt.data import DataShape
from annt.estimator import art_classifier
from annt.models import from_source
from conftest import REPO, needs_mnist

cloudpickle = pytest.importorskip("ray.cloudpickle")
from annt.cluster import _StreamedParts, _built, assigned_cpus, package  # noqa: E402  (imports Ray)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def binary():
    return annt.load_model("model_a", "1,1,32")


@pytest.fixture(scope="module")
def mnist_test():
    return annt.load_dataset("mnist", "test")


@needs_mnist
def test_a_packaged_model_predicts_as_the_loaded_one(binary, mnist_test):
    trained, (images, _) = binary, mnist_test
    shipped = cloudpickle.loads(cloudpickle.dumps(package(trained)))
    assert isinstance(shipped.weights["conv0/W"], np.ndarray) and shipped.card == trained.card
    np.testing.assert_array_equal(shipped.load().logits(images[:300]), trained.logits(images[:300]))


def test_a_model_of_your_own_travels_to_a_task_with_its_code(tmp_path):
    """A process that cannot import the user's file (a worker node) builds the model from the package alone."""
    model = from_source(f"{REPO / 'examples' / 'small_convnet.py'}:SmallConvNet").model_class()(
        "2,2,32", "clip", DataShape("digits", (8, 8, 1), 5))
    np.savez(tmp_path / "model.npz", w=np.zeros(1))
    shipped = package(SimpleNamespace(model=model, checkpoint=tmp_path / "model.npz", card=None))
    (tmp_path / "package").write_bytes(cloudpickle.dumps(shipped))
    code = ("import pickle, sys; p = pickle.loads(open(sys.argv[1], 'rb').read()); m = p.model_class(*p.build); "
            "print(type(m).__name__, m.image_shape, m.num_classes, m.precision)")
    built = subprocess.run([sys.executable, "-c", code, str(tmp_path / "package")], cwd=tmp_path,
                           capture_output=True, text=True)
    assert built.stdout.strip() == "SmallConvNet (8, 8, 1) 5 2,2,32", built.stderr[-2000:]


@needs_mnist
@pytest.mark.parametrize("name, params", [
    ("fgsm", {"eps": 0.25, "batch_size": 4}),
    ("jsma", {"theta": 1.0, "gamma": 0.1, "batch_size": 4}),  # its targets are drawn once for the whole set
    ("cw_l2", {"max_iter": 3, "binary_search_steps": 1, "initial_const": 1.0, "batch_size": 4}),
])
def test_the_calls_of_an_independent_attack_made_apart_equal_the_whole_run(name, params, binary, mnist_test):
    trained, (images, labels) = binary, mnist_test
    params = resolve_params(name, "mnist", params)
    assert independent(name) and [call.start for call in attack_calls(name, params, 10)] == [0, 4, 8]
    made = {only: generate(trained, art_classifier(trained), name, params, images[:10], labels[:10], 0, only=only)[0]
            for only in (None, frozenset({0, 4}), frozenset({8}))}
    np.testing.assert_array_equal(np.concatenate([made[frozenset({0, 4})], made[frozenset({8})]]), made[None])


@needs_mnist
def test_an_attack_whose_calls_share_random_generators_is_made_whole(binary, mnist_test):
    trained, (images, labels) = binary, mnist_test
    assert not independent("pgd")
    with pytest.raises(ValueError, match="pgd's calls share random generators: a run is made whole"):
        generate(trained, art_classifier(trained), "pgd", resolve_params("pgd", "mnist", None), images[:4],
                 labels[:4], 0, only={0})


@needs_mnist
def test_a_task_sizes_tensorflows_thread_pools_to_the_cpus_ray_gave_it(binary):
    """Two one-CPU tasks on a two-core node must not each start a thread per core; a task given both uses both."""
    ray = pytest.importorskip("ray")
    shipped = package(binary)

    def pools(model):
        config = _built(model).session._config
        return assigned_cpus(), config.intra_op_parallelism_threads, config.inter_op_parallelism_threads

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(max_calls=1)(pools)  # a fresh worker process per task: its first session
        assert ray.get([task.options(num_cpus=cpus).remote(shipped) for cpus in (1, 2)]) == [(1, 1, 1), (2, 2, 2)]
    finally:
        ray.shutdown()


def test_a_tasks_batches_keep_the_time_they_took_in_the_task_not_the_time_it_queued(tmp_path):
    """A task can wait hours in Ray's queue after the driver read a run's saved batches: a streamed batch carries the
    seconds it took in the task, and the driver's parts keep those (a resumed run's attack time adds them up)."""
    from annt.adversarial_sets import Parts
    from annt.attacks import AttackCall
    driver_parts = Parts(tmp_path / "parts", "a run")
    driver_parts.finished()
    time.sleep(0.5)  # the task waits in the queue
    emitted = []
    task_parts = _StreamedParts({}, emitted.append)
    time.sleep(0.1)  # the task makes its batch
    task_parts.save(0, AttackCall(np.zeros((2, 3), np.float32), {}, {}))
    (kind, start, call, seconds), = emitted
    assert kind == "part" and start == 0 and 0.1 <= seconds < 0.5
    driver_parts.save(start, call, seconds)
    resumed = Parts(tmp_path / "parts", "a run")
    assert list(resumed.finished()) == [0] and resumed.earlier_seconds == seconds

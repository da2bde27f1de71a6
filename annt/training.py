"""Training through Tensorpack: one run folder per model, dataset and precision.

A finished run folder holds Tensorpack's checkpoints and log, the compact ``model.npz``
and ``model_card.json`` (test accuracy, resolved config, seed, versions, wall time).
"""
import shutil
from pathlib import Path

import numpy as np
from tensorpack import (AutoResumeTrainConfig, InferenceRunner, MaxSaver, ModelSaver, ScalarStats,
                        ScheduledHyperParamSetter, SimpleTrainer, launch_train_with_config, logger)
from tensorpack.utils.utils import fix_rng_seed

from . import config as config_module
from ._backend import session_creator, tensorpack_progress, tf
from .checkpoints import export_compact
from .data import evaluation_dataflow, load_dataset, training_dataflow
from .errors import ConfigError
from .manifest import RunRecord, check_output_folder, sha256_of, write_json
from .models import build_model
from .predictor import TrainedModel
from .zoo import CARD, WEIGHTS, run_name


def run_folder(config):
    """The run folder a training config writes to."""
    model = config["model"]
    return Path(config["output"]["dir"]).expanduser() / run_name(
        model["name"], config["data"]["dataset"], model["precision"])


def check_run_folder(config):
    """Refuse to touch an existing run folder unless the config says resume or overwrite."""
    output = config["output"]
    folder = check_output_folder(run_folder(config), output)
    if output["resume"] and folder.exists() and not (folder / "checkpoint").is_file():
        raise ConfigError(f"output.resume: {folder} has no checkpoint to resume from")
    return folder


def train(model="model_a", precision="FP", **options):
    """Train ``model`` at ``precision`` and return the run folder.

    >>> run = train("model_a", "2,2,32", epochs=1, train_samples=2048, output_dir="runs")
    >>> run.name
    'model_a-mnist-w2a2g32'
    >>> sorted(path.name for path in run.glob("model*.*"))
    ['model-16.data-00000-of-00001', 'model-16.index', 'model.npz', 'model_card.json']

    ``options`` are keys of the config's ``train``, ``data`` and ``output`` sections
    (``epochs``, ``batch_size``, ``learning_rate``, ``train_samples``, ``dataset``, ``dir``
    of the data as ``data_dir``, ``download``, ``output_dir``, ``resume``, ``overwrite``)
    and ``seed``; they are validated exactly like a config file.
    """
    return run_training(config_module.resolve(config_module.from_options(
        "train", model, precision, **options)))


def run_training(config):
    """Train as a validated ``config`` (see :mod:`annt.config`) says; returns the run folder."""
    record = RunRecord()
    folder = check_run_folder(config)
    if config["output"]["overwrite"] and folder.exists():
        shutil.rmtree(folder)
    seed = config["seed"]
    model = build_model(config["model"]["name"], config["model"]["precision"])
    recipe = config["train"]
    epochs = recipe["epochs"] or model.epochs
    batch_size = recipe["batch_size"] or model.batch_size
    if recipe["learning_rate"] is not None:
        model.learning_rate = recipe["learning_rate"]

    data = config["data"]
    train_images, train_labels = load_dataset(data["dataset"], "train", data["dir"], data["download"])
    test_images, test_labels = load_dataset(data["dataset"], "test", data["dir"], data["download"])
    if recipe["train_samples"]:
        train_images = train_images[:recipe["train_samples"]]
        train_labels = train_labels[:recipe["train_samples"]]
    if len(train_images) < batch_size:
        raise ConfigError(f"train.train_samples: {len(train_images)} images are fewer than one batch "
                          f"({batch_size}); allowed: >= train.batch_size")

    folder.mkdir(parents=True, exist_ok=True)
    logger.set_logger_dir(str(folder), action="k")
    fix_rng_seed(seed)
    np.random.seed(seed)
    train_flow = training_dataflow(train_images, train_labels, batch_size, model.augment, seed)
    with tf.Graph().as_default(), tensorpack_progress():
        tf.set_random_seed(seed)
        launch_train_with_config(AutoResumeTrainConfig(
            always_resume=config["output"]["resume"],
            model=model,
            dataflow=train_flow,
            callbacks=[
                ModelSaver(max_to_keep=2),
                InferenceRunner(evaluation_dataflow(test_images, test_labels),
                                ScalarStats(["cross_entropy_loss", "accuracy"])),
                MaxSaver("validation_accuracy"),
                ScheduledHyperParamSetter("learning_rate", model.learning_rate_schedule(epochs)),
            ],
            session_creator=session_creator(),
            steps_per_epoch=len(train_flow),
            max_epoch=epochs,
        ), SimpleTrainer())

    weights = export_compact(tf.train.latest_checkpoint(str(folder)), model, folder / WEIGHTS)
    trained = TrainedModel(build_model(model.name, model.precision), weights)
    test_accuracy = trained.accuracy(test_images, test_labels, config["test"]["batch_size"])
    card = record.manifest(
        config, model=model.name, dataset=model.dataset, precision=str(model.precision),
        test_accuracy=round(test_accuracy, 6), test_samples=int(len(test_labels)),
        train_samples=int(len(train_labels)), epochs=epochs, batch_size=batch_size,
        learning_rate_schedule=model.learning_rate_schedule(epochs),
        weights=WEIGHTS, weights_sha256=sha256_of(weights))
    write_json(folder / CARD, card)
    logger.info(f"test accuracy of {folder.name}: {test_accuracy:.4f}")
    return folder

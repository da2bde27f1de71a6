"""Training through Tensorpack: one run folder per model, dataset and precision.

A finished run folder holds Tensorpack's checkpoints and log, the compact ``model.npz``
and ``model_card.json`` (test accuracy, resolved config, seed, versions, wall time).
"""
from ._backend import session_creator, tensorpack_progress, tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
import numpy as np
from tensorpack import (AutoResumeTrainConfig, InferenceRunner, MaxSaver, ModelSaver, ScalarStats,
                        ScheduledHyperParamSetter, SimpleTrainer, launch_train_with_config, logger)
from tensorpack.utils.utils import fix_rng_seed

from .checkpoints import export_compact
from .data import evaluation_dataflow, load_dataset, training_dataflow
from .errors import ResumeError
from .manifest import RunRecord
from .models import build_model
from .outputs import check_free, claim, sha256_of, training_folder, write_json
from .predictor import TrainedModel
from .zoo import CARD, WEIGHTS


def check_training_folder(settings):
    """Refuse to touch an existing run folder unless the settings say resume or overwrite."""
    folder = check_free(training_folder(settings), settings.output)
    if settings.output.resume and folder.exists() and not (folder / "checkpoint").is_file():
        raise ResumeError(f"{folder} has no checkpoint to resume from")
    return folder


def run_training(settings):
    """Train as ``settings`` (:class:`~annt.settings.Settings`) say; returns the run folder."""
    record = RunRecord()
    check_training_folder(settings)
    seed = settings.seed
    model = build_model(settings.model.name, settings.model.precision, settings.model.activation_bound)
    recipe = settings.train
    epochs = recipe.epochs or model.epochs
    batch_size = recipe.batch_size or model.batch_size
    if recipe.learning_rate is not None:
        model.learning_rate = recipe.learning_rate

    data = settings.data
    train_images, train_labels = load_dataset(data.dataset, "train", data.dir, data.download)
    test_images, test_labels = load_dataset(data.dataset, "test", data.dir, data.download)
    if recipe.train_samples:
        train_images, train_labels = train_images[:recipe.train_samples], train_labels[:recipe.train_samples]

    # Tensorpack writes its log at once; only a checkpoint makes the folder something to resume.
    folder = claim(training_folder(settings), settings.output, lambda run: (run / "checkpoint").is_file())
    logger.set_logger_dir(str(folder), action="k")
    fix_rng_seed(seed)
    np.random.seed(seed)
    train_flow = training_dataflow(train_images, train_labels, batch_size, model.augment, seed)
    with tf.Graph().as_default(), tensorpack_progress():
        tf.set_random_seed(seed)
        launch_train_with_config(AutoResumeTrainConfig(
            always_resume=settings.output.resume,
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
    trained = TrainedModel(build_model(model.name, model.precision, model.activation_bound), weights)
    test_accuracy = trained.accuracy(test_images, test_labels, settings.test.batch_size)
    card = record.manifest(
        settings, model=model.name, dataset=model.dataset, precision=str(model.precision),
        activation_bound=model.activation_bound,
        test_accuracy=round(test_accuracy, 6), test_samples=int(len(test_labels)),
        train_samples=int(len(train_labels)), epochs=epochs, batch_size=batch_size,
        learning_rate_schedule=model.learning_rate_schedule(epochs),
        weights=WEIGHTS, weights_sha256=sha256_of(weights))
    write_json(folder / CARD, card)
    logger.info(f"test accuracy of {folder.name}: {test_accuracy:.4f}")
    return folder


def run_train(settings):
    """Train as the settings say and print its run folder."""
    folder = run_training(settings)
    print(f"run folder: {folder}")
    return folder

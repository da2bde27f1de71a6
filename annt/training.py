"""Training through Tensorpack: one run folder per model, dataset and precision.

A finished run folder holds Tensorpack's checkpoints and log, the compact ``model.npz``
and ``model_card.json`` (test accuracy, resolved config, seed, versions, wall time).
"""
import contextlib

from ._backend import session_creator, tensorpack_progress, tf  # noqa: I001  (first: it quiets TensorFlow's start-up, then imports it)
import numpy as np
from tensorpack import (AutoResumeTrainConfig, Callback, InferenceRunner, MaxSaver, ModelSaver, ScalarStats,
                        ScheduledHyperParamSetter, SimpleTrainer, launch_train_with_config, logger)
from tensorpack.callbacks import ProgressBar
from tensorpack.train.config import DEFAULT_CALLBACKS
from tensorpack.utils.utils import fix_rng_seed

from .checkpoints import write_weights
from .data import data_shape, evaluation_dataflow, load_dataset, training_dataflow
from .errors import ResumeError
from .manifest import RunRecord
from .models import architecture as architecture_of
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


def recipe(settings):
    """``(epochs, batch size, model)``: the model's training recipe with the train section's overrides (the
    learning rate set on the model)."""
    model = build_model(settings.model.name, settings.model.precision, settings.model.activation_bound,
                        settings.model.source, data_shape(settings.data.dataset, settings.data.path), settings.model.layout)
    given = settings.train
    if given.learning_rate is not None:
        model.learning_rate = given.learning_rate
    if given.schedule is not None:
        model.schedule = given.schedule
    return given.epochs or model.epochs, given.batch_size or model.batch_size, model


class _EpochReport(Callback):
    """Tells ``epoch_done(epochs done, epochs, resumed)`` after each epoch (first, ``resumed``, the epochs an earlier
    run did)."""

    def __init__(self, epoch_done, epochs):
        self.epoch_done, self.epochs = epoch_done, epochs

    def _before_train(self):
        self.epoch_done(self.trainer.loop.starting_epoch - 1, self.epochs, True)

    def _trigger_epoch(self):
        self.epoch_done(1, self.epochs, False)


def run_training(settings, epoch_done=None):
    """Train as ``settings`` (:class:`~annt.settings.Settings`) say; returns the run folder. ``epoch_done(n,
    epochs, resumed)``, if given, hears of every ``n`` epochs done (a study's progress bar), ``resumed`` when an
    earlier run did them."""
    record = RunRecord()
    check_training_folder(settings)
    seed = settings.seed
    epochs, batch_size, model = recipe(settings)

    data = settings.data
    train_images, train_labels = load_dataset(data.dataset, "train", data.dir, data.download, data.path)
    test_images, test_labels = load_dataset(data.dataset, "test", data.dir, data.download, data.path)
    if settings.train.train_samples:
        train_images = train_images[:settings.train.train_samples]
        train_labels = train_labels[:settings.train.train_samples]
    if settings.train.test_samples:
        test_images = test_images[:settings.train.test_samples]
        test_labels = test_labels[:settings.train.test_samples]

    # Tensorpack writes its log at once; only a checkpoint makes the folder something to resume.
    folder = claim(training_folder(settings), settings.output, lambda run: (run / "checkpoint").is_file())
    logger.set_logger_dir(str(folder), action="k")
    fix_rng_seed(seed)
    np.random.seed(seed)
    train_flow = training_dataflow(train_images, train_labels, batch_size, model.augment, seed)
    # Inside a study the study's bar shows the progress: Tensorpack's epoch logs and bar stay silent.
    with tf.Graph().as_default(), tensorpack_progress() if epoch_done is None else contextlib.nullcontext():
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
            ] + ([_EpochReport(epoch_done, epochs)] if epoch_done else []),
            extra_callbacks=None if epoch_done is None else [
                callback for callback in DEFAULT_CALLBACKS() if not isinstance(callback, ProgressBar)],
            session_creator=session_creator(),
            steps_per_epoch=len(train_flow),
            max_epoch=epochs,
        ), SimpleTrainer())

    trained = TrainedModel(build_model(model.name, model.precision, model.activation_bound, settings.model.source,
                                       model.data, model.layout), tf.train.latest_checkpoint(str(folder)))
    weights = write_weights(trained.variables(), folder / WEIGHTS)
    test_accuracy = trained.accuracy(test_images, test_labels, settings.test.batch_size)
    card = record.manifest(
        settings, model=model.name, dataset=model.dataset, precision=str(model.precision),
        activation_bound=model.activation_bound, layout=model.layout, image_shape=list(model.image_shape),
        num_classes=model.num_classes,
        **_source_record(settings),
        test_accuracy=round(test_accuracy, 6), test_samples=int(len(test_labels)),
        train_samples=int(len(train_labels)), epochs=epochs, batch_size=batch_size,
        schedule=model.schedule, learning_rate_schedule=model.learning_rate_schedule(epochs),
        weights=WEIGHTS, weights_sha256=sha256_of(weights))
    write_json(folder / CARD, card)
    logger.info(f"test accuracy of {folder.name}: {test_accuracy:.4f}")
    return folder


def _source_record(settings):
    """What a card records of a user's architecture (its file, resolved, and SHA-256) and data (the .npz and its
    SHA-256), so that loading finds them and notices a change."""
    record = {}
    if settings.model.source is not None:
        architecture = architecture_of(settings.model.name, settings.model.source)
        file_based = architecture.module.endswith(".py")
        record["source"] = f"{architecture.module}:{architecture.class_name}" if file_based else architecture.source
        record["source_sha256"] = architecture.source_sha256
    if settings.data.path is not None:
        record["data_path"] = str(settings.data.path.resolve())
        record["data_sha256"] = sha256_of(settings.data.path)
    return record


def run_train(settings):
    """Train as the settings say and print its run folder."""
    folder = run_training(settings)
    print(f"run folder: {folder}")
    return folder

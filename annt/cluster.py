"""A study's cells and transfer evaluations as Ray tasks, on a cluster whose nodes share no file system.

The driver (the process running the study) ships what a task needs through Ray's object store: the test split,
each model as its weights and card (:class:`ModelPackage`), a run's samples and seed, and the batches an
interrupted attempt kept. One task makes one run's adversarial set, streaming each finished batch back, and
evaluates it; another applies a cell's sets to another precision; another runs one row of a model's robustness table
(one attack at one budget), streaming its batches back too. The driver writes everything into the study folder,
atomically, exactly as a local study does (:class:`~annt.experiments.AttackPlan`,
:class:`~annt.experiments.RobustnessPlan`). A task touches no path of the driver's machine: a node needs ANNT
installed, and nothing else.
"""
import math
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from .attacks import assemble, attack_calls, independent
from .errors import ClusterError
from .manifest import RunRecord, machine

#: A run whose task is lost (its worker process or node died) is sent again, from the batches the driver kept,
#: this many times before the study stops.
RESENDS = 3


@dataclass(frozen=True)
class ModelPackage:
    """A trained model as data (its class, how it is built, its weights and card): what a task builds it from,
    without a file."""

    model_class: type
    build: tuple  # (precision, activation bound, data shape, layout), as ClassifierModel takes them
    weights: dict
    card: dict | None
    checkpoint: str  # the driver's path, a name only

    def load(self):
        from .predictor import TrainedModel
        return TrainedModel(self.model_class(*self.build), self.checkpoint, self.card, weights=self.weights)


#: In a worker process: the models its earlier tasks built (Ray gives one process many tasks of a study's job).
_BUILT = {}


def _built(package):
    """The package's model, built once per worker process; the process's first sizes TensorFlow's thread pools to
    the CPUs Ray gave the task (:func:`annt._backend.use_threads`)."""
    key = (package.checkpoint, repr(package.build))
    if key not in _BUILT:
        if not _BUILT:
            from ._backend import use_threads
            use_threads(assigned_cpus())
        _BUILT[key] = package.load()
    return _BUILT[key]


def assigned_cpus():
    """The CPUs Ray gave the running task, at least 1 (a fraction of a CPU still runs on one)."""
    import ray
    return max(1, math.ceil(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))


def package(trained):
    """The :class:`ModelPackage` of a loaded :class:`~annt.predictor.TrainedModel`. A user's model from a file
    travels by value (its class's code, pickled with it); one of an installed package's entry points must be
    installed on every node."""
    from ray import cloudpickle

    from .checkpoints import read_variables
    model = trained.model
    module = sys.modules[type(model).__module__]
    if module.__name__.startswith("annt_user_model_"):  # see annt.models._class_from_file
        cloudpickle.register_pickle_by_value(module)
    return ModelPackage(type(model), (str(model.precision), model.activation_bound, model.data, model.layout),
                        read_variables(trained.checkpoint), trained.card, str(trained.checkpoint))


def run_cells(cells, models, bar, address, transfers_of, task_samples=None, task_cpus=1, robustness=()):
    """Run ``cells`` (:class:`~annt.studies.Cell`) as Ray tasks, one per run still to make, on the cluster at
    ``address`` (None: a local Ray instance), and each cell's ``transfers_of(cell)`` evaluations as tasks once its
    sets are written; yields ``(cell, result, seconds)`` as each cell finishes, and returns once every task ended.
    ``robustness``: ``(cell, folder)`` of each model whose robustness table to measure into ``folder`` (with the
    cell's settings; one finished there is counted as done), a task per row still to run, sent after the cells'
    tasks. ``models``: the driver's loaded models, by :class:`~annt.settings.ModelSource`. ``task_samples``: a run
    of an attack whose calls are independent (:func:`annt.attacks.independent`) is split into tasks of about this
    many samples (whole calls), each making its calls as the whole run would, so the set is the same bit for bit.
    ``task_cpus``: the CPUs each task asks for (and its TensorFlow threads per pool)."""
    import ray
    started_here = not ray.is_initialized()
    ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        yield from _Driver(ray, cells, models, bar, transfers_of, task_samples, task_cpus, robustness).run()
    finally:
        if started_here:
            ray.shutdown()


class _Driver:
    """The Ray tasks of a study in flight, and what to do with each result as it comes."""

    def __init__(self, ray, cells, models, bar, transfers_of, task_samples, task_cpus, robustness):
        from .experiments import test_split
        self.ray, self.cells, self.models, self.bar, self.transfers_of = ray, cells, models, bar, transfers_of
        self.task_samples, self.robustness = task_samples, robustness
        images, _ = test_split(cells[0].settings.data)
        self.images = ray.put(images)
        self.packages = {source: ray.put(package(trained)) for source, trained in models.items()}
        self.make = ray.remote(_make_run).options(max_retries=0, num_cpus=task_cpus)
        self.evaluate = ray.remote(_evaluate_sets).options(max_retries=0, num_cpus=task_cpus)
        self.measure_row = ray.remote(_measure_row).options(max_retries=0, num_cpus=task_cpus)
        self.pending = {}  # ObjectRef or ObjectRefGenerator: its _Task
        self.finished = []  # (cell, result, seconds) not yet yielded

    def run(self):
        from .experiments import finished_attack, plan_attack
        for cell in self.cells:
            started = time.time()
            kept = finished_attack(cell.settings, self.models[cell.model])
            if kept is None:
                self._start_cell(cell, plan_attack(cell.settings, self.models[cell.model], announce=False))
            else:  # as run locally: a finished attack's metrics are read, its sets not evaluated again
                self.bar.part(cell.cost).resumed(cell.samples)
                self.finished.append((cell, kept, time.time() - started))
                self._send_transfers(cell)
        for cell, folder in self.robustness:
            self._start_robustness(cell, folder)
        resources = self.ray.cluster_resources()
        self.bar.write(f"ray: {len(self.pending)} tasks sent to {resources.get('CPU', 0):g} CPUs on "
                       f"{len([node for node in self.ray.nodes() if node['Alive']])} node(s)")
        yield from self.finished
        self.finished.clear()
        while self.pending:
            ready, _ = self.ray.wait(list(self.pending), num_returns=1)
            task = self.pending.pop(ready[0])
            try:
                if isinstance(ready[0], self.ray.ObjectRefGenerator):
                    value = self.ray.get(next(ready[0]))
                    self.pending[ready[0]] = task
                else:
                    value = self.ray.get(ready[0])
            except StopIteration:
                continue
            except self.ray.exceptions.RayTaskError as error:  # raised by ANNT's code in the task: the user's to see
                for reference in self.pending:
                    self.ray.cancel(reference, force=True)
                raise error.cause if isinstance(error.cause, BaseException) else error
            except self.ray.exceptions.RayError as error:  # the task was lost with its worker or node
                self.pending.pop(ready[0], None)
                self._resend(task, error)
                continue
            task.handle(value)
            yield from self.finished
            self.finished.clear()

    def _send(self, submit, handle, what, resends=0):
        self.pending[submit()] = _Task(submit, handle, what, resends)

    def _resend(self, task, error):
        if task.resends >= RESENDS:
            raise ClusterError(f"{task.what}: its Ray task was lost {RESENDS + 1} times (last: "
                               f"{type(error).__name__}); what came back is kept: resume the study once the cluster "
                               "is healthy")
        self.bar.write(f"{task.what}: its Ray task was lost ({type(error).__name__}); sent again (a run goes on "
                       "from the batches it streamed)")
        self._send(task.submit, task.handle, task.what, task.resends + 1)

    def _start_cell(self, cell, plan):
        state = _CellState(cell, plan, RunRecord(), time.time(), self.bar.part(cell.cost))
        batch_size = cell.settings.test.batch_size
        for run, adversarial_set in plan.finished.items():
            state.progress.resumed(len(adversarial_set.indices))
            self._send(partial(self.evaluate.remote, self.packages[cell.model], [adversarial_set], self.images,
                               batch_size), partial(self._run_evaluated, state, run), f"{cell} run {run}")
        for run in plan.samples:
            if self.task_samples and independent(cell.attack):
                self._start_chunks(state, run)
            else:
                self._send(partial(self._submit_run, state, run), partial(self._streamed_event, state, run),
                           f"{cell} run {run}")

    def _submit_run(self, state, run, only=None):
        """A task making ``run`` (or its calls beginning at ``only``) from the batches the driver kept in its parts
        folder (none at first)."""
        plan, spec = state.plan, state.cell.settings.attack
        parts = plan.parts(run)
        done = parts.finished()
        if only is None:
            kept = sum(len(call.images) for call in done.values())
            if run not in state.making:  # first sent: the batches of earlier sessions are done (a resend's are counted)
                state.progress.resumed(kept)
            state.making[run] = parts, RunRecord(), kept
        else:
            done = {start: call for start, call in done.items() if start in only}
        indices = plan.samples[run]
        return self.make.remote(self.packages[state.cell.model], self.images, indices, plan.labels[indices],
                                plan.predictions[indices], spec.name, spec.params, plan.run_seed(run),
                                state.cell.settings.test.batch_size, done, only)

    def _start_chunks(self, state, run):
        """Tasks of about ``task_samples`` samples each making the calls of ``run`` not yet saved."""
        spec = state.cell.settings.attack
        parts = state.plan.parts(run)
        done = parts.finished()
        state.making[run] = parts, RunRecord(), 0
        state.progress.resumed(sum(len(call.images) for call in done.values()))
        chunks, chunk = [], []
        for call in attack_calls(spec.name, spec.params, len(state.plan.samples[run])):
            if call.start in done:
                continue
            chunk.append(call.start)
            if (call.stop - chunk[0]) >= self.task_samples:
                chunks.append(chunk)
                chunk = []
        chunks += [chunk] if chunk else []
        state.chunks[run] = {tuple(chunk): None for chunk in chunks}
        for number, chunk in enumerate(chunks, 1):
            self._send(partial(self._submit_run, state, run, set(chunk)),
                       partial(self._streamed_event, state, run, chunk=tuple(chunk)),
                       f"{state.cell} run {run} ({number} of {len(chunks)})")
        if not chunks:
            self._evaluate_chunked(state, run)

    def _streamed_event(self, state, run, event, chunk=None):
        parts, record, streamed = state.making[run]
        kind, *content = event
        if kind == "part":
            start, call, seconds = content
            parts.save(start, call, seconds)
            state.progress.update(len(call.images))
            state.making[run] = parts, record, streamed + len(call.images)
            return
        if kind == "calls":
            state.chunks[run][chunk] = content  # (seconds, machine)
            if all(state.chunks[run].values()):
                self._evaluate_chunked(state, run)
            return
        adversarial, extras, adversarial_predictions, rows, metrics, seconds, where = content
        state.progress.update(len(adversarial) - streamed)  # a call spanning the whole set (UAP) streams no part
        state.plan.save_set(run, adversarial, extras, adversarial_predictions, record, parts, wall_time_s=seconds,
                            machine=where)
        self._run_evaluated(state, run, [(rows, metrics)])

    def _evaluate_chunked(self, state, run):
        """A run whose calls were made by several tasks: its set assembled from the saved calls, evaluated by a task,
        then saved (its wall time the sum of its tasks', its machine the first's)."""
        parts, record, _ = state.making[run]
        made = state.plan.parts(run).finished()  # another reader: ``parts`` counts the time of earlier sessions' only
        adversarial, extras = assemble([made[start] for start in sorted(made)])
        made_by = list(state.chunks[run].values())
        seconds = round(sum(spent for spent, _ in made_by), 2)
        where = made_by[0][1] if made_by else None

        def evaluated(value):
            (rows, metrics), = value
            state.plan.save_set(run, adversarial, extras, rows["adversarial_prediction"], record, parts,
                                wall_time_s=seconds, **({"machine": where} if where else {}))
            self._run_evaluated(state, run, value)

        unsaved = state.plan.unsaved_set(run, adversarial, extras, None)
        self._send(partial(self.evaluate.remote, self.packages[state.cell.model], [unsaved], self.images,
                           state.cell.settings.test.batch_size), evaluated, f"{state.cell} run {run} (evaluation)")

    def _run_evaluated(self, state, run, evaluated):
        (rows, metrics), = evaluated
        state.per_run[run] = state.plan.write_run(run, rows, metrics)
        if len(state.per_run) < state.cell.settings.attack.runs:
            return
        result = state.plan.finish(state.record, [state.per_run[r] for r in sorted(state.per_run)],
                                   echo=lambda *_: None)
        self.finished.append((state.cell, result, time.time() - state.started))
        self._send_transfers(state.cell)

    def _send_transfers(self, cell):
        from .experiments import plan_evaluate
        from .outputs import evaluation_folder
        for target, step in self.transfers_of(cell):
            if (evaluation_folder(step) / "metrics.json").is_file():
                continue
            plan = plan_evaluate(step, self.models[target])
            self._send(partial(self.evaluate.remote, self.packages[target], plan.sets, self.images,
                               step.test.batch_size),
                       partial(plan.finish, RunRecord(), echo=lambda *_: None), f"{cell} on {target.precision}")

    def _start_robustness(self, cell, folder):
        """The rows of the cell's model's robustness table still to run, a task each; ``robustness.json`` is
        written once every row is in (:class:`~annt.experiments.RobustnessPlan`)."""
        from .experiments import RobustnessPlan, robustness_cost
        if (folder / "robustness.json").is_file():
            cost, samples = robustness_cost(cell.settings)
            self.bar.add_resumed(samples, cost)
            return
        plan = RobustnessPlan.of(cell.settings, self.models[cell.model])
        state = _RobustnessState(plan, plan.rows(folder), folder)
        for number, row in enumerate(state.rows):
            progress = self.bar.part(row.cost)
            success = row.read(len(plan.labels))
            if success is not None:
                progress.resumed(len(plan.labels))
                state.broken[number] = success
                continue
            making = _RowState(row, progress)
            self._send(partial(self._submit_row, self.packages[cell.model], plan, making),
                       partial(self._row_event, state, number, making),
                       f"robustness of {cell.precision}: {row.member.label} at ε {row.eps:g}")
        self._robustness_done(state)

    def _submit_row(self, model, plan, making):
        """A task running ``making.row`` from the calls the driver kept (none at first)."""
        done = making.row.parts.finished()
        if not making.sent:  # as a run's: the calls of earlier sessions are done (a resend's were counted as streamed)
            making.sent = True
            making.counted = sum(len(call.images) for call in done.values())
            making.progress.resumed(making.counted)
        return self.measure_row.remote(model, self.images, plan.indices, plan.labels, making.row.member.attack,
                                       making.row.params, plan.seed, done)

    def _row_event(self, state, number, making, event):
        kind, *content = event
        if kind == "part":
            start, call, seconds = content
            making.row.parts.save(start, call, seconds)
            making.progress.update(len(call.images))
            making.counted += len(call.images)
            return
        success, = content
        making.progress.update(len(success) - making.counted)  # a call spanning every sample streams no part
        making.row.keep(success)
        state.broken[number] = success
        self._robustness_done(state)

    def _robustness_done(self, state):
        from .real_robustness import combine
        if len(state.broken) == len(state.rows):
            state.plan.finish(combine(state.rows, [state.broken[n] for n in range(len(state.rows))],
                                      state.plan.eps_grid), state.folder)


@dataclass
class _Task:
    submit: object  # () -> ObjectRef or ObjectRefGenerator, sends the task (again)
    handle: object  # (value) -> None, for each value it returns or streams
    what: str
    resends: int


@dataclass
class _CellState:
    cell: object
    plan: object  # AttackPlan
    record: object
    started: float
    progress: object
    per_run: dict = field(default_factory=dict)  # run: its metrics, once written
    making: dict = field(default_factory=dict)  # run: (Parts, RunRecord of its making, samples streamed so far)
    chunks: dict = field(default_factory=dict)  # run made by several tasks: {its calls' starts: (seconds, machine)}


@dataclass
class _RobustnessState:
    plan: object  # RobustnessPlan
    rows: list  # its Rows
    folder: object
    broken: dict = field(default_factory=dict)  # row number: which samples it broke, once finished


@dataclass
class _RowState:
    row: object  # real_robustness.Row
    progress: object
    sent: bool = False
    counted: int = 0  # samples of it on the bar: kept from earlier sessions, then streamed


def _make_run(package, images, indices, labels, clean_predictions, attack, params, seed, batch_size, done, only):
    """A Ray task: one run's adversarial set on the packaged model, from the batches in ``done`` on. Yields
    ``("part", first sample, AttackCall, seconds)`` as each batch finishes, then ``("set", images, extras, predictions,
    rows, metrics, seconds, machine)``; with ``only`` (the calls to make, see :func:`annt.attacks.generate`),
    ``("calls", seconds, machine)`` instead of the set."""
    from .adversarial_sets import AdversarialSet
    from .attacks import generate
    from .estimator import art_classifier
    from .evaluation import evaluate_set
    started = time.time()
    trained = _built(package)

    def make(emit):
        adversarial, extras = generate(trained, art_classifier(trained), attack, params, images[indices], labels, seed,
                                       progress=_Uncounted(), parts=_StreamedParts(done, emit), only=only)
        if only is not None:
            return None
        adversarial_predictions = trained.predict(adversarial, batch_size)
        rows, metrics = evaluate_set(AdversarialSet(adversarial, indices, labels, clean_predictions,
                                                    adversarial_predictions), trained, images, batch_size)
        return adversarial, extras, adversarial_predictions, rows, metrics

    result = yield from _streamed(make)
    made_where = round(time.time() - started, 2), machine()
    yield ("set", *result, *made_where) if only is None else ("calls", *made_where)


def _measure_row(package, images, indices, labels, attack, params, seed, done):
    """A Ray task: which of the samples one row of a robustness table breaks
    (:func:`annt.real_robustness.broken_by`), from the calls in ``done`` on. Yields ``("part", first sample,
    AttackCall, seconds)`` as each call finishes, then ``("row", success per sample)``."""
    from .estimator import art_classifier
    from .real_robustness import broken_by
    trained = _built(package)
    success = yield from _streamed(lambda emit: broken_by(trained, art_classifier(trained), attack, params,
                                                          images[indices], labels, seed, _Uncounted(),
                                                          _StreamedParts(done, emit)))
    yield "row", success


def _evaluate_sets(package, sets, images, batch_size):
    """A Ray task: :func:`~annt.evaluation.evaluate_set` of each set on the packaged model."""
    from .evaluation import evaluate_set
    trained = _built(package)
    return [evaluate_set(adversarial_set, trained, images, batch_size) for adversarial_set in sets]


class _StreamedParts:
    """What :func:`annt.attacks.generate` needs of a :class:`~annt.adversarial_sets.Parts` store, in a task: the
    batches the driver kept, and each new one handed to ``emit`` (the driver saves it) with the seconds it took in
    the task, timed here: the driver's clock would count the hours a task may wait in Ray's queue."""

    def __init__(self, done, emit):
        self.done, self.emit, self.last = done, emit, time.time()

    def finished(self):
        return dict(self.done)

    def save(self, start, call):
        now = time.time()
        self.emit(("part", start, call, now - self.last))
        self.last = now


class _Uncounted:
    """A progress bar nobody sees: the driver counts the streamed batches."""

    def update(self, _samples):
        pass


def _streamed(work):
    """Run ``work(emit)`` in a thread, yielding what it emits as it comes; returns its result, or raises its error
    (a Ray generator task can only yield from its own frame)."""
    events, outcome, end = queue.SimpleQueue(), {}, object()

    def target():
        try:
            outcome["result"] = work(events.put)
        except BaseException as error:  # raised again in the task's thread
            outcome["error"] = error
        finally:
            events.put(end)

    threading.Thread(target=target, daemon=True).start()
    while (event := events.get()) is not end:
        yield event
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


__all__ = ["ModelPackage", "RESENDS", "package", "run_cells"]

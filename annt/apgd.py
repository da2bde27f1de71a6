"""APGD, Auto-PGD (Croce & Hein, ICML 2020), L-inf, on the model's TF1 graph, called as ART calls its attacks.

ANNT's own because ART 1.19.2's ``AutoProjectedGradientDescent`` refuses TF1 classifiers. It follows the
authors' reference (``autopgd_base.py`` of AutoAttack): a random start in the eps-ball; a first signed step of
2 eps; then momentum 0.75 on each projected step; at checkpoints (the first after 22 % of the iterations, then
ever closer, at least 6 % apart) a sample's step is halved, and it goes back to its best point, when fewer than
``rho`` of the steps since the last checkpoint raised its loss, or when the step was not halved there and its
best loss has not risen since. Losses: cross-entropy (``ce``), the difference of logits ratio (``dlr``), and its
targeted form (``dlr_targeted``: APGD-T, one run per target among the ``n_target_classes`` classes the model
ranks highest after the first). A sample once misclassified stays broken; restarts and targets run on the samples
still standing. Each step is one forward and one backward pass of the whole batch (logits, per-sample losses and
the gradient of their sum in one call).
"""
import weakref

import numpy as np

from ._backend import tf

LOSSES = ("ce", "dlr", "dlr_targeted")

#: Per graph, per loss: (labels placeholder, targets placeholder, per-sample loss, its input gradient).
_OPS = weakref.WeakKeyDictionary()


def loss_tensor(name, logits, labels, targets=None):
    """Per-sample loss ``name`` of ``logits`` for true ``labels`` (and ``targets`` for ``dlr_targeted``);
    APGD raises it. DLR = -(z_y - max_{i != y} z_i) / (z_1 - z_3), with z_1 >= z_2 >= ... the sorted logits;
    targeted: -(z_y - z_t) / (z_1 - (z_3 + z_4) / 2); 1e-12 keeps the denominators away from 0."""
    if name == "ce":
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    classes = tf.shape(logits)[1]
    true = tf.reduce_sum(logits * tf.one_hot(labels, classes), axis=1)
    top = tf.nn.top_k(logits, k=4 if name == "dlr_targeted" else 3).values
    if name == "dlr":
        best_other = tf.reduce_max(logits - 1e30 * tf.one_hot(labels, classes), axis=1)
        return -(true - best_other) / (top[:, 0] - top[:, 2] + 1e-12)
    if name == "dlr_targeted":
        target = tf.reduce_sum(logits * tf.one_hot(targets, classes), axis=1)
        return -(true - target) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)
    raise ValueError(f"unknown APGD loss {name!r}; allowed: {', '.join(LOSSES)}")


def _ops(image, logits, loss):
    """The loss and gradient ops of ``loss`` in the graph of ``image``, built once per graph."""
    graph = image.graph
    built = _OPS.setdefault(graph, {})
    if loss not in built:
        with graph.as_default(), tf.name_scope("apgd"):
            labels = tf.placeholder(tf.int32, [None], name=f"{loss}_labels")
            targets = tf.placeholder(tf.int32, [None], name=f"{loss}_targets")
            per_sample = loss_tensor(loss, logits, labels, targets)
            built[loss] = labels, targets, per_sample, tf.gradients(tf.reduce_sum(per_sample), image)[0]
    return built[loss]


def checkpoint_gaps(max_iter):
    """Iterations between APGD's step-size checkpoints: 22 % of them first, each next gap 3 % shorter, never
    below 6 % (the reference's ``n_iter_2``, ``size_decr``, ``n_iter_min``)."""
    first, shrink, least = (max(int(share * max_iter), 1) for share in (0.22, 0.03, 0.06))
    gaps, gap, total = [], first, 0
    while total + gap <= max_iter:
        gaps.append(gap)
        total += gap
        gap = max(gap - shrink, least)
    return gaps


class APGD:
    """APGD against an ART classifier of ANNT (``annt.estimator.art_classifier``): ``generate(x, y)`` returns,
    per sample, the last misclassified point of the run that broke it (as the reference), or the clean image
    where no run did."""

    def __init__(self, classifier, eps=0.3, max_iter=100, loss="ce", nb_restarts=1, rho=0.75, n_target_classes=9,
                 batch_size=256):
        self.classifier, self.eps, self.max_iter, self.loss = classifier, float(eps), int(max_iter), loss
        self.nb_restarts, self.rho, self.batch_size = int(nb_restarts), float(rho), int(batch_size)
        self.n_target_classes = int(n_target_classes)
        self.session = classifier._sess
        self.image, self.logits = classifier._input_ph, classifier._output
        self.labels, self.targets, self.per_sample, self.gradient = _ops(self.image, self.logits, loss)
        # Rows computed here counted where the classifier counts its own (FastClassifier.evaluations).
        self._count = getattr(classifier, "count", lambda **rows: None)

    def evaluate(self, x, y, targets=None):
        """Logits, per-sample losses and the loss gradient at ``x`` (one call)."""
        feed = {self.image: x, self.labels: y, self.targets: y if targets is None else targets}
        self._count(gradient=len(x))
        return self.session.run([self.logits, self.per_sample, self.gradient], feed)

    def generate(self, x, y=None, **_):
        if y is None:
            raise ValueError("APGD needs the true labels")
        x, y = np.asarray(x, np.float32), np.asarray(y).reshape(len(x), -1)
        y = (np.argmax(y, axis=1) if y.shape[1] > 1 else y[:, 0]).astype(np.int32)
        return np.concatenate([self._attack(x[start:start + self.batch_size], y[start:start + self.batch_size])
                               for start in range(0, len(x), self.batch_size)]) if len(x) else x

    def _attack(self, x, y):
        adversarial = x.copy()
        self._count(forward=len(x))
        logits = self.session.run(self.logits, {self.image: x})
        standing = np.argmax(logits, axis=1) == y
        ranked = np.argsort(logits, axis=1)  # for APGD-T: targets by the clean image's ranking
        # As many targets as asked for, at most every class but the true one.
        targets = range(2, min(self.n_target_classes, logits.shape[1] - 1) + 2) if self.loss == "dlr_targeted" \
            else [None]
        for rank in targets:
            for _ in range(self.nb_restarts):
                which = np.flatnonzero(standing)
                if not which.size:
                    return adversarial
                target = None if rank is None else ranked[which, -rank].astype(np.int32)
                broken, found, _ = self._run(x[which], y[which], target)
                adversarial[which[broken]] = found[broken]
                standing[which[broken]] = False
        return adversarial

    def _run(self, x, y, target):
        """One run from a random start: ``(broken, last misclassified point, best loss)`` per sample."""
        eps, count = self.eps, len(x)
        low, high = np.clip(x - eps, 0.0, 1.0), np.clip(x + eps, 0.0, 1.0)
        start = np.random.uniform(-1.0, 1.0, x.shape).astype(np.float32)
        start /= np.abs(start).reshape(count, -1).max(axis=1).reshape((count,) + (1,) * (x.ndim - 1)) + 1e-12
        current = np.clip(x + eps * start, 0.0, 1.0)
        logits, loss, gradient = self.evaluate(current, y, target)
        broken = np.argmax(logits, axis=1) != y
        found = current.copy()
        best, best_loss, best_gradient = current.copy(), loss.copy(), gradient.copy()
        step = np.full((count,) + (1,) * (x.ndim - 1), 2.0 * eps, np.float32)
        previous = current.copy()
        losses = np.zeros((self.max_iter, count), np.float32)
        gaps, since_check = checkpoint_gaps(self.max_iter), 0
        best_at_check, halved_at_check = best_loss.copy(), np.ones(count, bool)
        for iteration in range(self.max_iter):
            momentum = current - previous
            previous = current
            weight = 0.75 if iteration > 0 else 1.0
            stepped = np.clip(current + step * np.sign(gradient), low, high)
            current = np.clip(current + (stepped - current) * weight + momentum * (1 - weight), low, high)
            logits, loss, gradient = self.evaluate(current, y, target)
            misclassified = np.argmax(logits, axis=1) != y
            found[misclassified] = current[misclassified]
            broken |= misclassified
            losses[iteration] = loss
            improved = loss > best_loss
            best[improved], best_gradient[improved], best_loss[improved] = \
                current[improved], gradient[improved], loss[improved]
            since_check += 1
            if gaps and since_check == gaps[0]:
                gap = gaps.pop(0)
                # As the reference: rises among the last ``gap`` steps (the first compares with losses[-1]).
                rises = sum(losses[iteration - back] > losses[iteration - back - 1] for back in range(gap))
                halve = (rises <= gap * self.rho) | (~halved_at_check & (best_at_check >= best_loss))
                halved_at_check, best_at_check = halve, best_loss.copy()
                step[halve] /= 2.0
                current[halve], gradient[halve] = best[halve], best_gradient[halve]
                since_check = 0
        return broken, found, best_loss

"""AutoAttack's standard ensemble (Croce & Hein, ICML 2020), L-inf, as RobustBench runs it: each sample's worst
case over APGD-CE, then APGD-T, then Square, each run only on the samples the ones before left standing.

ANNT's own because ART 1.19.2's ``AutoAttack`` refuses TF1 classifiers; its members are ANNT's APGD
(``annt.apgd``) and ART's ``SquareAttack``. Left out: FAB-T, AutoAttack's third member, which neither ART (for
TF1) nor ANNT implements; in the authors' evaluations it rarely breaks a sample the other three leave standing.
"""
import numpy as np
from art.attacks.evasion import SquareAttack

from .apgd import APGD

#: The members in the order they run; ``broken_by`` holds 1 + the index of the member that broke a sample, 0 if none.
MEMBERS = ("APGD-CE", "APGD-T", "Square")


class AutoAttack:
    """The ensemble against an ART classifier of ANNT, called as ART calls its attacks; after ``generate``,
    ``broken_by`` says which member broke each sample."""

    def __init__(self, classifier, eps=0.3, apgd_iter=100, n_target_classes=9, square_queries=5000, p_init=0.8,
                 batch_size=256):
        self.classifier, self.eps = classifier, float(eps)
        self.members = (
            APGD(classifier, eps=eps, max_iter=apgd_iter, loss="ce", batch_size=batch_size),
            APGD(classifier, eps=eps, max_iter=apgd_iter, loss="dlr_targeted", n_target_classes=n_target_classes,
                 batch_size=batch_size),
            SquareAttack(classifier, norm="inf", eps=eps, max_iter=square_queries, p_init=p_init, nb_restarts=1,
                         batch_size=batch_size, verbose=False))
        self.broken_by = None

    def generate(self, x, y=None, **_):
        if y is None:
            raise ValueError("AutoAttack needs the true labels")
        x, y = np.asarray(x, np.float32), np.asarray(y).astype(np.int32)
        adversarial, self.broken_by = x.copy(), np.zeros(len(x), np.int8)
        standing = self.classifier.predict(x).argmax(axis=1) == y
        for number, member in enumerate(self.members, 1):
            which = np.flatnonzero(standing)
            if not which.size:
                break
            found = np.asarray(member.generate(x[which], y[which]), np.float32)
            broken = self.classifier.predict(found).argmax(axis=1) != y[which]
            adversarial[which[broken]] = found[broken]
            self.broken_by[which[broken]] = number
            standing[which[broken]] = False
        return adversarial


def summary_lines(broken_by, samples):
    """AutoAttack's report: robust accuracy after each member, over ``samples`` correctly classified images."""
    lines, standing = [], samples
    for number, name in enumerate(MEMBERS, 1):
        standing -= int(np.sum(broken_by == number))
        lines.append(f"robust accuracy after {name}: {standing / samples:.2%} ({standing} of {samples} standing)")
    return lines

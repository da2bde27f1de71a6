"""Signs of gradient masking in a trained model, measured on test images (see Carlini et al. 2019,
"On Evaluating Adversarial Robustness", and Athalye et al. 2018)."""
import numpy as np
from art.utils import to_categorical

from .estimator import art_classifier

#: An input-gradient entry below this magnitude (but not zero) counts as vanishing: FGSM's sign step still
#: moves it, but it carries no information about the loss.
VANISHING = 1e-8


def input_gradient_sparsity(trained, images, labels, batch_size=256):
    """Fractions of the entries of the loss's input gradient that are exactly zero and that vanish
    (0 < |g| < :data:`VANISHING`), over ``images`` with their true ``labels``.

    A zero entry gives FGSM nothing to follow there (``sign(0) = 0``: the pixel is left unchanged),
    which is how a dead first layer makes an attack look weaker than the model is.
    """
    classifier = art_classifier(trained)
    zero = vanishing = total = 0
    with trained.graph.as_default():
        for start in range(0, len(images), batch_size):
            one_hot = to_categorical(labels[start:start + batch_size], classifier.nb_classes)
            gradient = np.abs(classifier.loss_gradient(images[start:start + batch_size], one_hot))
            zero += int((gradient == 0).sum())
            vanishing += int(((gradient > 0) & (gradient < VANISHING)).sum())
            total += gradient.size
    return {"zero": zero / total, "vanishing": vanishing / total}

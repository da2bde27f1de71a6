"""ART's view of a trained model: a ``TensorFlowClassifier`` on its logits, in the model's own graph."""
from art.estimators.classification import TensorFlowClassifier

from ._backend import tf


def art_classifier(trained):
    """Wrap a :class:`~annt.predictor.TrainedModel` for ART (logits, cross-entropy, clip values 0..1).

    ART builds its gradient ops in the default graph, so every ART call on the result must run
    under ``with trained.graph.as_default():`` (:func:`annt.attacks.generate` does).
    """
    with trained.graph.as_default():
        logits, labels = trained.tensor("logits"), trained.tensor("label")
        # Summed, not averaged like the model's training loss, so each sample gets its own gradient.
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits),
                             name="art_loss")
        return TensorFlowClassifier(input_ph=trained.tensor("input"), output=logits, labels_ph=labels,
                                    loss=loss, sess=trained.session, clip_values=(0.0, 1.0),
                                    channels_first=False)

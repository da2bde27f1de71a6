"""Progress bars whose remaining time holds over attacks of very unequal cost.

A study or a diagnosis runs attacks whose samples cost from one gradient (FGSM) to thousands of model
evaluations (Boundary, CW). A bar counting samples would promise, after the fast ones, an end that the slow
ones then miss by far (a diagnosis showed "23 s left" at 87 % and took 12 more minutes, its 100 Boundary
iterations coming last). :class:`CostBar` advances instead by each sample's estimated cost
(:func:`cost_per_sample`); tqdm turns the measured rate of cost into the time left, so only the ratios of the
costs matter, and they hold across models and machines as long as the attacks scale alike. Work an earlier
session left on disk is shown as done but kept out of that rate (:func:`count_resumed`): counted as new, the
minutes a resumed study spent loading its finished runs made its bar show 44 minutes left for CW-L2 samples it
was making at a pace of about 9 hours.
"""
from tqdm import tqdm


def cost_per_sample(attack, params):
    """What one sample of ``attack`` costs, in PGD steps (one input gradient of a batch of samples).

    Measured on model_a FP on 2 cores, 100 samples (``annt.attacks.generate``): a PGD step 0.16 ms, FGSM about
    one step, Boundary 82 ms at 15 iterations and 470 ms at 100 (30 steps an iteration, 80 for its starting
    points), CW-L2 12 ms at 20 optimisation steps (3.6 steps each), JSMA 6.4 ms at gamma 0.1, UAP 3.8 ms.
    """
    if attack == "fgsm":
        return 1.0
    if attack == "pgd":  # PGD++ first takes the Jacobian of the logits: a backward pass per class, about 10 steps
        return float(params["max_iter"] * max(1, params["num_random_init"])) + \
            (10.0 if params.get("temperature", "none") != "none" else 0.0)
    if attack == "boundary":
        return 30.0 * params["max_iter"] + 80.0
    if attack == "cw_l2":
        return 3.6 * params["max_iter"] * params["binary_search_steps"]
    if attack == "jsma":
        return 40.0 * params["gamma"] / 0.1
    if attack == "uap":
        return 25.0
    if attack == "apgd":  # one forward and backward pass a step, per restart and (APGD-T) per target class
        targets = params["n_target_classes"] if params["loss"] == "dlr_targeted" else 1
        return float(params["max_iter"] * params["nb_restarts"] * targets)
    if attack == "autoattack":  # at most: every member on every sample
        return float(params["apgd_iter"] * (1 + params["n_target_classes"]) + 0.4 * params["square_queries"])
    if attack == "hopskipjump":  # init_eval * sqrt(step) queries (at most max_eval) a step, batched like Boundary's
        return 0.06 * sum(min(params["init_eval"] * (step ** 0.5), params["max_eval"])
                          for step in range(1, params["max_iter"] + 1)) + 2.0 * params["max_iter"]
    if attack == "square":  # one forward pass per query; a sample it breaks stops early, so this is the most
        return 0.4 * params["max_iter"] * params["nb_restarts"]
    raise ValueError(f"unknown attack {attack!r}")


def count_resumed(progress, samples):
    """Advance ``progress`` by ``samples`` an earlier session made (found on disk), keeping them out of the rate it
    turns into the time left when it can (a :meth:`CostBar.part`); anything else with ``update(samples)`` (a tqdm
    bar) counts them as new."""
    (getattr(progress, "resumed", None) or progress.update)(samples)


def training_cost(epochs, train_images, test_images):
    """What training a model costs in the same unit: an image of a training step (forward, backward, update) about
    1.5 PGD steps, an image of the test-split evaluation after each epoch about half of one (a model_a epoch,
    60,000 images, takes 10-20 s on 2 cores, against 0.16 ms a PGD step)."""
    return float(epochs) * (1.5 * train_images + 0.5 * test_images)


class CostBar:
    """One tqdm bar over samples of several attacks, advancing by their cost; it shows the samples done.

    ``total_cost``: the sum over the work of samples x :func:`cost_per_sample`. :meth:`part` gives what one
    attack's code advances (anything with ``update(samples)``, as :func:`annt.attacks.generate` takes).
    """

    def __init__(self, total_cost, total_samples, desc):
        self.bar = _SamplesTqdm(total_samples, total=total_cost, desc=desc, smoothing=0.05,
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {samples} [{elapsed}<{remaining}]")

    @property
    def samples(self):
        return self.bar.samples

    def add(self, samples, cost):
        """``samples`` more done, of total cost ``cost``."""
        self.bar.samples += samples
        self.bar.update(cost)

    def add_resumed(self, samples, cost):
        """``samples`` more, of total ``cost``, made by an earlier session: shown as done, left out of the rate, and
        so is the time until now (loading them). tqdm's ``update`` has no such option, so its counters are moved
        here as its ``initial`` would have set them."""
        self.bar.samples += samples
        for counter in ("n", "last_print_n", "initial"):
            setattr(self.bar, counter, getattr(self.bar, counter) + cost)
        self.bar.last_print_t = self.bar._time()
        self.bar.refresh()

    def part(self, cost):
        """What to hand one attack: its ``update(samples)`` advances this bar by ``samples * cost``, its
        ``resumed(samples)`` likewise for samples an earlier session made (:meth:`add_resumed`)."""
        return _Part(self, cost)

    def write(self, text):
        self.bar.write(text)

    def close(self):
        self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


class _SamplesTqdm(tqdm):
    """tqdm whose bar can show ``{samples}``: the samples done of all, beside the time left by cost."""

    def __init__(self, total_samples, **kwargs):
        self.samples, self.total_samples = 0, total_samples
        super().__init__(**kwargs)

    @property
    def format_dict(self):
        return {**super().format_dict, "samples": f"{self.samples}/{self.total_samples} samples"}


class _Part:
    def __init__(self, owner, cost):
        self.owner, self.cost = owner, cost

    def update(self, samples):
        self.owner.add(samples, samples * self.cost)

    def resumed(self, samples):
        self.owner.add_resumed(samples, samples * self.cost)

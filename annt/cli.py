"""``python -m annt --config FILE [--set key.path=value ...]`` (also the ``annt`` console script)."""
import argparse
import os
import sys

from . import __version__
from . import config as config_module
from .attack_params import ATTACK_NAMES
from .errors import AnntError
from .models import MODELS
from .api import run
from .tasks import TASKS

EPILOG = f"""\
tasks:
{chr(10).join(f'  {name:<12}{task.summary}' for name, task in TASKS.items())}

attacks:     {', '.join(ATTACK_NAMES)}
models:      {', '.join(f'{name} ({architecture.dataset})' for name, architecture in MODELS.items())}
precisions:  FP, or W,A,G bitwidths of weights, activations, gradients: 1..16 or 32 (e.g. 1,1,32)

main keys (--set key.path=value; values are YAML):
  task=attack  model.name=model_a  model.precision=2,2,32  model.checkpoint=runs/my-model
  attack.name=cw_l2  attack.samples=1000  attack.runs=3  'attack.params={{eps: 0.1}}'
  train.epochs=10  data.dir=../shared/datasets  output.dir=runs  output.resume=true  seed=0

examples:
  python -m annt --config configs/quickstart.yaml
  python -m annt --config configs/paper/mnist_cw_l2.yaml --set model.precision=1,1,32
  python -m annt --set task=train --set model.precision=2,2,32 --set train.epochs=3
  python -m annt --set task=evaluate --set evaluate.adversarial=runs/model_a-mnist-fp-fgsm --set model.precision=FP

Every key, its type, default and allowed values: wiki/Configuration.md (configs/ holds examples).
"""


def build_parser():
    """The command line: ``--config FILE``, repeatable ``--set key.path=value``, ``--verbose``, ``--version``."""
    parser = argparse.ArgumentParser(
        prog="annt", description="ANNT: train, attack and evaluate quantized image classifiers.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE", help="YAML task file (see configs/)")
    parser.add_argument("--set", metavar="KEY.PATH=VALUE", action="append", default=[],
                        dest="overrides", help="override one config key (repeatable)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and Tensorpack's own logs (same as ANNT_VERBOSE=1)")
    parser.add_argument("--version", action="version", version=f"annt {__version__}")
    return parser


def main(argv=None):
    """Run the task a config asks for; returns the exit status (2 for bad input, with one message).

    Nothing here imports TensorFlow: help, the version and config errors answer at once, and TensorFlow is
    imported when the task starts its work.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
        if args.verbose:
            # TensorFlow reads its log level once, at import (annt._backend), which has not happened yet.
            os.environ["ANNT_VERBOSE"] = "1"
        if args.config is None and not args.overrides:
            build_parser().print_usage(sys.stderr)
            print("annt: error: give --config FILE (and/or --set key.path=value); see annt --help", file=sys.stderr)
            return 2
        run(config_module.load(args.config, args.overrides))
    except AnntError as error:
        print(f"annt: error: {error}", file=sys.stderr)
        return error.exit_status
    except OSError as error:
        # A file system that refuses a write (permission, full disk, read-only): one line naming the file; nothing
        # half-written is kept (writes are atomic, and folders the task started with nothing in them are removed).
        where = f"{error.filename}: " if error.filename else ""
        print(f"annt: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interruption:
        message = str(interruption) or "interrupted before any work started"
        print(f"annt: {message.replace('output.resume: true', '--set output.resume=true')}", file=sys.stderr)
        return 130
    return 0

if __name__ == "__main__":
    sys.exit(main())

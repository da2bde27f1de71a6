"""``python -m annt --config FILE [--set key.path=value ...]`` (also the ``annt`` console script)."""
import argparse
import sys

from . import config as config_module
from .errors import AnntError
from .tasks import run


def build_parser():
    """The command line: ``--config FILE`` and repeatable ``--set key.path=value``."""
    parser = argparse.ArgumentParser(
        prog="annt", description="ANNT: train, attack and evaluate quantized image classifiers.")
    parser.add_argument("--config", metavar="FILE", help="YAML task file (see configs/)")
    parser.add_argument("--set", metavar="KEY.PATH=VALUE", action="append", default=[],
                        dest="overrides", help="override one config key (repeatable)")
    return parser


def main(argv=None):
    """Run the task a config asks for; returns the exit status (2 for bad input, with one message)."""
    args = build_parser().parse_args(argv)
    if args.config is None and not args.overrides:
        build_parser().print_usage(sys.stderr)
        print("annt: error: give --config FILE (and/or --set key.path=value)", file=sys.stderr)
        return 2
    try:
        run(config_module.load(args.config, args.overrides))
    except AnntError as error:
        print(f"annt: error: {error}", file=sys.stderr)
        return error.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared by the report_* scripts: send logging (and errors) to the rule's log file."""

import logging


def setup(snakemake) -> None:
    """Log to the rule's log file (and stderr) at INFO."""
    handlers = [logging.StreamHandler()]
    if snakemake.log:
        handlers.append(logging.FileHandler(str(snakemake.log[0]), mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

"""``python -m distilface ...`` = the ``distilface`` command (:mod:`distilface.cli`)."""

from distilface.cli import main

raise SystemExit(main())

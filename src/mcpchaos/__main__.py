"""``python -m mcpchaos`` runs the command-line interface."""

from mcpchaos.cli.main import main

raise SystemExit(main())

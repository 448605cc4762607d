"""``python -m rempart``: the command line."""

from rempart.cli import main

main()

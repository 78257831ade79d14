"""``python -m docket``: the ``docket`` command line."""

from docket.cli import main

if __name__ == "__main__":
    main()

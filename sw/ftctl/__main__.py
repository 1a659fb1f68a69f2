"""``python -m ftctl``: the same as the ``ftctl`` command."""

from ftctl.cli import main


if __name__ == "__main__":
    main()

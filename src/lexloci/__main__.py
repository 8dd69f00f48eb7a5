"""``python -m lexloci`` is the ``lexloci`` command."""

from lexloci.cli.main import main

main()

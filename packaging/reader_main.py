"""Entry point of the reader build: the ``medvision`` command, frozen.

``freeze_support`` first: the image decoders and the AI panel's helpers are
``spawn`` processes, which a frozen application starts by running this very
executable again with multiprocessing's arguments.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from medvision_app.cli.main import main

    sys.exit(main())

"""Entry script of the packaged app: the same ``ecgviewer`` command as ``ecgviewer.cli:main``.

``freeze_support()`` lets the frozen executable act as a ``spawn`` worker process (the batch
runner uses them); without it a worker would start a second copy of the app.
"""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from ecgviewer.cli import main

    raise SystemExit(main())

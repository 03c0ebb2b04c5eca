"""Training research for the rhythm CNN: CinC data, cross-validation, soups, packaging.

Not used by the app: ``ecgviewer.rhythm`` is what classifies. These are plain functions; the
command line (``ecgviewer train``, ``train-soup``, ``train-finalize``, ``train-paper-set``)
lives in ``ecgviewer.commands``.
"""

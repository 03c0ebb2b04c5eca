"""The desktop app (the only package that imports Qt). It presents and calls the core.

Plain Python (no Qt, testable alone):
    document.py    the state of the open ECG and its events (the model the widgets show)
    pipeline.py    the background jobs: load → prepare → digitise → rhythm, stage by stage
    trace_edit.py  hand corrections of a lead as pure functions
    files.py       export and session through ecgviewer.export / ecgviewer.session
Qt:
    workers.py     every thread: TaskRunner (one QThread, last submission wins, shutdown)
    main_window.py the window: actions, document ↔ widgets, jobs
    image_view.py, waveform_view.py, controls.py, rhythm_panel.py   the widgets
    undo.py        QUndoStack commands, report.py  one-page PDF/PNG report
    app.py         QApplication, ``run()`` and the ``--screenshot`` mode

Importing this package imports no Qt; ``ecgviewer.gui.app.run`` starts the app.
"""

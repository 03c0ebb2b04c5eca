"""The desktop app (the only package that imports Qt). It presents and calls the core.

Plain Python (no Qt, testable alone):
    document.py    the state of the open ECG and its events (the model the widgets show)
    pipeline.py    the background jobs: load → prepare → digitise → rhythm, stage by stage,
                   and the live binary preview
    trace_edit.py  hand corrections of a lead as pure functions
    sheet.py       where each lead goes on the waveform's sheet of ECG paper, in mm
    files.py       export and session through ecgviewer.export / ecgviewer.session
Qt:
    workers.py     every thread: TaskRunner (one QThread, last submission wins, shutdown)
    main_window.py the window: widgets, document ↔ widgets, jobs; mixes in
      opening.py   open dialogs, pages, session sidecars, recent files, drag and drop
      exports.py   every save (signal, report, summary, overlay, session) from one table
      status.py    status bar, progress, errors and help dialogs
    actions.py     the menus and toolbar, declared as tables
    preferences.py remembered settings and window state (QSettings)
    image_view.py  the page: scan beside its binary image, traces, crop box
    waveform_view.py  the waveform as printed ECG paper (one plot, square grid), corrections
    controls.py, rhythm_panel.py   the settings and the rhythm result
    undo.py        QUndoStack commands, report.py  one-page PDF/PNG report
    app.py         QApplication, ``run()`` and the ``--screenshot`` mode

Importing this package imports no Qt; ``ecgviewer.gui.app.run`` starts the app.
"""

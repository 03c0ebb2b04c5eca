"""ECG Viewer: paper ECG images -> calibrated signals -> heart rhythm.

Research software, not a medical device. The core packages (io, digitize, render, rhythm)
never import Qt; only ``ecgviewer.gui`` does.
"""

__version__ = "0.1.0"

RESEARCH_NOTICE = "Research use only - not a medical device and not a diagnosis."

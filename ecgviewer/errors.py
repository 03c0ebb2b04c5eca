"""Typed errors of the core. The CLI prints ``str(error)`` as one line; the GUI shows a dialog."""


class EcgViewerError(Exception):
    """Base class of every error the core raises on purpose."""


class UnreadableImageError(EcgViewerError):
    """The file is not an image we can decode (wrong format, truncated, corrupt, encrypted PDF)."""


class ImageTooSmallError(EcgViewerError):
    """The image is empty or too small to hold an ECG."""


class ImageTooLargeError(EcgViewerError):
    """The image exceeds the pixel budget (protects memory, e.g. decompression bombs)."""


class EmptyDocumentError(EcgViewerError):
    """A document (PDF, multi-page TIFF) has no pages or the requested page does not exist."""


class NoTraceFoundError(EcgViewerError):
    """The image was read, but no ECG trace could be found in it."""


class SignalFormatError(EcgViewerError):
    """A signal file (WFDB, CSV, MAT, EDF) is malformed or lacks what we need (e.g. fs)."""


class ModelError(EcgViewerError):
    """Rhythm model weights are missing, corrupt (hash mismatch) or incompatible."""


class OutputExistsError(EcgViewerError, FileExistsError):
    """An output file exists and the caller did not allow replacing it."""


class SettingsError(EcgViewerError, ValueError):
    """A setting or option is out of its sane range (``field`` names it, e.g. ``output_fs_hz``)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field

"""One exception type per failure kind. Each message names the file or object, the reason and the fix."""


class CVOpsError(Exception):
    """Base of every error CVOps raises on purpose."""


class ArtifactNotFoundError(CVOpsError):
    """An artifact reference points at bytes the artifact store does not hold."""


class ArtifactCorruptedError(CVOpsError):
    """Stored artifact bytes no longer match the sha256 they are addressed by."""

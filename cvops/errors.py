"""One exception type per failure kind. Each message names the file or object, the reason and the fix."""


class CVOpsError(Exception):
    """Base of every error CVOps raises on purpose."""


class ArtifactNotFoundError(CVOpsError):
    """An artifact reference points at bytes the artifact store does not hold."""


class ArtifactCorruptedError(CVOpsError):
    """Stored artifact bytes no longer match the sha256 they are addressed by."""


class VersionStoreError(CVOpsError):
    """A version store operation failed; the message names the repository, the ref and the path."""


class RefNotFoundError(VersionStoreError):
    """A branch, tag or commit id does not exist in the repository."""


class InvalidRefNameError(VersionStoreError):
    """A branch or tag name breaks the naming rule (`^\\w[-\\w]*$`: letters, digits, `_` and `-`, no `/`)."""


class InvalidCommitMetadataError(VersionStoreError):
    """Commit or merge metadata uses a key under the `.lakefs.` prefix, which lakeFS reserves for itself."""


class BranchExistsError(VersionStoreError):
    """A branch with that name already exists."""


class TagExistsError(VersionStoreError):
    """A tag with that name already exists; tags are immutable."""


class NothingToCommitError(VersionStoreError):
    """A commit was requested on a branch without uncommitted changes."""


class MergeConflictError(VersionStoreError):
    """Source and destination both changed the same path differently since their merge base."""


class DirtyBranchError(VersionStoreError):
    """The merge destination has uncommitted changes; commit or discard them first."""


class ObjectNotFoundError(VersionStoreError):
    """No object at that path at that ref."""


class ObjectCorruptedError(VersionStoreError):
    """Stored object bytes no longer match the sha256 they are addressed by."""


class VersionStoreUnavailableError(VersionStoreError):
    """The version store backend could not be reached, kept failing (429/5xx, resets, timeouts) after its
    retries, failed a call that is not repeated, or rejected the credentials."""


class InvalidCorruptionError(CVOpsError):
    """A corruption has an unknown kind, a severity outside [0, 1], or was given images of the wrong shape."""


class InvalidGeneratorConfigError(CVOpsError):
    """The demo data generator was asked for unknown classes, a bad balance, or a bad size or count."""


class GroundTruthMissingError(CVOpsError):
    """The demo oracle was asked to answer a task whose image key has no ground truth."""


class ExportInputError(CVOpsError):
    """An edge export was given unusable input: a model in training mode, missing lineage, no images."""


class OnnxExportError(CVOpsError):
    """The ONNX exporter or `onnx.checker` rejected the model, or the file does not have the requested opset."""


class OnnxMetadataError(CVOpsError):
    """An ONNX file lacks the CVOps metadata (classes, preprocessing, lineage) a Predictor needs."""


class OptionalDependencyError(CVOpsError):
    """An optional extra (such as `openvino`) is needed for this call but is not installed."""


class TrainingDataError(CVOpsError):
    """The arrays or labels handed to training are unusable (empty split, wrong shape, unknown label)."""


class InvalidTrainConfigError(CVOpsError):
    """A training setting (an augmentation, a schedule) is unknown or out of range."""


class CheckpointMismatchError(CVOpsError):
    """A checkpoint folder holds a run with a different configuration or data lineage."""


class ModelLoadError(CVOpsError):
    """Stored weights do not match their sidecar's architecture or sha256."""


class ImageBatchError(CVOpsError):
    """Pixels handed to drift feature extraction are not uint8 NHWC (or HWC) images with 1 or 3 channels."""


class ProjectionMismatchError(CVOpsError):
    """Model outputs do not match the class list or the stored output projection of the drift reference."""


class DriftFeatureError(CVOpsError):
    """A monitored drift feature is missing from the reference or the window feature table."""


class FeatureTableDecodeError(CVOpsError):
    """Stored drift feature-table bytes (npz) cannot be read back."""


class ProfileDecodeError(CVOpsError):
    """Stored whylogs profile bytes cannot be deserialized."""


class ServingRequestError(CVOpsError):
    """A client sent a request the inference service refuses; the service answers 4xx and keeps serving."""


class EmptyRequestError(ServingRequestError):
    """The request carried no image bytes (empty body or an empty uploaded file)."""


class UnsupportedContentTypeError(ServingRequestError):
    """The request's content type is neither an image type nor multipart/form-data."""


class RequestTooLargeError(ServingRequestError):
    """The request body is larger than the service's byte limit."""


class NotAnImageError(ServingRequestError):
    """The bytes do not decode as an image in an accepted format."""


class ImageTooLargeError(ServingRequestError):
    """The image decodes to more pixels than the service's limit (a decompression bomb guard)."""


class TooManyFilesError(ServingRequestError):
    """A multipart request carried more files than the service's batch limit."""


class ModelUnavailableError(CVOpsError):
    """The inference service found no model to serve at the configured path or alias."""


class ShadowStatsError(CVOpsError):
    """The shadow statistics file is missing or unreadable."""


class LabelFormatError(CVOpsError):
    """A label file cannot be read as its format (missing CSV header, malformed JSON, dangling COCO ids)."""


class LabelValidationError(CVOpsError):
    """Strict label validation found rows it refuses (unknown class, unsafe path, conflict, missing image)."""


class NewClassError(CVOpsError):
    """Labels name a class that is neither configured nor in the previous class list (strict mode)."""


class SplitConfigError(CVOpsError):
    """Split fractions are not three non-negative numbers summing to 1."""


class InvalidPredictionsError(CVOpsError):
    """A `predict_proba` callable returned an array that is not (N, C) probabilities."""


class TrainingFailedError(CVOpsError):
    """A training run (such as the DDP worker processes) exited with an error."""


class InvalidDriftPolicyError(CVOpsError):
    """A drift policy has an alpha outside (0, 1), an effect size outside [0, 1], or a bad window size."""


class QualityInputError(CVOpsError):
    """A data-quality check was given inputs it cannot evaluate (e.g. images without a perceptual hash)."""


class IngestStateError(CVOpsError):
    """The incremental-ingest state database cannot be opened or written."""


class LandingFolderError(CVOpsError):
    """The landing folder to ingest from is missing or not a folder."""


class QuarantineError(CVOpsError):
    """A rejected file could not be copied to quarantine or its manifest line could not be written."""


class PrelabelConfigError(CVOpsError):
    """Pre-labelling was asked for an unknown uncertainty method, a negative budget, a threshold outside (0, 1]
    or a different number of image keys than images."""


class ReviewToolError(CVOpsError):
    """The labelling tool (Label Studio) refused a call or could not be reached; names the server, never the key."""

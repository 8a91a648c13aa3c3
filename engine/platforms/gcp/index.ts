// engine/platforms/gcp: the GCP target (disk.raw in a sparse tar.gz in GCS -> GCE image). Re-exports only.

export { GCE_ENDPOINT_ENV, GCP_TOKEN_URL_ENV, GCS_ENDPOINT_ENV, gcpEndpoints } from "./settings";
export type { GcpEndpoints } from "./settings";
export { GCP_SCOPE, openGcpClient } from "./client";
export type { GcpClient } from "./client";
export { GcpHttpError, gcpFailure, isNotFound } from "./failures";
export { GIB, MEMBER_NAME, rawSizeFor, sparseHeaders, sparseTar, tarSegments } from "./sparse-tar";
export type { Segment, SparseTarOptions, SparseTarResult } from "./sparse-tar";
export { GZIP_BLOCK, gzipConcurrency, parallelGzip } from "./parallel-gzip";
export type { ParallelGzipOptions } from "./parallel-gzip";
export { UPLOAD_CHUNK, checkBucket, deleteObject, getObject, gsUrl, uploadObject } from "./gcs-object";
export type { GcsObject, ObjectUpload } from "./gcs-object";
export { deleteImage, getImage, insertImage, storageUrl, waitForOperation } from "./image";
export type { GceImage, GceOperation, ImageInsert } from "./image";
export { describeGcpResource, describeRef, gcpRemovalOrder, removeGcpResource } from "./resources";
export type { GcpResourceRef, GcpResourceState } from "./resources";

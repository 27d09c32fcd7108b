//! Moving bytes between S3 and the job's work directory: parallel ranged GETs into a file
//! (MP4 needs seeking, so the decoder reads a file, not a stream), and uploads: one PutObject
//! up to one part, a multipart upload past it.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use stack::message::S3Uri;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::WorkerError;

/// Download `src` into `dest` with up to `parallel` ranged GETs of `part_size` bytes.
/// Returns the number of bytes written.
pub async fn download(
    s3: &aws_sdk_s3::Client,
    src: &S3Uri,
    dest: &Path,
    part_size: u64,
    parallel: usize,
) -> Result<u64, WorkerError> {
    let head = s3
        .head_object()
        .bucket(&src.bucket)
        .key(&src.key)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_not_found()) {
                WorkerError::SourceMissing {
                    uri: src.to_string(),
                }
            } else {
                WorkerError::s3("HeadObject", &e)
            }
        })?;
    let size = u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0);
    let file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| WorkerError::io("creating", dest, e))?;
    file.set_len(size)
        .await
        .map_err(|e| WorkerError::io("sizing", dest, e))?;
    drop(file);
    if size == 0 {
        return Ok(0);
    }

    let part_size = part_size.max(1);
    let ranges: Vec<(u64, u64)> = (0..size)
        .step_by(usize::try_from(part_size).unwrap_or(usize::MAX))
        .map(|start| (start, (start + part_size).min(size) - 1))
        .collect();
    let mut next = ranges.into_iter();
    let mut tasks = JoinSet::new();
    let mut written = 0;
    loop {
        while tasks.len() < parallel.max(1) {
            let Some((first, last)) = next.next() else {
                break;
            };
            let (s3, src, dest) = (s3.clone(), src.clone(), dest.to_path_buf());
            tasks.spawn(async move { get_range(&s3, &src, &dest, first, last).await });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        // A failed range aborts the rest (JoinSet aborts its tasks when dropped).
        written += done.map_err(|e| WorkerError::ShortDownload {
            uri: src.to_string(),
            detail: format!("download task failed: {e}"),
        })??;
    }
    if written != size {
        return Err(WorkerError::ShortDownload {
            uri: src.to_string(),
            detail: format!("got {written} of {size} bytes"),
        });
    }
    Ok(written)
}

/// GET bytes `first..=last` of `src` into the same offsets of `dest`.
async fn get_range(
    s3: &aws_sdk_s3::Client,
    src: &S3Uri,
    dest: &Path,
    first: u64,
    last: u64,
) -> Result<u64, WorkerError> {
    let out = s3
        .get_object()
        .bucket(&src.bucket)
        .key(&src.key)
        .range(format!("bytes={first}-{last}"))
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                WorkerError::SourceMissing {
                    uri: src.to_string(),
                }
            } else {
                WorkerError::s3("GetObject", &e)
            }
        })?;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(dest)
        .await
        .map_err(|e| WorkerError::io("opening", dest, e))?;
    file.seek(std::io::SeekFrom::Start(first))
        .await
        .map_err(|e| WorkerError::io("seeking in", dest, e))?;
    let want = last - first + 1;
    let mut got = 0u64;
    let mut body = out.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| WorkerError::ShortDownload {
            uri: src.to_string(),
            detail: format!("bytes {first}-{last}: {e}"),
        })?;
        got += chunk.len() as u64;
        if got > want {
            // An endpoint that ignored the Range header would overwrite other parts.
            return Err(WorkerError::ShortDownload {
                uri: src.to_string(),
                detail: format!("bytes {first}-{last}: the answer is longer than the range"),
            });
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| WorkerError::io("writing", dest, e))?;
    }
    file.flush()
        .await
        .map_err(|e| WorkerError::io("writing", dest, e))?;
    if got != want {
        return Err(WorkerError::ShortDownload {
            uri: src.to_string(),
            detail: format!("bytes {first}-{last}: got {got} of {want}"),
        });
    }
    Ok(got)
}

/// S3's smallest part but the last.
const MIN_PART: u64 = 5 * 1024 * 1024;

/// Upload `path` to `dest`: a file of at most one part with one PutObject (one call instead of
/// three, and no parts for S3 to join: the emulator copies every part again to join them),
/// a larger one with a multipart upload of `part_size` parts, up to `parallel`
/// at once; on any failure or on `cancel` the upload is aborted so no parts are left behind.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    path: &Path,
    dest: &S3Uri,
    content_type: &str,
    part_size: u64,
    parallel: usize,
    cancel: &CancellationToken,
) -> Result<u64, WorkerError> {
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|e| WorkerError::io("reading", path, e))?
        .len();
    // S3 parts are at least 5 MiB except the last.
    let part_size = part_size.max(MIN_PART);
    if size <= part_size {
        // In memory like one part of a multipart upload, so the SDK can retry it.
        let data = read_part(path, 0, size).await?;
        let put = s3
            .put_object()
            .bucket(&dest.bucket)
            .key(&dest.key)
            .content_type(content_type)
            .body(ByteStream::from(data))
            // The body's CRC32 (a signed header S3 checks) guards it; the SHA-256 of the
            // payload would only add CPU (see api/src/upload.rs).
            .customize()
            .disable_payload_signing()
            .send();
        // Cancelled mid-call, the object may still be stored; the job is not finished, its
        // message stays, and the next attempt writes the same key again.
        return tokio::select! {
            r = put => r.map(|_| size).map_err(|e| WorkerError::s3("PutObject", &e)),
            () = cancel.cancelled() => Err(WorkerError::Shutdown),
        };
    }
    let created = s3
        .create_multipart_upload()
        .bucket(&dest.bucket)
        .key(&dest.key)
        .content_type(content_type)
        .send()
        .await
        .map_err(|e| WorkerError::s3("CreateMultipartUpload", &e))?;
    let upload_id = created.upload_id.ok_or_else(|| WorkerError::S3 {
        op: "CreateMultipartUpload",
        failure: stack::errors::AwsFailure {
            class: stack::ErrorClass::Retryable,
            code: None,
            message: "no upload id in the answer".into(),
            status: None,
            unreachable: false,
        },
    })?;
    let result = tokio::select! {
        r = upload_parts(s3, path, dest, &upload_id, size, part_size, parallel) => r,
        () = cancel.cancelled() => Err(WorkerError::Shutdown),
    };
    match result {
        Ok(parts) => {
            let done = s3
                .complete_multipart_upload()
                .bucket(&dest.bucket)
                .key(&dest.key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| WorkerError::s3("CompleteMultipartUpload", &e));
            if let Err(e) = done {
                abort(s3, dest, &upload_id).await;
                return Err(e);
            }
            Ok(size)
        }
        Err(e) => {
            abort(s3, dest, &upload_id).await;
            Err(e)
        }
    }
}

async fn upload_parts(
    s3: &aws_sdk_s3::Client,
    path: &Path,
    dest: &S3Uri,
    upload_id: &str,
    size: u64,
    part_size: u64,
    parallel: usize,
) -> Result<Vec<CompletedPart>, WorkerError> {
    // `part_size` is at least `MIN_PART` (`upload`); an empty file is one empty part.
    let count = size.div_ceil(part_size).max(1);
    let mut parts = Vec::new();
    let mut tasks = JoinSet::new();
    let mut next = 0u64;
    loop {
        while tasks.len() < parallel.max(1) && next < count {
            let offset = next * part_size;
            let len = part_size.min(size - offset);
            let number = i32::try_from(next + 1).unwrap_or(i32::MAX);
            let (s3, path, dest, upload_id) = (
                s3.clone(),
                path.to_path_buf(),
                dest.clone(),
                upload_id.to_string(),
            );
            tasks.spawn(async move {
                let data = read_part(&path, offset, len).await?;
                let out = s3
                    .upload_part()
                    .bucket(&dest.bucket)
                    .key(&dest.key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .body(ByteStream::from(data))
                    // The part's CRC32 (a signed header S3 checks) guards it; the SHA-256 of
                    // the payload would only add CPU (see api/src/upload.rs).
                    .customize()
                    .disable_payload_signing()
                    .send()
                    .await
                    .map_err(|e| WorkerError::s3("UploadPart", &e))?;
                Ok::<_, WorkerError>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag)
                        .build(),
                )
            });
            next += 1;
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        parts.push(done.map_err(|e| WorkerError::Io {
            op: "uploading",
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })??);
    }
    parts.sort_by_key(|p| p.part_number);
    Ok(parts)
}

async fn read_part(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>, WorkerError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| WorkerError::io("opening", path, e))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| WorkerError::io("seeking in", path, e))?;
    let mut data = vec![0; usize::try_from(len).unwrap_or(0)];
    file.read_exact(&mut data)
        .await
        .map_err(|e| WorkerError::io("reading", path, e))?;
    Ok(data)
}

async fn abort(s3: &aws_sdk_s3::Client, dest: &S3Uri, upload_id: &str) {
    if let Err(e) = s3
        .abort_multipart_upload()
        .bucket(&dest.bucket)
        .key(&dest.key)
        .upload_id(upload_id)
        .send()
        .await
    {
        tracing::warn!(error = %stack::errors::describe(&e), key = %dest.key, "could not abort the multipart upload");
    }
}

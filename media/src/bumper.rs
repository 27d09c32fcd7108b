//! The intro and outro, encoded once per asset and settings: every job's intro and outro are
//! the same pictures, so the transform encodes them once, keeps the result in the segment cache
//! (`TransformOptions::segment_cache`) and copies it around each job's freshly encoded upload
//! (`Mp4Writer::append`).
//!
//! The copy is valid H.264 because the cached segment was made by the same libx264 with the
//! same settings as the job's encoder, so it has the same SPS/PPS, and every encoder run starts
//! with an IDR frame and ends with its reordering flushed. The cache key covers everything
//! that could change those bytes: the settings, the asset files' contents, and the bytes
//! libx264 makes for one frame here (its version and every derived option).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use ffmpeg::{format, frame, media, Packet};
use ffmpeg_next as ffmpeg;

use crate::assets::{fnv1a_more, make_into, temp_beside, Assets, FNV1A_START};
use crate::error::TransformError;
use crate::ff::open_video_encoder;
use crate::output::EncodeSettings;

/// Encoded segments kept in a cache directory; the least recently used beyond this are removed.
pub(crate) const CACHE_ENTRIES: usize = 16;
/// Bump when what is cached changes meaning.
const CACHE_VERSION: &str = "segment v1";

/// Which asset a segment comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bookend {
    Intro,
    Outro,
}

/// The encoded intro and outro for one job. Files made only for this job (no cache) are
/// removed when it is dropped.
pub(crate) struct Bumpers {
    pub intro: PathBuf,
    pub outro: PathBuf,
    /// Segments this job had to encode (0 when both came from the cache).
    pub encoded: u32,
    temporary: Vec<PathBuf>,
}

impl Drop for Bumpers {
    fn drop(&mut self) {
        for path in &self.temporary {
            let _ = fs::remove_file(path);
        }
    }
}

/// Finds or makes the encoded intro and outro. `encode(asset, which, dest)` encodes one asset
/// into an MP4 at `dest` with `settings`; it runs at most once per distinct asset. Without a
/// cache directory the segments are made beside `output` and removed after the job.
pub(crate) fn prepare<E>(
    assets: &Assets,
    settings: &EncodeSettings<'_>,
    layout_key: &str,
    cache: Option<&Path>,
    output: &Path,
    mut encode: E,
) -> Result<Bumpers, TransformError>
where
    E: FnMut(&Path, Bookend, &Path) -> Result<(), TransformError>,
{
    let identity = encoder_identity(settings)?;
    let context = format!("{CACHE_VERSION}|{layout_key}|{}", settings_key(settings));
    let mut context_hash = fnv1a_more(FNV1A_START, context.as_bytes());
    context_hash = fnv1a_more(context_hash, &identity.to_le_bytes());
    context_hash = hash_file(context_hash, &assets.watermark)?;

    let mut bumpers = Bumpers {
        intro: PathBuf::new(),
        outro: PathBuf::new(),
        encoded: 0,
        temporary: Vec::new(),
    };
    let mut made: Vec<(u64, PathBuf)> = Vec::new();
    for (asset, which) in [
        (assets.intro.as_path(), Bookend::Intro),
        (assets.outro.as_path(), Bookend::Outro),
    ] {
        let key = hash_file(context_hash, asset)?;
        let path = match made.iter().find(|(k, _)| *k == key) {
            Some((_, path)) => path.clone(),
            None => {
                let in_cache = match cache {
                    Some(dir) => cached(dir, key, &mut |dest| encode(asset, which, dest))?,
                    None => None,
                };
                let path = match in_cache {
                    Some((path, fresh)) => {
                        bumpers.encoded += u32::from(fresh);
                        path
                    }
                    None => {
                        let dest = beside(output, which);
                        bumpers.temporary.push(dest.clone());
                        encode(asset, which, &dest)?;
                        bumpers.encoded += 1;
                        dest
                    }
                };
                made.push((key, path.clone()));
                path
            }
        };
        match which {
            Bookend::Intro => bumpers.intro = path,
            Bookend::Outro => bumpers.outro = path,
        }
    }
    Ok(bumpers)
}

fn settings_key(s: &EncodeSettings<'_>) -> String {
    format!(
        "{}x{} {} fps {} crf {} threads {}",
        s.width, s.height, s.fps, s.preset, s.crf, s.threads
    )
}

/// `dir/segment-<key>.mp4`, made with `make` unless it is there and opens as a video; with
/// whether it was made now. `None` if the directory cannot be written (the job then makes its
/// own copy beside its output rather than fail).
fn cached(
    dir: &Path,
    key: u64,
    make: &mut dyn FnMut(&Path) -> Result<(), TransformError>,
) -> Result<Option<(PathBuf, bool)>, TransformError> {
    let path = dir.join(format!("segment-{key:016x}.mp4"));
    if usable(&path) {
        // Mark it recently used, for `prune`.
        if let Ok(f) = fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        return Ok(Some((path, false)));
    }
    // `.segment-<key>.mp4.<pid>-<n>.tmp.mp4`: `prune` removes it if its job died.
    let tmp = temp_beside(&path);
    if fs::create_dir_all(dir).is_err() || fs::File::create(&tmp).is_err() {
        return Ok(None);
    }
    // Another job may make the same file at the same time: both write the same bytes.
    make_into(&tmp, &path, make)?;
    prune(dir, CACHE_ENTRIES);
    Ok(Some((path, true)))
}

/// A cached segment is used only if FFmpeg opens it and finds a video stream; otherwise it is
/// made again (and replaces the damaged one).
fn usable(path: &Path) -> bool {
    path.is_file()
        && format::input(&path)
            .is_ok_and(|input| input.streams().best(media::Type::Video).is_some())
}

/// Keeps the `keep` most recently used segments in `dir`, and removes temporary files left by a
/// job that died more than an hour ago.
pub(crate) fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut segments = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let modified = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if name.starts_with("segment-") && name.ends_with(".mp4") {
            segments.push((modified, entry.path()));
        } else if name.starts_with(".segment-")
            && name.ends_with(".tmp.mp4")
            && now.duration_since(modified).unwrap_or_default() > Duration::from_secs(3600)
        {
            let _ = fs::remove_file(entry.path());
        }
    }
    segments.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (_, path) in segments.into_iter().skip(keep) {
        let _ = fs::remove_file(path);
    }
}

/// `.<output name>.<intro|outro>.mp4.<pid>-<n>.tmp.mp4`, beside the output.
fn beside(output: &Path, which: Bookend) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let role = match which {
        Bookend::Intro => "intro",
        Bookend::Outro => "outro",
    };
    temp_beside(&output.with_file_name(format!("{name}.{role}.mp4")))
}

/// Continues `h` over an asset file's length and bytes.
fn hash_file(h: u64, path: &Path) -> Result<u64, TransformError> {
    let bytes = fs::read(path).map_err(|e| TransformError::asset_io(path, e))?;
    let h = fnv1a_more(h, &(bytes.len() as u64).to_le_bytes());
    Ok(fnv1a_more(h, &bytes))
}

/// A hash of the first packet libx264 makes for one grey frame with `settings`: its version
/// string, every option it derived and its SPS/PPS are in it. Computed once per process and
/// settings.
fn encoder_identity(s: &EncodeSettings<'_>) -> Result<u64, TransformError> {
    static SEEN: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let key = settings_key(s);
    let seen = SEEN.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(h) = seen.lock().ok().and_then(|m| m.get(&key).copied()) {
        return Ok(h);
    }
    let err = |e| TransformError::ffmpeg("probing the encoder", e);
    // In-band headers, so the packet carries the SPS and PPS too.
    let mut enc = open_video_encoder(&s.encoder(false)?).map_err(err)?;
    let mut grey = frame::Video::new(format::Pixel::YUV420P, s.width, s.height);
    for plane in 0..3 {
        grey.data_mut(plane).fill(if plane == 0 { 16 } else { 128 });
    }
    grey.set_pts(Some(0));
    enc.send_frame(&grey).map_err(err)?;
    match enc.send_eof() {
        Ok(()) | Err(ffmpeg::Error::Eof) => {}
        Err(e) => return Err(err(e)),
    }
    let mut packet = Packet::empty();
    enc.receive_packet(&mut packet).map_err(err)?;
    let h = fnv1a_more(FNV1A_START, packet.data().unwrap_or_default());
    if let Ok(mut m) = seen.lock() {
        m.insert(key, h);
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_most_recently_used_and_old_leftovers_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = SystemTime::now() - Duration::from_secs(7200);
        for i in 0..5u64 {
            let p = dir.path().join(format!("segment-{i:016x}.mp4"));
            fs::write(&p, b"x").expect("write");
            let f = fs::File::options().append(true).open(&p).expect("open");
            f.set_modified(base + Duration::from_secs(i * 60))
                .expect("mtime");
        }
        let old_tmp = dir.path().join(".segment-00.1-0.tmp.mp4");
        fs::write(&old_tmp, b"x").expect("write");
        fs::File::options()
            .append(true)
            .open(&old_tmp)
            .and_then(|f| f.set_modified(base))
            .expect("mtime");
        let fresh_tmp = dir.path().join(".segment-01.1-1.tmp.mp4");
        fs::write(&fresh_tmp, b"x").expect("write");
        let other = dir.path().join("title.mp4");
        fs::write(&other, b"x").expect("write");

        prune(dir.path(), 2);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".segment-01.1-1.tmp.mp4",
                "segment-0000000000000003.mp4",
                "segment-0000000000000004.mp4",
                "title.mp4"
            ]
        );
    }
}

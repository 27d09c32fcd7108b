//! A video's orientation, honoured the way the FFmpeg CLI's autorotation does (5.1,
//! `fftools/ffmpeg_filter.c`): the stream's display matrix gives an angle, and the filters the
//! CLI inserts before the rest of the chain (so the picture is upright before it is fitted
//! and padded) are inserted here too, with the same arguments. A phone's portrait video is
//! usually stored landscape with a 90-degree matrix.
//!
//! Without a display matrix, an old-style `rotate` stream tag (degrees clockwise) is taken
//! as the matrix it stands for; the CLI of FFmpeg 5.1 reads the matrix only, and its mov
//! demuxer turns the file's matrix into side data, so the two agree on MP4/MOV input.

use ffmpeg::codec::packet::side_data::Type as SideDataType;
use ffmpeg::format::stream::Stream;
use ffmpeg_next as ffmpeg;

/// 16.16 fixed point, as in libavutil/display.c.
fn conv_fp(x: i32) -> f64 {
    f64::from(x) / 65536.0
}

/// `av_display_rotation_get`: the matrix's counter-clockwise rotation in degrees, or NaN.
fn display_rotation_get(m: &[i32; 9]) -> f64 {
    let scale0 = conv_fp(m[0]).hypot(conv_fp(m[3]));
    let scale1 = conv_fp(m[1]).hypot(conv_fp(m[4]));
    if scale0 == 0.0 || scale1 == 0.0 {
        return f64::NAN;
    }
    let rotation = (conv_fp(m[1]) / scale1)
        .atan2(conv_fp(m[0]) / scale0)
        .to_degrees();
    -rotation
}

/// The matrix of a picture to be turned `degrees` clockwise for display, as the mov muxer
/// writes it for a `rotate` tag (90: `0 1 / -1 0`, a phone's portrait video).
fn rotation_matrix(degrees: f64) -> [i32; 9] {
    let (s, c) = degrees.to_radians().sin_cos();
    let conv = |x: f64| (x * 65536.0).round() as i32;
    [conv(c), conv(s), 0, conv(-s), conv(c), 0, 0, 0, 1 << 30]
}

/// `get_rotation` of fftools/cmdutils.c: the clockwise angle to turn by, in [0, 360).
fn rotation_of(matrix: Option<&[i32; 9]>) -> f64 {
    let mut theta = match matrix {
        Some(m) => -display_rotation_get(m).round(),
        None => 0.0,
    };
    theta -= 360.0 * (theta / 360.0 + 0.9 / 360.0).floor();
    theta
}

/// The filters the CLI inserts for `matrix` (none for an upright video), each held to
/// `threads` slice threads like the rest of the chain.
pub(crate) fn autorotate_filters(matrix: Option<&[i32; 9]>, threads: usize) -> Option<String> {
    let theta = rotation_of(matrix);
    if theta.is_nan() {
        return None;
    }
    let t = threads.max(1);
    let m3 = matrix.map_or(0, |m| m[3]);
    let filters = if (theta - 90.0).abs() < 1.0 {
        let dir = if m3 > 0 { "cclock_flip" } else { "clock" };
        format!("transpose=dir={dir}:threads={t}")
    } else if (theta - 180.0).abs() < 1.0 {
        let mut f = Vec::new();
        if matrix.is_some_and(|m| m[0] < 0) {
            f.push(format!("hflip=threads={t}"));
        }
        if matrix.is_some_and(|m| m[4] < 0) {
            f.push(format!("vflip=threads={t}"));
        }
        if f.is_empty() {
            return None;
        }
        f.join(",")
    } else if (theta - 270.0).abs() < 1.0 {
        let dir = if m3 < 0 { "clock_flip" } else { "cclock" };
        format!("transpose=dir={dir}:threads={t}")
    } else if theta.abs() > 1.0 {
        // The CLI's "%f*PI/180".
        format!("rotate=a={theta:.6}*PI/180:threads={t}")
    } else if matrix.is_some_and(|m| m[4] < 0) {
        format!("vflip=threads={t}")
    } else {
        return None;
    };
    Some(filters)
}

/// The stream's display matrix, else the matrix its `rotate` tag stands for.
pub(crate) fn display_matrix(stream: &Stream<'_>) -> Option<[i32; 9]> {
    for side in stream.side_data() {
        if side.kind() == SideDataType::DisplayMatrix {
            let data = side.data();
            if data.len() >= 36 {
                let mut m = [0i32; 9];
                for (i, v) in m.iter_mut().enumerate() {
                    let b = &data[i * 4..i * 4 + 4];
                    *v = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                }
                return Some(m);
            }
        }
    }
    let tag: f64 = stream.metadata().get("rotate")?.trim().parse().ok()?;
    tag.is_finite().then(|| rotation_matrix(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_filters_for_each_quarter_turn() {
        // What a phone writes for portrait (and what `-metadata:s:v rotate=90` makes).
        let portrait = rotation_matrix(90.0);
        assert_eq!(portrait[..5], [0, 65536, 0, -65536, 0]);
        assert_eq!(rotation_of(Some(&portrait)), 90.0);
        assert_eq!(
            autorotate_filters(Some(&portrait), 2).as_deref(),
            Some("transpose=dir=clock:threads=2")
        );
        assert_eq!(
            autorotate_filters(Some(&rotation_matrix(180.0)), 1).as_deref(),
            Some("hflip=threads=1,vflip=threads=1")
        );
        let other_way = rotation_matrix(270.0);
        assert_eq!(rotation_of(Some(&other_way)), 270.0);
        assert_eq!(
            autorotate_filters(Some(&other_way), 2).as_deref(),
            Some("transpose=dir=cclock:threads=2")
        );
        assert_eq!(rotation_of(Some(&rotation_matrix(-90.0))), 270.0);
        assert_eq!(autorotate_filters(Some(&rotation_matrix(0.0)), 2), None);
        assert_eq!(autorotate_filters(None, 2), None);
        // Mirrored portrait (front cameras): transpose with a flip, as the CLI.
        let mirrored = [0, 65536, 0, 65536, 0, 0, 0, 0, 1 << 30];
        assert_eq!(
            autorotate_filters(Some(&mirrored), 2).as_deref(),
            Some("transpose=dir=cclock_flip:threads=2")
        );
        // A vertical flip only.
        let flipped = [65536, 0, 0, 0, -65536, 0, 0, 0, 1 << 30];
        assert_eq!(
            autorotate_filters(Some(&flipped), 2).as_deref(),
            Some("vflip=threads=2")
        );
        // Odd angles: the rotate filter, as the CLI.
        assert_eq!(
            autorotate_filters(Some(&rotation_matrix(30.0)), 2).as_deref(),
            Some("rotate=a=30.000000*PI/180:threads=2")
        );
        // A degenerate matrix is ignored.
        assert_eq!(autorotate_filters(Some(&[0; 9]), 2), None);
    }
}

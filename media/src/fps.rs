//! Frame-rate normalisation and the 30 s cut, decided per decoded frame before any pixel work.
//!
//! It reproduces FFmpeg's `trim=0:LIMIT,setpts=PTS-STARTPTS,fps=RATE` (round=near): output tick
//! `t` shows the latest input frame whose rounded timestamp is <= `t`, and the last frame lasts
//! until the input's end (or the limit). Deciding here lets dropped frames skip scaling, and a
//! duplicated frame is filtered once and handed to the encoder several times.

/// A positive rational number (`num/den`), e.g. a time base or a frame rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ratio {
    pub num: i64,
    pub den: i64,
}

impl Ratio {
    pub const fn new(num: i64, den: i64) -> Self {
        Self { num, den }
    }

    pub fn is_valid(self) -> bool {
        self.num > 0 && self.den > 0
    }
}

/// `v * num / den`, rounded half away from zero (FFmpeg's `AV_ROUND_NEAR_INF`).
fn mul_div_near(v: i64, num: i128, den: i128) -> i64 {
    let p = i128::from(v) * num;
    let q = if p >= 0 {
        (p + den / 2) / den
    } else {
        -((-p + den / 2) / den)
    };
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// A kept frame and the output ticks it fills: `first_tick .. first_tick + count`.
#[derive(Debug)]
pub(crate) struct Emit<T> {
    pub item: T,
    pub first_tick: i64,
    pub count: u32,
}

#[derive(Debug)]
pub(crate) enum Push<T> {
    /// The frame was taken; the previous one is released if it fills any tick.
    Kept(Option<Emit<T>>),
    /// The frame starts at or after the limit: stop reading the input.
    PastLimit,
}

pub(crate) struct FrameRateNormaliser<T> {
    time_base: Ratio,
    rate: Ratio,
    /// Keep only frames starting before this many seconds.
    limit: Option<Ratio>,
    default_duration: i64,
    base: Option<i64>,
    next_tick: i64,
    pending: Option<T>,
    last_ts: Option<i64>,
    last_duration: i64,
    last_end: i64,
}

impl<T> FrameRateNormaliser<T> {
    /// `time_base`: the input timestamps' unit; `rate`: the output frame rate;
    /// `nominal_rate`: the input's declared rate, used when a frame has no duration.
    pub fn new(
        time_base: Ratio,
        rate: Ratio,
        nominal_rate: Option<Ratio>,
        limit: Option<Ratio>,
    ) -> Self {
        let per_frame = nominal_rate.filter(|r| r.is_valid()).unwrap_or(rate);
        // One nominal frame, in input time-base units (at least 1).
        let default_duration = mul_div_near(
            1,
            i128::from(per_frame.den) * i128::from(time_base.den),
            i128::from(per_frame.num) * i128::from(time_base.num),
        )
        .max(1);
        Self {
            time_base,
            rate,
            limit,
            default_duration,
            base: None,
            next_tick: 0,
            pending: None,
            last_ts: None,
            last_duration: default_duration,
            last_end: 0,
        }
    }

    fn tick(&self, rel: i64) -> i64 {
        mul_div_near(
            rel,
            i128::from(self.time_base.num) * i128::from(self.rate.num),
            i128::from(self.time_base.den) * i128::from(self.rate.den),
        )
    }

    fn limit_tick(&self) -> Option<i64> {
        self.limit.map(|l| {
            mul_div_near(
                l.num,
                i128::from(self.rate.num),
                i128::from(l.den) * i128::from(self.rate.den),
            )
        })
    }

    fn past_limit(&self, rel: i64) -> bool {
        match self.limit {
            // rel * tb >= limit, in exact integer arithmetic.
            Some(l) => {
                i128::from(rel) * i128::from(self.time_base.num) * i128::from(l.den)
                    >= i128::from(l.num) * i128::from(self.time_base.den)
            }
            None => false,
        }
    }

    /// Releases the pending frame for the ticks before `until`; none if it fills no tick.
    fn release(&mut self, until: i64) -> Option<Emit<T>> {
        let item = self.pending.take()?;
        let count = until - self.next_tick;
        if count <= 0 {
            return None;
        }
        let first_tick = self.next_tick;
        self.next_tick = until;
        Some(Emit {
            item,
            first_tick,
            count: u32::try_from(count).unwrap_or(u32::MAX),
        })
    }

    /// `ts`: the frame's best-effort timestamp; `duration`: its duration, both in `time_base`.
    pub fn push(&mut self, item: T, ts: Option<i64>, duration: Option<i64>) -> Push<T> {
        let ts = ts
            .or_else(|| self.last_ts.map(|t| t + self.last_duration))
            .unwrap_or(0);
        let base = *self.base.get_or_insert(ts);
        let rel = ts - base;
        if rel < 0 {
            // trim=0:.. drops frames before the start.
            return Push::Kept(None);
        }
        if self.past_limit(rel) {
            return Push::PastLimit;
        }
        let duration = duration.filter(|d| *d > 0).unwrap_or(self.default_duration);
        let tick = self.tick(rel);
        let released = self.release(tick);
        self.pending = Some(item);
        self.last_ts = Some(ts);
        self.last_duration = duration;
        self.last_end = rel + duration;
        Push::Kept(released)
    }

    /// The input ended (or hit the limit): the last frame lasts until the end.
    pub fn finish(&mut self) -> Option<Emit<T>> {
        let mut end = self.tick(self.last_end);
        if let Some(limit) = self.limit_tick() {
            end = end.min(limit);
        }
        self.release(end)
    }

    /// Output ticks filled so far.
    pub fn ticks(&self) -> i64 {
        self.next_tick
    }

    /// How far the kept frames reach, from the first one, in input time-base units.
    pub fn span(&self) -> i64 {
        self.last_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MP4_TB: Ratio = Ratio::new(1, 15360);
    const OUT: Ratio = Ratio::new(30, 1);

    /// Feeds `n` frames at `fps` (as num/den) and returns (emits, stopped_at).
    fn run(fps: Ratio, n: i64, limit: Option<Ratio>) -> (Vec<Emit<i64>>, Option<i64>) {
        let mut norm = FrameRateNormaliser::new(MP4_TB, OUT, Some(fps), limit);
        let dur = 15360 * fps.den / fps.num;
        let mut out = Vec::new();
        let mut stopped = None;
        for i in 0..n {
            let ts = i * 15360 * fps.den / fps.num;
            match norm.push(i, Some(ts), Some(dur)) {
                Push::Kept(e) => out.extend(e),
                Push::PastLimit => {
                    stopped = Some(i);
                    break;
                }
            }
        }
        out.extend(norm.finish());
        (out, stopped)
    }

    fn assert_contiguous(emits: &[Emit<i64>]) -> i64 {
        let mut next = 0;
        for e in emits {
            assert_eq!(e.first_tick, next, "ticks must be contiguous");
            assert!(e.count >= 1);
            next += i64::from(e.count);
        }
        next
    }

    #[test]
    fn same_rate_passes_every_frame_once() {
        let (emits, stopped) = run(Ratio::new(30, 1), 90, None);
        assert_eq!(stopped, None);
        assert_eq!(emits.len(), 90);
        assert!(emits.iter().all(|e| e.count == 1));
        assert_eq!(assert_contiguous(&emits), 90);
    }

    #[test]
    fn lower_rate_duplicates_to_fill_every_tick() {
        let (emits, _) = run(Ratio::new(25, 1), 75, None);
        assert_eq!(emits.len(), 75);
        assert_eq!(assert_contiguous(&emits), 90);
        assert_eq!(emits.iter().filter(|e| e.count == 2).count(), 15);
    }

    #[test]
    fn higher_rate_drops_before_any_pixel_work() {
        let (emits, _) = run(Ratio::new(60, 1), 180, None);
        assert_eq!(assert_contiguous(&emits), 90);
        assert_eq!(emits.len(), 90);
        // fps=30 keeps the frame nearest each tick: 0, then 2, 4, ...
        assert_eq!(emits[1].item, 2);
    }

    #[test]
    fn ntsc_rate_maps_to_thirty() {
        let (emits, _) = run(Ratio::new(30000, 1001), 300, None);
        let ticks = assert_contiguous(&emits);
        // 300 frames of 1001/30000 s = 10.01 s -> 300.3 ticks, rounded.
        assert_eq!(ticks, 300);
    }

    #[test]
    fn cut_at_limit_stops_reading_and_fills_exactly() {
        let (emits, stopped) = run(Ratio::new(30, 1), 1200, Some(Ratio::new(30, 1)));
        assert_eq!(stopped, Some(900));
        assert_eq!(assert_contiguous(&emits), 900);
        let (emits, stopped) = run(Ratio::new(24, 1), 1200, Some(Ratio::new(30, 1)));
        assert_eq!(stopped, Some(720));
        assert_eq!(assert_contiguous(&emits), 900);
    }

    #[test]
    fn missing_timestamps_and_durations_use_the_nominal_rate() {
        let mut norm =
            FrameRateNormaliser::new(Ratio::new(1, 25), OUT, Some(Ratio::new(25, 1)), None);
        let mut emits = Vec::new();
        for i in 0..50 {
            if let Push::Kept(e) = norm.push(i, None, None) {
                emits.extend(e);
            }
        }
        emits.extend(norm.finish());
        assert_eq!(assert_contiguous(&emits), 60);
    }

    #[test]
    fn frames_before_the_first_timestamp_are_dropped() {
        let mut norm = FrameRateNormaliser::new(Ratio::new(1, 30), OUT, None, None);
        assert!(matches!(norm.push(0, Some(10), Some(1)), Push::Kept(None)));
        assert!(matches!(norm.push(1, Some(5), Some(1)), Push::Kept(None)));
        assert!(matches!(
            norm.push(2, Some(11), Some(1)),
            Push::Kept(Some(Emit { item: 0, .. }))
        ));
        let last = norm.finish();
        assert!(matches!(
            last,
            Some(Emit {
                item: 2,
                first_tick: 1,
                count: 1
            })
        ));
        assert_eq!(norm.ticks(), 2);
    }
}

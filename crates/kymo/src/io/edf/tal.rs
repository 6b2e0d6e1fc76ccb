//! EDF+ Time-stamped Annotation Lists (TALs): parsing and encoding.
//!
//! An annotation signal ("EDF Annotations", or "BDF Annotations" in BDF+) stores text,
//! not samples: its `2 · samples` (EDF) or `3 · samples` (BDF) bytes per data record hold
//! TALs, each laid out as (EDF+ spec, section 2.2.2):
//!
//! ```text
//! TAL      = onset [ 0x15 duration ] 0x14 { text 0x14 } 0x00
//! onset    = ("+" | "-") digits [ "." digits ]      seconds from the header's start time
//! duration = digits [ "." digits ]                   seconds
//! text     = UTF-8 bytes other than 0x00, 0x14, 0x15
//! ```
//!
//! The TALs of one record follow each other; unused bytes after the last one are 0x00.
//! The first TAL of the first annotation signal in each data record is the record's
//! time-keeping TAL: its onset is the start time of that record and its first text is
//! empty (`"+12.5\x14\x14\x00"`).

/// Separator after the onset/duration and after each text.
pub(crate) const SEP: u8 = 0x14;
/// Separator between onset and duration.
pub(crate) const DUR: u8 = 0x15;

/// One TAL, borrowed from the record's annotation bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tal<'a> {
    /// Byte offset of the TAL within the record's annotation bytes.
    pub offset: usize,
    /// Seconds from the header's start date/time.
    pub onset: f64,
    /// Seconds, when given.
    pub duration: Option<f64>,
    /// The texts, including empty ones (the time-keeping TAL has one empty text).
    pub texts: Vec<&'a [u8]>,
}

/// A TAL that breaks the grammar: where (byte offset in the record's annotation bytes) and what.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TalError {
    pub offset: usize,
    pub what: String,
}

/// Iterates over the TALs of one record's annotation bytes.
pub(crate) struct Tals<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// The TALs in `bytes` (one data record's worth of one annotation signal).
pub(crate) fn tals(bytes: &[u8]) -> Tals<'_> {
    Tals { bytes, pos: 0 }
}

impl<'a> Iterator for Tals<'a> {
    type Item = Result<Tal<'a>, TalError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Skip the 0x00 that ends each TAL and the 0x00 padding after the last one.
        while self.pos < self.bytes.len() && self.bytes[self.pos] == 0 {
            self.pos += 1;
        }
        if self.pos >= self.bytes.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.bytes[start..];
        let len = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        self.pos = start + len;
        Some(parse_one(&rest[..len], start))
    }
}

fn parse_one(t: &[u8], offset: usize) -> Result<Tal<'_>, TalError> {
    let err = |what: String| TalError { offset, what };
    let Some(sep) = t.iter().position(|&c| c == SEP) else {
        return Err(err(format!(
            "TAL {:?} has no 0x14 after its onset",
            String::from_utf8_lossy(&t[..t.len().min(40)])
        )));
    };
    let timing = &t[..sep];
    let (onset_b, dur_b) = match timing.iter().position(|&c| c == DUR) {
        Some(d) => (&timing[..d], Some(&timing[d + 1..])),
        None => (timing, None),
    };
    let onset = match onset_b.split_first() {
        Some((&sign @ (b'+' | b'-'), digits)) => {
            let v = parse_unsigned(digits).ok_or_else(|| bad_onset(onset_b, offset))?;
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return Err(bad_onset(onset_b, offset)),
    };
    let duration = match dur_b {
        Some(d) => Some(parse_unsigned(d).ok_or_else(|| {
            err(format!(
                "TAL duration {:?} is not a number of seconds",
                String::from_utf8_lossy(d)
            ))
        })?),
        None => None,
    };
    let body = &t[sep + 1..];
    let mut texts: Vec<&[u8]> = body.split(|&c| c == SEP).collect();
    if body.last() == Some(&SEP) || body.is_empty() {
        // The final 0x14 terminates the last text; the empty piece after it is not a text.
        texts.pop();
    }
    Ok(Tal {
        offset,
        onset,
        duration,
        texts,
    })
}

fn bad_onset(b: &[u8], offset: usize) -> TalError {
    TalError {
        offset,
        what: format!(
            "TAL onset {:?} is not +seconds or -seconds",
            String::from_utf8_lossy(&b[..b.len().min(40)])
        ),
    }
}

/// `digits [ "." digits ]`.
fn parse_unsigned(b: &[u8]) -> Option<f64> {
    let mut dots = 0;
    for &c in b {
        match c {
            b'0'..=b'9' => {}
            b'.' => dots += 1,
            _ => return None,
        }
    }
    if b.is_empty() || dots > 1 || b[0] == b'.' || b[b.len() - 1] == b'.' {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Seconds as EDF+ writes them: up to 7 decimals (100 ns, EDFbrowser's resolution), trailing
/// zeros dropped, no sign. `x` must be finite and non-negative.
pub(crate) fn fmt_seconds(x: f64) -> String {
    let s = format!("{:.7}", x.abs());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Signed onset: `+1.5`, `-0.25`.
fn fmt_onset(x: f64) -> String {
    let s = fmt_seconds(x);
    if x < 0.0 && s != "0" {
        format!("-{s}")
    } else {
        format!("+{s}")
    }
}

/// Appends a time-keeping TAL `+t\x14\x14\x00`.
pub(crate) fn encode_timekeeping(out: &mut Vec<u8>, t: f64) {
    out.extend_from_slice(fmt_onset(t).as_bytes());
    out.extend_from_slice(&[SEP, SEP, 0]);
}

/// Appends a TAL holding one annotation. `text` must not contain 0x00, 0x14 or 0x15.
pub(crate) fn encode_tal(out: &mut Vec<u8>, onset: f64, duration: Option<f64>, text: &str) {
    out.extend_from_slice(fmt_onset(onset).as_bytes());
    if let Some(d) = duration {
        out.push(DUR);
        out.extend_from_slice(fmt_seconds(d).as_bytes());
    }
    out.push(SEP);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&[SEP, 0]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn all(b: &[u8]) -> Vec<Result<Tal<'_>, TalError>> {
        tals(b).collect()
    }

    #[test]
    fn time_keeping_and_annotation() {
        let b = b"+0\x14\x14\x00+0\x14Recording starts\x14\x00\x00\x00";
        let v = all(b);
        assert_eq!(v.len(), 2);
        let t0 = v[0].as_ref().unwrap();
        assert_eq!(t0.onset, 0.0);
        assert_eq!(t0.texts, vec![&b""[..]]);
        let t1 = v[1].as_ref().unwrap();
        assert_eq!(t1.offset, 5);
        assert_eq!(t1.texts, vec![&b"Recording starts"[..]]);
        assert_eq!(t1.duration, None);
    }

    #[test]
    fn duration_and_several_texts() {
        let b = b"+33.43\x150\x14Lights off\x14second\x14\x00";
        let t = all(b).remove(0).unwrap();
        assert_eq!(t.onset, 33.43);
        assert_eq!(t.duration, Some(0.0));
        assert_eq!(t.texts, vec![&b"Lights off"[..], &b"second"[..]]);
    }

    #[test]
    fn negative_and_subsecond_onsets() {
        let t = all(b"-0.3945312\x14\x14\x00").remove(0).unwrap();
        assert_eq!(t.onset, -0.3945312);
    }

    #[test]
    fn malformed_tals_are_errors_with_offsets() {
        let v = all(b"+0\x14\x14\x00abc\x14x\x14\x00+1\x15-2\x14y\x14\x00+5");
        assert!(v[0].is_ok());
        let e = v[1].as_ref().unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.what.contains("onset \"abc\""), "{}", e.what);
        assert!(v[2].as_ref().unwrap_err().what.contains("duration"));
        assert!(v[3].as_ref().unwrap_err().what.contains("no 0x14"));
    }

    #[test]
    fn bad_numbers() {
        for b in [
            &b"+\x14\x14"[..],
            b"+1..2\x14\x14",
            b"+.5\x14\x14",
            b"+5.\x14\x14",
            b"+1e3\x14\x14",
        ] {
            assert!(all(b)[0].is_err(), "{:?}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn encode_round_trip() {
        let mut v = Vec::new();
        encode_timekeeping(&mut v, 0.1 * 3.0);
        encode_tal(&mut v, -1.25, Some(0.5), "héllo");
        encode_tal(&mut v, 600.0, None, "end");
        assert_eq!(
            &v[..],
            "+0.3\x14\x14\x00-1.25\x150.5\x14héllo\x14\x00+600\x14end\x14\x00".as_bytes()
        );
        let p: Vec<_> = tals(&v).map(|t| t.unwrap()).collect();
        assert_eq!(p[1].onset, -1.25);
        assert_eq!(p[1].duration, Some(0.5));
        assert_eq!(p[1].texts, vec!["héllo".as_bytes()]);
    }

    #[test]
    fn seconds_format() {
        assert_eq!(fmt_seconds(0.0), "0");
        assert_eq!(fmt_seconds(1.0), "1");
        assert_eq!(fmt_seconds(0.39453126), "0.3945313");
        assert_eq!(fmt_seconds(1e-9), "0");
        assert_eq!(fmt_onset(-1e-9), "+0");
    }
}

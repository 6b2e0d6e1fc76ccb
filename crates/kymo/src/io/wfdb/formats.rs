//! WFDB signal file formats: how samples are packed into bytes (PhysioNet `signal(5)`).
//!
//! A signal file holds one *signal group*: the signals of consecutive header lines that name
//! the same file. Their samples are interleaved frame by frame (signal *i* contributes
//! `samples per frame` samples to each frame, in signal order), and the packing below runs
//! over that interleaved stream of samples, which this module calls *slots*. For the bit-packed
//! formats (212, 310, 311) a packing group of two or three slots may therefore hold samples of
//! different signals.
//!
//! Sample values are returned as `i32` ADC units (every format fits: the widest is 32 bits).
//! For format 8 the value returned is the stored *first difference*; the caller integrates it.

/// The signal formats this reader decodes, as listed in the "unsupported format" error.
pub const SUPPORTED_LIST: &str = "8, 16, 24, 32, 61, 80, 160, 212, 310, 311";

/// A WFDB storage format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalFormat {
    /// 8-bit first differences.
    F8,
    /// 16-bit two's complement, little-endian.
    F16,
    /// 24-bit two's complement, little-endian.
    F24,
    /// 32-bit two's complement, little-endian.
    F32,
    /// 16-bit two's complement, big-endian.
    F61,
    /// 8-bit offset binary.
    F80,
    /// 16-bit offset binary, little-endian.
    F160,
    /// Two 12-bit samples in three bytes.
    F212,
    /// Three 10-bit samples in four bytes (two 16-bit words).
    F310,
    /// Three 10-bit samples in one 32-bit little-endian word.
    F311,
}

impl SignalFormat {
    /// The format for a header's format code, `None` when this reader does not decode it.
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            8 => SignalFormat::F8,
            16 => SignalFormat::F16,
            24 => SignalFormat::F24,
            32 => SignalFormat::F32,
            61 => SignalFormat::F61,
            80 => SignalFormat::F80,
            160 => SignalFormat::F160,
            212 => SignalFormat::F212,
            310 => SignalFormat::F310,
            311 => SignalFormat::F311,
            _ => return None,
        })
    }

    /// The header's format code.
    pub fn code(self) -> u32 {
        match self {
            SignalFormat::F8 => 8,
            SignalFormat::F16 => 16,
            SignalFormat::F24 => 24,
            SignalFormat::F32 => 32,
            SignalFormat::F61 => 61,
            SignalFormat::F80 => 80,
            SignalFormat::F160 => 160,
            SignalFormat::F212 => 212,
            SignalFormat::F310 => 310,
            SignalFormat::F311 => 311,
        }
    }

    /// Bits per stored sample.
    pub fn bits(self) -> u32 {
        match self {
            SignalFormat::F8 | SignalFormat::F80 => 8,
            SignalFormat::F16 | SignalFormat::F61 | SignalFormat::F160 => 16,
            SignalFormat::F24 => 24,
            SignalFormat::F32 => 32,
            SignalFormat::F212 => 12,
            SignalFormat::F310 | SignalFormat::F311 => 10,
        }
    }

    /// True for format 8, whose bytes are differences between successive samples.
    pub fn is_difference(self) -> bool {
        self == SignalFormat::F8
    }

    /// Samples (slots) in one packing group: 2 for 212, 3 for 310 and 311, else 1.
    pub fn group_samples(self) -> u64 {
        match self {
            SignalFormat::F212 => 2,
            SignalFormat::F310 | SignalFormat::F311 => 3,
            _ => 1,
        }
    }

    /// Bytes in one packing group.
    pub fn group_bytes(self) -> u64 {
        match self {
            SignalFormat::F8 | SignalFormat::F80 => 1,
            SignalFormat::F16 | SignalFormat::F61 | SignalFormat::F160 => 2,
            SignalFormat::F24 | SignalFormat::F212 => 3,
            SignalFormat::F32 | SignalFormat::F310 | SignalFormat::F311 => 4,
        }
    }

    /// Bytes needed to hold the first `n` slots, counting a last, partial packing group only
    /// as far as its last sample reaches (what wfdb-python and libwfdb write): 212 ends with
    /// 2 bytes for a lone sample; 310 with 2 bytes for one sample and 4 for two; 311 with 2
    /// bytes for one sample and 3 for two. `None` on overflow.
    pub fn bytes_for_samples(self, n: u64) -> Option<u64> {
        let g = self.group_samples();
        let full = (n / g).checked_mul(self.group_bytes())?;
        let tail = match (self, n % g) {
            (_, 0) => 0,
            (SignalFormat::F212, 1) => 2,
            (SignalFormat::F310, 1) | (SignalFormat::F311, 1) => 2,
            (SignalFormat::F310, _) => 4,
            (SignalFormat::F311, _) => 3,
            // Unreachable: g == 1 for the other formats, so n % g == 0.
            _ => 0,
        };
        full.checked_add(tail)
    }

    /// How many whole samples (slots) `bytes` bytes hold: the inverse of
    /// [`bytes_for_samples`](Self::bytes_for_samples), rounding down.
    pub fn samples_in_bytes(self, bytes: u64) -> u64 {
        let g = self.group_samples();
        let b = self.group_bytes();
        let full = bytes / b * g;
        let rest = bytes % b;
        let tail = match self {
            SignalFormat::F212 => u64::from(rest >= 2),
            SignalFormat::F310 => u64::from(rest >= 2),
            SignalFormat::F311 => match rest {
                0 | 1 => 0,
                2 => 1,
                _ => 2,
            },
            _ => 0,
        };
        full + tail
    }

    /// The stored value that marks a missing sample (`WFDB_INVALID_SAMPLE` after decoding):
    /// the most negative value of the format's width. Format 8 has none.
    pub fn invalid_value(self) -> Option<i32> {
        match self {
            SignalFormat::F8 => None,
            SignalFormat::F80 => Some(-(1 << 7)),
            SignalFormat::F310 | SignalFormat::F311 => Some(-(1 << 9)),
            SignalFormat::F212 => Some(-(1 << 11)),
            SignalFormat::F16 | SignalFormat::F61 | SignalFormat::F160 => Some(-(1 << 15)),
            SignalFormat::F24 => Some(-(1 << 23)),
            SignalFormat::F32 => Some(i32::MIN),
        }
    }

    /// Decodes slot `index` of `buf`, where `buf` starts at a packing-group boundary.
    ///
    /// Bytes past the end of `buf` read as zero, so a short buffer never panics (the reader
    /// checks file sizes, so this only matters for unused bits of a final partial group).
    pub fn decode(self, buf: &[u8], index: usize) -> i32 {
        let byte = |i: usize| -> u8 { buf.get(i).copied().unwrap_or(0) };
        match self {
            // Format 8: one signed byte, the difference from the previous sample of the
            // same signal (`v[n] = v[n-1] + d[n]`, `v[-1]` = the header's initial value).
            SignalFormat::F8 => i32::from(byte(index) as i8),
            // Format 16: byte 0 = bits 0-7, byte 1 = bits 8-15 (sign), two's complement.
            SignalFormat::F16 => {
                let i = index * 2;
                i32::from(i16::from_le_bytes([byte(i), byte(i + 1)]))
            }
            // Format 61: byte 0 = bits 8-15 (sign), byte 1 = bits 0-7, two's complement.
            SignalFormat::F61 => {
                let i = index * 2;
                i32::from(i16::from_be_bytes([byte(i), byte(i + 1)]))
            }
            // Format 24: bytes 0, 1, 2 = bits 0-7, 8-15, 16-23 (sign), two's complement.
            SignalFormat::F24 => {
                let i = index * 3;
                // Put the 24 bits at the top of an i32, then shift back to sign-extend.
                i32::from_le_bytes([0, byte(i), byte(i + 1), byte(i + 2)]) >> 8
            }
            // Format 32: bytes 0-3 = bits 0-31 (little-endian), two's complement.
            SignalFormat::F32 => {
                let i = index * 4;
                i32::from_le_bytes([byte(i), byte(i + 1), byte(i + 2), byte(i + 3)])
            }
            // Format 80: one unsigned byte u, value = u - 128 (offset binary).
            SignalFormat::F80 => i32::from(byte(index)) - 128,
            // Format 160: unsigned little-endian 16-bit u, value = u - 32768 (offset binary).
            SignalFormat::F160 => {
                let i = index * 2;
                i32::from(u16::from_le_bytes([byte(i), byte(i + 1)])) - 32768
            }
            // Format 212: two 12-bit two's complement samples in 3 bytes.
            //
            //   byte 0: s0 bits 0-7
            //   byte 1: low nibble = s0 bits 8-11, high nibble = s1 bits 8-11
            //   byte 2: s1 bits 0-7
            SignalFormat::F212 => {
                let g = index / 2 * 3;
                let (b0, b1, b2) = (byte(g), byte(g + 1), byte(g + 2));
                let raw = if index % 2 == 0 {
                    u32::from(b0) | (u32::from(b1 & 0x0F) << 8)
                } else {
                    u32::from(b2) | (u32::from(b1 & 0xF0) << 4)
                };
                sign_extend(raw, 12)
            }
            // Format 310: three 10-bit two's complement samples in two little-endian 16-bit
            // words w0 (bytes 0-1) and w1 (bytes 2-3).
            //
            //   w0: bit 0 unused, bits 1-10 = s0, bits 11-15 = s2 bits 0-4
            //   w1: bit 0 unused, bits 1-10 = s1, bits 11-15 = s2 bits 5-9
            SignalFormat::F310 => {
                let g = index / 3 * 4;
                let w0 = u32::from(u16::from_le_bytes([byte(g), byte(g + 1)]));
                let w1 = u32::from(u16::from_le_bytes([byte(g + 2), byte(g + 3)]));
                let raw = match index % 3 {
                    0 => (w0 >> 1) & 0x3FF,
                    1 => (w1 >> 1) & 0x3FF,
                    _ => (w0 >> 11) | ((w1 >> 11) << 5),
                };
                sign_extend(raw, 10)
            }
            // Format 311: three 10-bit two's complement samples in one little-endian 32-bit
            // word w (bytes 0-3).
            //
            //   w bits 0-9 = s0, bits 10-19 = s1, bits 20-29 = s2, bits 30-31 unused
            SignalFormat::F311 => {
                let g = index / 3 * 4;
                let w = u32::from_le_bytes([byte(g), byte(g + 1), byte(g + 2), byte(g + 3)]);
                let raw = (w >> (10 * (index % 3))) & 0x3FF;
                sign_extend(raw, 10)
            }
        }
    }
}

/// Sign-extends the low `bits` bits of `raw` (1 ≤ bits ≤ 31).
fn sign_extend(raw: u32, bits: u32) -> i32 {
    let shift = 32 - bits;
    ((raw << shift) as i32) >> shift
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ALL: [SignalFormat; 10] = [
        SignalFormat::F8,
        SignalFormat::F16,
        SignalFormat::F24,
        SignalFormat::F32,
        SignalFormat::F61,
        SignalFormat::F80,
        SignalFormat::F160,
        SignalFormat::F212,
        SignalFormat::F310,
        SignalFormat::F311,
    ];

    #[test]
    fn codes_round_trip_and_list_is_complete() {
        for f in ALL {
            assert_eq!(SignalFormat::from_code(f.code()), Some(f));
            assert!(SUPPORTED_LIST.contains(&f.code().to_string()));
        }
        assert_eq!(SignalFormat::from_code(999), None);
        assert_eq!(SignalFormat::from_code(0), None);
    }

    #[test]
    fn byte_counts_match_wfdb_python() {
        // binformats.d5/d6/d7 hold 499 samples in 749, 666 and 666 bytes.
        assert_eq!(SignalFormat::F212.bytes_for_samples(499), Some(749));
        assert_eq!(SignalFormat::F310.bytes_for_samples(499), Some(666));
        assert_eq!(SignalFormat::F311.bytes_for_samples(499), Some(666));
        assert_eq!(SignalFormat::F310.bytes_for_samples(500), Some(668));
        assert_eq!(SignalFormat::F311.bytes_for_samples(500), Some(667));
        assert_eq!(SignalFormat::F24.bytes_for_samples(499), Some(1497));
        for f in ALL {
            for n in 0..50u64 {
                let b = f.bytes_for_samples(n).unwrap();
                // ">=": in format 310, 4 bytes hold two samples or three.
                assert!(f.samples_in_bytes(b) >= n, "{f:?} n={n}");
                if b > 0 {
                    assert!(f.samples_in_bytes(b - 1) < n, "{f:?} n={n}");
                }
            }
        }
        assert_eq!(SignalFormat::F32.bytes_for_samples(u64::MAX), None);
    }

    #[test]
    fn decodes_hand_packed_bytes() {
        // 212: s0 = 0x123, s1 = -2 (0xFFE): byte1 = 0xF1 (high nibble 0xF from s1, low 0x1 from s0).
        let b = [0x23, 0xF1, 0xFE];
        assert_eq!(SignalFormat::F212.decode(&b, 0), 0x123);
        assert_eq!(SignalFormat::F212.decode(&b, 1), -2);
        // 311: s0 = 5, s1 = -1 (0x3FF), s2 = -512 (0x200).
        let w: u32 = 5 | (0x3FF << 10) | (0x200 << 20);
        let b = w.to_le_bytes();
        assert_eq!(SignalFormat::F311.decode(&b, 0), 5);
        assert_eq!(SignalFormat::F311.decode(&b, 1), -1);
        assert_eq!(SignalFormat::F311.decode(&b, 2), -512);
        // 310: s0 = 3, s1 = -3 (0x3FD), s2 = 0x155 (low 5 bits 0x15, high 5 bits 0x0A).
        let w0: u16 = (3 << 1) | (0x15 << 11);
        let w1: u16 = (0x3FD << 1) | (0x0A << 11);
        let mut b = [0u8; 4];
        b[..2].copy_from_slice(&w0.to_le_bytes());
        b[2..].copy_from_slice(&w1.to_le_bytes());
        assert_eq!(SignalFormat::F310.decode(&b, 0), 3);
        assert_eq!(SignalFormat::F310.decode(&b, 1), -3);
        assert_eq!(SignalFormat::F310.decode(&b, 2), 0x155);
        // 24: -2 = 0xFFFFFE.
        assert_eq!(SignalFormat::F24.decode(&[0xFE, 0xFF, 0xFF], 0), -2);
        assert_eq!(SignalFormat::F24.decode(&[0x00, 0x00, 0x80], 0), -(1 << 23));
        assert_eq!(SignalFormat::F61.decode(&[0x80, 0x01], 0), -32767);
        assert_eq!(SignalFormat::F16.decode(&[0x01, 0x80], 0), -32767);
        assert_eq!(SignalFormat::F80.decode(&[0], 0), -128);
        assert_eq!(SignalFormat::F160.decode(&[0xFF, 0xFF], 0), 32767);
        assert_eq!(SignalFormat::F8.decode(&[0x80], 0), -128);
        // Past the end: zero bytes, no panic.
        assert_eq!(SignalFormat::F32.decode(&[], 7), 0);
    }
}

//! The analysis JSON (`docs/analysis-json.md`): `serde_json` of [`Analysis`], laid out so
//! that a person can read it and `grep` it: the outer levels are indented one field per
//! line, and every item of the long lists (units, potentials, trains, discharges,
//! artefacts) sits on one line of its own.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use crate::analyze::Analysis;
use crate::io::atomic::{AtomicFile, Staged};
use crate::Result;

/// Objects, and arrays of objects or arrays, nested up to this depth are indented one
/// element per line; deeper ones are written on one line. Depth 1 is the document, 2 the
/// channel list, 3 a channel, 4 its lists (units, potentials, discharges, …), so each
/// unit, potential and discharge is one line. Arrays of plain values (numbers, strings)
/// are always one line.
const MAX_INDENTED_DEPTH: usize = 4;

/// Writes `analysis` as JSON to a temporary file beside `path`; the caller commits it.
pub fn write_json(path: &Path, analysis: &Analysis) -> Result<Staged> {
    let mut f = AtomicFile::create(path)?;
    to_writer(&mut f, analysis).map_err(|e| f.io_error(e))?;
    f.finish()
}

/// Writes `value` in the layout of the analysis JSON (see the module docs), with a final
/// newline.
pub fn to_writer<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, LinesFormatter::default());
    value.serialize(&mut ser).map_err(io::Error::other)?;
    ser.into_inner().write_all(b"\n")
}

/// How a container's elements are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One element per line, indented.
    Indented,
    /// All on one line.
    Compact,
    /// An array whose first element has not been seen yet: indented if it is a container,
    /// compact if it is a plain value.
    Undecided,
}

/// [`serde_json::ser::PrettyFormatter`] down to [`MAX_INDENTED_DEPTH`], compact below and
/// for arrays of plain values.
#[derive(Debug, Default)]
struct LinesFormatter {
    /// Layout of each open container, outermost first.
    stack: Vec<Layout>,
    /// The current container has had an element.
    has_value: bool,
    /// The first element of an [`Layout::Undecided`] array is about to be written.
    pending: bool,
}

impl LinesFormatter {
    fn top(&self) -> Layout {
        self.stack.last().copied().unwrap_or(Layout::Compact)
    }

    fn newline<W: ?Sized + Write>(w: &mut W, depth: usize) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    /// Decides a pending array's layout from its first element (`container` or not).
    fn resolve<W: ?Sized + Write>(&mut self, w: &mut W, container: bool) -> io::Result<()> {
        if !self.pending {
            return Ok(());
        }
        self.pending = false;
        let layout = if container {
            Layout::Indented
        } else {
            Layout::Compact
        };
        if let Some(top) = self.stack.last_mut() {
            *top = layout;
        }
        if layout == Layout::Indented {
            Self::newline(w, self.stack.len())?;
        }
        Ok(())
    }

    fn begin<W: ?Sized + Write>(&mut self, w: &mut W, open: &[u8], array: bool) -> io::Result<()> {
        self.resolve(w, true)?;
        let layout = if self.stack.len() >= MAX_INDENTED_DEPTH {
            Layout::Compact
        } else if array {
            Layout::Undecided
        } else {
            Layout::Indented
        };
        self.stack.push(layout);
        self.has_value = false;
        w.write_all(open)
    }

    fn end<W: ?Sized + Write>(&mut self, w: &mut W, close: &[u8]) -> io::Result<()> {
        let layout = self.stack.pop().unwrap_or(Layout::Compact);
        self.pending = false;
        if self.has_value && layout == Layout::Indented {
            Self::newline(w, self.stack.len())?;
        }
        w.write_all(close)
    }

    fn element<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        match self.top() {
            Layout::Indented => {
                if !first {
                    w.write_all(b",")?;
                }
                Self::newline(w, self.stack.len())
            }
            Layout::Compact if !first => w.write_all(b","),
            Layout::Compact => Ok(()),
            Layout::Undecided => {
                self.pending = true;
                Ok(())
            }
        }
    }
}

/// Plain values: settle a pending array's layout, then write as serde_json does.
macro_rules! scalar {
    ($($name:ident($t:ty)),* $(,)?) => {
        $(
            fn $name<W: ?Sized + Write>(&mut self, w: &mut W, v: $t) -> io::Result<()> {
                self.resolve(w, false)?;
                CompactFormatter.$name(w, v)
            }
        )*
    };
}

impl Formatter for LinesFormatter {
    scalar!(
        write_bool(bool),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_f32(f32),
        write_f64(f64),
        write_number_str(&str),
        write_byte_array(&[u8]),
        write_raw_fragment(&str),
    );

    fn write_null<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.resolve(w, false)?;
        w.write_all(b"null")
    }

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.resolve(w, false)?;
        w.write_all(b"\"")
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.begin(w, b"[", true)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.end(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.element(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.begin(w, b"{", false)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.end(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.element(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.top() == Layout::Indented {
            b": "
        } else {
            b":"
        })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn render(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        to_writer(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn outer_levels_are_indented_and_deep_items_are_one_line_each() {
        let v = serde_json::json!({
            "schema": "x",
            "empty": [],
            "band": [20, 450.5],
            "channels": [{
                "label": "EMG",
                "potentials": [{"time_s": 0.5, "unit": 1}, {"time_s": 0.75, "unit": 2}],
                "none": {}
            }]
        });
        let s = render(&v);
        // serde_json's maps sort their keys.
        let want = "{\n  \"band\": [20,450.5],\n  \"channels\": [\n    {\n      \"label\": \"EMG\",\n      \"none\": {},\n      \"potentials\": [\n        {\"time_s\":0.5,\"unit\":1},\n        {\"time_s\":0.75,\"unit\":2}\n      ]\n    }\n  ],\n  \"empty\": [],\n  \"schema\": \"x\"\n}\n";
        assert_eq!(s, want);
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn any_value_round_trips() {
        let v = serde_json::json!([[[[[1, [2, {"a": [3, {}]}]]]]], {"b": null}, "s\"q", 1.5e-7]);
        let back: serde_json::Value = serde_json::from_str(&render(&v)).unwrap();
        assert_eq!(back, v);
    }
}

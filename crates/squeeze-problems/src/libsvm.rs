//! LIBSVM / svmlight text reader for binary classification data.
//!
//! Format, one sample per line: `label index:value index:value ...` with
//!
//! * label `-1`, `+1`, `1` or `0` (`0` is mapped to −1, as the EF21 and MoTEF codes do);
//! * 1-based, strictly increasing feature indices (stored 0-based);
//! * blank lines, `#` comments (whole-line or trailing) and trailing whitespace ignored.
//!
//! The matrix width is the largest index in the file, or [`ReadOptions::n_features`] if given
//! (a test split such as `a9a.t` may not use the last training feature). Malformed input is a
//! [`DataError`] with the 1-based line and column of the offending token and a hint; the
//! reader never panics.
//!
//! Size limits turn absurd input into a [`DataError::TooLarge`] instead of an allocation
//! failure or endless reading: a feature index (or `n_features`) above [`MAX_FEATURES`] (the
//! models are dense: d values per vector), a line longer than [`MAX_LINE_BYTES`] (e.g.
//! `/dev/zero`, a binary file), more than [`MAX_INPUT_BYTES`] in all, and a row whose squared
//! norm overflows `f64` (its values would overflow every loss and gradient).
//!
//! ```
//! use squeeze_problems::libsvm::{read_libsvm, ReadOptions};
//! let text = "+1 1:0.5 3:1\n# comment\n\n0 2:2 # trailing comment\n";
//! let d = read_libsvm::<f64, _>(text.as_bytes(), &ReadOptions::default()).unwrap();
//! assert_eq!((d.n_rows(), d.n_features()), (2, 3));
//! assert_eq!(d.labels, vec![1.0, -1.0]);
//!
//! let err = read_libsvm::<f64, _>("1 0:1\n".as_bytes(), &ReadOptions::default()).unwrap_err();
//! assert!(err.to_string().contains("line 1, column 3"));
//! ```

use std::io::{BufRead, Read};
use std::path::Path;

use squeeze_core::Scalar;

use crate::data::{Csr, Dataset};
use crate::error::{DataError, ParseKind};

/// Largest feature index (and `n_features`) accepted: 2^26 = 67,108,864. Every model vector is
/// dense, so d = 2^26 already takes 512 MiB per vector in f64; a larger index in a file is
/// almost always a corrupt or non-LIBSVM file.
pub const MAX_FEATURES: usize = 1 << 26;

/// Longest line accepted, in bytes (64 MiB).
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Most input read from one file or stream, in bytes (8 GiB).
pub const MAX_INPUT_BYTES: u64 = 8 << 30;

fn too_many_features(what: String, index: u64) -> DataError {
    let gb = index as f64 * 8.0 / 1e9;
    DataError::TooLarge {
        what,
        limit: format!("{MAX_FEATURES} features (2^26)"),
        hint: format!(
            "models are dense, so d = {index} would need {gb:.1} GB per vector; renumber the \
             features that occur to 1..d (or check the file: such an index is usually corrupt)"
        ),
    }
}

/// Options for [`read_libsvm`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Pad the feature dimension to this width (an index above it is an error). `None`: the
    /// largest index in the file.
    pub n_features: Option<usize>,
    /// Data-set name; `None`: `"libsvm"` for streams, the file name for paths.
    pub name: Option<String>,
}

impl ReadOptions {
    /// Options with a fixed feature width.
    pub fn with_n_features(n: usize) -> Self {
        Self {
            n_features: Some(n),
            name: None,
        }
    }
}

fn parse_error(line: usize, column: usize, kind: ParseKind, token: &str) -> DataError {
    let mut end = token.len().min(40);
    while !token.is_char_boundary(end) {
        end -= 1;
    }
    DataError::Parse {
        line,
        column,
        kind,
        token: token[..end].to_string(),
    }
}

/// Split `s` into whitespace-separated tokens with their byte offsets.
fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let base = s.as_ptr() as usize;
    s.split_ascii_whitespace()
        .map(move |t| (t.as_ptr() as usize - base, t))
}

/// Read a binary LIBSVM data set from any buffered reader.
///
/// Errors: [`DataError::Parse`] (line, column, kind, hint), [`DataError::Read`] for I/O or
/// invalid UTF-8, [`DataError::Empty`] if there is no data row.
pub fn read_libsvm<S: Scalar, R: BufRead>(
    mut reader: R,
    opts: &ReadOptions,
) -> Result<Dataset<S>, DataError> {
    let name = opts.name.clone().unwrap_or_else(|| "libsvm".to_string());
    if let Some(n) = opts.n_features
        && n > MAX_FEATURES
    {
        return Err(too_many_features(format!("n_features = {n}"), n as u64));
    }
    let limit = opts.n_features.unwrap_or(MAX_FEATURES);
    let mut total: u64 = 0;
    let mut indptr = vec![0usize];
    let mut indices: Vec<u32> = Vec::new();
    let mut values: Vec<S> = Vec::new();
    let mut labels: Vec<S> = Vec::new();
    let mut width = 0usize;
    let mut buf = String::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        line_no += 1;
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_line(&mut buf)
            .map_err(|source| DataError::Read {
                line: line_no,
                source,
            })?;
        if n == 0 {
            break;
        }
        if n > MAX_LINE_BYTES {
            return Err(DataError::TooLarge {
                what: format!("{name}: line {line_no}"),
                limit: format!("{} MiB per line", MAX_LINE_BYTES >> 20),
                hint: "a LIBSVM file is text with one sample per line; check that this is one \
                       (a device such as /dev/zero or a binary file never ends a line)"
                    .into(),
            });
        }
        total += n as u64;
        if total > MAX_INPUT_BYTES {
            return Err(DataError::TooLarge {
                what: format!("{name}: the input up to line {line_no}"),
                limit: format!("{} GiB", MAX_INPUT_BYTES >> 30),
                hint: "subsample or split the data set into a smaller file".into(),
            });
        }
        let content = match buf.find('#') {
            Some(p) => &buf[..p],
            None => &buf[..],
        };
        let mut toks = tokens(content);
        let Some((off, label_tok)) = toks.next() else {
            continue; // blank or comment-only line
        };
        let label = match label_tok {
            "+1" | "1" | "1.0" | "+1.0" => S::ONE,
            "-1" | "0" | "-1.0" | "0.0" => -S::ONE,
            _ => {
                return Err(parse_error(
                    line_no,
                    off + 1,
                    ParseKind::BadLabel,
                    label_tok,
                ));
            }
        };
        let mut prev: u64 = 0;
        let mut norm_sq = 0.0f64;
        for (off, tok) in toks {
            let col = off + 1;
            let Some((i_str, v_str)) = tok.split_once(':') else {
                return Err(parse_error(line_no, col, ParseKind::MissingColon, tok));
            };
            let idx: u64 = i_str
                .parse()
                .map_err(|_| parse_error(line_no, col, ParseKind::BadIndex, tok))?;
            if idx == 0 {
                return Err(parse_error(line_no, col, ParseKind::IndexZero, tok));
            }
            if idx > u32::MAX as u64 {
                return Err(parse_error(line_no, col, ParseKind::BadIndex, tok));
            }
            if idx <= prev {
                return Err(parse_error(
                    line_no,
                    col,
                    ParseKind::NonIncreasingIndex,
                    tok,
                ));
            }
            if opts.n_features.is_none() && idx as usize > MAX_FEATURES {
                return Err(too_many_features(
                    format!("{name}: line {line_no}, column {col}: feature index {idx}"),
                    idx,
                ));
            }
            if idx as usize > limit {
                return Err(parse_error(line_no, col, ParseKind::IndexBeyondWidth, tok));
            }
            prev = idx;
            let vcol = col + i_str.len() + 1;
            let v: f64 = v_str
                .parse()
                .map_err(|_| parse_error(line_no, vcol, ParseKind::BadNumber, v_str))?;
            let v = S::from_f64(v);
            if !v.is_finite() {
                return Err(parse_error(line_no, vcol, ParseKind::NonFinite, v_str));
            }
            let v64 = v.to_f64();
            norm_sq += v64 * v64;
            if !S::from_f64(norm_sq).is_finite() {
                return Err(DataError::TooLarge {
                    what: format!(
                        "{name}: line {line_no}, column {vcol}: the row's squared norm (value {v64:.3e})"
                    ),
                    limit: "the largest number of the precision (f32: 3.4e38, f64: 1.8e308)".into(),
                    hint: "losses and gradients of this row would overflow; scale the features \
                           (e.g. to [-1, 1])"
                        .into(),
                });
            }
            indices.push((idx - 1) as u32);
            values.push(v);
        }
        width = width.max(prev as usize);
        labels.push(label);
        indptr.push(indices.len());
    }
    if labels.is_empty() {
        return Err(DataError::Empty { source_name: name });
    }
    let n_cols = opts.n_features.unwrap_or(width);
    if n_cols == 0 {
        return Err(DataError::NoFeatures {
            source_name: name,
            rows: labels.len(),
        });
    }
    let features = Csr::new(n_cols, indptr, indices, values)?;
    Dataset::new(name, features, labels)
}

/// Read a binary LIBSVM file (see [`read_libsvm`]). A missing file is [`DataError::Io`] with
/// the path. The data-set name defaults to the file name.
///
/// ```
/// use squeeze_problems::libsvm::{read_libsvm_path, ReadOptions};
/// let err = read_libsvm_path::<f64>("/no/such/file", &ReadOptions::default()).unwrap_err();
/// assert!(err.to_string().contains("/no/such/file"));
/// ```
pub fn read_libsvm_path<S: Scalar>(
    path: impl AsRef<Path>,
    opts: &ReadOptions,
) -> Result<Dataset<S>, DataError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > MAX_INPUT_BYTES
    {
        return Err(DataError::TooLarge {
            what: format!("{} ({} bytes)", path.display(), meta.len()),
            limit: format!("{} GiB", MAX_INPUT_BYTES >> 30),
            hint: "subsample or split the data set into a smaller file".into(),
        });
    }
    let mut opts = opts.clone();
    if opts.name.is_none() {
        opts.name = Some(path.file_name().map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().into(),
        ));
    }
    read_libsvm(std::io::BufReader::with_capacity(1 << 16, file), &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Dataset<f64>, DataError> {
        read_libsvm(s.as_bytes(), &ReadOptions::default())
    }

    fn parse_at(s: &str) -> (usize, usize, ParseKind) {
        match read(s) {
            Err(DataError::Parse {
                line, column, kind, ..
            }) => (line, column, kind),
            other => panic!("expected a parse error for {s:?}, got {other:?}"),
        }
    }

    #[test]
    fn accepts_label_conventions_blank_lines_comments_and_whitespace() {
        let d =
            read("# header\n+1 1:1 4:2.5   \r\n\n   \n-1 2:-3e-1\n1 3:1\n0 \n0.0 1:1#x\n").unwrap();
        assert_eq!(d.n_rows(), 5);
        assert_eq!(d.n_features(), 4);
        assert_eq!(d.labels, vec![1.0, -1.0, 1.0, -1.0, -1.0]);
        assert_eq!(d.features.row(0).indices, &[0, 3]);
        assert_eq!(d.features.row(0).values, &[1.0, 2.5]);
        assert_eq!(d.features.row(1).values, &[-0.3]);
        assert_eq!(d.features.row(3).nnz(), 0);
        assert_eq!(d.features.row(4).indices, &[0]);
    }

    #[test]
    fn n_features_pads_and_bounds() {
        let d: Dataset<f32> =
            read_libsvm("1 2:1\n".as_bytes(), &ReadOptions::with_n_features(123)).unwrap();
        assert_eq!(d.n_features(), 123);
        let e = read_libsvm::<f32, _>("1 2:1 7:1\n".as_bytes(), &ReadOptions::with_n_features(5));
        assert!(matches!(
            e,
            Err(DataError::Parse {
                line: 1,
                column: 7,
                kind: ParseKind::IndexBeyondWidth,
                ..
            })
        ));
    }

    #[test]
    fn malformed_input_reports_line_column_and_kind() {
        assert_eq!(parse_at("1 1:1\n2 1:1\n"), (2, 1, ParseKind::BadLabel));
        assert_eq!(parse_at("abc 1:1\n"), (1, 1, ParseKind::BadLabel));
        assert_eq!(parse_at("1 0:1\n"), (1, 3, ParseKind::IndexZero));
        assert_eq!(
            parse_at("1 3:1 2:1\n"),
            (1, 7, ParseKind::NonIncreasingIndex)
        );
        assert_eq!(
            parse_at("1 3:1 3:1\n"),
            (1, 7, ParseKind::NonIncreasingIndex)
        );
        assert_eq!(parse_at("-1  1:1 2:x\n"), (1, 11, ParseKind::BadNumber));
        assert_eq!(parse_at("1 1:1 5\n"), (1, 7, ParseKind::MissingColon));
        assert_eq!(parse_at("1 1:nan\n"), (1, 5, ParseKind::NonFinite));
        assert_eq!(parse_at("1 1:inf\n"), (1, 5, ParseKind::NonFinite));
        assert_eq!(parse_at("1 -2:1\n"), (1, 3, ParseKind::BadIndex));
        assert_eq!(parse_at("1 99999999999:1\n"), (1, 3, ParseKind::BadIndex));
        assert_eq!(parse_at("1 :1\n"), (1, 3, ParseKind::BadIndex));
        let msg = read("1 0:1\n").unwrap_err().to_string();
        assert!(msg.contains("1-based"), "{msg}");
    }

    #[test]
    fn f32_overflow_is_non_finite() {
        let e = read_libsvm::<f32, _>("1 1:1e300\n".as_bytes(), &ReadOptions::default());
        assert!(matches!(
            e,
            Err(DataError::Parse {
                kind: ParseKind::NonFinite,
                ..
            })
        ));
    }

    #[test]
    fn empty_inputs_are_errors() {
        assert!(matches!(read(""), Err(DataError::Empty { .. })));
        assert!(matches!(
            read("\n# only\n  \n"),
            Err(DataError::Empty { .. })
        ));
    }

    #[test]
    fn absurd_sizes_are_data_errors_not_allocations() {
        let e = read("+1 4294967295:1\n").unwrap_err();
        assert!(matches!(e, DataError::TooLarge { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("feature index 4294967295") && msg.contains("67108864"),
            "{msg}"
        );
        assert!(read(&format!("+1 {MAX_FEATURES}:1\n")).is_ok());
        let e = read_libsvm::<f64, _>(
            "+1 1:1\n".as_bytes(),
            &ReadOptions::with_n_features(MAX_FEATURES + 1),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("n_features = 67108865 exceeds"),
            "{e}"
        );
        // A line without end (/dev/zero) stops at the line limit.
        let zeros = std::io::repeat(0).take(MAX_LINE_BYTES as u64 + 10);
        let e = read_libsvm::<f64, _>(std::io::BufReader::new(zeros), &ReadOptions::default())
            .unwrap_err();
        assert!(e.to_string().contains("MiB per line"), "{e}");
        // A row whose squared norm overflows f64.
        let e = read("+1 1:1e300 2:1\n").unwrap_err();
        assert!(e.to_string().contains("squared norm"), "{e}");
        assert!(read("+1 1:1e150\n").is_ok());
    }

    #[test]
    fn rows_without_any_feature_are_an_error() {
        let e = read("+1\n-1\n").unwrap_err();
        assert!(matches!(e, DataError::NoFeatures { rows: 2, .. }), "{e:?}");
        assert!(read_libsvm::<f64, _>("+1\n".as_bytes(), &ReadOptions::with_n_features(3)).is_ok());
    }

    #[test]
    fn invalid_utf8_is_a_read_error() {
        let e = read_libsvm::<f64, _>(&b"1 1:1\n\xff\xfe\n"[..], &ReadOptions::default());
        assert!(matches!(e, Err(DataError::Read { line: 2, .. })));
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = read_libsvm_path::<f64>("/definitely/missing.svm", &ReadOptions::default());
        match e {
            Err(DataError::Io { path, .. }) => {
                assert_eq!(path, Path::new("/definitely/missing.svm"));
            }
            other => panic!("{other:?}"),
        }
    }
}

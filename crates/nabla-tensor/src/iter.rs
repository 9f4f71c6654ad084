//! Walking several strided operands of one shape together, a row of the last dimension
//! at a time. Kernels do their inner loop over the row; this does the bookkeeping.

/// Merges adjacent dimensions that are contiguous with each other in every operand, so
/// that rows are as long as possible. Returns the merged shape and strides.
pub fn coalesce<const N: usize>(shape: &[usize], strides: [&[usize]; N]) -> (Vec<usize>, [Vec<usize>; N]) {
    let mut out_shape: Vec<usize> = Vec::with_capacity(shape.len());
    let mut out_strides: [Vec<usize>; N] = std::array::from_fn(|_| Vec::with_capacity(shape.len()));
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        if let Some(&last) = out_shape.last() {
            let mergeable = (0..N).all(|k| {
                let ls = *out_strides[k].last().unwrap();
                ls == strides[k][d] * shape[d]
            });
            if mergeable {
                *out_shape.last_mut().unwrap() = last * shape[d];
                for k in 0..N {
                    *out_strides[k].last_mut().unwrap() = strides[k][d];
                }
                continue;
            }
        }
        out_shape.push(shape[d]);
        for k in 0..N {
            out_strides[k].push(strides[k][d]);
        }
    }
    (out_shape, out_strides)
}

/// Calls `f(starts, inner_strides, len)` for every row of the last dimension of `shape`,
/// where `starts[k]` is operand k's storage index of the row's first element.
///
/// ```
/// use nabla_tensor::iter::for_each_row_n;
/// let mut rows = vec![];
/// // a [2, 3] operand broadcast against a [3] one
/// for_each_row_n(&[2, 3], [&[3, 1], &[0, 1]], [0, 0], |s, st, n| rows.push((s, st, n)));
/// assert_eq!(rows, vec![([0, 0], [1, 1], 3), ([3, 0], [1, 1], 3)]);
/// ```
pub fn for_each_row_n<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    f: impl FnMut([usize; N], [usize; N], usize),
) {
    if shape.contains(&0) {
        return;
    }
    let (shape, strides) = coalesce(shape, strides);
    rows_of(&shape, &strides, offsets, f)
}

/// Like [`for_each_row_n`], but the last dimension is never merged with the others: each
/// call gets exactly one lane of the last dimension (for kernels that reduce along it,
/// such as softmax or max over a dimension).
///
/// ```
/// use nabla_tensor::iter::for_each_lane_n;
/// let mut lanes = 0;
/// for_each_lane_n(&[2, 3], [&[3, 1]], [0], |_, _, n| { assert_eq!(n, 3); lanes += 1 });
/// assert_eq!(lanes, 2);
/// ```
pub fn for_each_lane_n<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    mut f: impl FnMut([usize; N], [usize; N], usize),
) {
    if shape.contains(&0) {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(offsets, [1; N], 1);
        return;
    }
    let outer: [&[usize]; N] = std::array::from_fn(|k| &strides[k][..nd - 1]);
    let (mut s, mut st) = coalesce(&shape[..nd - 1], outer);
    s.push(shape[nd - 1]);
    for k in 0..N {
        st[k].push(strides[k][nd - 1]);
    }
    rows_of(&s, &st, offsets, f)
}

fn rows_of<const N: usize>(
    shape: &[usize],
    strides: &[Vec<usize>; N],
    offsets: [usize; N],
    mut f: impl FnMut([usize; N], [usize; N], usize),
) {
    let nd = shape.len();
    if nd == 0 {
        f(offsets, [1; N], 1);
        return;
    }
    let inner_len = shape[nd - 1];
    let inner: [usize; N] = std::array::from_fn(|k| strides[k][nd - 1]);
    let mut index = vec![0usize; nd - 1];
    let mut pos = offsets;
    loop {
        f(pos, inner, inner_len);
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            if index[d] < shape[d] {
                for k in 0..N {
                    pos[k] += strides[k][d];
                }
                break;
            }
            for k in 0..N {
                pos[k] -= strides[k][d] * (shape[d] - 1);
            }
            index[d] = 0;
        }
    }
}

/// Fills a contiguous output of `shape` in parallel: splits the outermost (coalesced)
/// dimension into chunks and calls `f(out_chunk, starts, strides, len)` for each row of
/// each chunk, where `out_chunk` is the part of `out` the chunk covers and row output
/// positions are `starts[0]` (relative to the chunk) plus `i`. Operands `1..N` are
/// the inputs with their strides and offsets; operand 0 is the output.
pub fn par_fill_rows<T: Send, const N: usize>(
    out: &mut [T],
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    f: impl Fn(&mut [T], [usize; N], [usize; N], usize) + Sync,
) {
    use rayon::prelude::*;
    if shape.contains(&0) {
        return;
    }
    let (shape, strides) = coalesce(shape, strides);
    if shape.is_empty() {
        f(out, offsets, [1; N], 1);
        return;
    }
    let outer = shape[0];
    let inner: usize = shape[1..].iter().product();
    let chunks = rayon::current_num_threads().max(1) * 4;
    let per = outer.div_ceil(chunks).max(1);
    // operand 0 (the output) is contiguous: its outer stride is `inner`
    out.par_chunks_mut(per * inner).enumerate().for_each(|(c, out_chunk)| {
        let start = c * per;
        let len = (outer - start).min(per);
        let mut sub_shape = shape.clone();
        sub_shape[0] = len;
        let mut offs = offsets;
        for k in 0..N {
            offs[k] += start * strides[k][0];
        }
        offs[0] = 0;
        let st: [&[usize]; N] = std::array::from_fn(|k| &strides[k][..]);
        let mut rows: Vec<([usize; N], [usize; N], usize)> = Vec::new();
        for_each_row_n(&sub_shape, st, offs, |p, s, n| rows.push((p, s, n)));
        for (p, s, n) in rows {
            f(out_chunk, p, s, n);
        }
    });
}

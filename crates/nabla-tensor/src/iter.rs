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

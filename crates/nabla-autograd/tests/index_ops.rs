//! Indexing and joining through the public `Tensor` API: forward values against naive
//! loops, first and second derivatives of the join/split ops (`cat`, `stack`, `chunk`,
//! `split`, `split_sizes`, `unbind`, `narrow`, `slice`) on contiguous and non-contiguous
//! inputs, create_graph through a gather-based loss, and the misuse errors users see.

use nabla_autograd::autograd::{gradcheck, gradgradcheck};
use nabla_autograd::{DType, Error, Tensor};

fn leaf(shape: &[usize]) -> Tensor {
    Tensor::randn_with(shape, DType::F64).requires_grad_(true)
}

fn idx(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

#[track_caller]
fn check(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) {
    gradcheck(&f, inputs).unwrap_or_else(|e| panic!("{e}"));
    gradgradcheck(&f, inputs).unwrap_or_else(|e| panic!("second order: {e}"));
}

/// The pieces weighted differently and squared, joined again: every piece's gradient is
/// distinct and the second derivative is not zero.
fn rejoin(parts: &[Tensor], dim: i64) -> Tensor {
    let w: Vec<Tensor> = parts.iter().enumerate().map(|(k, p)| p.pow(2.0) * (k as f64 + 1.0)).collect();
    Tensor::cat(&w, dim)
}

// ---- joining and splitting ----------------------------------------------------------------

#[test]
fn cat_gradients_on_contiguous_and_transposed_inputs() {
    check(|x| Tensor::cat(&[&x[0], &x[1]], 0).pow(2.0), &[leaf(&[2, 3]), leaf(&[4, 3])]);
    check(|x| Tensor::cat(&[x[0].t(), x[1].clone()], -1).pow(2.0), &[leaf(&[2, 3]), leaf(&[3, 1])]);
    check(|x| Tensor::cat(&[&x[0], &x[0]], 1).exp(), &[leaf(&[2, 2])]); // the same input twice
}

#[test]
fn stack_gradients_on_contiguous_and_transposed_inputs() {
    check(|x| Tensor::stack(&[&x[0], &x[1]], 0).pow(2.0), &[leaf(&[2, 3]), leaf(&[2, 3])]);
    check(|x| Tensor::stack(&[x[0].t(), x[1].clone()], -1).pow(2.0), &[leaf(&[3, 2]), leaf(&[2, 3])]);
    check(|x| Tensor::stack(&[&x[0], &x[1], &x[0]], 1).exp(), &[leaf(&[3]), leaf(&[3])]);
}

#[test]
fn chunk_split_and_split_sizes_gradients() {
    check(|x| rejoin(&x[0].chunk(3, 1), 1), &[leaf(&[2, 7])]); // pieces of 3, 3, 1
    check(|x| rejoin(&x[0].t().chunk(2, 0), 0), &[leaf(&[3, 5])]);
    check(|x| rejoin(&x[0].split(2, -1), -1), &[leaf(&[3, 5])]);
    check(|x| rejoin(&x[0].t().split(3, 1), 1), &[leaf(&[4, 2])]);
    check(|x| rejoin(&x[0].split_sizes(&[1, 3], 0), 0), &[leaf(&[4, 2])]);
    gradcheck(|x| rejoin(&x[0].split_sizes(&[1, 0, 3], 0), 0), &[leaf(&[4, 2])]).unwrap();
    check(|x| rejoin(&x[0].t().split_sizes(&[2, 1], 1), 1), &[leaf(&[3, 4])]);
}

/// `SliceScatterBackward` (shape.rs) slices `len.saturating_sub(1) * step + 1` elements, so
/// a zero-length slice's double backward returns one element too many.
#[test]
fn zero_length_split_piece_second_derivative() {
    check(|x| rejoin(&x[0].split_sizes(&[1, 0, 3], 0), 0), &[leaf(&[4, 2])]);
}

#[test]
fn unbind_gradients() {
    let stack_weighted = |parts: Vec<Tensor>| {
        let w: Vec<Tensor> = parts.iter().enumerate().map(|(k, p)| p.pow(2.0) * (k as f64 + 1.0)).collect();
        Tensor::stack(&w, 0)
    };
    check(|x| stack_weighted(x[0].unbind(0)), &[leaf(&[3, 2])]);
    check(|x| stack_weighted(x[0].unbind(-1)), &[leaf(&[3, 2])]);
    check(|x| stack_weighted(x[0].t().unbind(1)), &[leaf(&[3, 4])]);
}

#[test]
fn narrow_and_slice_gradients() {
    check(|x| x[0].narrow(1, 1, 2).pow(2.0), &[leaf(&[3, 4])]);
    check(|x| x[0].t().narrow(-1, 0, 2).pow(2.0), &[leaf(&[3, 4])]);
    check(|x| x[0].slice(0, 1, 7, 2).pow(2.0), &[leaf(&[7, 2])]);
    check(|x| x[0].t().slice(1, 0, 100, 3).exp(), &[leaf(&[5, 2])]); // end past the size is clamped
    check(|x| x[0].slice(1, 1, 4, 2).slice(0, 0, 3, 2).pow(3.0), &[leaf(&[3, 4])]);
    // slice of a slice
}

#[test]
fn split_ops_are_views_with_the_expected_values() {
    let x = Tensor::arange(0, 12, 1).reshape(&[3, 4]);
    let parts = x.chunk(3, 1);
    assert_eq!(parts.iter().map(|p| p.shape().to_vec()).collect::<Vec<_>>(), vec![vec![3, 2], vec![3, 2]]);
    assert_eq!(parts[1].to_vec::<i64>(), vec![2, 3, 6, 7, 10, 11]);
    let rows = x.unbind(0);
    assert_eq!(rows[2].to_vec::<i64>(), vec![8, 9, 10, 11]);
    assert_eq!(x.t().slice(0, 1, 4, 2).to_vec::<i64>(), vec![1, 5, 9, 3, 7, 11]);
    let s = x.split_sizes(&[3, 1], -1);
    assert_eq!(s[1].to_vec::<i64>(), vec![3, 7, 11]);
    assert!(s[0].raw().same_storage(x.raw()));
}

// ---- forward values against naive loops -----------------------------------------------------

#[test]
fn index_select_along_dim_0_batches_rows_as_a_naive_loop_does() {
    // the DataLoader path: rows of a contiguous [N, 784] tensor, f32 features and i64 labels,
    // large enough to take the parallel path
    let (n, d) = (100, 784);
    let data: Vec<f32> = (0..n * d).map(|v| (v % 977) as f32 * 0.5).collect();
    let labels: Vec<i64> = (0..n as i64).map(|v| v * 7 % 10).collect();
    let x = Tensor::from_vec(data.clone(), &[n, d]);
    let y = Tensor::from_vec(labels.clone(), &[n]);
    let batch: Vec<i64> = (0..64).map(|k| (k * 37 + 11) % n as i64).collect();
    let b = idx(&batch, &[64]);
    let xb = x.index_select(0, &b);
    assert_eq!(xb.shape(), &[64, d]);
    let want: Vec<f32> = batch.iter().flat_map(|&r| data[r as usize * d..(r as usize + 1) * d].to_vec()).collect();
    assert_eq!(xb.to_vec::<f32>(), want);
    let want_labels: Vec<i64> = batch.iter().map(|&r| labels[r as usize]).collect();
    assert_eq!(y.index_select(0, &b).to_vec::<i64>(), want_labels);
}

#[test]
fn gather_with_negative_dim_on_a_transposed_tensor_matches_a_naive_loop() {
    let base: Vec<f32> = (0..20).map(|v| v as f32).collect();
    let x = Tensor::from_vec(base, &[5, 4]).t(); // a [4, 5] view with x[i][j] = 4j + i
    let ix: Vec<i64> = vec![4, 0, 2, 2, 1, 3, 0, 4];
    let i = idx(&ix, &[4, 2]);
    let got = x.gather(-1, &i).to_vec::<f32>();
    let want: Vec<f32> = (0..8).map(|f| (4 * ix[f] + (f / 2) as i64) as f32).collect();
    assert_eq!(got, want);
}

#[test]
fn scatter_add_and_index_add_count_like_naive_loops() {
    let labels: Vec<i64> = vec![3, 1, 3, 0, 3, 1, 4];
    let y = idx(&labels, &[7]);
    let by_scatter = Tensor::zeros(&[5]).scatter_add(0, &y, &Tensor::ones(&[7]));
    let by_index_add = Tensor::zeros(&[5]).index_add(0, &y, &Tensor::ones(&[7]));
    let mut want = vec![0.0f32; 5];
    for &l in &labels {
        want[l as usize] += 1.0;
    }
    assert_eq!(by_scatter.to_vec::<f32>(), want);
    assert_eq!(by_index_add.to_vec::<f32>(), want);
}

#[test]
fn masked_ops_repeat_and_one_hot_values() {
    let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0], &[2, 3]);
    let neg = x.lt(0.0);
    assert_eq!(x.masked_select(&neg).to_vec::<f32>(), vec![-2.0, -4.0, -6.0]);
    let attn = x.masked_fill(&neg, f64::NEG_INFINITY).softmax(1).to_vec::<f32>();
    assert_eq!([attn[1], attn[3], attn[5]], [0.0; 3]);
    assert!((attn[0] + attn[2] - 1.0).abs() < 1e-6 && attn[4] == 1.0, "{attn:?}");
    let cols = Tensor::from_vec(vec![true, false, true], &[3]);
    assert_eq!(x.t().masked_fill(&cols.unsqueeze(1), 0).to_vec::<f32>(), vec![0.0, 0.0, -2.0, 5.0, 0.0, 0.0]);
    assert_eq!(x.repeat(&[1, 2]).to_vec::<f32>()[..6], [1.0, -2.0, 3.0, 1.0, -2.0, 3.0]);
    let h = Tensor::one_hot(&idx(&[1, 0, 2, 1], &[2, 2]), 3);
    assert_eq!(h.shape(), &[2, 2, 3]);
    assert_eq!(h.to_dtype(DType::F32).sum_dim(-1, false).to_vec::<f32>(), vec![1.0; 4]);
    assert_eq!(h.to_vec::<i64>(), vec![0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0]);
}

// ---- create_graph through a gather-based loss -----------------------------------------------

#[test]
fn cross_entropy_by_gather_has_correct_second_derivatives() {
    let target = idx(&[2, 0, 1], &[3, 1]);
    let loss = |x: &[Tensor]| x[0].log_softmax(1).gather(1, &target).neg().mean();
    check(loss, &[leaf(&[3, 4])]);
    // and the gradient itself is (softmax - one_hot) / batch
    let x = leaf(&[3, 4]);
    loss(std::slice::from_ref(&x)).backward();
    let onehot = Tensor::one_hot(&target.squeeze(1), 4).to_dtype(DType::F64);
    let want = (x.detach().softmax(1) - onehot) / 3.0;
    let diff = (x.grad().unwrap() - want).abs().to_vec::<f64>().into_iter().fold(0.0, f64::max);
    assert!(diff < 1e-12, "{diff}");
}

// ---- misuse ------------------------------------------------------------------------------------

#[test]
fn negative_and_too_large_indices_are_out_of_range() {
    let x = Tensor::zeros(&[5, 3]);
    let e = x.try_index_select(0, &idx(&[0, -1], &[2])).unwrap_err();
    assert_eq!(e, Error::IndexOutOfRange { op: "index_select", index: -1, dim: 0, size: 5 });
    assert_eq!(e.to_string(), "index_select: index -1 is out of bounds for dimension 0 with size 5");
    let e = x.try_gather(-1, &idx(&[0, 3], &[2, 1])).unwrap_err();
    assert_eq!(e.to_string(), "gather: index 3 is out of bounds for dimension 1 with size 3");
    let e = x.try_gather(0, &idx(&[-1], &[1, 1])).unwrap_err();
    assert_eq!(e.to_string(), "gather: index -1 is out of bounds for dimension 0 with size 5");
    let e = x.try_scatter_add(0, &idx(&[5], &[1, 1]), &Tensor::ones(&[1, 1])).unwrap_err();
    assert_eq!(e.to_string(), "scatter_add: index 5 is out of bounds for dimension 0 with size 5");
    let e = x.try_index_add(1, &idx(&[3], &[1]), &Tensor::ones(&[5, 1])).unwrap_err();
    assert_eq!(e.to_string(), "index_add: index 3 is out of bounds for dimension 1 with size 3");
}

#[test]
#[should_panic(expected = "gather: index 3 is out of bounds for dimension 1 with size 3")]
fn gather_panics_with_the_same_message_at_the_callers_line() {
    Tensor::zeros(&[2, 3]).gather(1, &idx(&[3, 0], &[2, 1]));
}

#[test]
fn wrong_index_dtype_is_reported() {
    let x = Tensor::zeros(&[2, 3]);
    let float_index = Tensor::from_vec(vec![0.0f32, 1.0], &[2, 1]);
    let e = x.try_gather(1, &float_index).unwrap_err();
    assert!(matches!(e, Error::DType { op: "gather", .. }), "{e:?}");
    assert!(e.to_string().starts_with("gather: Expected dtype int64 for index, but got float32"), "{e}");
    let e = x.try_index_select(0, &float_index.reshape(&[-1])).unwrap_err();
    assert!(e.to_string().starts_with("index_select: Expected dtype int64 for index"), "{e}");
    let e = x.try_scatter_add(1, &float_index, &x).unwrap_err();
    assert!(e.to_string().starts_with("scatter_add: Expected dtype int64 for index"), "{e}");
}

#[test]
fn gather_index_must_fit_outside_dim_but_may_be_longer_along_it() {
    let x = Tensor::zeros(&[5, 3]);
    let e = x.try_gather(0, &Tensor::zeros_with(&[2, 4], DType::I64)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "gather: Size does not match at dimension 1 expected index [2, 4] to be smaller than self [5, 3] apart \
         from dimension 0; hint: the index may be smaller than the input, never larger"
    );
    assert_eq!(x.gather(0, &Tensor::zeros_with(&[9, 2], DType::I64)).shape(), &[9, 2]);
    let e = x.try_gather(0, &Tensor::zeros_with(&[5], DType::I64)).unwrap_err();
    assert!(e.to_string().contains("Index tensor must have the same number of dimensions as input tensor"), "{e}");
    let e = x.try_scatter_add(0, &Tensor::zeros_with(&[2, 3], DType::I64), &Tensor::ones(&[1, 3])).unwrap_err();
    assert!(e.to_string().contains("to be smaller size than src [1, 3]"), "{e}");
}

#[test]
fn dimensions_out_of_range_name_the_op() {
    let x = Tensor::zeros(&[5, 3]);
    let i = idx(&[0], &[1]);
    assert_eq!(x.try_index_select(2, &i).unwrap_err(), Error::DimOutOfRange { op: "index_select", dim: 2, ndim: 2 });
    assert_eq!(
        x.try_gather(-3, &i.reshape(&[1, 1])).unwrap_err(),
        Error::DimOutOfRange { op: "gather", dim: -3, ndim: 2 }
    );
    let e = x.try_index_add(-3, &i, &x).unwrap_err();
    assert_eq!(
        e.to_string(),
        "index_add: Dimension out of range (expected to be in range of [-2, 1], but got -3) for a tensor with 2 dimensions"
    );
}

#[test]
fn shape_and_dtype_misuse_of_the_other_ops() {
    let x = Tensor::zeros(&[5, 3]);
    let e = x.try_index_add(0, &idx(&[0, 1], &[2]), &Tensor::ones(&[3, 3])).unwrap_err();
    assert!(e.to_string().contains("expected [2, 3]"), "{e}");
    let e = x.try_index_add(0, &idx(&[0], &[1]), &Tensor::ones_with(&[1, 3], DType::F64)).unwrap_err();
    assert!(e.to_string().contains("Expected self.dtype to be equal to src.dtype (got float32 and float64)"), "{e}");
    let e = x.try_index_select(0, &idx(&[0, 1], &[1, 2])).unwrap_err();
    assert!(e.to_string().contains("Index is supposed to be a vector"), "{e}");
    let e = x.try_masked_fill(&Tensor::ones(&[3]), 0.0).unwrap_err();
    assert!(e.to_string().contains("expected a bool mask, but got mask with dtype float32"), "{e}");
    let e = x.try_masked_select(&Tensor::from_vec(vec![true; 4], &[4])).unwrap_err();
    assert!(matches!(e, Error::Broadcast { op: "masked_select", .. }), "{e:?}");
    let e = x.try_masked_scatter(&x.ge(0.0), &Tensor::ones(&[14])).unwrap_err();
    assert!(e.to_string().contains("Number of elements of source < number of ones in mask (14 < 15"), "{e}");
    let e = x.try_repeat(&[2]).unwrap_err();
    assert!(e.to_string().contains("Number of dimensions of repeat dims (1) can not be smaller"), "{e}");
    let e = Tensor::try_one_hot(&Tensor::zeros(&[2]), 3).unwrap_err();
    assert!(e.to_string().contains("one_hot is only applicable to index tensor of type int64"), "{e}");
    let e = Tensor::try_one_hot(&idx(&[0, -2], &[2]), 3).unwrap_err();
    assert!(e.to_string().contains("Class values must be non-negative"), "{e}");
}

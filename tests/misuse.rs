//! Misuse is loud and exact: every wrong call below returns an error from its `try_` form
//! whose text names the op, the shapes or the dimension, the rule broken and a fix; the
//! panicking form panics with the same text; and the process keeps working afterwards.
//!
//! The texts are pinned in full on purpose: an error message is part of the interface,
//! and a change to one should be a decision, seen in review.

use nabla::autograd::{grad, GradOptions};
use nabla::functional as F;
use nabla::nn::{Linear, ReLU, Sequential, StateDict};
use nabla::optim::{Adam, SGD};
use nabla::prelude::*;
use nabla::Result;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The text a panic carried (`panic!("{e}")` gives a `String`, `panic!("literal")` a `&str`).
fn panic_text(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_else(|| "<non-string panic>".into()),
    }
}

/// A normal computation with a backward, run after each misuse: the failed call left no
/// broken state behind (grad mode, anomaly mode, locks, the engine).
fn still_works() {
    assert!(nabla::is_grad_enabled(), "grad mode leaked out of a failed call");
    assert!(!nabla::autograd::is_anomaly_enabled(), "anomaly mode leaked out of a failed call");
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).requires_grad_(true);
    let y = (&x * &x).sum();
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 4.0, 6.0]);
}

/// `try_form` fails with exactly `expected`, `panicking` panics with exactly `expected`,
/// and the process keeps working.
#[track_caller]
fn misuse<T, U>(expected: &str, try_form: impl FnOnce() -> Result<T>, panicking: impl FnOnce() -> U) {
    match try_form() {
        Ok(_) => panic!("the try_ form succeeded; expected the error:\n{expected}"),
        Err(e) => assert_eq!(e.to_string(), expected, "text of the try_ form's error"),
    }
    panics_with(expected, panicking);
}

/// `f` panics with exactly `expected` (for calls that only have a panicking form), and the
/// process keeps working.
#[track_caller]
fn panics_with<U>(expected: &str, f: impl FnOnce() -> U) {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("did not panic; expected the panic:\n{expected}"),
        Err(p) => assert_eq!(panic_text(p), expected, "text of the panic"),
    }
    still_works();
}

fn f32s(shape: &[usize]) -> Tensor {
    Tensor::ones(shape)
}

fn leaf(shape: &[usize]) -> Tensor {
    Tensor::ones_with(shape, DType::F64).requires_grad_(true)
}

fn idx(v: &[i64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()])
}

// ---- shapes: matmul and broadcasting ----------------------------------------------------

#[test]
fn matmul_inner_dimensions_disagree() {
    let (a, b) = (f32s(&[2, 3]), f32s(&[4, 5]));
    misuse(
        "matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5) \
         (full shapes [2, 3] and [4, 5]); hint: the last dimension of the first operand must equal \
         the second-to-last of the second, transpose one of them?",
        || a.try_matmul(&b),
        || a.matmul(&b),
    );
}

#[test]
fn matmul_batched_inner_dimensions_disagree() {
    let (a, b) = (f32s(&[7, 2, 3]), f32s(&[7, 4, 5]));
    misuse(
        "matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5) \
         (full shapes [7, 2, 3] and [7, 4, 5]); hint: the last dimension of the first operand must \
         equal the second-to-last of the second, transpose one of them?",
        || a.try_matmul(&b),
        || a.matmul(&b),
    );
}

#[test]
fn matmul_batch_dimensions_do_not_broadcast() {
    let (a, b) = (f32s(&[2, 2, 3]), f32s(&[5, 3, 4]));
    misuse(
        "matmul: the batch dimensions [2] and [5] (full shapes [2, 2, 3] and [5, 3, 4]) cannot be \
         broadcast; hint: batch sizes must be equal or one of them 1, compared from the last batch \
         dimension",
        || a.try_matmul(&b),
        || a.matmul(&b),
    );
}

#[test]
fn matmul_of_a_zero_dim_tensor() {
    let (a, b) = (Tensor::scalar(2.0f32), f32s(&[3]));
    misuse(
        "matmul: both arguments to matmul need to be at least 1D, but they are 0D and 1D; hint: use \
         * to multiply by a scalar",
        || a.try_matmul(&b),
        || a.matmul(&b),
    );
}

#[test]
fn add_shapes_do_not_broadcast() {
    let (a, b) = (f32s(&[2, 3]), f32s(&[4]));
    misuse(
        "add: The size of tensor a (3) must match the size of tensor b (4) at non-singleton \
         dimension 1 (shapes [2, 3] and [4]); hint: sizes must be equal or one of them 1, compared \
         from the last dimension",
        || a.try_add(&b),
        || &a + &b,
    );
}

#[test]
fn mul_shapes_do_not_broadcast_in_a_leading_dimension() {
    let (a, b) = (f32s(&[2, 3, 4]), f32s(&[5, 1, 4]));
    misuse(
        "mul: The size of tensor a (2) must match the size of tensor b (5) at non-singleton \
         dimension 0 (shapes [2, 3, 4] and [5, 1, 4]); hint: sizes must be equal or one of them 1, \
         compared from the last dimension",
        || a.try_mul(&b),
        || &a * &b,
    );
}

#[test]
fn expand_to_an_incompatible_shape() {
    let a = f32s(&[3, 1]);
    misuse(
        "expand: The expanded size of the tensor (4) must match the existing size (3) at \
         non-singleton dimension 0. Target sizes: [4, 5]. Tensor sizes: [3, 1]; hint: only \
         dimensions of size 1 can be expanded",
        || a.try_expand(&[4, 5]),
        || a.expand(&[4, 5]),
    );
}

#[test]
fn where_with_a_float_condition() {
    let (c, a, b) = (f32s(&[2]), f32s(&[2]), f32s(&[2]));
    misuse(
        "where: where expected condition to be a boolean tensor, but got a tensor with dtype \
         float32; hint: make one with a comparison (x.gt(0.0)) or convert it with \
         to_dtype(DType::Bool)",
        || Tensor::try_where_(&c, &a, &b),
        || Tensor::where_(&c, &a, &b),
    );
}

// ---- shapes: reshape, view, permute, join -----------------------------------------------

#[test]
fn reshape_to_an_incompatible_size() {
    let a = f32s(&[2, 3]);
    misuse(
        "reshape: shape '[4, 2]' is invalid for input of size 6; hint: the sizes must multiply to \
         the number of elements; use -1 to infer one",
        || a.try_reshape(&[4, 2]),
        || a.reshape(&[4, 2]),
    );
}

#[test]
fn reshape_with_an_inferred_dimension_that_does_not_divide() {
    let a = f32s(&[2, 3]);
    misuse(
        "reshape: shape '[4, -1]' is invalid for input of size 6; hint: the sizes must multiply to \
         the number of elements",
        || a.try_reshape(&[4, -1]),
        || a.reshape(&[4, -1]),
    );
}

#[test]
fn reshape_with_two_inferred_dimensions() {
    let a = f32s(&[2, 3]);
    misuse(
        "reshape: only one dimension can be inferred; hint: use -1 for at most one dimension",
        || a.try_reshape(&[-1, -1]),
        || a.reshape(&[-1, -1]),
    );
}

#[test]
fn view_of_a_transposed_tensor() {
    let a = f32s(&[2, 3]).t();
    misuse(
        "view: view size [6] is not compatible with input tensor's size [3, 2] and stride [1, 3] \
         (at least one dimension spans across two contiguous subspaces); hint: use .reshape(...) \
         instead",
        || a.try_view(&[6]),
        || a.view(&[6]),
    );
}

#[test]
fn permute_with_too_few_dimensions() {
    let a = f32s(&[2, 3, 4]);
    misuse(
        "permute: number of dims don't match or the dims are not a permutation: got [1, 0] for a \
         tensor of shape [2, 3, 4]; hint: give each of 0..3 exactly once",
        || a.try_permute(&[1, 0]),
        || a.permute(&[1, 0]),
    );
}

#[test]
fn permute_with_a_repeated_dimension() {
    let a = f32s(&[2, 3]);
    misuse(
        "permute: number of dims don't match or the dims are not a permutation: got [0, 0] for a \
         tensor of shape [2, 3]; hint: give each of 0..2 exactly once",
        || a.try_permute(&[0, 0]),
        || a.permute(&[0, 0]),
    );
}

#[test]
fn cat_of_tensors_that_differ_outside_the_cat_dimension() {
    let (a, b) = (f32s(&[2, 3]), f32s(&[2, 4]));
    misuse(
        "cat: Sizes of tensors must match except in dimension 0. Expected [2, 3] but got [2, 4] for \
         tensor number 1 in the list; hint: all tensors need the same sizes in every other dimension",
        || Tensor::try_cat(&[&a, &b], 0),
        || Tensor::cat(&[&a, &b], 0),
    );
}

#[test]
fn cat_of_an_empty_list() {
    let none: [Tensor; 0] = [];
    misuse("cat: expected a non-empty list of Tensors", || Tensor::try_cat(&none, 0), || Tensor::cat(&none, 0));
}

#[test]
fn stack_of_tensors_of_different_shapes() {
    let (a, b) = (f32s(&[2, 3]), f32s(&[3, 2]));
    misuse(
        "stack: stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [3, 2] at \
         entry 1; hint: give tensors of one shape",
        || Tensor::try_stack(&[&a, &b], 0),
        || Tensor::stack(&[&a, &b], 0),
    );
}

#[test]
fn split_sizes_that_do_not_sum_to_the_dimension() {
    let a = f32s(&[5, 2]);
    panics_with(
        "split_with_sizes expects split_sizes to sum exactly to 5 \
         (input tensor's size at dimension 0), but got split_sizes=[2, 2]",
        || a.split_sizes(&[2, 2], 0),
    );
}

#[test]
fn chunk_into_zero_pieces() {
    let a = f32s(&[5]);
    panics_with("chunk: number of chunks must be greater than 0", || a.chunk(0, 0));
}

#[test]
fn from_vec_with_a_shape_of_another_size() {
    misuse(
        "from_vec: shape [2, 2] has 4 elements but the data has 3; hint: the product of the shape \
         must equal the number of values",
        || Tensor::try_from_vec(vec![1.0f32, 2.0, 3.0], &[2, 2]),
        || Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[2, 2]),
    );
}

// ---- dimensions and indices out of range ------------------------------------------------

#[test]
fn transpose_dimension_out_of_range() {
    let a = f32s(&[2, 3]);
    misuse(
        "transpose: Dimension out of range (expected to be in range of [-2, 1], but got 2) for a \
         tensor with 2 dimensions",
        || a.try_transpose(0, 2),
        || a.transpose(0, 2),
    );
}

#[test]
fn negative_dimension_out_of_range() {
    let a = f32s(&[2, 3]);
    misuse(
        "sum: Dimension out of range (expected to be in range of [-2, 1], but got -3) for a tensor with 2 dimensions",
        || a.try_sum_dims(&[-3], false),
        || a.sum_dim(-3, false),
    );
}

#[test]
fn softmax_dimension_out_of_range() {
    let a = f32s(&[2, 3]);
    misuse(
        "softmax: Dimension out of range (expected to be in range of [-2, 1], but got 5) for a \
         tensor with 2 dimensions",
        || a.try_softmax(5, false),
        || a.softmax(5),
    );
}

#[test]
fn unsqueeze_dimension_out_of_range() {
    let a = f32s(&[3]);
    misuse(
        "unsqueeze: Dimension out of range (expected to be in range of [-2, 1], but got -3) for a \
         new dimension of a tensor with 1 dimension; hint: a new dimension goes at 0..=1, or counted \
         from the end at -2..=-1",
        || a.try_unsqueeze(-3),
        || a.unsqueeze(-3),
    );
}

#[test]
fn size_of_a_dimension_out_of_range() {
    let a = f32s(&[2, 3]);
    panics_with(
        "size: Dimension out of range (expected to be in range of [-2, 1], but got -3) for a tensor with 2 dimensions",
        || a.size(-3),
    );
}

#[test]
fn narrow_past_the_end() {
    let a = f32s(&[4, 3]);
    misuse(
        "narrow: start (3) + length (2) exceeds dimension size (4) of dimension 0 (shape [4, 3]); \
         hint: keep start + length within the dimension",
        || a.try_narrow(0, 3, 2),
        || a.narrow(0, 3, 2),
    );
}

#[test]
fn slice_with_step_zero() {
    let a = f32s(&[4]);
    misuse(
        "slice: slice step cannot be zero; hint: use a step of at least 1",
        || a.try_slice(0, 0, 4, 0),
        || a.slice(0, 0, 4, 0),
    );
}

#[test]
fn index_select_index_out_of_range() {
    let a = f32s(&[3, 2]);
    let i = idx(&[0, 5]);
    misuse(
        "index_select: index 5 is out of bounds for dimension 0 with size 3",
        || a.try_index_select(0, &i),
        || a.index_select(0, &i),
    );
}

#[test]
fn index_select_negative_index() {
    let a = f32s(&[3, 2]);
    let i = idx(&[-4]);
    misuse(
        "index_select: index -4 is out of bounds for dimension 0 with size 3",
        || a.try_index_select(0, &i),
        || a.index_select(0, &i),
    );
}

#[test]
fn index_select_with_float_indices() {
    let a = f32s(&[3, 2]);
    let i = f32s(&[1]);
    misuse(
        "index_select: Expected dtype int64 for index, but got float32; hint: convert it with to_dtype(DType::I64)",
        || a.try_index_select(0, &i),
        || a.index_select(0, &i),
    );
}

#[test]
fn gather_index_out_of_range() {
    let a = f32s(&[2, 3]);
    let i = Tensor::from_vec(vec![0i64, 3], &[2, 1]);
    misuse("gather: index 3 is out of bounds for dimension 1 with size 3", || a.try_gather(1, &i), || a.gather(1, &i));
}

#[test]
fn one_hot_label_past_the_number_of_classes() {
    let labels = idx(&[1, 10]);
    misuse(
        "one_hot: Class values must be smaller than num_classes (got 10 at flat position 1, num_classes 10)",
        || Tensor::try_one_hot(&labels, 10),
        || Tensor::one_hot(&labels, 10),
    );
}

#[test]
fn masked_fill_with_a_float_mask() {
    let a = f32s(&[2]);
    let m = f32s(&[2]);
    misuse(
        "masked_fill: expected a bool mask, but got mask with dtype float32; hint: make one with a \
         comparison (x.gt(0.0)) or convert it with to_dtype(DType::Bool)",
        || a.try_masked_fill(&m, 0.0),
        || a.masked_fill(&m, 0.0),
    );
}

// ---- empty tensors and zero-size dimensions ---------------------------------------------

#[test]
fn max_of_an_empty_tensor() {
    let a = f32s(&[0, 3]);
    panics_with(
        "max: Expected reduction dim to be specified for input.numel() == 0 (shape [0, 3]); hint: \
         there is no element to take the max of; reduce along a non-empty dimension with max_dim",
        || a.max(),
    );
}

#[test]
fn max_along_a_zero_size_dimension() {
    let a = f32s(&[0, 3]);
    misuse(
        "max: cannot reduce over dimension 0 of size 0 (shape [0, 3]); hint: the dimension must be non-empty",
        || a.try_extremum_dim(0, false, true),
        || a.max_dim(0, false),
    );
}

#[test]
fn argmax_along_a_zero_size_dimension() {
    let a = f32s(&[2, 0]);
    panics_with(
        "argmax: cannot reduce over dimension 1 of size 0 (shape [2, 0]); hint: the dimension must be non-empty",
        || a.argmax(1, false),
    );
}

#[test]
fn item_of_an_empty_tensor() {
    let a = f32s(&[0]);
    panics_with(
        "item: a Tensor with 0 elements cannot be converted to Scalar (shape [0]); hint: reduce it \
         first (sum(), mean()) or take one element with narrow",
        || a.item(),
    );
}

#[test]
fn item_of_a_tensor_with_several_elements() {
    let a = f32s(&[2, 2]);
    panics_with(
        "item: a Tensor with 4 elements cannot be converted to Scalar (shape [2, 2]); hint: reduce \
         it first (sum(), mean()) or take one element with narrow",
        || a.item(),
    );
}

#[test]
fn zero_size_dimensions_are_not_errors() {
    // Reductions and element-wise ops over no elements are well defined, as in PyTorch.
    let a = Tensor::zeros_with(&[0, 3], DType::F64).requires_grad_(true);
    let s = (&a * 2.0).sum();
    assert_eq!(s.item(), 0.0);
    s.backward();
    assert_eq!(a.grad().unwrap().shape(), &[0, 3]);
    assert_eq!(a.sum_dim(0, false).to_vec::<f64>(), vec![0.0; 3]);
    assert_eq!(a.matmul(&Tensor::ones_with(&[3, 2], DType::F64)).shape(), &[0, 2]);
    still_works();
}

// ---- autograd ---------------------------------------------------------------------------

#[test]
fn requires_grad_false_on_a_non_leaf() {
    let x = leaf(&[2]);
    let y = &x * 2.0;
    misuse(
        "requires_grad_: you can only change requires_grad flags of leaf variables. If you want to \
         use a computed variable in a subgraph that doesn't require differentiation use var_no_grad \
         = var.detach().",
        || y.try_requires_grad_(false),
        || y.requires_grad_(false),
    );
}

#[test]
fn requires_grad_on_an_integer_tensor() {
    let labels = idx(&[1, 2]);
    misuse(
        "requires_grad_: only Tensors of floating point dtype can require gradients (this one is int64)",
        || labels.try_requires_grad_(true),
        || labels.requires_grad_(true),
    );
}

#[test]
fn backward_twice_through_saved_tensors() {
    let x = leaf(&[2]);
    let y = (&x * &x).sum();
    y.backward();
    misuse(
        "Trying to backward through the graph a second time \
         (or directly access saved tensors after they have already been freed). Saved intermediate \
         values of the graph are freed when you call .backward() or autograd::grad(). Specify \
         retain_graph: true if you need to backward through the graph a second time or if you need \
         to access saved tensors after calling backward.",
        || y.try_backward(),
        || y.backward(),
    );
    // the first backward's gradient is intact
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 2.0]);
}

#[test]
fn backward_on_a_non_scalar() {
    let x = leaf(&[2, 3]);
    let y = &x * 2.0;
    misuse(
        "grad can be implicitly created only for scalar outputs (this output has shape [2, 3]); \
         hint: reduce it with .sum() or .mean(), or pass a gradient of the same shape in \
         BackwardOptions::gradient",
        || y.try_backward(),
        || y.backward(),
    );
}

#[test]
fn backward_on_a_tensor_that_does_not_require_grad() {
    let y = f32s(&[1]).sum();
    misuse(
        "element 0 of tensors does not require grad and does not have a grad_fn; hint: call \
         requires_grad_(true) on the leaves you want gradients for, and do not compute the output \
         under no_grad",
        || y.try_backward(),
        || y.backward(),
    );
}

#[test]
fn backward_with_a_gradient_of_the_wrong_shape() {
    let x = leaf(&[2, 3]);
    let y = &x * 2.0;
    let opts = BackwardOptions { gradient: Some(Tensor::ones_with(&[3, 2], DType::F64)), ..Default::default() };
    misuse(
        "Mismatch in shape: grad_output[0] has a shape of [3, 2] and output[0] has a shape of [2, 3].",
        || y.try_backward_with(&opts),
        || y.backward_with(&opts),
    );
}

#[test]
fn grad_of_an_input_that_does_not_require_grad() {
    let x = leaf(&[2]);
    let c = f32s(&[2]);
    let y = (&x * 2.0).sum();
    let opts = GradOptions { retain_graph: true, ..Default::default() };
    misuse(
        "grad: One of the differentiated Tensors (input 0) does not require grad",
        || grad(&[y.clone()], &[c.clone()], &opts),
        || grad(&[y.clone()], &[c.clone()], &opts).unwrap_or_else(|e| panic!("{e}")),
    );
}

#[test]
fn grad_of_an_unused_input() {
    let (x, z) = (leaf(&[2]), leaf(&[2]));
    let y = (&x * 2.0).sum();
    let opts = GradOptions { retain_graph: true, ..Default::default() };
    misuse(
        "grad: One of the differentiated Tensors (input 0) appears to not have been used in the \
         graph. Set allow_unused: true if this is the desired behavior.",
        || grad(&[y.clone()], &[z.clone()], &opts),
        || grad(&[y.clone()], &[z.clone()], &opts).unwrap_or_else(|e| panic!("{e}")),
    );
}

#[test]
fn in_place_on_a_tensor_saved_for_backward() {
    let x = leaf(&[3]);
    let a = &x * 2.0;
    let y = (&a * &a).sum(); // saves a
    a.mul_(&Tensor::full_with(&[3], 3.0, DType::F64));
    misuse(
        "one of the variables needed for gradient computation has been modified by an inplace \
         operation: [tensor of shape [3]], which is output 0 of MulBackward, is at version 1; \
         expected version 0 instead. Hint: clone() the tensor before modifying it in place, or use \
         the out-of-place op.",
        || y.try_backward_with(&BackwardOptions { retain_graph: true, ..Default::default() }),
        || y.backward(),
    );
}

#[test]
fn in_place_on_a_leaf_that_requires_grad() {
    let w = leaf(&[2]);
    let one = Tensor::ones_with(&[2], DType::F64);
    misuse(
        "add_: a leaf Variable that requires grad is being used in an in-place operation. Hint: \
         update parameters inside no_grad(|| ...), or clone() the tensor first.",
        || w.try_add_(&one),
        || w.add_(&one),
    );
    // allowed under no_grad, as optimizers do
    no_grad(|| w.add_(&one));
    assert_eq!(w.to_vec::<f64>(), vec![2.0, 2.0]);
}

#[test]
fn in_place_on_a_view_of_a_leaf_that_requires_grad() {
    let w = leaf(&[4]);
    let v = w.narrow(0, 0, 2);
    let one = Tensor::ones_with(&[2], DType::F64);
    misuse(
        "add_: in-place modification of a view of a tensor that requires grad is not supported; \
         hint: use the out-of-place op, or call contiguous()/clone_tensor() first",
        || v.try_add_(&one),
        || v.add_(&one),
    );
}

#[test]
fn in_place_that_would_change_the_shape() {
    let a = f32s(&[3]);
    let b = f32s(&[2, 3]);
    misuse(
        "add_: output with shape [3] doesn't match the broadcast shape [2, 3]; hint: an in-place op \
         cannot change the shape of its tensor; use the out-of-place op",
        || a.try_add_(&b),
        || a.add_(&b),
    );
}

#[test]
fn hook_on_a_tensor_that_does_not_require_grad() {
    let a = f32s(&[2]);
    panics_with("register_hook: cannot register a hook on a tensor that doesn't require gradient", || {
        a.register_hook(|_| None)
    });
}

/// `text` is `prefix` followed by the source location `tests/misuse.rs:<line>:<column>`
/// (the column depends on formatting, so it is left free).
#[track_caller]
fn assert_names_location(text: &str, prefix: &str, line: u32) {
    let rest = text.strip_prefix(prefix).unwrap_or_else(|| panic!("{text:?}\ndoes not start with\n{prefix:?}"));
    let at = format!("{}:{line}:", file!());
    assert!(
        rest.strip_prefix(&at).is_some_and(|col| col.parse::<u32>().is_ok()),
        "{text:?} should end with {at}<column>"
    );
}

#[test]
fn anomaly_mode_catches_an_infinity_in_the_forward() {
    use nabla::autograd::detect_anomaly;
    let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).requires_grad_(true);
    let zero = Tensor::zeros_with(&[2], DType::F64);
    let prefix = "anomaly detected: the forward of Div (node DivBackward) produced NaN or infinite values, \
                  shape [2]; the op was created at ";
    let (result, line) = (detect_anomaly(|| x.try_div(&zero)), line!());
    assert_names_location(&result.unwrap_err().to_string(), prefix, line);
    let (result, line) = (catch_unwind(AssertUnwindSafe(|| detect_anomaly(|| &x / &zero))), line!());
    assert_names_location(&panic_text(result.unwrap_err()), prefix, line);
    still_works();
    // without anomaly mode, the infinity is simply the answer
    assert_eq!((&x / &zero).to_vec::<f64>(), vec![f64::INFINITY; 2]);
}

#[test]
fn anomaly_mode_catches_a_nan_in_the_forward_of_an_op_without_try_form() {
    let x = Tensor::from_vec(vec![1.0f64, -1.0], &[2]).requires_grad_(true);
    let prefix = "anomaly detected: the forward of Log (node LogBackward) produced NaN or infinite values, \
                  shape [2]; the op was created at ";
    let (result, line) = (catch_unwind(|| nabla::autograd::detect_anomaly(|| x.log())), line!());
    assert_names_location(&panic_text(result.unwrap_err()), prefix, line);
    still_works();
}

#[test]
fn anomaly_mode_catches_an_infinity_in_the_backward() {
    use nabla::autograd::detect_anomaly;
    // sqrt(0) is fine forward, but its gradient 1/(2·sqrt(0)) is infinite.
    let x = Tensor::from_vec(vec![0.0f64, 4.0], &[2]).requires_grad_(true);
    let (y, line) = (x.sqrt().sum(), line!());
    let prefix = "anomaly detected: Function 'SqrtBackward' returned nan or infinite values in its 0th output; \
                  the forward op was created at ";
    let opts = BackwardOptions { retain_graph: true, ..Default::default() };
    let err = detect_anomaly(|| y.try_backward_with(&opts)).unwrap_err();
    assert_names_location(&err.to_string(), prefix, line);
    let result = catch_unwind(AssertUnwindSafe(|| detect_anomaly(|| y.backward_with(&opts))));
    assert_names_location(&panic_text(result.unwrap_err()), prefix, line);
    still_works();
    // without anomaly mode, the infinity is simply the answer
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![f64::INFINITY, 0.25]);
}

// ---- layers' functions: convolution, pooling, linear, losses, dropout ---------------------

fn conv(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    F::try_conv2d(x, w, None, [1, 1], [0, 0], [1, 1], 1)
}

#[test]
fn conv2d_of_an_input_without_batch_and_channel_dimensions() {
    let (x, w) = (f32s(&[28, 28]), f32s(&[16, 1, 3, 3]));
    misuse(
        "conv2d: expected a 3-D (unbatched [C, H, W]) or 4-D (batched [N, C, H, W]) input, got shape \
         [28, 28]; hint: add the missing channel or batch dimensions with unsqueeze(0)",
        || conv(&x, &w),
        || F::conv2d(&x, &w, None, [1, 1], [0, 0], [1, 1], 1),
    );
}

#[test]
fn conv2d_with_a_weight_of_the_wrong_rank() {
    let (x, w) = (f32s(&[8, 1, 28, 28]), f32s(&[16, 3, 3]));
    misuse(
        "conv2d: expected a 4-D weight [C_out, C_in / groups, kH, kW], got shape [16, 3, 3]; hint: \
         the weight of a 2-D convolution has 4 dimensions",
        || conv(&x, &w),
        || F::conv2d(&x, &w, None, [1, 1], [0, 0], [1, 1], 1),
    );
}

#[test]
fn conv2d_with_input_channels_that_do_not_match_the_weight() {
    let (x, w) = (f32s(&[8, 1, 28, 28]), f32s(&[16, 3, 3, 3]));
    misuse(
        "conv2d: expected input [N, C, H, W] with C = 3 (weight [16, 3, 3, 3] with groups 1), got \
         input [8, 1, 28, 28]; hint: the input's channels must equal weight.shape[1] × groups; give \
         a weight of shape [C_out, C_in / groups, kH, kW] matching the input, or fix the input's \
         channels",
        || conv(&x, &w),
        || F::conv2d(&x, &w, None, [1, 1], [0, 0], [1, 1], 1),
    );
}

#[test]
fn conv2d_with_a_kernel_larger_than_the_input() {
    let (x, w) = (f32s(&[1, 1, 4, 4]), f32s(&[2, 1, 5, 5]));
    misuse(
        "conv2d: Kernel size can't be greater than actual input size: calculated padded input size \
         per channel (4 x 4), kernel size with dilation (5 x 5) \
         (input [1, 1, 4, 4], weight [2, 1, 5, 5], padding [0, 0], dilation [1, 1]); hint: use a \
         smaller kernel or dilation, add padding, or give a larger input",
        || conv(&x, &w),
        || F::conv2d(&x, &w, None, [1, 1], [0, 0], [1, 1], 1),
    );
}

#[test]
fn conv2d_with_groups_that_do_not_divide_the_channels() {
    let (x, w) = (f32s(&[1, 4, 8, 8]), f32s(&[6, 2, 3, 3]));
    misuse(
        "conv2d: expected input [N, C, H, W] with C = 6 (weight [6, 2, 3, 3] with groups 3), got \
         input [1, 4, 8, 8]; hint: groups = 3 must divide the input's 4 channels; the input's \
         channels must equal weight.shape[1] × groups",
        || F::try_conv2d(&x, &w, None, [1, 1], [0, 0], [1, 1], 3),
        || F::conv2d(&x, &w, None, [1, 1], [0, 0], [1, 1], 3),
    );
}

#[test]
fn conv2d_with_stride_zero() {
    let (x, w) = (f32s(&[1, 1, 8, 8]), f32s(&[2, 1, 3, 3]));
    misuse(
        "conv2d: non-positive stride is not supported: got stride [0, 1] \
         (input [1, 1, 8, 8], weight [2, 1, 3, 3]); hint: every stride must be at least 1 \
         (1 is the default)",
        || F::try_conv2d(&x, &w, None, [0, 1], [0, 0], [1, 1], 1),
        || F::conv2d(&x, &w, None, [0, 1], [0, 0], [1, 1], 1),
    );
}

#[test]
fn conv2d_with_a_bias_of_the_wrong_size() {
    let (x, w, b) = (f32s(&[1, 1, 8, 8]), f32s(&[2, 1, 3, 3]), f32s(&[3]));
    misuse(
        "conv2d: expected a bias of shape [2] (one per output channel), got [3]; hint: the bias has \
         one value per output channel",
        || F::try_conv2d(&x, &w, Some(&b), [1, 1], [0, 0], [1, 1], 1),
        || F::conv2d(&x, &w, Some(&b), [1, 1], [0, 0], [1, 1], 1),
    );
}

#[test]
fn max_pool2d_of_a_flat_input() {
    let x = f32s(&[8, 784]);
    misuse(
        "max_pool2d: expected a 3-D (unbatched [C, H, W]) or 4-D (batched [N, C, H, W]) input, got \
         shape [8, 784]; hint: add the missing dimensions with unsqueeze(0)",
        || F::try_max_pool2d(&x, [2, 2], [2, 2], [0, 0]),
        || F::max_pool2d(&x, [2, 2], [2, 2], [0, 0]),
    );
}

#[test]
fn max_pool2d_with_padding_over_half_the_kernel() {
    let x = f32s(&[1, 1, 8, 8]);
    misuse(
        "max_pool2d: pad should be at most half of effective kernel size, but got padding [2, 2] for \
         kernel [2, 2] (input [1, 1, 8, 8]); hint: use padding = kernel / 2 or less",
        || F::try_max_pool2d(&x, [2, 2], [2, 2], [2, 2]),
        || F::max_pool2d(&x, [2, 2], [2, 2], [2, 2]),
    );
}

#[test]
fn linear_with_in_features_that_do_not_match() {
    let (x, w) = (f32s(&[8, 784]), f32s(&[10, 784 / 2]));
    misuse(
        "linear: mat1 and mat2 shapes cannot be multiplied (8x784 and 392x10): the input [8, 784] \
         has 784 features, the weight [10, 392] expects 392; hint: the weight is \
         [out_features, in_features]; check in_features, or flatten the input first",
        || F::try_linear(&x, &w, None),
        || F::linear(&x, &w, None),
    );
}

#[test]
fn cross_entropy_with_a_class_out_of_range() {
    let (logits, target) = (f32s(&[3, 10]), idx(&[1, 10, 2]));
    misuse(
        "cross_entropy: Target 10 is out of bounds: the input [3, 10] has 10 classes, so class \
         indices must be in 0..10 (or equal ignore_index -100)",
        || F::try_cross_entropy(&logits, &target),
        || F::cross_entropy(&logits, &target),
    );
}

#[test]
fn cross_entropy_with_a_negative_class() {
    let (logits, target) = (f32s(&[3, 10]), idx(&[1, -2, 2]));
    misuse(
        "cross_entropy: Target -2 is out of bounds: the input [3, 10] has 10 classes, so class \
         indices must be in 0..10 (or equal ignore_index -100)",
        || F::try_cross_entropy(&logits, &target),
        || F::cross_entropy(&logits, &target),
    );
}

#[test]
fn cross_entropy_with_a_batch_size_mismatch() {
    let (logits, target) = (f32s(&[3, 10]), idx(&[1, 2]));
    misuse(
        "cross_entropy: expected targets of shape [N] = [3] with class indices (int64), got [2] \
         (int64) for input [3, 10]; hint: class-index targets have the input's shape without the \
         class dimension 1: [3]",
        || F::try_cross_entropy(&logits, &target),
        || F::cross_entropy(&logits, &target),
    );
}

#[test]
fn nll_loss_with_float_targets() {
    let (logp, target) = (f32s(&[3, 10]), f32s(&[3]));
    misuse(
        "nll_loss: expected targets of shape [N] = [3] with class indices (int64), got [3] (float32) \
         for input [3, 10]; hint: convert the targets with to_dtype(DType::I64)",
        || F::try_nll_loss(&logp, &target),
        || F::nll_loss(&logp, &target),
    );
}

#[test]
fn mse_loss_of_shapes_that_differ() {
    let (a, b) = (f32s(&[4, 1]), f32s(&[4]));
    misuse(
        "mse_loss: input shape [4, 1] and target shape [4] differ; PyTorch would broadcast them to \
         [4, 4] with a warning, which is almost never intended; hint: give the target the input's \
         shape, e.g. target.reshape(&[4, 1])",
        || F::try_mse_loss(&a, &b),
        || F::mse_loss(&a, &b),
    );
}

#[test]
fn binary_cross_entropy_of_an_input_outside_0_1() {
    let (p, t) = (Tensor::from_vec(vec![0.5f32, 1.5], &[2]), Tensor::from_vec(vec![0.0f32, 1.0], &[2]));
    misuse(
        "binary_cross_entropy: all elements of input should be between 0 and 1 \
         (found a value outside [0, 1], or NaN); hint: apply sigmoid first, or use \
         binary_cross_entropy_with_logits on the logits",
        || F::try_binary_cross_entropy(&p, &t),
        || F::binary_cross_entropy(&p, &t),
    );
}

#[test]
fn dropout_probability_above_one() {
    let x = f32s(&[4]);
    misuse(
        "dropout: dropout probability has to be between 0 and 1, but got 1.5",
        || F::try_dropout(&x, 1.5, true),
        || F::dropout(&x, 1.5, true),
    );
}

#[test]
fn softplus_with_beta_zero() {
    let x = f32s(&[4]);
    misuse("softplus: beta must be non-zero, got 0", || x.try_softplus(0.0, 20.0), || x.softplus(0.0, 20.0));
}

// ---- modules, checkpoints and optimizers ------------------------------------------------

fn small_model() -> Sequential {
    nabla::manual_seed(0);
    Sequential::new().add(Linear::new(4, 3)).add(ReLU).add(Linear::new(3, 2))
}

#[test]
fn a_linear_layer_given_inputs_of_the_wrong_width() {
    let fc = Linear::new(784, 10);
    let x = f32s(&[8, 28, 28]);
    panics_with(
        "linear: mat1 and mat2 shapes cannot be multiplied (224x28 and 784x10): the input \
         [8, 28, 28] has 28 features, the weight [10, 784] expects 784; hint: the weight is \
         [out_features, in_features]; check in_features, or flatten the input first",
        || fc.forward(&x),
    );
}

#[test]
fn a_conv_layer_given_an_image_with_the_wrong_channels() {
    let conv = nabla::nn::Conv2d::new(3, 8, 3);
    let x = f32s(&[2, 1, 28, 28]);
    panics_with(
        "conv2d: expected input [N, C, H, W] with C = 3 (weight [8, 3, 3, 3] with groups 1), got \
         input [2, 1, 28, 28]; hint: the input's channels must equal weight.shape[1] × groups; give \
         a weight of shape [C_out, C_in / groups, kH, kW] matching the input, or fix the input's \
         channels",
        || conv.forward(&x),
    );
}

/// `model.load_state_dict(sd, strict)` fails with `expected` and leaves the model as it was.
#[track_caller]
fn load_fails(model: &Sequential, sd: &StateDict, strict: bool, expected: &str) {
    let before: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec::<f32>()).collect();
    misuse(
        expected,
        || model.load_state_dict(sd, strict),
        || model.load_state_dict(sd, strict).unwrap_or_else(|e| panic!("{e}")),
    );
    let after: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec::<f32>()).collect();
    assert_eq!(after, before, "a failed load changed the model");
}

#[test]
fn load_state_dict_with_a_missing_key() {
    let model = small_model();
    let mut sd = model.state_dict();
    sd.remove("2.bias");
    load_fails(
        &model,
        &sd,
        true,
        "Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: \"2.bias\".",
    );
}

#[test]
fn load_state_dict_with_an_unexpected_key() {
    let model = small_model();
    let mut sd = model.state_dict();
    sd.insert("3.weight", Tensor::zeros(&[2, 2]));
    load_fails(
        &model,
        &sd,
        true,
        "Error(s) in loading state_dict for Sequential:\n\tUnexpected key(s) in state_dict: \
         \"3.weight\".",
    );
}

#[test]
fn load_state_dict_with_a_shape_mismatch_even_when_not_strict() {
    let model = small_model();
    let mut sd = model.state_dict();
    sd.insert("0.weight", Tensor::zeros(&[3, 5]));
    sd.remove("2.bias");
    load_fails(
        &model,
        &sd,
        false,
        "Error(s) in loading state_dict for Sequential:\n\tsize mismatch for 0.weight: copying a \
         param with shape [3, 5] from checkpoint, the shape in current model is [3, 4].",
    );
}

#[test]
fn load_state_dict_reports_every_problem_at_once() {
    let model = small_model();
    let mut sd = model.state_dict();
    sd.remove("0.bias");
    sd.insert("0.weight", Tensor::zeros(&[4, 3]));
    sd.insert("head.weight", Tensor::zeros(&[1]));
    load_fails(
        &model,
        &sd,
        true,
        "Error(s) in loading state_dict for Sequential:\n\tUnexpected key(s) in state_dict: \
         \"head.weight\".\n\tMissing key(s) in state_dict: \"0.bias\".\n\tsize mismatch for \
         0.weight: copying a param with shape [4, 3] from checkpoint, the shape in current model is \
         [3, 4].",
    );
}

#[test]
fn load_state_dict_of_a_checkpoint_for_another_model() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("misuse");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("other_model.safetensors");
    Sequential::new().add(Linear::new(4, 8)).add(ReLU).add(Linear::new(8, 2)).state_dict().save(&path).unwrap();
    let sd = StateDict::load(&path).unwrap();
    load_fails(
        &small_model(),
        &sd,
        true,
        "Error(s) in loading state_dict for Sequential:\n\tsize mismatch for 0.weight: copying a \
         param with shape [8, 4] from checkpoint, the shape in current model is [3, 4].\n\tsize \
         mismatch for 0.bias: copying a param with shape [8] from checkpoint, the shape in current \
         model is [3].\n\tsize mismatch for 2.weight: copying a param with shape [2, 8] from \
         checkpoint, the shape in current model is [2, 3].",
    );
}

#[test]
fn optimizer_given_a_tensor_that_does_not_require_grad() {
    let (w, frozen) = (leaf(&[3]), Tensor::zeros(&[2]));
    misuse(
        "SGD: optimizer got a tensor that does not require grad at index 1 (shape [2]); hint: call \
         requires_grad_(true) on it, or leave frozen tensors out of the list",
        || SGD::try_new(vec![w.clone(), frozen.clone()], 0.1),
        || SGD::new(vec![w.clone(), frozen.clone()], 0.1),
    );
}

#[test]
fn optimizer_given_a_non_leaf() {
    let w = leaf(&[3]);
    let h = &w * 2.0;
    misuse(
        "Adam: can't optimize a non-leaf Tensor (index 0, shape [3]); hint: optimize the leaf the \
         tensor was computed from, or detach().requires_grad_(true) it",
        || Adam::try_new(vec![h.clone()], 1e-3),
        || Adam::new(vec![h.clone()], 1e-3),
    );
}

#[test]
fn optimizer_given_an_integer_tensor() {
    let i = idx(&[1, 2]);
    misuse(
        "SGD: optimizer got a int64 tensor at index 0; hint: only floating-point tensors can be \
         optimized",
        || SGD::try_new(vec![i.clone()], 0.1),
        || SGD::new(vec![i.clone()], 0.1),
    );
}

#[test]
fn optimizer_given_the_same_parameter_twice() {
    let w = leaf(&[3]);
    misuse(
        "SGD: some parameters appear in more than one parameter group (index 1, shape [3]); hint: \
         pass each parameter once",
        || SGD::try_new(vec![w.clone(), w.clone()], 0.1),
        || SGD::new(vec![w.clone(), w.clone()], 0.1),
    );
}

#[test]
fn optimizer_with_a_negative_learning_rate() {
    let w = leaf(&[3]);
    misuse(
        "Adam: Invalid learning rate: -1",
        || Adam::try_new(vec![w.clone()], -1.0),
        || Adam::new(vec![w.clone()], -1.0),
    );
}

// ---- data -------------------------------------------------------------------------------

#[test]
fn data_loader_with_batch_size_zero() {
    let ds = nabla::data::TensorDataset::new(f32s(&[4, 2]), idx(&[0, 1, 0, 1]));
    misuse(
        "DataLoader: batch_size must be at least 1, got 0",
        || nabla::data::DataLoader::try_new(ds.clone(), 0),
        || nabla::data::DataLoader::new(ds.clone(), 0),
    );
}

//! Kernels against naive loops, at awkward sizes and layouts, on both sides of the
//! parallel threshold.

use nabla_tensor::elementwise::{BinaryKernel, UnaryKernel};
use nabla_tensor::layout::contiguous_strides;
use nabla_tensor::{Buffer, Float, Layout, RawTensor};

struct Sub;
impl BinaryKernel for Sub {
    fn f<T: Float>(&self, a: T, b: T) -> T {
        a - b
    }
}
struct Cube;
impl UnaryKernel for Cube {
    fn f<T: Float>(&self, x: T) -> T {
        x * x * x
    }
}

fn data(n: usize) -> Vec<f64> {
    (0..n).map(|i| ((i * 7919 % 1013) as f64) / 1013.0 - 0.5).collect()
}

#[test]
fn zip_broadcast_and_transposed_match_naive_loops() {
    for &(m, n) in &[(63usize, 65usize), (301, 257)] {
        let a = RawTensor::from_vec(data(m * n), &[m, n]);
        let b = RawTensor::from_vec(data(n), &[n]);
        let c = a.zip("sub", &b, &Sub).unwrap().to_vec::<f64>();
        let (va, vb) = (a.to_vec::<f64>(), b.to_vec::<f64>());
        for i in 0..m {
            for j in 0..n {
                assert_eq!(c[i * n + j], va[i * n + j] - vb[j]);
            }
        }
        // transposed lhs against a column broadcast
        let at = a.transpose(0, 1); // [n, m]
        let col = RawTensor::from_vec(data(n), &[n, 1]);
        let d = at.zip("sub", &col, &Sub).unwrap().to_vec::<f64>();
        for j in 0..n {
            for i in 0..m {
                assert_eq!(d[j * m + i], va[i * n + j] - vb[j]);
            }
        }
        // map on a transposed view
        let e = at.map("cube", &Cube).unwrap().to_vec::<f64>();
        for j in 0..n {
            for i in 0..m {
                let x = va[i * n + j];
                assert_eq!(e[j * m + i], x * x * x);
            }
        }
    }
}

#[test]
fn scalar_broadcast_over_a_large_vector_is_exact() {
    let n = 100_003;
    let g = RawTensor::from_vec(vec![2.0f32], &[]);
    let g = g.with_layout(g.layout().broadcast_to("test", &[n]).unwrap());
    let y = RawTensor::from_vec((0..n).map(|i| i as f32).collect::<Vec<_>>(), &[n]);
    let out = g.zip("sub", &y, &Sub).unwrap().to_vec::<f32>();
    assert!(out.iter().enumerate().all(|(i, &v)| v == 2.0 - i as f32));
    // the splat on the right, below and above the parallel threshold, and a 2-D broadcast
    for m in [7, n] {
        let y = RawTensor::from_vec((0..m).map(|i| i as f32).collect::<Vec<_>>(), &[m]);
        let g = RawTensor::from_vec(vec![2.0f32], &[1]);
        let g = g.with_layout(g.layout().broadcast_to("test", &[m]).unwrap());
        let out = y.zip("sub", &g, &Sub).unwrap().to_vec::<f32>();
        assert!(out.iter().enumerate().all(|(i, &v)| v == i as f32 - 2.0), "m = {m}");
    }
    let g = RawTensor::from_vec(vec![0.5f64], &[1, 1]);
    let g = g.with_layout(g.layout().broadcast_to("test", &[4, 3]).unwrap());
    let y = RawTensor::from_vec((0..12).map(f64::from).collect::<Vec<_>>(), &[3, 4]).transpose(0, 1);
    assert_eq!(
        g.zip("sub", &y, &Sub).unwrap().to_vec::<f64>(),
        y.to_vec::<f64>().iter().map(|v| 0.5 - v).collect::<Vec<_>>()
    );
}

#[test]
fn sums_over_dims_match_naive_loops() {
    let (a, b, c) = (37, 41, 43);
    let x = RawTensor::from_vec(data(a * b * c), &[a, b, c]);
    let v = x.to_vec::<f64>();
    for dims in [vec![0], vec![1], vec![2], vec![0, 2], vec![0, 1, 2]] {
        let s = x.sum_dims_keep("sum", &dims).unwrap();
        let got = s.to_vec::<f64>();
        let keep: Vec<usize> =
            [a, b, c].iter().enumerate().map(|(d, &n)| if dims.contains(&d) { 1 } else { n }).collect();
        let mut want = vec![0.0; keep.iter().product()];
        for i in 0..a {
            for j in 0..b {
                for k in 0..c {
                    let idx = [i, j, k];
                    let o: usize = (0..3).fold(0, |acc, d| acc * keep[d] + if dims.contains(&d) { 0 } else { idx[d] });
                    want[o] += v[(i * b + j) * c + k];
                }
            }
        }
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-10, "dims {dims:?}: {g} vs {w}");
        }
    }
}

#[test]
fn large_buffers_are_reused_in_steady_state() {
    // Release and request the same large size repeatedly: after the first round every
    // request is served from the pool.
    let n = 1 << 20;
    for _ in 0..3 {
        let a = RawTensor::from_vec(vec![1.0f32; n], &[n]);
        let b = a.map("cube", &Cube).unwrap();
        drop(b);
    }
    let (hits_before, _) = nabla_tensor::pool::stats();
    for _ in 0..5 {
        let a = RawTensor::full(&[n], 1.0, nabla_tensor::DType::F32);
        let b = a.map("cube", &Cube).unwrap();
        assert_eq!(b.to_vec::<f32>()[n - 1], 1.0);
    }
    let (hits_after, _) = nabla_tensor::pool::stats();
    assert!(hits_after >= hits_before + 10, "{hits_before} -> {hits_after}");
}

/// Products on every path of `matmul::gemm`: one thread (small), slabs of rows or of
/// columns (mid-sized, either dimension longer, slab edges off the 16-element tile), and
/// the crate's own threading (large); plain and transposed operands; f32 and f64. A
/// transposed right operand is copied row-major first (blocks of 8 by 8 and ragged edges,
/// in bands on every thread for the large product, into the pool's scratch when it is
/// large), multiplied row by row for 2–7 rows, and read in place for one row or a small
/// result; a view into a wider storage too.
#[test]
fn matmul_matches_naive_loops_on_every_threading_path() {
    let shapes = [
        (7usize, 5usize, 3usize),
        (300, 70, 90),
        (40, 150, 333),
        (97, 1000, 130),
        (700, 700, 700),
        (1, 300, 64),
        (3, 200, 97),
        (8, 512, 40),
        (12, 9, 30),
        (128, 512, 256),
        (5, 13, 40),
        // an f64 slab of 1200×500 is more scratch than a thread keeps: taken from the pool
        (8, 1200, 1000),
    ];
    for &(m, k, n) in &shapes {
        let (va, vb) = (data(m * k), data(k * n).iter().map(|v| v * 1.5 + 0.25).collect::<Vec<_>>());
        let mut want = vec![0.0f64; m * n];
        for i in 0..m {
            for p in 0..k {
                let a = va[i * k + p];
                for j in 0..n {
                    want[i * n + j] += a * vb[p * n + j];
                }
            }
        }
        let a = RawTensor::from_vec(va.clone(), &[m, k]);
        let b = RawTensor::from_vec(vb.clone(), &[k, n]);
        // the same operands, stored transposed and viewed back
        let at = RawTensor::from_vec((0..k * m).map(|i| va[(i % m) * k + i / m]).collect(), &[k, m]).transpose(0, 1);
        let bt = RawTensor::from_vec((0..n * k).map(|i| vb[(i % k) * n + i / k]).collect(), &[n, k]).transpose(0, 1);
        // the transposed operand as a view into a wider storage, starting 3 elements in
        let wide: Vec<f64> = (0..n * (k + 5)).map(|i| if i % (k + 5) < 3 { f64::NAN } else { 0.0 }).collect();
        let mut wide = wide;
        for p in 0..k {
            for j in 0..n {
                wide[3 + j * (k + 5) + p] = vb[p * n + j];
            }
        }
        let bw = view(&RawTensor::from_vec(wide, &[n * (k + 5)]), &[k, n], &[1, k + 5], 3);
        for (x, y) in [(&a, &b), (&at, &bt), (&a, &bt), (&a, &bw)] {
            let got = x.matmul(y).unwrap().to_vec::<f64>();
            let err = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
            assert!(err < 1e-9 * k as f64, "f64 {m}x{k}x{n}: max error {err}");
            let got32 = x.to_dtype(nabla_tensor::DType::F32).matmul(&y.to_dtype(nabla_tensor::DType::F32)).unwrap();
            let err32 = got32.to_vec::<f32>().iter().zip(&want).map(|(g, w)| (*g as f64 - w).abs()).fold(0.0, f64::max);
            assert!(err32 < 1e-4 * k as f64, "f32 {m}x{k}x{n}: max error {err32}");
        }
    }
}

/// Split kernels run on the helper team when it is free and on the rayon pool when another
/// thread holds it: products and element-wise ops from four threads at once (so both paths
/// run) give the same values as the same calls made one at a time.
#[test]
fn kernels_called_from_many_threads_at_once_match_the_serial_results() {
    let (m, k, n) = (200usize, 300usize, 180usize);
    let a = RawTensor::from_vec(data(m * k), &[m, k]);
    let b = RawTensor::from_vec(data(k * n), &[k, n]);
    let big = RawTensor::from_vec(data(1 << 17), &[1 << 17]);
    let want_mm = a.matmul(&b).unwrap().to_vec::<f64>();
    let want_map = big.map("cube", &Cube).unwrap().to_vec::<f64>();
    let want_zip = big.zip("sub", &big.map("cube", &Cube).unwrap(), &Sub).unwrap().to_vec::<f64>();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    assert_eq!(a.matmul(&b).unwrap().to_vec::<f64>(), want_mm);
                    let cubed = big.map("cube", &Cube).unwrap();
                    assert_eq!(cubed.to_vec::<f64>(), want_map);
                    assert_eq!(big.zip("sub", &cubed, &Sub).unwrap().to_vec::<f64>(), want_zip);
                    let acc = big.copy();
                    acc.zip_assign("sub", &cubed, &Sub).unwrap();
                    assert_eq!(acc.to_vec::<f64>(), want_zip);
                }
            });
        }
    });
}

/// Matrix products, convolutions and max-pooling write their outputs into recycled buffers
/// without zeroing them first: a released buffer full of NaN (the likeliest one the next
/// output of its size gets) must leave no trace in the results.
#[test]
fn outputs_written_into_recycled_buffers_carry_nothing_over() {
    use nabla_tensor::conv::{ConvGeom, PoolGeom};
    let n = 256usize;
    let a = RawTensor::from_vec(data(n * n).iter().map(|&v| v as f32).collect(), &[n, n]);
    // the reference outputs stay alive, so that the poisoned buffers below are the only
    // free ones of their sizes
    let want_t = a.matmul(&a).unwrap();
    let want = want_t.to_vec::<f32>();
    // conv: [1, 4, 128, 128] -> [1, 4, 128, 128] (256 KiB of f32), no bias
    let g = ConvGeom::new([1, 4, 128, 128], [4, 4, 3, 3], [1, 1], [1, 1], [1, 1], 1).unwrap();
    let x = RawTensor::from_vec(data(4 * 128 * 128).iter().map(|&v| v as f32).collect(), &[1, 4, 128, 128]);
    let w = RawTensor::from_vec(data(4 * 4 * 9).iter().map(|&v| v as f32).collect(), &[4, 4, 3, 3]);
    let want_conv_t = x.conv2d(&g, &w, None).unwrap();
    let want_conv = want_conv_t.to_vec::<f32>();
    // max-pool 2×2 of [1, 16, 256, 256] -> [1, 16, 128, 128] (1 MiB of f32)
    let p = PoolGeom::new(16, [256, 256], [2, 2], [2, 2], [0, 0]).unwrap();
    let big = RawTensor::from_vec(data(16 * 256 * 256).iter().map(|&v| v as f32).collect(), &[1, 16, 256, 256]);
    let want_pool_t = big.max_pool2d(&p).unwrap().0;
    let want_pool = want_pool_t.to_vec::<f32>();
    for len in [n * n, 4 * 128 * 128, 16 * 128 * 128] {
        for _ in 0..4 {
            drop(RawTensor::from_vec(vec![f32::NAN; len], &[len]));
        }
    }
    assert_eq!(a.matmul(&a).unwrap().to_vec::<f32>(), want);
    assert_eq!(x.conv2d(&g, &w, None).unwrap().to_vec::<f32>(), want_conv);
    assert_eq!(big.max_pool2d(&p).unwrap().0.to_vec::<f32>(), want_pool);
    drop((want_t, want_conv_t, want_pool_t));
}

#[test]
fn results_of_a_few_elements_live_inline_and_behave_like_any_buffer() {
    use nabla_tensor::{Buffer, DType};
    let is_small = |t: &RawTensor| matches!(&*t.storage().read(), Buffer::Small(_));
    let close = |got: Vec<f64>, want: Vec<f64>| {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    };
    // up to 16 bytes inline: four f32, two f64; one more element goes to the heap
    for (n, dtype, small) in [
        (1, DType::F32, true),
        (4, DType::F32, true),
        (5, DType::F32, false),
        (2, DType::F64, true),
        (3, DType::F64, false),
    ] {
        let v = data(n);
        let a = RawTensor::from_vec(v.clone(), &[n]).to_dtype(dtype);
        let b = RawTensor::from_vec(data(n + 3)[3..].to_vec(), &[n]).to_dtype(dtype);
        let (va, vb) = (a.to_vec::<f64>(), b.to_vec::<f64>());
        let d = a.zip("sub", &b, &Sub).unwrap();
        let c = a.map("cube", &Cube).unwrap();
        assert_eq!(is_small(&d) && is_small(&c), small, "n = {n}, {dtype}");
        assert_eq!((d.dtype(), c.dtype(), d.shape()), (dtype, dtype, &[n][..]));
        close(d.to_vec::<f64>(), va.iter().zip(&vb).map(|(x, y)| x - y).collect());
        close(c.to_vec::<f64>(), va.iter().map(|x| x * x * x).collect());
        // in place, as a view, copied, converted
        d.zip_assign("sub", &b, &Sub).unwrap();
        close(d.to_vec::<f64>(), va.iter().zip(&vb).map(|(x, y)| x - y - y).collect());
        assert_eq!(d.storage().version(), 1);
        let back = d.with_layout(d.layout().slice(0, n - 1, 1, 1));
        close(back.to_vec::<f64>(), vec![va[n - 1] - 2.0 * vb[n - 1]]);
        assert_eq!(d.copy().to_vec::<f64>(), d.to_vec::<f64>());
        assert_eq!(d.to_dtype(DType::I64).dtype(), DType::I64);
        // copies go inline by the same rule, from packed and from strided views alike, and
        // are storages of their own
        let copied = d.copy();
        assert_eq!(is_small(&copied), small, "copy, n = {n}, {dtype}");
        assert!(!copied.same_storage(&d) && copied.is_compact());
        if n > 1 {
            // every other element: a strided view, copied into a packed storage
            let half = n.div_ceil(2);
            let stepped = d.with_layout(d.layout().slice(0, 0, half, 2));
            let want: Vec<f64> = d.to_vec::<f64>().into_iter().step_by(2).collect();
            let c = stepped.copy();
            let bytes = if dtype == DType::F32 { 4 } else { 8 };
            assert_eq!(is_small(&c), half * bytes <= 16, "stepped copy, n = {n}, {dtype}");
            assert!(c.is_compact());
            close(c.to_vec::<f64>(), want);
        }
    }
    // booleans and integers too
    let mask = RawTensor::from_vec(vec![true, false, true], &[3]);
    assert!(is_small(&mask.copy()) && mask.copy().to_vec::<bool>() == vec![true, false, true]);
    let ints = RawTensor::from_vec(vec![7i64, -3, 5], &[3]);
    assert!(!is_small(&ints.copy()) && ints.copy().to_vec::<i64>() == vec![7, -3, 5]);
    let pair = ints.with_layout(ints.layout().slice(0, 1, 2, 1));
    assert!(is_small(&pair.copy()) && pair.copy().to_vec::<i64>() == vec![-3, 5]);
}

/// Whether the tensor's elements are kept inline in its storage (a few of them).
fn inline(t: &RawTensor) -> bool {
    matches!(&*t.storage().read(), Buffer::Small(_))
}

fn view(t: &RawTensor, shape: &[usize], strides: &[usize], offset: usize) -> RawTensor {
    t.with_layout(Layout::from_parts(shape, strides, offset))
}

/// The same values in a storage too large to be kept inline, viewed with `shape`.
fn on_heap(v: &[f32], shape: &[usize]) -> RawTensor {
    let mut data = v.to_vec();
    data.resize(v.len() + 8, 0.0);
    view(&RawTensor::from_vec(data, &[v.len() + 8]), shape, &contiguous_strides(shape), 0)
}

#[test]
fn inline_operands_give_what_large_storages_give() {
    let (a, b) = ([1.5f32, -2.0, 4.0], [0.25f32, 3.0, -1.0]);
    let (ia, ib) = (RawTensor::from_vec(a.to_vec(), &[3]), RawTensor::from_vec(b.to_vec(), &[3]));
    assert!(inline(&ia) && !inline(&on_heap(&a, &[3])));
    let small = ia.zip("sub", &ib, &Sub).unwrap();
    let large = on_heap(&a, &[3]).zip("sub", &on_heap(&b, &[3]), &Sub).unwrap();
    assert_eq!(small.to_vec::<f32>(), vec![1.25, -5.0, 5.0]);
    assert_eq!(small.to_vec::<f32>(), large.to_vec::<f32>());
    assert_eq!((small.shape(), small.layout().offset()), (&[3][..], 0));
    assert!(small.layout().is_contiguous() && inline(&small));
    let cubed = ia.map("cube", &Cube).unwrap();
    assert_eq!(cubed.to_vec::<f32>(), vec![3.375, -8.0, 64.0]);
    assert_eq!(cubed.to_vec::<f32>(), on_heap(&a, &[3]).map("cube", &Cube).unwrap().to_vec::<f32>());

    // f64, two to a storage
    let x = RawTensor::from_vec(vec![2.0f64, -0.5], &[1, 2]);
    let y = RawTensor::from_vec(vec![1.0f64, 0.25], &[1, 2]);
    assert_eq!(x.zip("sub", &y, &Sub).unwrap().to_vec::<f64>(), vec![1.0, -0.75]);
    assert_eq!(x.map("cube", &Cube).unwrap().to_vec::<f64>(), vec![8.0, -0.125]);
    assert_eq!(x.zip("sub", &y, &Sub).unwrap().shape(), &[1, 2]);
}

#[test]
fn views_into_inline_storages_read_their_own_elements() {
    let t = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]);
    assert!(inline(&t));
    // packed views at an offset
    let (hi, mid) = (view(&t, &[2], &[1], 2), view(&t, &[2], &[1], 1));
    let d = hi.zip("sub", &mid, &Sub).unwrap();
    assert_eq!((d.to_vec::<f32>(), d.layout().offset()), (vec![1.0, 1.0], 0));
    assert_eq!(hi.map("cube", &Cube).unwrap().to_vec::<f32>(), vec![27.0, 64.0]);
    // a size-1 dimension with an odd stride is still packed; the result is row-major
    let odd = view(&t, &[1, 2], &[7, 1], 1);
    let r = odd.zip("sub", &view(&t, &[1, 2], &[2, 1], 0), &Sub).unwrap();
    assert_eq!((r.to_vec::<f32>(), r.layout().strides()), (vec![1.0, 1.0], &[2, 1][..]));
    // not packed (a transpose): the general path
    let tr = view(&t, &[2, 2], &[1, 2], 0);
    assert_eq!(
        tr.zip("sub", &t.with_layout(Layout::contiguous(&[2, 2])), &Sub).unwrap().to_vec::<f32>(),
        vec![0.0, 1.0, -1.0, 0.0]
    );
    assert_eq!(tr.map("cube", &Cube).unwrap().to_vec::<f32>(), vec![1.0, 27.0, 8.0, 64.0]);
    // copies: of the whole storage, and of a part of it
    let whole = t.copy();
    assert!(!whole.same_storage(&t) && inline(&whole));
    assert_eq!(whole.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(hi.copy().to_vec::<f32>(), vec![3.0, 4.0]);
    assert_eq!(odd.copy().layout().strides(), &[2, 1]);
    assert_eq!(tr.copy().to_vec::<f32>(), vec![1.0, 3.0, 2.0, 4.0]);
}

#[test]
fn inline_operands_of_other_dtypes_or_shapes_take_the_general_path() {
    let a = RawTensor::from_vec(vec![1.0f32, 2.0], &[2]);
    let e = a.zip("sub", &RawTensor::from_vec(vec![1.0f64, 2.0], &[2]), &Sub).unwrap_err();
    assert!(e.to_string().contains("dtypes"), "{e}");
    // broadcasting: [2] against [1]
    let b = RawTensor::from_vec(vec![0.5f32], &[1]);
    assert_eq!(a.zip("sub", &b, &Sub).unwrap().to_vec::<f32>(), vec![0.5, 1.5]);
    assert!(RawTensor::from_vec(vec![1i64], &[1]).map("cube", &Cube).is_err());
}

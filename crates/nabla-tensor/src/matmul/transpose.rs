//! Copying a column-major block into row-major order, for a matrix product whose right
//! operand is a transposed view (`x · Wᵀ`, the forward pass of every linear layer).
//!
//! The `gemm` crate packs that operand by gathering each of its 64-row panels one scalar at
//! a time, with the view's column stride between reads. When that stride is a multiple of
//! a large power of two (a layer of 512 or 1024 inputs) the reads of a panel fall on a few
//! cache sets and evict one another: 128×256×512 ran at 62 GFLOP/s on one thread against
//! 113 for the same product with the operand row-major. Transposing it first with 8×8 blocks
//! costs about 0.2–0.3 ns an element, once, and the product then packs contiguous rows.

use crate::dtype::Float;
use crate::storage::BufferElement;

/// Side of the square tiles walked in order: small enough that a tile's source and
/// destination lines stay in L1 even at a power-of-two stride (16 lines of each).
const TILE: usize = 16;

/// `dst[p * n + j] = src[p + j * cs]` for `p < k` and `j < n`: the `k×n` block whose columns
/// are contiguous and `cs` apart, written row-major into `dst` (row stride `n`).
///
/// # Safety
/// `src.add(p + j * cs)` must be valid for reads for every `p < k`, `j < n`.
pub(super) unsafe fn to_row_major<T: Float>(src: *const T, cs: usize, k: usize, n: usize, dst: &mut [T]) {
    assert!(dst.len() >= k * n, "transpose: destination too small");
    #[cfg(target_arch = "x86_64")]
    if T::DTYPE == crate::DType::F32 && std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: `T` is `f32` (checked through its dtype); AVX is present; the caller
        // vouches for `src` and `dst` was checked above.
        unsafe {
            return avx::to_row_major(src.cast::<f32>(), cs, k, n, dst.as_mut_ptr().cast::<f32>());
        }
    }
    // SAFETY: as above.
    unsafe { tiles(src, cs, k, n, dst.as_mut_ptr(), |s, cs, d, dn| block8(s, cs, d, dn)) }
}

/// Walks the 16×16 tiles (four 8×8 blocks each) row of tiles by row of tiles, then copies
/// the ragged edges one element at a time.
///
/// # Safety
/// As [`to_row_major`], with `dst` valid for `k * n` writes; `block` must transpose one 8×8
/// block from `(src, cs)` to `(dst, dn)`.
#[inline(always)]
unsafe fn tiles<E: Copy>(
    src: *const E,
    cs: usize,
    k: usize,
    n: usize,
    dst: *mut E,
    block: impl Fn(*const E, usize, *mut E, usize),
) {
    let (kt, nt) = (k / TILE * TILE, n / TILE * TILE);
    // SAFETY (all offsets): every block lies inside the k×n source and destination.
    unsafe {
        for p in (0..kt).step_by(TILE) {
            for j in (0..nt).step_by(TILE) {
                for (dp, dj) in [(0, 0), (8, 0), (0, 8), (8, 8)] {
                    block(src.add((j + dj) * cs + p + dp), cs, dst.add((p + dp) * n + j + dj), n);
                }
            }
        }
        for p in 0..k {
            let cols = if p < kt { nt..n } else { 0..n };
            for j in cols {
                *dst.add(p * n + j) = *src.add(j * cs + p);
            }
        }
    }
}

/// One 8×8 block, portably: eight contiguous source runs in, eight destination rows out.
///
/// # Safety
/// `src.add(jj * cs + pp)` readable and `dst.add(pp * dn + jj)` writable for `jj, pp < 8`.
#[inline(always)]
unsafe fn block8<E: Copy + BufferElement>(src: *const E, cs: usize, dst: *mut E, dn: usize) {
    // SAFETY: the caller's contract; the arrays are read and written unaligned.
    unsafe {
        let cols: [[E; 8]; 8] = std::array::from_fn(|jj| src.add(jj * cs).cast::<[E; 8]>().read_unaligned());
        let rows: [[E; 8]; 8] = std::array::from_fn(|pp| std::array::from_fn(|jj| cols[jj][pp]));
        for (pp, row) in rows.into_iter().enumerate() {
            dst.add(pp * dn).cast::<[E; 8]>().write_unaligned(row);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    /// [`super::to_row_major`] for `f32` with AVX blocks, compiled with AVX enabled so that
    /// the blocks inline into the tile loop.
    ///
    /// # Safety
    /// AVX must be available; the pointers as for `to_row_major` (`dst` valid for `k * n`).
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn to_row_major(src: *const f32, cs: usize, k: usize, n: usize, dst: *mut f32) {
        // SAFETY: the caller's contract.
        unsafe { super::tiles(src, cs, k, n, dst, |s, cs, d, dn| block8(s, cs, d, dn)) }
    }

    /// One 8×8 `f32` block in registers: eight loads, the unpack / shuffle / lane-swap
    /// network, eight stores.
    ///
    /// # Safety
    /// AVX must be available; the pointers as for the portable `block8`.
    #[target_feature(enable = "avx")]
    unsafe fn block8(src: *const f32, cs: usize, dst: *mut f32, dn: usize) {
        // SAFETY: the caller's contract (eight 8-float runs readable, eight writable).
        unsafe {
            let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * cs)));
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let out = [
                _mm256_permute2f128_ps::<0x20>(s0, s4),
                _mm256_permute2f128_ps::<0x20>(s1, s5),
                _mm256_permute2f128_ps::<0x20>(s2, s6),
                _mm256_permute2f128_ps::<0x20>(s3, s7),
                _mm256_permute2f128_ps::<0x31>(s0, s4),
                _mm256_permute2f128_ps::<0x31>(s1, s5),
                _mm256_permute2f128_ps::<0x31>(s2, s6),
                _mm256_permute2f128_ps::<0x31>(s3, s7),
            ];
            for (pp, v) in out.into_iter().enumerate() {
                _mm256_storeu_ps(dst.add(pp * dn), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Float + std::fmt::Debug>(k: usize, n: usize, cs: usize) {
        let src: Vec<T> = (0..cs * n).map(|i| T::cast(i as f64)).collect();
        let mut dst = vec![T::cast(-1.0); k * n];
        // SAFETY: element (p, j) at p + j * cs < cs * n.
        unsafe { to_row_major(src.as_ptr(), cs, k, n, &mut dst) };
        for p in 0..k {
            for j in 0..n {
                assert_eq!(dst[p * n + j], src[p + j * cs], "k={k} n={n} cs={cs} at ({p}, {j})");
            }
        }
    }

    #[test]
    fn every_element_lands_at_its_transposed_place_for_whole_and_ragged_tiles() {
        for (k, n) in [(1, 1), (8, 8), (16, 16), (17, 16), (16, 33), (40, 24), (512, 10), (3, 100), (64, 48)] {
            for extra in [0, 5] {
                check::<f32>(k, n, k + extra);
                check::<f64>(k, n, k + extra);
            }
        }
    }
}

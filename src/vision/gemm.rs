//! One safe door to the `gemm` crate's matrix product, for the kernels that call it directly
//! (MobileFaceNet's 1×1 convolutions, the small CNNs' per-image convolutions): candle's own
//! `matmul` allocates and zero-fills its output and chooses its own threading, which costs
//! more than the arithmetic at these sizes.
//!
//! Operands are strided views of slices, checked to lie inside them; they may overlap (a
//! convolution reads its image as overlapping rows, without an im2col copy). The result's
//! view is checked to lie inside its slice with no two elements in the same place.

/// The shape of a strided `rows × cols` matrix: element `(i, j)` is at `i·row_stride +
/// j·col_stride`.
#[derive(Clone, Copy, Debug)]
struct View {
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl View {
    fn row_major(rows: usize, cols: usize) -> Self {
        Self::strided(rows, cols, cols, 1)
    }

    fn column_major(rows: usize, cols: usize) -> Self {
        Self::strided(rows, cols, 1, rows)
    }

    fn strided(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        Self {
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// Whether every element lies below `len` (an empty view always does; an index that
    /// overflows does not).
    fn inside(self, len: usize) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        (self.rows - 1)
            .checked_mul(self.row_stride)
            .zip((self.cols - 1).checked_mul(self.col_stride))
            .and_then(|(a, b)| a.checked_add(b))
            .is_some_and(|last| last < len)
    }

    /// Whether no two elements share a place: one stride steps over a whole row or column of
    /// the other.
    fn distinct(self) -> bool {
        let (r, c, rs, cs) = (self.rows, self.cols, self.row_stride, self.col_stride);
        r <= 1 && (c <= 1 || cs >= 1)
            || c <= 1 && rs >= 1
            || cs >= 1 && rs >= c.saturating_mul(cs)
            || rs >= 1 && cs >= r.saturating_mul(rs)
    }

    /// (row stride, column stride) as gemm takes them.
    fn strides(self) -> Option<(isize, isize)> {
        Some((
            isize::try_from(self.row_stride).ok()?,
            isize::try_from(self.col_stride).ok()?,
        ))
    }
}

/// A matrix read from a slice.
#[derive(Clone, Copy, Debug)]
pub struct Operand<'a> {
    data: &'a [f32],
    view: View,
}

impl<'a> Operand<'a> {
    /// A row-major `rows × cols` matrix.
    #[must_use]
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        let view = View::row_major(rows, cols);
        Self { data, view }
    }

    /// The transpose of the row-major `cols × rows` matrix `data`.
    #[must_use]
    pub fn transpose_of(data: &'a [f32], rows: usize, cols: usize) -> Self {
        let view = View::column_major(rows, cols);
        Self { data, view }
    }

    /// `rows × cols` with any strides, in values: element `(i, j)` is `data[i·row_stride +
    /// j·col_stride]`. Elements may share places (overlapping rows of an image).
    #[must_use]
    pub fn strided(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        let view = View::strided(rows, cols, row_stride, col_stride);
        Self { data, view }
    }
}

/// Where a product's result goes.
#[derive(Debug)]
pub struct Dst<'a> {
    data: &'a mut [f32],
    view: View,
}

impl<'a> Dst<'a> {
    /// Row-major `rows × cols`.
    #[must_use]
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        let view = View::row_major(rows, cols);
        Self { data, view }
    }

    /// Column-major `rows × cols` (row-major `cols × rows`, the transpose). gemm's kernels run
    /// down the columns of the result, so this is the faster layout when `rows` is the long
    /// side.
    #[must_use]
    pub fn column_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        let view = View::column_major(rows, cols);
        Self { data, view }
    }

    /// `rows × cols` with any strides, as [`Operand::strided`], but no two elements may share
    /// a place.
    #[must_use]
    pub fn strided(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        let view = View::strided(rows, cols, row_stride, col_stride);
        Self { data, view }
    }
}

/// A product whose sizes do not line up, or a view outside its slice.
#[derive(Debug, thiserror::Error)]
#[error(
    "matrix product: {lhs_rows}x{lhs_cols} times {rhs_rows}x{rhs_cols} into {dst_rows}x{dst_cols} \
     (or a view outside its values)"
)]
pub struct ShapeError {
    lhs_rows: usize,
    lhs_cols: usize,
    rhs_rows: usize,
    rhs_cols: usize,
    dst_rows: usize,
    dst_cols: usize,
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`. With `threads` above 1 gemm
/// splits the product over rayon's pool.
pub fn matmul(
    dst: Dst<'_>,
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    accumulate: bool,
    threads: usize,
) -> Result<(), ShapeError> {
    let Dst { data, view: out } = dst;
    let (m, k, n) = (lhs.view.rows, lhs.view.cols, rhs.view.cols);
    let error = ShapeError {
        lhs_rows: m,
        lhs_cols: k,
        rhs_rows: rhs.view.rows,
        rhs_cols: n,
        dst_rows: out.rows,
        dst_cols: out.cols,
    };
    let lines_up = rhs.view.rows == k && out.rows == m && out.cols == n;
    let views_fit = lhs.view.inside(lhs.data.len())
        && rhs.view.inside(rhs.data.len())
        && out.inside(data.len())
        && out.distinct();
    if !lines_up || !views_fit {
        return Err(error);
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    data[i * out.row_stride + j * out.col_stride] = 0.0;
                }
            }
        }
        return Ok(());
    }
    let (Some((dst_rs, dst_cs)), Some((lhs_rs, lhs_cs)), Some((rhs_rs, rhs_cs))) =
        (out.strides(), lhs.view.strides(), rhs.view.strides())
    else {
        return Err(error);
    };
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `inside` checked that every element each view addresses (the largest index,
    // with non-negative strides) lies inside its slice, and `distinct` that the result's
    // elements do not share places. `dst` is a unique borrow, so it overlaps neither operand; the operands are
    // only read, so they may overlap each other and themselves. gemm reads `dst` only with
    // `read_dst` (`accumulate`). This is the vision layer's one unsafe block for gemm: it takes
    // raw pointers, which candle's own matmul passes the same way.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            data.as_mut_ptr(),
            dst_cs,
            dst_rs,
            accumulate,
            lhs.data.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.data.as_ptr(),
            rhs_cs,
            rhs_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut t = vec![0f32; a.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = a[i * cols + j];
            }
        }
        t
    }

    fn worst(a: &[f32], b: &[f32], scale: f32) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - scale * y).abs())
            .fold(0f32, f32::max)
    }

    #[test]
    fn products_match_the_plain_loops_for_every_layout_with_and_without_accumulation() {
        let (m, k, n) = (37, 25, 16);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 / 7.0 - 0.9).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 11) as f32 / 5.0 - 1.1).collect();
        let want = naive(&a, &b, m, k, n);
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        for (lhs, rhs) in [
            (Operand::new(&a, m, k), Operand::new(&b, k, n)),
            (Operand::transpose_of(&at, m, k), Operand::new(&b, k, n)),
            (Operand::new(&a, m, k), Operand::transpose_of(&bt, k, n)),
            (
                Operand::transpose_of(&at, m, k),
                Operand::transpose_of(&bt, k, n),
            ),
        ] {
            for threads in [1, 2] {
                let mut dst = vec![f32::NAN; m * n];
                matmul(Dst::row_major(&mut dst, m, n), lhs, rhs, false, threads).unwrap();
                assert!(worst(&dst, &want, 1.0) < 1e-4, "{lhs:?} {rhs:?}");
                // Accumulating adds the same product again.
                matmul(Dst::row_major(&mut dst, m, n), lhs, rhs, true, threads).unwrap();
                assert!(worst(&dst, &want, 2.0) < 1e-4, "accumulated");
                let mut dst_t = vec![f32::NAN; m * n];
                matmul(
                    Dst::column_major(&mut dst_t, m, n),
                    lhs,
                    rhs,
                    false,
                    threads,
                )
                .unwrap();
                assert!(
                    worst(&transpose(&dst_t, n, m), &want, 1.0) < 1e-4,
                    "column-major"
                );
            }
        }
    }

    #[test]
    fn overlapping_rows_read_a_signal_as_a_sliding_window() {
        // Row i of the window is x[i..i + 3]: a 1-D convolution as one product.
        let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let taps = [1.0f32, -2.0, 0.5];
        let mut y = vec![0f32; 8];
        matmul(
            Dst::row_major(&mut y, 8, 1),
            Operand::strided(&x, 8, 3, 1, 1),
            Operand::new(&taps, 3, 1),
            false,
            1,
        )
        .unwrap();
        for (i, v) in y.iter().enumerate() {
            let want = x[i] - 2.0 * x[i + 1] + 0.5 * x[i + 2];
            assert!((v - want).abs() < 1e-6);
        }
        // One more row would read past the end.
        let mut y = vec![0f32; 9];
        assert!(
            matmul(
                Dst::row_major(&mut y, 9, 1),
                Operand::strided(&x, 9, 3, 1, 1),
                Operand::new(&taps, 3, 1),
                false,
                1,
            )
            .is_err()
        );
    }

    #[test]
    fn views_outside_their_values_or_overlapping_results_are_errors() {
        let a = vec![0f32; 6];
        let (two_by_three, three_by_two) = (Operand::new(&a, 2, 3), Operand::new(&a, 3, 2));
        let product = |dst: Dst<'_>, lhs, rhs| matmul(dst, lhs, rhs, false, 1);
        let mut dst = vec![0f32; 4];
        // Sizes that do not line up.
        assert!(product(Dst::row_major(&mut dst, 2, 2), two_by_three, two_by_three).is_err());
        // A result longer than its values.
        let mut short = vec![0f32; 3];
        assert!(product(Dst::row_major(&mut short, 2, 2), two_by_three, three_by_two).is_err());
        // A result whose rows overlap would race inside gemm.
        assert!(
            product(
                Dst::strided(&mut dst, 2, 2, 1, 1),
                two_by_three,
                three_by_two
            )
            .is_err()
        );
        let mut dst = vec![1f32; 4];
        product(Dst::row_major(&mut dst, 2, 2), two_by_three, three_by_two).unwrap();
        assert_eq!(dst, vec![0.0; 4]);
    }
}

//! The per-cell loop of scoring, written so that the compiler vectorises it, and run with
//! the widest instructions the processor has (AVX2 + FMA or AVX-512, picked at run time
//! through `pulp`; plain scalar code elsewhere).
//!
//! Every cell a candidate may reach costs the same branch-free work, eight cells at a time:
//! 1. the squared chord `s` between the cell centre and the site (exactly as [`chord2`]);
//! 2. the decay `w(s) = max(d, d_min)^(−β)` without tables or library calls ([`decay`]):
//!    with `d = 2R asin(√s / 2) = R √s h(s / 4)`, `h(y) = asin(√y) / √y`,
//!    `ln d = ln R + ½ ln s + ln h(s / 4)`; `ln s` from the float's exponent and an atanh
//!    series on its mantissa, `ln h` from its power series, and `exp` by range reduction
//!    and a degree-12 polynomial. Relative error below 1e-13 of the exact formula (tested)
//!    for squared chords up to [`FORMULA_MAX_CHORD2`] (about 2,000 km);
//! 3. the Huff share `p = u / (den + u)` with `u = A w` (0 beyond the reach), and the four
//!    sums of [`Sums`], kept per lane and added up at the end.
//!
//! [`chord2`]: crate::domain::demand::chord2

use pulp::{Arch, Simd, WithSimd};
use std::ops::Range;

/// Cells handled together: one AVX-512 register, or two AVX2 registers, of `f64`.
const LANES: usize = 8;

/// Largest squared chord the decay formula serves (a great-circle distance of ~2,000 km;
/// the first term its `ln h` series leaves out is below 1e-13 there).
pub const FORMULA_MAX_CHORD2: f64 = 0.1;

/// `ln(asin(√y) / √y)` as a power series in `y`: coefficients of `y¹ … y⁶`.
const LN_H: [f64; 6] = [1.0 / 6.0, 11.0 / 180.0, 191.0 / 5670.0, 0.022019400352733684, 0.015816364705253595, 0.012062815621898516];
/// `ln 2` split so that `n × LN2_HI` is exact for |n| < 2²⁰ (fdlibm's constants).
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
/// Adding it rounds a float below 2⁵¹ in magnitude to an integer, held in the low bits.
const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5 × 2⁵²
/// The bits of `2⁵²`, to read an exponent field as a float.
const TWO_52_BITS: u64 = 0x4330_0000_0000_0000;
const MANTISSA: u64 = (1 << 52) - 1;
const ONE_BITS: u64 = 0x3FF0_0000_0000_0000;

/// A site as the kernel sees it (see [`KernelSite::new`]).
#[derive(Debug, Clone, Copy)]
pub struct KernelSite {
    at: [f64; 3],
    /// Squared chord of the reach.
    limit: f64,
    /// Squared chord of `d_min`.
    s_min: f64,
    attraction: f64,
    minus_beta: f64,
    minus_half_beta: f64,
    minus_beta_ln_r: f64,
}

impl KernelSite {
    /// A site at unit vector `at` with attraction `A`, decay `beta`, reach and `d_min` as
    /// squared chords, on a sphere of `radius_km`. `None` if the reach is too long for the
    /// decay formula (the caller then uses the exact formula).
    pub fn new(at: [f64; 3], attraction: f64, beta: f64, limit: f64, s_min: f64, radius_km: f64) -> Option<KernelSite> {
        (limit <= FORMULA_MAX_CHORD2 && s_min <= FORMULA_MAX_CHORD2).then_some(KernelSite {
            at,
            limit,
            s_min,
            attraction,
            minus_beta: -beta,
            minus_half_beta: -beta / 2.0,
            minus_beta_ln_r: -beta * radius_km.ln(),
        })
    }
}

/// The sums of one candidate over its reach (see `Scenario::evaluate`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// `Σ D_i P_ic`.
    pub sales: f64,
    /// `Σ (D_i own_i / den_i) P_ic`.
    pub cannibalised: f64,
    /// `Σ (D_i comp_i / den_i) P_ic`.
    pub competitor_loss: f64,
    /// `Σ D_i` over the cells within reach.
    pub catchment: f64,
}

/// `a × b + c`: fused where the instructions have it, two operations in scalar code (a
/// software `fma` would be far slower than both).
#[inline(always)]
fn madd<const FUSED: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// `if c { a } else { b }`, written so that it compiles to a blend.
#[inline(always)]
fn select(c: bool, a: f64, b: f64) -> f64 {
    if c { a } else { b }
}

/// `eˣ` for |x| < 700: `x = n ln 2 + r` with |r| ≤ ½ ln 2, `e^r` by its Taylor polynomial of
/// degree 12 (the next term is below 2e-16 of it), times `2ⁿ` added to the exponent field.
#[inline(always)]
fn exp<const FUSED: bool>(x: f64) -> f64 {
    let t = madd::<FUSED>(x, std::f64::consts::LOG2_E, ROUND);
    let n = t - ROUND;
    let r = madd::<FUSED>(n, -LN2_LO, madd::<FUSED>(n, -LN2_HI, x));
    let mut p = 1.0 / 479_001_600.0; // 1 / 12!
    for k in (1..12).rev() {
        p = madd::<FUSED>(p, r, INV_FACTORIAL[k]);
    }
    let p = madd::<FUSED>(p, r, 1.0);
    let scale = t.to_bits().wrapping_sub(ROUND.to_bits()) << 52;
    f64::from_bits(p.to_bits().wrapping_add(scale))
}

/// `1 / k!` for k = 0..12.
const INV_FACTORIAL: [f64; 12] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
];

/// `ln s` for a positive normal `s`: `s = 2ᵉ m` with m in [√½, √2), `ln m = 2 atanh(z)`,
/// `z = (m − 1) / (m + 1)`, |z| ≤ 0.172, by its series up to z¹⁷ (the rest is below 1e-15
/// of it).
#[inline(always)]
fn ln<const FUSED: bool>(s: f64) -> f64 {
    let bits = s.to_bits();
    let m = f64::from_bits((bits & MANTISSA) | ONE_BITS);
    let e = f64::from_bits((bits >> 52) | TWO_52_BITS) - (4_503_599_627_370_496.0 + 1023.0);
    let big = m > std::f64::consts::SQRT_2;
    let (m, e) = (select(big, m * 0.5, m), select(big, e + 1.0, e));
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut p = 1.0 / 17.0;
    for k in (0..8).rev() {
        p = madd::<FUSED>(p, z2, 1.0 / (2 * k + 1) as f64);
    }
    madd::<FUSED>(e, LN2_HI, madd::<FUSED>(e, LN2_LO, 2.0 * z * p))
}

/// The decay `max(d, d_min)^(−β)` of a squared chord `s` (any value; meaningful up to
/// [`FORMULA_MAX_CHORD2`]).
#[inline(always)]
fn decay<const FUSED: bool>(s: f64, k: &KernelSite) -> f64 {
    let s = select(s > k.s_min, s, k.s_min);
    let y = 0.25 * s;
    let mut ln_h = LN_H[5];
    for c in LN_H[..5].iter().rev() {
        ln_h = madd::<FUSED>(ln_h, y, *c);
    }
    let ln_h = ln_h * y;
    // −β ln d = −β ln R − (β/2) ln s − β ln h.
    exp::<FUSED>(madd::<FUSED>(k.minus_half_beta, ln::<FUSED>(s), madd::<FUSED>(k.minus_beta, ln_h, k.minus_beta_ln_r)))
}

/// The decay of one squared chord in plain scalar code (for outlets added to a scenario
/// and for tests): the same formula as the kernel's, to a few ulps.
pub fn decay_scalar(s: f64, k: &KernelSite) -> f64 {
    decay::<false>(s, k)
}

/// Per-lane running sums.
#[derive(Clone, Copy)]
struct Lanes {
    sales: [f64; LANES],
    cann: [f64; LANES],
    comp: [f64; LANES],
    catchment: [f64; LANES],
}

impl Lanes {
    fn new() -> Lanes {
        Lanes { sales: [0.0; LANES], cann: [0.0; LANES], comp: [0.0; LANES], catchment: [0.0; LANES] }
    }

    fn total(&self) -> Sums {
        let sum = |a: &[f64; LANES]| a.iter().sum();
        Sums { sales: sum(&self.sales), cannibalised: sum(&self.cann), competitor_loss: sum(&self.comp), catchment: sum(&self.catchment) }
    }
}

/// Cells beyond any reach, to fill the last block of a range.
const FAR: ([f64; 3], [f64; 4]) = ([f64::INFINITY; 3], [1.0, 0.0, 0.0, 0.0]);

/// One block of cells: adds their terms to `acc`, and returns each cell's decay (0 beyond
/// the reach).
#[inline(always)]
fn block<const FUSED: bool>(centres: &[[f64; 3]; LANES], state: &[[f64; 4]; LANES], k: &KernelSite, acc: &mut Lanes) -> [f64; LANES] {
    let mut ss = [0.0; LANES];
    for (s, c) in ss.iter_mut().zip(centres) {
        let (dx, dy, dz) = (k.at[0] - c[0], k.at[1] - c[1], k.at[2] - c[2]);
        *s = dx * dx + dy * dy + dz * dz;
    }
    // A block wholly beyond the reach (the corners of a band's run) adds nothing.
    if ss.iter().fold(true, |out, &s| out & (s > k.limit)) {
        return [0.0; LANES];
    }
    let mut ws = [0.0; LANES];
    for j in 0..LANES {
        let s = ss[j];
        let inside = s <= k.limit;
        let w = select(inside, decay::<FUSED>(s, k), 0.0);
        let u = k.attraction * w;
        let [den, d, d_own, d_comp] = state[j];
        // `den ≥ U0 > 0` (the parameters are checked), so `p` is 0 where `u` is.
        let p = u / (den + u);
        acc.sales[j] = madd::<FUSED>(d, p, acc.sales[j]);
        acc.cann[j] = madd::<FUSED>(d_own, p, acc.cann[j]);
        acc.comp[j] = madd::<FUSED>(d_comp, p, acc.comp[j]);
        acc.catchment[j] += select(inside, d, 0.0);
        ws[j] = w;
    }
    ws
}

/// The kernel over `ranges` of cells; with `keep`, each visited cell's decay is appended
/// to it (0 beyond the reach), range after range.
struct Evaluate<'a> {
    centres: &'a [[f64; 3]],
    state: &'a [[f64; 4]],
    ranges: &'a [Range<usize>],
    site: &'a KernelSite,
    keep: Option<&'a mut Vec<f64>>,
}

impl Evaluate<'_> {
    #[inline(always)]
    fn run<const FUSED: bool>(self) -> Sums {
        let mut acc = Lanes::new();
        let mut keep = self.keep;
        for range in self.ranges {
            let (centres, state) = (&self.centres[range.clone()], &self.state[range.clone()]);
            let (cs, ps) = (centres.chunks_exact(LANES), state.chunks_exact(LANES));
            let (c_tail, p_tail) = (cs.remainder(), ps.remainder());
            for (c, p) in cs.zip(ps) {
                let (Ok(c), Ok(p)) = (<&[[f64; 3]; LANES]>::try_from(c), <&[[f64; 4]; LANES]>::try_from(p)) else { continue };
                let ws = block::<FUSED>(c, p, self.site, &mut acc);
                if let Some(keep) = keep.as_deref_mut() {
                    keep.extend_from_slice(&ws);
                }
            }
            if !c_tail.is_empty() {
                let (mut c, mut p) = ([FAR.0; LANES], [FAR.1; LANES]);
                c[..c_tail.len()].copy_from_slice(c_tail);
                p[..p_tail.len()].copy_from_slice(p_tail);
                let ws = block::<FUSED>(&c, &p, self.site, &mut acc);
                if let Some(keep) = keep.as_deref_mut() {
                    keep.extend_from_slice(&ws[..c_tail.len()]);
                }
            }
        }
        acc.total()
    }
}

impl WithSimd for Evaluate<'_> {
    type Output = Sums;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> Sums {
        if S::IS_SCALAR { self.run::<false>() } else { self.run::<true>() }
    }
}

/// Sums a candidate's terms over the cells in `ranges` (`centres` and the per-cell
/// `[den, D, D own/den, D comp/den]` of the scenario); with `keep`, appends each visited
/// cell's decay to it.
pub fn evaluate(centres: &[[f64; 3]], state: &[[f64; 4]], ranges: &[Range<usize>], site: &KernelSite, keep: Option<&mut Vec<f64>>) -> Sums {
    Arch::new().dispatch(Evaluate { centres, state, ranges, site, keep })
}

/// `Σ D_i u_i / (den_i + u_i)` with `u_i = attraction × w_i`, over the cells of `ranges`
/// whose decays `ws` a kept [`evaluate`] recorded.
struct SalesWith<'a> {
    state: &'a [[f64; 4]],
    ranges: &'a [Range<usize>],
    ws: &'a [f64],
    attraction: f64,
}

impl SalesWith<'_> {
    #[inline(always)]
    fn run<const FUSED: bool>(self) -> f64 {
        let mut acc = [0.0; LANES];
        let mut ws = self.ws;
        for range in self.ranges {
            let (mine, rest) = ws.split_at(range.len().min(ws.len()));
            ws = rest;
            let state = &self.state[range.clone()];
            let (wc, pc) = (mine.chunks_exact(LANES), state.chunks_exact(LANES));
            let (w_tail, p_tail) = (wc.remainder(), pc.remainder());
            for (w, p) in wc.zip(pc) {
                for j in 0..LANES {
                    let u = self.attraction * w[j];
                    let [den, d, _, _] = p[j];
                    acc[j] = madd::<FUSED>(d, u / (den + u), acc[j]);
                }
            }
            for (w, p) in w_tail.iter().zip(p_tail) {
                let u = self.attraction * w;
                acc[0] = madd::<FUSED>(p[1], u / (p[0] + u), acc[0]);
            }
        }
        acc.iter().sum()
    }
}

impl WithSimd for SalesWith<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> f64 {
        if S::IS_SCALAR { self.run::<false>() } else { self.run::<true>() }
    }
}

/// `Σ D_i u_i / (den_i + u_i)`, `u_i = attraction × w_i`, over the cells of `ranges` with
/// the decays `ws` recorded by [`evaluate`] (`state` as there).
pub fn sales_with(state: &[[f64; 4]], ranges: &[Range<usize>], ws: &[f64], attraction: f64) -> f64 {
    Arch::new().dispatch(SalesWith { state, ranges, ws, attraction })
}

/// The exact decay of a squared chord `s`.
pub fn exact_decay(s: f64, beta: f64, d_min_km: f64, radius_km: f64) -> f64 {
    let d = 2.0 * radius_km * (s.sqrt() / 2.0).min(1.0).asin();
    d.max(d_min_km).powf(-beta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::demand::chord2_of_km;

    #[test]
    fn the_decay_formula_matches_the_exact_one_to_1e13() {
        let radius = 6371.0088;
        for (beta, d_min, reach) in [(2.2, 1.0, 25.0), (1.6, 1.0, 50.0), (2.0, 1.0, 30.0), (0.7, 0.2, 400.0), (3.5, 2.0, 1_900.0)] {
            let limit = chord2_of_km(reach, radius);
            let site = KernelSite::new([1.0, 0.0, 0.0], 1.0, beta, limit, chord2_of_km(d_min, radius), radius).expect("within the formula's range");
            let mut worst: f64 = 0.0;
            for i in 0..=200_000 {
                // Dense near zero (below and around d_min) and up to the reach itself.
                let s = limit * (i as f64 / 200_000.0).powi(3);
                let want = exact_decay(s, beta, d_min, radius);
                for got in [decay::<false>(s, &site), decay::<true>(s, &site)] {
                    worst = worst.max((got - want).abs() / want);
                }
            }
            assert!(worst < 1e-13, "beta {beta}, reach {reach}: worst relative error {worst:e}");
        }
    }

    #[test]
    fn exp_and_ln_hold_over_their_ranges() {
        for i in -7000..=7000 {
            let x = i as f64 / 10.0 + 0.0123;
            let (got, want) = (exp::<false>(x), x.exp());
            assert!((got - want).abs() <= want * 2e-15, "exp({x}) = {got}, not {want}");
        }
        for i in 1..=100_000 {
            let s = (i as f64 * 1e-4).powi(4);
            let (got, want) = (ln::<false>(s), s.ln());
            assert!((got - want).abs() <= 2e-15 * want.abs().max(1.0), "ln({s}) = {got}, not {want}");
        }
    }

    /// Cells scattered within ~70 km of a site, with states as a scenario would hold.
    fn scattered(n: usize) -> (Vec<[f64; 3]>, Vec<[f64; 4]>) {
        let mut rng = crate::domain::random::SplitMix64(7);
        (0..n)
            .map(|_| {
                let (lon, lat) = (114.0 + (rng.unit() - 0.5) * 1.4, 22.5 + (rng.unit() - 0.5) * 1.4);
                let d = if rng.unit() < 0.1 { 0.0 } else { rng.unit() * 50.0 };
                let den = 4.0 / 3.0 + rng.unit() * 0.01;
                (crate::domain::demand::unit_vector(lon, lat), [den, d, d * rng.unit() * 0.4, d * rng.unit() * 0.2])
            })
            .unzip()
    }

    #[test]
    fn the_kernel_agrees_with_a_plain_loop_on_every_instruction_set() {
        let radius = 6371.0088;
        let (centres, state) = scattered(5_003);
        let ranges = [0..1_000, 1_000..1_001, 1_500..3_007, 3_010..5_003];
        let at = crate::domain::demand::unit_vector(114.05, 22.45);
        let site = KernelSite::new(at, 390.0, 2.2, chord2_of_km(25.0, radius), chord2_of_km(1.0, radius), radius).expect("site");
        // The plain loop: exact decay, one cell at a time.
        let mut want = Sums::default();
        for i in ranges.iter().cloned().flatten() {
            let s = crate::domain::demand::chord2(&at, &centres[i]);
            if s > site.limit {
                continue;
            }
            let u = 390.0 * exact_decay(s, 2.2, 1.0, radius);
            let [den, d, d_own, d_comp] = state[i];
            let p = u / (den + u);
            want.sales += d * p;
            want.cannibalised += d_own * p;
            want.competitor_loss += d_comp * p;
            want.catchment += d;
        }
        assert!(want.catchment > 0.0 && want.sales > 0.0);
        let run = |fused: bool, keep: Option<&mut Vec<f64>>| {
            let e = Evaluate { centres: &centres, state: &state, ranges: &ranges, site: &site, keep };
            if fused { e.run::<true>() } else { e.run::<false>() }
        };
        let mut ws = Vec::new();
        let dispatched = evaluate(&centres, &state, &ranges, &site, Some(&mut ws));
        for got in [dispatched, run(false, None), run(true, None)] {
            for (g, w) in
                [(got.sales, want.sales), (got.cannibalised, want.cannibalised), (got.competitor_loss, want.competitor_loss), (got.catchment, want.catchment)]
            {
                assert!((g - w).abs() <= 1e-12 * w.abs(), "{got:?} vs {want:?}");
            }
        }
        // The kept decays give the same sales for the same attraction.
        assert_eq!(ws.len(), ranges.iter().map(|r| r.len()).sum::<usize>());
        let again = sales_with(&state, &ranges, &ws, 390.0);
        assert!((again - want.sales).abs() <= 1e-12 * want.sales, "{again} vs {}", want.sales);
    }

    #[test]
    fn a_reach_beyond_the_formula_is_refused() {
        assert!(KernelSite::new([1.0, 0.0, 0.0], 1.0, 2.0, 0.5, 1e-8, 6371.0).is_none());
    }
}

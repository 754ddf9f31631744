//! Deterministic pseudo-random numbers for synthetic inputs: benchmark candidates, test
//! loads. Not for secrets (tokens use the operating system's generator).

/// A small deterministic generator (SplitMix64), reproducible from its seed: the same
/// candidates on every run of the bench, the same load in the crash test.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson draw with mean `lambda` (Knuth's method below 30, the normal
    /// approximation above; not negative).
    pub fn poisson(&mut self, lambda: f64) -> f64 {
        if lambda < 30.0 {
            let (limit, mut k, mut p) = ((-lambda).exp(), 0.0, 1.0);
            loop {
                p *= self.unit();
                if p <= limit {
                    return k;
                }
                k += 1.0;
            }
        }
        let (u1, u2) = (self.unit().max(1e-300), self.unit());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (lambda + lambda.sqrt() * z).round().max(0.0)
    }
}

//! CPython's `random.Random` (MT19937 with `init_by_array` seeding and the `getrandbits`-based
//! `randrange`), so the seed tutorial's pairs come out identical to the Python anchors'
//! (`anchors/perf/common.py` draws them from `random.Random(1337)`).

/// A Mersenne Twister seeded and used the way CPython's `random.Random(int)` is.
#[derive(Clone)]
pub struct PyRandom {
    state: [u32; 624],
    index: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for a non-negative seed below 2³².
    #[must_use]
    pub fn new(seed: u32) -> Self {
        let mut r = Self {
            state: [0; 624],
            index: 624,
        };
        r.init_genrand(19_650_218);
        // init_by_array with the key [seed].
        let key = [seed];
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..624 {
            let prev = r.state[i - 1] ^ (r.state[i - 1] >> 30);
            r.state[i] = (r.state[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                r.state[0] = r.state[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            let prev = r.state[i - 1] ^ (r.state[i - 1] >> 30);
            r.state[i] = (r.state[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                r.state[0] = r.state[623];
                i = 1;
            }
        }
        r.state[0] = 0x8000_0000;
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.state[0] = s;
        for i in 1..624 {
            let prev = self.state[i - 1] ^ (self.state[i - 1] >> 30);
            self.state[i] = 1_812_433_253u32.wrapping_mul(prev).wrapping_add(i as u32);
        }
        self.index = 624;
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut v = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 == 1 {
                v ^= 0x9908_b0df;
            }
            self.state[i] = v;
        }
        self.index = 0;
    }

    /// The next 32 random bits (`getrandbits(32)`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `randrange(n)` for `0 < n < 2³²`: uniform in `0..n`, by rejection as CPython does.
    pub fn below(&mut self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        let k = 32 - n.leading_zeros();
        loop {
            let r = self.next_u32() >> (32 - k);
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(start, stop)`.
    pub fn range(&mut self, start: u32, stop: u32) -> u32 {
        start + self.below(stop - start)
    }

    /// The indices `random.sample(range(n), k)` picks (CPython 3.11's algorithm, so a Python
    /// script seeded alike picks the same), in the order picked; `k` is capped at `n`.
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let k = k.min(n);
        let below = |r: &mut Self, m: usize| r.below(u32::try_from(m).unwrap_or(u32::MAX)) as usize;
        let mut set_size = 21usize;
        if k > 5 {
            // 4 ** ceil(log(3k, 4)), the hash table size of a set of k items.
            let exp = ((k * 3) as f64).ln() / 4f64.ln();
            set_size += 4usize.saturating_pow(exp.ceil() as u32);
        }
        let mut out = Vec::with_capacity(k);
        if n <= set_size {
            let mut pool: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = below(self, n - i);
                out.push(pool[j]);
                pool[j] = pool[n - i - 1];
            }
        } else {
            let mut seen = std::collections::HashSet::with_capacity(k);
            for _ in 0..k {
                let mut j = below(self, n);
                while !seen.insert(j) {
                    j = below(self, n);
                }
                out.push(j);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from CPython 3 (`python3 -c "import random; r = random.Random(1337);
    // print([r.randrange(1, 10) for _ in range(12)])"`, and likewise for the others).
    #[test]
    fn matches_cpython() {
        let mut r = PyRandom::new(1337);
        let got: Vec<u32> = (0..12).map(|_| r.range(1, 10)).collect();
        assert_eq!(got, [9, 6, 3, 6, 7, 6, 5, 7, 4, 6, 2, 7]);
        let mut r = PyRandom::new(1337);
        assert_eq!(
            [r.next_u32(), r.next_u32(), r.next_u32()],
            [2_653_228_291, 3_975_144_315, 2_290_358_181]
        );
        let mut r = PyRandom::new(0);
        let got: Vec<u32> = (0..5).map(|_| r.range(1, 10)).collect();
        assert_eq!(got, [7, 7, 1, 5, 9]);
        assert_eq!(r.below(700), 497);
    }

    // `random.Random(seed).sample(list(range(n)), k)` in CPython 3.11.
    #[test]
    fn sample_matches_cpython() {
        assert_eq!(
            PyRandom::new(7).sample(40, 13)[..12],
            [20, 9, 25, 3, 4, 34, 6, 23, 36, 29, 16, 33]
        );
        assert_eq!(PyRandom::new(8).sample(15, 5), [3, 5, 6, 2, 14]);
        assert_eq!(
            PyRandom::new(9).sample(2300, 766)[..12],
            [
                1896, 1529, 1094, 567, 762, 26, 1385, 2059, 1899, 331, 1368, 2270
            ]
        );
        assert_eq!(
            PyRandom::new(11).sample(30, 10),
            [14, 27, 17, 24, 29, 25, 16, 18, 6, 5]
        );
        // The set-based branch (n larger than the small-set size).
        assert_eq!(PyRandom::new(3).sample(200, 3), [60, 151, 139]);
        assert_eq!(PyRandom::new(3).sample(2, 5).len(), 2);
    }
}

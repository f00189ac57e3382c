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
}

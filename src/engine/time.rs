/// Global simulated time in picoseconds. u64 holds about 213 days.
pub type Ps = u64;

/// A clock domain, given by its frequency in MHz so that cycle/ps
/// conversions stay exact integers (1.4 GHz has no integer ps period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    mhz: u64,
}

impl Clock {
    /// `mhz` must be > 0 (configs are validated before clocks are built).
    pub fn from_mhz(mhz: u64) -> Clock {
        Clock { mhz: mhz.max(1) }
    }

    /// A clock with period `period_ps` (rounded to whole MHz where the
    /// period does not divide 10^6, which no shipped preset needs).
    pub fn from_period_ps(period_ps: u64) -> Clock {
        Clock::from_mhz(1_000_000 / period_ps.max(1))
    }

    pub fn mhz(&self) -> u64 {
        self.mhz
    }

    /// Global time of the start of `cycle`, rounded up to a whole ps so
    /// that [`Clock::cycle_at`] maps it back to the same cycle.
    #[inline]
    pub fn time_of(&self, cycle: u64) -> Ps {
        // The product fits 64 bits for any run shorter than ~200 days of
        // cycles; 128-bit division is several times slower.
        match cycle.checked_mul(1_000_000) {
            Some(x) => x.div_ceil(self.mhz),
            None => ((cycle as u128 * 1_000_000).div_ceil(self.mhz as u128)) as Ps,
        }
    }

    /// The first cycle whose start is at or after `t`.
    pub fn cycle_at_or_after(&self, t: Ps) -> u64 {
        if t == 0 {
            return 0;
        }
        match (t - 1).checked_mul(self.mhz) {
            Some(x) => x / 1_000_000 + 1,
            None => (((t - 1) as u128 * self.mhz as u128) / 1_000_000) as u64 + 1,
        }
    }

    /// The cycle in progress at `t`.
    #[inline]
    pub fn cycle_at(&self, t: Ps) -> u64 {
        match t.checked_mul(self.mhz) {
            Some(x) => x / 1_000_000,
            None => ((t as u128 * self.mhz as u128) / 1_000_000) as u64,
        }
    }

    /// Length of `cycles` cycles in ns (for reports).
    pub fn ns(&self, cycles: u64) -> f64 {
        cycles as f64 * 1000.0 / self.mhz as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_integer_period_does_not_drift() {
        let c = Clock::from_mhz(1400);
        // 1.4 GHz: 1400 cycles are exactly 1 us.
        assert_eq!(c.time_of(1400), 1_000_000);
        assert_eq!(c.time_of(1_400_000_000), 1_000_000_000_000);
        for cyc in [0u64, 1, 7, 999, 123_456_789] {
            let t = c.time_of(cyc);
            assert_eq!(c.cycle_at_or_after(t), cyc);
            assert_eq!(c.cycle_at(t), cyc);
        }
    }

    #[test]
    fn the_64_bit_paths_agree_with_128_bit_arithmetic() {
        for mhz in [1, 7, 1000, 1400, 2133, 1 << 20] {
            let c = Clock::from_mhz(mhz);
            for x in [
                0u64,
                1,
                2,
                999,
                1_000_001,
                1 << 40,
                u64::MAX / mhz,
                u64::MAX / 1_000_000 + 1,
                u64::MAX,
            ] {
                let time = (x as u128 * 1_000_000).div_ceil(mhz as u128) as u64;
                assert_eq!(c.time_of(x), time);
                assert_eq!(
                    c.cycle_at(x),
                    ((x as u128 * mhz as u128) / 1_000_000) as u64
                );
                if x > 0 {
                    let at = (((x - 1) as u128 * mhz as u128) / 1_000_000) as u64 + 1;
                    assert_eq!(c.cycle_at_or_after(x), at);
                }
            }
        }
    }

    #[test]
    fn cycle_at_or_after_rounds_up() {
        let c = Clock::from_mhz(1000);
        assert_eq!(c.cycle_at_or_after(1001), 2);
        assert_eq!(c.cycle_at_or_after(1000), 1);
        let g = Clock::from_mhz(1400);
        assert_eq!(g.cycle_at_or_after(715), 1);
        assert_eq!(g.cycle_at_or_after(716), 2);
        assert_eq!(c.cycle_at(1999), 1);
    }
}

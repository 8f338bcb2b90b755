//! Physical address -> (channel, bank group, bank, row, column).

use crate::config::MemConfig;

/// Decoded DRAM coordinates of one burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DramAddr {
    pub channel: u32,
    pub bank_group: u32,
    pub bank: u32,
    pub row: u32,
    pub column: u32,
}

/// What a channel's queue needs of a decoded address: the channel, the
/// bank within it (`bank_group * banks_per_group + bank`), its bank group
/// and the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueAddr {
    pub channel: u32,
    pub bank: u32,
    pub bank_group: u32,
    pub row: u32,
}

/// One field's low and high slice as the slice's bits in place in the
/// address and the right shift that moves them to their place in the
/// field (an absent slice has mask 0): extracting it is two masks, two
/// shifts and an or.
#[derive(Debug, Clone, Copy, Default)]
struct FieldSlices {
    mask: [u64; 2],
    shift: [u32; 2],
}

impl FieldSlices {
    /// Adds, as slice `*n`, the slice of `mask` bits at `shift` in the
    /// address that goes to bit `at` of the field; false when the field
    /// has two already, or the slice would move left (not a right shift).
    /// The count is kept by the caller: a third word here made the
    /// compiler's vectorised decode of four fields slower.
    fn push(&mut self, n: &mut usize, mask: u64, shift: u32, at: u32) -> bool {
        if *n == 2 || shift < at {
            return false;
        }
        self.mask[*n] = mask << shift;
        self.shift[*n] = shift - at;
        *n += 1;
        true
    }

    #[inline(always)]
    fn extract(&self, addr: u64) -> u32 {
        (((addr & self.mask[0]) >> self.shift[0]) | ((addr & self.mask[1]) >> self.shift[1])) as u32
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Row,
    Bank,
    BankGroup,
    Column,
    Channel,
}

/// A bit-slicing address map, most significant field first, in the
/// notation Ramulator uses (`RoBaBgCoCh`). A field may be split: a token
/// may carry a bit count (`Co2`), and a field may appear more than once if
/// every occurrence but one gives its width (the other takes the rest).
/// `RoBaCoBgChCo2` puts two column bits below the channel bits: 256 B runs
/// per channel, the interleaving GPU memory systems use. The bits below
/// the burst size are the byte offset and ignored. Addresses beyond the
/// capacity are rejected by [`AddressMap::decode`].
#[derive(Debug, Clone)]
pub struct AddressMap {
    /// (field, shift in the address, mask, shift within the field) from the
    /// least significant slice up.
    slices: Vec<(Field, u32, u64, u32)>,
    /// [`QueueAddr`]'s channel, bank, bank group and row as slices, when
    /// none has more than two (a bank is its bank bits below its group's):
    /// a decode of only what a queue needs, its bank without a multiply.
    queue: Option<[FieldSlices; 4]>,
    banks_per_group: u32,
    capacity: u64,
}

impl AddressMap {
    /// Parses a mapping string against an organisation. Each of `Ro`,
    /// `Ba`, `Bg`, `Co`, `Ch` must appear exactly once.
    pub fn parse(spec: &str, m: &MemConfig) -> Result<AddressMap, String> {
        let mut tokens: Vec<(Field, Option<u32>)> = Vec::new();
        let mut rest = spec;
        while !rest.is_empty() {
            let f = match rest.get(..2) {
                Some("Ro") => Field::Row,
                Some("Ba") => Field::Bank,
                Some("Bg") => Field::BankGroup,
                Some("Co") => Field::Column,
                Some("Ch") => Field::Channel,
                _ => {
                    return Err(format!(
                        "cannot read `{rest}` in mapping `{spec}`: expected the fields Ro, Ba, Bg, Co, Ch (each optionally with a bit count, like Co2), most significant first"
                    ));
                }
            };
            rest = &rest[2..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let width = if digits > 0 {
                let w: u32 = rest[..digits]
                    .parse()
                    .map_err(|_| format!("bad bit count in mapping `{spec}`"))?;
                rest = &rest[digits..];
                Some(w)
            } else {
                None
            };
            tokens.push((f, width));
        }
        let bits = |f: Field| -> u32 {
            let n = match f {
                Field::Row => m.rows,
                Field::Bank => m.banks_per_group,
                Field::BankGroup => m.bank_groups,
                Field::Column => m.columns().max(1),
                Field::Channel => m.channels(),
            };
            n.max(1).trailing_zeros()
        };
        let all = [
            Field::Row,
            Field::Bank,
            Field::BankGroup,
            Field::Column,
            Field::Channel,
        ];
        let mut widths: Vec<u32> = vec![0; tokens.len()];
        for f in all {
            let idx: Vec<usize> = (0..tokens.len()).filter(|&i| tokens[i].0 == f).collect();
            if idx.is_empty() {
                return Err(format!(
                    "mapping `{spec}` must name each of Ro, Ba, Bg, Co, Ch"
                ));
            }
            let open: Vec<usize> = idx
                .iter()
                .copied()
                .filter(|&i| tokens[i].1.is_none())
                .collect();
            if open.len() > 1 {
                return Err(format!(
                    "mapping `{spec}` names a field twice without bit counts: give all but one occurrence a width (like Co2)"
                ));
            }
            let given: u32 = idx.iter().filter_map(|&i| tokens[i].1).sum();
            let total = bits(f);
            if given > total || (open.is_empty() && given != total) {
                return Err(format!(
                    "mapping `{spec}`: the widths of a field add up to {given} bits but it has {total}"
                ));
            }
            for &i in &idx {
                widths[i] = tokens[i].1.unwrap_or(total - given);
            }
        }
        let mut shift = m.access_bytes().max(1).trailing_zeros();
        let mut field_shift = [0u32; 5];
        let mut slices = Vec::new();
        for (i, &(f, _)) in tokens.iter().enumerate().rev() {
            let b = widths[i];
            let fs = &mut field_shift[f as usize];
            slices.push((f, shift, (1u64 << b) - 1, *fs));
            *fs += b;
            shift += b;
        }
        let bank_bits = bits(Field::Bank);
        let mut queue = [FieldSlices::default(); 4];
        let mut used = [0usize; 4];
        let mut queue_fits = m.banks_per_group.is_power_of_two();
        for &(f, shift, mask, at) in &slices {
            let [ch, bank, group, row] = &mut used;
            queue_fits &= match f {
                Field::Channel => queue[0].push(ch, mask, shift, at),
                Field::Bank => queue[1].push(bank, mask, shift, at),
                // A group slice is in the group and, above the bank's own
                // bits, in the bank index.
                Field::BankGroup => {
                    queue[2].push(group, mask, shift, at)
                        && queue[1].push(bank, mask, shift, at + bank_bits)
                }
                Field::Row => queue[3].push(row, mask, shift, at),
                Field::Column => true,
            };
        }
        Ok(AddressMap {
            slices,
            queue: queue_fits.then_some(queue),
            banks_per_group: m.banks_per_group,
            capacity: m.capacity_bytes(),
        })
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity
    }

    /// How many accesses from `addr` on share its channel, bank group,
    /// bank and row at consecutive columns, ignoring the capacity: the
    /// remaining values of the lowest address slice if that slice holds
    /// the column's least significant bits, else 1 (the next access lands
    /// elsewhere).
    #[inline]
    pub fn column_run(&self, addr: u64) -> u64 {
        match self.slices.iter().find(|s| s.2 != 0) {
            Some(&(Field::Column, shift, mask, 0)) => mask + 1 - ((addr >> shift) & mask),
            _ => 1,
        }
    }

    /// Decodes an address; `None` when it lies beyond the capacity.
    pub fn decode(&self, addr: u64) -> Option<DramAddr> {
        (addr < self.capacity).then(|| self.decode_slices(addr))
    }

    /// What a channel's queue needs of an address the caller checked
    /// against the capacity.
    #[inline(always)]
    pub fn decode_queue_in_range(&self, addr: u64) -> QueueAddr {
        if let Some(q) = &self.queue {
            return QueueAddr {
                channel: q[0].extract(addr),
                bank: q[1].extract(addr),
                bank_group: q[2].extract(addr),
                row: q[3].extract(addr),
            };
        }
        self.decode_queue_slices(addr)
    }

    #[cold]
    #[inline(never)]
    fn decode_queue_slices(&self, addr: u64) -> QueueAddr {
        let d = self.decode_slices(addr);
        QueueAddr {
            channel: d.channel,
            bank: d.bank_group * self.banks_per_group + d.bank,
            bank_group: d.bank_group,
            row: d.row,
        }
    }

    /// The general decode, slice by slice.
    fn decode_slices(&self, addr: u64) -> DramAddr {
        // Indexed by `Field as usize`: no branch per slice.
        let mut f = [0u32; 5];
        for &(field, shift, mask, at) in &self.slices {
            f[field as usize] |= (((addr >> shift) & mask) as u32) << at;
        }
        DramAddr {
            row: f[Field::Row as usize],
            bank: f[Field::Bank as usize],
            bank_group: f[Field::BankGroup as usize],
            column: f[Field::Column as usize],
            channel: f[Field::Channel as usize],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HwConfig;

    #[test]
    fn streaming_lines_walk_channels_then_bank_groups_then_columns() {
        let c = HwConfig::preset("hbm2-stack").unwrap();
        let m = AddressMap::parse("RoBaCoBgCh", &c.mem).unwrap();
        let a: Vec<DramAddr> = (0..16).map(|i| m.decode(i * 64).unwrap()).collect();
        assert_eq!(a[0].channel, 0);
        assert_eq!(a[7].channel, 7);
        assert_eq!(a[8].channel, 0);
        assert_eq!((a[8].bank_group, a[8].column), (1, 0));
        let d = m.decode(32 * 64).unwrap();
        assert_eq!((d.channel, d.bank_group, d.column), (0, 0, 1));
        assert!(a.iter().all(|d| d.row == 0 && d.bank == 0));
        assert!(m.decode(c.mem.capacity_bytes()).is_none());
    }

    #[test]
    fn split_column_field_gives_256_byte_runs_per_channel() {
        let c = HwConfig::preset("hbm2-stack").unwrap();
        let m = AddressMap::parse("RoBaCoBgChCo2", &c.mem).unwrap();
        let a: Vec<DramAddr> = (0..8).map(|i| m.decode(i * 64).unwrap()).collect();
        assert_eq!(a[3].channel, 0);
        assert_eq!(a[3].column, 3);
        assert_eq!((a[4].channel, a[4].column), (1, 0));
        // After all channels, the next bank group; column bits above that.
        let d = m.decode(256 * 8).unwrap();
        assert_eq!((d.channel, d.bank_group, d.column), (0, 1, 0));
        let d = m.decode(256 * 8 * 4).unwrap();
        assert_eq!((d.channel, d.bank_group, d.column), (0, 0, 4));
        assert!(AddressMap::parse("RoBaCoBgChCo", &c.mem).is_err());
        assert!(AddressMap::parse("RoBaCo2BgChCo2", &c.mem).is_err());
    }

    /// The run length by decoding each next access, as the definition says.
    fn run_by_decoding(m: &AddressMap, addr: u64, max: u64) -> u64 {
        let d0 = m.decode(addr).unwrap();
        let mut n = 1;
        while n < max {
            match m.decode(addr + n * 64) {
                Some(d)
                    if (d.channel, d.bank_group, d.bank, d.row)
                        == (d0.channel, d0.bank_group, d0.bank, d0.row)
                        && d.column == d0.column + n as u32 => {}
                _ => break,
            }
            n += 1;
        }
        n
    }

    #[test]
    fn run_lengths_match_decoding_each_access() {
        let mut c = HwConfig::preset("hbm2-stack").unwrap();
        let cap = c.mem.capacity_bytes();
        for spec in [
            "RoBaCoBgChCo2",
            "RoBaBgCoCh",
            "ChRoBaBgCo",
            "RoCo3BaBgChCo2",
        ] {
            let m = AddressMap::parse(spec, &c.mem).unwrap();
            c.mem.mapping = spec.into();
            let sys = crate::mem::MemorySystem::new(&c.mem).unwrap();
            let mut x = 12345u64;
            for i in 0..2000u64 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Random lines, and the last lines before the capacity.
                let addr = if i % 10 == 0 {
                    cap - 64 * (i % 70 + 1)
                } else {
                    ((x >> 11) % cap) & !63
                };
                let max = 1 + (x >> 3) % 300;
                assert_eq!(
                    sys.run_len(addr, max),
                    run_by_decoding(&m, addr, max.min(255)),
                    "{spec} {addr:#x} max {max}"
                );
            }
        }
    }

    proptest::proptest! {
        /// The queue decode's slices (the bank's bits below its group's)
        /// give what the full decode gives; maps whose bank needs three
        /// slices take the general path.
        #[test]
        fn queue_decode_equals_the_full_decode(addr in 0u64..(1 << 33), pick in 0usize..7) {
            let c = HwConfig::preset("hbm2-stack").unwrap();
            let spec = [
                "RoBaCoBgChCo2",
                "RoBaBgCoCh",
                "ChRoBaBgCo",
                "RoCo3BaBgChCo2",
                "Ro4BaRoCo1BgCoChCo2",
                "RoBa1CoBgBaChCo2",
                "RoBg1CoBaChBgCo2",
            ][pick];
            let m = AddressMap::parse(spec, &c.mem).unwrap();
            let d = m.decode_slices(addr);
            proptest::prop_assert_eq!(
                m.decode_queue_in_range(addr),
                QueueAddr {
                    channel: d.channel,
                    bank: d.bank_group * c.mem.banks_per_group + d.bank,
                    bank_group: d.bank_group,
                    row: d.row,
                },
                "{}",
                spec
            );
        }
    }

    #[test]
    fn queue_decode_falls_back_when_the_bank_needs_three_slices() {
        let c = HwConfig::preset("hbm2-stack").unwrap();
        let fits = |spec: &str| AddressMap::parse(spec, &c.mem).unwrap().queue.is_some();
        assert!(fits("RoBaCoBgChCo2"));
        assert!(fits("Ro4BaRoCo1BgCoChCo2"));
        assert!(!fits("RoBa1CoBgBaChCo2"));
    }

    #[test]
    fn a_group_slice_below_its_place_in_the_bank_index_takes_the_general_decode() {
        // 32 banks per group and 16-B accesses: the group's bit sits at
        // address bit 4 but is bit 5 of the bank index, a left move that no
        // right shift makes.
        let mut c = HwConfig::preset("hbm2-stack").unwrap();
        c.mem.bank_groups = 2;
        c.mem.banks_per_group = 32;
        c.mem.bus_bits = 32;
        assert_eq!(c.mem.access_bytes(), 16);
        let m = AddressMap::parse("RoBaCoChBg", &c.mem).unwrap();
        assert!(m.queue.is_none());
        for addr in (0..4096).map(|i| i * 16) {
            let d = m.decode_slices(addr);
            assert_eq!(
                m.decode_queue_in_range(addr).bank,
                d.bank_group * 32 + d.bank,
                "{addr:#x}"
            );
        }
    }

    #[test]
    fn bad_mapping_is_rejected() {
        let c = HwConfig::preset("hbm2-stack").unwrap();
        assert!(AddressMap::parse("RoBaCoCh", &c.mem).is_err());
        assert!(AddressMap::parse("RoBaBgCoChCh", &c.mem).is_err());
        assert!(AddressMap::parse("RoXxBgCoCh", &c.mem).is_err());
    }
}

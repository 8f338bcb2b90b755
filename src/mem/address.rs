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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Row,
    Bank,
    BankGroup,
    Column,
    Channel,
}

/// A bit-slicing address map, most significant field first, in the
/// notation Ramulator uses (`RoBaBgCoCh`). The bits below the burst size
/// are the byte offset and ignored. Addresses beyond the capacity are
/// rejected by [`AddressMap::decode`].
#[derive(Debug, Clone)]
pub struct AddressMap {
    /// (field, shift, mask) from the least significant field up.
    slices: Vec<(Field, u32, u64)>,
    capacity: u64,
}

impl AddressMap {
    /// Parses a mapping string against an organisation. Each of `Ro`,
    /// `Ba`, `Bg`, `Co`, `Ch` must appear exactly once.
    pub fn parse(spec: &str, m: &MemConfig) -> Result<AddressMap, String> {
        let mut fields = Vec::new();
        let mut rest = spec;
        while !rest.is_empty() {
            let (f, n) = match rest.get(..2) {
                Some("Ro") => (Field::Row, 2),
                Some("Ba") => (Field::Bank, 2),
                Some("Bg") => (Field::BankGroup, 2),
                Some("Co") => (Field::Column, 2),
                Some("Ch") => (Field::Channel, 2),
                _ => {
                    return Err(format!(
                        "cannot read `{rest}` in mapping `{spec}`: expected the fields Ro, Ba, Bg, Co, Ch, most significant first"
                    ));
                }
            };
            if fields.contains(&f) {
                return Err(format!("mapping `{spec}` names a field twice"));
            }
            fields.push(f);
            rest = &rest[n..];
        }
        if fields.len() != 5 {
            return Err(format!(
                "mapping `{spec}` must name each of Ro, Ba, Bg, Co, Ch once"
            ));
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
        let mut shift = m.access_bytes().max(1).trailing_zeros();
        let mut slices = Vec::new();
        for &f in fields.iter().rev() {
            let b = bits(f);
            slices.push((f, shift, (1u64 << b) - 1));
            shift += b;
        }
        Ok(AddressMap {
            slices,
            capacity: m.capacity_bytes(),
        })
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity
    }

    /// Decodes an address; `None` when it lies beyond the capacity.
    #[inline]
    pub fn decode(&self, addr: u64) -> Option<DramAddr> {
        if addr >= self.capacity {
            return None;
        }
        let mut d = DramAddr {
            channel: 0,
            bank_group: 0,
            bank: 0,
            row: 0,
            column: 0,
        };
        for &(f, shift, mask) in &self.slices {
            let v = ((addr >> shift) & mask) as u32;
            match f {
                Field::Row => d.row = v,
                Field::Bank => d.bank = v,
                Field::BankGroup => d.bank_group = v,
                Field::Column => d.column = v,
                Field::Channel => d.channel = v,
            }
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HwConfig;

    #[test]
    fn streaming_lines_walk_channels_then_columns() {
        let c = HwConfig::preset("hbm2-stack").unwrap();
        let m = AddressMap::parse(&c.mem.mapping, &c.mem).unwrap();
        let a: Vec<DramAddr> = (0..16).map(|i| m.decode(i * 64).unwrap()).collect();
        assert_eq!(a[0].channel, 0);
        assert_eq!(a[7].channel, 7);
        assert_eq!(a[8].channel, 0);
        assert_eq!(a[8].column, 1);
        assert!(a.iter().all(|d| d.row == 0 && d.bank == 0));
        assert!(m.decode(c.mem.capacity_bytes()).is_none());
    }

    #[test]
    fn bad_mapping_is_rejected() {
        let c = HwConfig::preset("hbm2-stack").unwrap();
        assert!(AddressMap::parse("RoBaCoCh", &c.mem).is_err());
        assert!(AddressMap::parse("RoBaBgCoChCh", &c.mem).is_err());
        assert!(AddressMap::parse("RoXxBgCoCh", &c.mem).is_err());
    }
}

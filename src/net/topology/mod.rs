//! Topologies: which devices a device's ports lead to, and the index of
//! every link, so that a `Vec<Link>` indexed by [`Topology::link`] holds a
//! whole system. A topology is chosen by name (`link.topology`); a new one
//! is one new file here and one line in [`build`].

mod ring;

pub use ring::{Dir, Ring, ring_reduce_scatter_ps};

use super::link::Link;
use crate::config::LinkConfig;
use crate::error::{InputError, Location, Result};

/// Devices, ports and links.
pub trait Topology: std::fmt::Debug + Send + Sync {
    /// The name `link.topology` selects it by.
    fn name(&self) -> &'static str;
    /// Number of devices.
    fn devices(&self) -> u32;
    /// Output ports of device `dev` (each drives one link).
    fn ports(&self, dev: u32) -> u32;
    /// Index of the link port `port` of `dev` drives.
    fn link(&self, dev: u32, port: u32) -> usize;
    /// Number of links (all devices' ports).
    fn link_count(&self) -> usize;
    /// `(source, destination)` devices of a link.
    fn endpoints(&self, link: usize) -> (u32, u32);
    /// The port of `src` whose link reaches `dst`, when they are
    /// neighbours.
    fn port_to(&self, src: u32, dst: u32) -> Option<u32>;
    /// Bandwidth scale of a link (per-device skew).
    fn link_bw_scale(&self, link: usize) -> f64;

    /// Every link from one config, indexed as [`Self::link`].
    fn build_links(&self, cfg: &LinkConfig) -> Result<Vec<Link>> {
        (0..self.link_count())
            .map(|l| Link::new(cfg, self.link_bw_scale(l)))
            .collect()
    }
}

/// Topology names `link.topology` accepts.
pub const NAMES: &[&str] = &["ring"];

/// The topology `name` over devices with one link bandwidth scale each.
pub fn build(name: &str, device_bw_scales: Vec<f64>) -> Result<Box<dyn Topology>> {
    match name {
        "ring" => Ok(Box::new(Ring::with_device_bw_scales(device_bw_scales)?)),
        other => Err(InputError::new(
            Location::file("config"),
            "link.topology",
            format!("unknown topology `{other}`; known: {}", NAMES.join(", ")),
        )
        .into()),
    }
}

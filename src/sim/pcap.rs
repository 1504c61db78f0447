//! A pcap writer (classic libpcap format, LINKTYPE_RAW) that wraps each datagram in IPv4 and
//! UDP headers, so Wireshark and tshark can dissect what the emulator carried, with virtual
//! timestamps.

use std::io::{self, Write};

/// LINKTYPE_RAW: packets start with an IPv4 header.
const LINKTYPE_RAW: u32 = 101;

/// An IPv4 endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// Address.
    pub ip: [u8; 4],
    /// UDP port.
    pub port: u16,
}

/// Writes a pcap stream.
pub struct PcapWriter<W: Write> {
    out: W,
    ip_id: u16,
    scratch: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&0xa1b2c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&65535u32.to_le_bytes())?;
        out.write_all(&LINKTYPE_RAW.to_le_bytes())?;
        Ok(PcapWriter { out, ip_id: 0, scratch: Vec::with_capacity(2048) })
    }

    /// Records one UDP datagram sent at `t_us`.
    pub fn write_udp(&mut self, t_us: u64, src: Endpoint, dst: Endpoint, payload: &[u8]) -> io::Result<()> {
        let total = 20 + 8 + payload.len();
        if total > 65535 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "datagram too large for IPv4"));
        }
        let s = &mut self.scratch;
        s.clear();
        s.extend_from_slice(&[0x45, 0]);
        s.extend_from_slice(&(total as u16).to_be_bytes());
        s.extend_from_slice(&self.ip_id.to_be_bytes());
        self.ip_id = self.ip_id.wrapping_add(1);
        s.extend_from_slice(&[0x40, 0, 64, 17, 0, 0]);
        s.extend_from_slice(&src.ip);
        s.extend_from_slice(&dst.ip);
        let mut sum = 0u32;
        for w in s[..20].chunks_exact(2) {
            sum += u16::from_be_bytes([w[0], w[1]]) as u32;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        s[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        s.extend_from_slice(&src.port.to_be_bytes());
        s.extend_from_slice(&dst.port.to_be_bytes());
        s.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        s.extend_from_slice(&[0, 0]); // UDP checksum 0: not computed (allowed over IPv4)
        s.extend_from_slice(payload);
        self.out.write_all(&((t_us / 1_000_000) as u32).to_le_bytes())?;
        self.out.write_all(&((t_us % 1_000_000) as u32).to_le_bytes())?;
        self.out.write_all(&(s.len() as u32).to_le_bytes())?;
        self.out.write_all(&(s.len() as u32).to_le_bytes())?;
        self.out.write_all(s)
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

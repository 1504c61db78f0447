//! Every parser that reads bytes from the network, on arbitrary input: none may panic, and
//! what each accepts must re-encode to the bytes it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealcam::wire::{fec, rtcp, twcc, RtpView};
use sealcam::sframe::{FrameInfo, Header, FRAME_INFO_BYTES, MAX_HEADER_BYTES};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = RtpView::parse(data) {
        // The payload is a slice of the packet, after a header of at least 12 bytes.
        assert!(v.payload.len() + 12 <= data.len());
        assert_eq!(RtpView::peek_ssrc(data), Some(v.ssrc));
    }
    for fb in rtcp::parse(data) {
        match fb {
            Ok(rtcp::Feedback::Nack { items, .. }) => {
                let mut n = 0usize;
                rtcp::nack_seqs(items, |_| n += 1);
                assert!(n <= items.len() / 4 * 17);
            }
            Ok(rtcp::Feedback::TransportCc { fci, .. }) => {
                let mut n = 0usize;
                let _ = twcc::parse_feedback(fci, |_| n += 1);
                // The packet status count is 16 bits.
                assert!(n <= u16::MAX as usize);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = twcc::parse_feedback(data, |_| {});
    // A FEC repair naming stream 0x5ea10000 over arbitrary bytes: whatever it rebuilds is a
    // packet of that stream no longer than the decoder's limit.
    let mut dec = fec::FecDecoder::new(1500);
    let mut check = |p: &[u8]| {
        assert!(p.len() <= 1500 && RtpView::peek_ssrc(p) == Some(0x5ea1_0000));
    };
    if dec.on_repair(data, 0x5ea1_0000, &mut check).is_ok() {
        // Feed the data back as media packets too: rebuilt packets may follow.
        for chunk in data.chunks(97) {
            dec.on_media(chunk);
        }
        dec.retry(0x5ea1_0000, &mut check);
    }
    if let Ok((h, len)) = Header::decode(data) {
        assert!(len <= MAX_HEADER_BYTES && len <= data.len());
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, &data[..len], "an accepted SFrame header re-encodes to its bytes");
    }
    if let Ok((info, rest)) = FrameInfo::decode(data) {
        assert_eq!(rest.len() + FRAME_INFO_BYTES, data.len());
        let mut out = Vec::new();
        info.encode(&mut out);
        assert_eq!(out, &data[..FRAME_INFO_BYTES]);
    }
});

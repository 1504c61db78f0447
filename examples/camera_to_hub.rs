//! The main job: one camera streams through an emulated link to a hub, in virtual time.
//!
//! ```text
//! cargo run --release --example camera_to_hub                 # built-in scene and network
//! cargo run --release --example camera_to_hub -- --input clip.y4m --loss 0.02 --report r.json
//! ```
//! Run with `--help` for every flag.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use sealcam::sim::pcap::{Endpoint, PcapWriter};
use sealcam::sim::scenario::{Report, Scenario, Tap};
use sealcam::sim::{FrameSource, SyntheticScene};
use sealcam::{Codec, I420Buffer};

const HELP: &str = "\
camera_to_hub: stream a camera through an emulated network to a hub (virtual time)

USAGE: camera_to_hub [FLAGS]

  --input FILE.y4m      real footage (8-bit 4:2:0 Y4M; frame rate from the file; loops)
                        default: a built-in synthetic 640x480 30 fps scene
  --codec h264|av1      video codec (default h264; AV1 through rav1e, real-time preset)
  --seconds S           seconds of capture (default 10)
  --seed N              seed of the random processes (default 1)
  --capacity-kbps K     bottleneck capacity (default 2000)
  --delay-ms D          one-way propagation delay (default 50)
  --loss P              random packet loss probability, 0..1 (default 0)
  --queue-ms Q          drop-tail queue limit in ms of capacity (default 300)
  --jitter-ms J         extra random delay 0..J per packet (reorders)
  --reorder P           probability a packet is held back 5-30 ms
  --duplicate P         probability a packet is delivered twice
  --bitrate-kbps B      the camera's fixed target bitrate (default 1200)
  --cameras N           stream N cameras (each on its own link) into one hub (default 1)
  --attack P            an adversary on the path tampers with a fraction P of packets:
                        misroutes, swaps SSRCs, replays, truncates, flips bits, injects
                        frames sealed with another stream's key or metadata
  --out FILE            write the bitstream the hub output for camera 0: Annex B .h264,
                        or an IVF file for AV1
  --pcap FILE.pcap      write every packet both ways as UDP/IPv4 (camera i at 10.0.x.y)
  --report FILE.json    write machine-readable results
  --help                this text
";

struct Args {
    input: Option<PathBuf>,
    codec: Codec,
    seconds: f64,
    seed: u64,
    capacity_kbps: u64,
    delay_ms: u64,
    loss: f64,
    queue_ms: u64,
    bitrate_kbps: u32,
    jitter_ms: u64,
    reorder: f64,
    duplicate: f64,
    cameras: usize,
    attack: f64,
    out: Option<PathBuf>,
    pcap: Option<PathBuf>,
    report: Option<PathBuf>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args {
        input: None,
        codec: Codec::H264,
        seconds: 10.0,
        seed: 1,
        capacity_kbps: 2000,
        delay_ms: 50,
        loss: 0.0,
        queue_ms: 300,
        bitrate_kbps: 1200,
        jitter_ms: 0,
        reorder: 0.0,
        duplicate: 0.0,
        cameras: 1,
        attack: 0.0,
        out: None,
        pcap: None,
        report: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: '{v}' is not a valid number"))
        }
        match flag.as_str() {
            "--input" => a.input = Some(value()?.into()),
            "--codec" => {
                a.codec = match value()?.as_str() {
                    "h264" => Codec::H264,
                    "av1" => Codec::Av1,
                    other => return Err(format!("--codec: unknown codec '{other}' (h264 or av1)")),
                }
            }
            "--seconds" => a.seconds = num(&flag, value()?)?,
            "--seed" => a.seed = num(&flag, value()?)?,
            "--capacity-kbps" => a.capacity_kbps = num(&flag, value()?)?,
            "--delay-ms" => a.delay_ms = num(&flag, value()?)?,
            "--loss" => a.loss = num(&flag, value()?)?,
            "--queue-ms" => a.queue_ms = num(&flag, value()?)?,
            "--bitrate-kbps" => a.bitrate_kbps = num(&flag, value()?)?,
            "--jitter-ms" => a.jitter_ms = num(&flag, value()?)?,
            "--reorder" => a.reorder = num(&flag, value()?)?,
            "--duplicate" => a.duplicate = num(&flag, value()?)?,
            "--cameras" => a.cameras = num(&flag, value()?)?,
            "--attack" => a.attack = num(&flag, value()?)?,
            "--out" => a.out = Some(value()?.into()),
            "--pcap" => a.pcap = Some(value()?.into()),
            "--report" => a.report = Some(value()?.into()),
            other => return Err(format!("unknown flag '{other}' (see --help)")),
        }
    }
    if !(a.seconds > 0.0 && a.seconds <= 86_400.0) {
        return Err(format!("--seconds must be in (0, 86400], got {}", a.seconds));
    }
    for (flag, p) in
        [("--loss", a.loss), ("--reorder", a.reorder), ("--duplicate", a.duplicate), ("--attack", a.attack)]
    {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("{flag} must be between 0 and 1, got {p}"));
        }
    }
    if !(1..=256).contains(&a.cameras) {
        return Err(format!("--cameras must be between 1 and 256, got {}", a.cameras));
    }
    if a.jitter_ms > 10_000 {
        return Err(format!("--jitter-ms must be at most 10000, got {}", a.jitter_ms));
    }
    if !(16..=10_000_000).contains(&a.capacity_kbps) {
        return Err(format!("--capacity-kbps must be between 16 and 10000000, got {}", a.capacity_kbps));
    }
    if a.delay_ms > 10_000 || a.queue_ms > 60_000 {
        return Err("--delay-ms must be at most 10000 and --queue-ms at most 60000".into());
    }
    if !(10..=100_000).contains(&a.bitrate_kbps) {
        return Err(format!("--bitrate-kbps must be between 10 and 100000, got {}", a.bitrate_kbps));
    }
    Ok(Some(a))
}

/// Frames from a Y4M file, looping at its end.
struct Y4mSource {
    path: PathBuf,
    dec: y4m::Decoder<BufReader<File>>,
    fps: f64,
    size: (u32, u32),
}

impl Y4mSource {
    fn open(path: PathBuf, skip: usize) -> Result<Self, String> {
        let dec = Self::decoder(&path)?;
        let r = dec.get_framerate();
        if r.num == 0 || r.den == 0 {
            return Err(format!("{}: frame rate {}:{} is not usable", path.display(), r.num, r.den));
        }
        if !matches!(
            dec.get_colorspace(),
            y4m::Colorspace::C420 | y4m::Colorspace::C420jpeg | y4m::Colorspace::C420paldv | y4m::Colorspace::C420mpeg2
        ) {
            return Err(format!("{}: only 8-bit 4:2:0 Y4M is supported", path.display()));
        }
        let size = (dec.get_width() as u32, dec.get_height() as u32);
        let mut s = Y4mSource { fps: r.num as f64 / r.den as f64, size, dec, path };
        let mut scratch = I420Buffer::default();
        for _ in 0..skip {
            s.next_frame(&mut scratch).map_err(|e| e.to_string())?;
        }
        Ok(s)
    }

    fn decoder(path: &PathBuf) -> Result<y4m::Decoder<BufReader<File>>, String> {
        let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        y4m::decode(BufReader::new(f)).map_err(|e| format!("{}: not a Y4M file ({e:?})", path.display()))
    }
}

impl FrameSource for Y4mSource {
    fn fps(&self) -> f64 {
        self.fps
    }
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn next_frame(&mut self, out: &mut I420Buffer) -> sealcam::Result<bool> {
        let frame = match self.dec.read_frame() {
            Ok(f) => f,
            Err(y4m::Error::EOF) => {
                self.dec = Self::decoder(&self.path).map_err(sealcam::Error::InvalidInput)?;
                self.dec.read_frame().map_err(|e| sealcam::Error::InvalidInput(format!("Y4M: {e:?}")))?
            }
            Err(e) => return Err(sealcam::Error::InvalidInput(format!("Y4M: {e:?}"))),
        };
        let (w, h) = self.size;
        let cw = (w as usize).div_ceil(2);
        let f = sealcam::CaptureFrame::i420(
            w,
            h,
            frame.get_y_plane(),
            w as usize,
            frame.get_u_plane(),
            cw,
            frame.get_v_plane(),
            cw,
            0,
        );
        sealcam::kernels::to_i420(&f, out)?;
        Ok(true)
    }
}

/// Writes the pcap and the output bitstream as the run goes.
struct Files {
    pcap: Option<PcapWriter<BufWriter<File>>>,
    out: Option<BufWriter<File>>,
    /// AV1 goes into an IVF container (frames counted for its header).
    ivf: Option<IvfState>,
    error: Option<String>,
}

/// What an IVF file needs besides the frames: its header is written first and its frame
/// count patched at the end.
struct IvfState {
    frames: u32,
}

/// The 32-byte IVF file header for AV1.
fn ivf_header(w: u32, h: u32, fps: f64, frames: u32) -> [u8; 32] {
    let mut hd = [0u8; 32];
    hd[0..4].copy_from_slice(b"DKIF");
    hd[6..8].copy_from_slice(&32u16.to_le_bytes());
    hd[8..12].copy_from_slice(b"AV01");
    hd[12..14].copy_from_slice(&(w as u16).to_le_bytes());
    hd[14..16].copy_from_slice(&(h as u16).to_le_bytes());
    hd[16..20].copy_from_slice(&((fps * 1000.0).round() as u32).to_le_bytes());
    hd[20..24].copy_from_slice(&1000u32.to_le_bytes());
    hd[24..28].copy_from_slice(&frames.to_le_bytes());
    hd
}

const HUB: Endpoint = Endpoint { ip: [10, 0, 0, 1], port: 5004 };
const HUB_RTCP: Endpoint = Endpoint { ip: [10, 0, 0, 1], port: 5005 };

/// Camera `i`'s address: 10.0.0.2, 10.0.0.3, ...
fn camera(i: usize, port: u16) -> Endpoint {
    let n = i + 2;
    Endpoint { ip: [10, 0, (n / 250) as u8, (n % 250) as u8], port }
}

impl Files {
    fn note(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            self.error.get_or_insert(e.to_string());
        }
    }
}

impl Tap for Files {
    fn media_sent(&mut self, cam: usize, t_us: u64, packet: &[u8]) {
        if let Some(p) = self.pcap.as_mut() {
            let r = p.write_udp(t_us, camera(cam, 5004), HUB, packet);
            self.note(r);
        }
    }
    fn feedback_sent(&mut self, cam: usize, t_us: u64, packet: &[u8]) {
        if let Some(p) = self.pcap.as_mut() {
            let r = p.write_udp(t_us, HUB_RTCP, camera(cam, 5005), packet);
            self.note(r);
        }
    }
    fn frame_output(&mut self, cam: usize, _t_us: u64, frame: &sealcam::ReceivedFrame<'_>) {
        if let (0, Some(o)) = (cam, self.out.as_mut()) {
            let r = match self.ivf.as_mut() {
                Some(ivf) => {
                    ivf.frames += 1;
                    let mut fh = [0u8; 12];
                    fh[0..4].copy_from_slice(&(frame.data.len() as u32).to_le_bytes());
                    fh[4..12].copy_from_slice(&frame.info.frame_id.to_le_bytes());
                    o.write_all(&fh).and_then(|()| o.write_all(frame.data))
                }
                None => o.write_all(frame.data),
            };
            self.note(r);
        }
    }
}

fn report_json(r: &Report) -> serde_json::Value {
    let series: Vec<_> = r
        .series
        .iter()
        .map(|p| {
            serde_json::json!({
                "t_ms": p.t_ms, "capacity_bps": p.capacity_bps, "target_bps": p.target_bps,
                "sent_bps": p.sent_bps, "delay_ms": p.delay_ms,
            })
        })
        .collect();
    serde_json::json!({
        "codec": r.codec,
        "seconds": r.seconds,
        "frames_captured": r.frames_captured,
        "frames_sent": r.frames_sent,
        "frames_displayed": r.frames_displayed,
        "frames_dropped_sender": r.frames_dropped_sender,
        "frames_dropped_receiver": r.frames_dropped_receiver,
        "keyframes_sent": r.keyframes_sent,
        "bytes_sent": r.bytes_sent,
        "auth_failures": r.auth_failures,
        "replays_rejected": r.replays_rejected,
        "rejected": r.rejected,
        "wrong_stream_frames": r.wrong_stream_frames,
        "corrupt_frames_displayed": r.corrupt_frames_displayed,
        "freezes": r.freezes,
        "delay_ms_p50": r.delay_ms_p50,
        "delay_ms_p95": r.delay_ms_p95,
        "loss_rate": r.loss_rate,
        "utilization": r.utilization,
        "psnr_db_mean": r.psnr_db_mean,
        "cameras": r.cameras,
        "packets_at_hub": r.packets_at_hub,
        "uncounted_packets": r.uncounted_packets,
        "max_stream_memory_bytes": r.max_stream_memory_bytes,
        "stream_memory_bound_bytes": r.stream_memory_bound_bytes,
        "attacks": {
            "misrouted": r.attacks.misrouted, "swapped": r.attacks.swapped,
            "replayed": r.attacks.replayed, "replayed_resequenced": r.attacks.replayed_resequenced,
            "truncated": r.attacks.truncated, "bit_flipped": r.attacks.bit_flipped,
            "injected_foreign_key": r.attacks.injected_foreign_key,
            "injected_foreign_metadata": r.attacks.injected_foreign_metadata,
        },
        "retransmissions": r.retransmissions,
        "plis_sent": r.plis_sent,
        "series": series,
    })
}

fn run(a: Args) -> Result<(), String> {
    let mut sources: Vec<Box<dyn FrameSource>> = Vec::new();
    for i in 0..a.cameras {
        sources.push(match &a.input {
            Some(p) => Box::new(Y4mSource::open(p.clone(), i * 13)?),
            None => {
                Box::new(SyntheticScene::new(640, 480, 30.0).map_err(|e| e.to_string())?.starting_at(i as u64 * 1000))
            }
        });
    }
    let (fps, (w, h)) = (sources[0].fps(), sources[0].size());
    let create = |p: &PathBuf| File::create(p).map(BufWriter::new).map_err(|e| format!("{}: {e}", p.display()));
    let mut files = Files {
        pcap: match &a.pcap {
            Some(p) => Some(PcapWriter::new(create(p)?).map_err(|e| format!("{}: {e}", p.display()))?),
            None => None,
        },
        out: a.out.as_ref().map(create).transpose()?,
        ivf: (a.codec == Codec::Av1).then_some(IvfState { frames: 0 }),
        error: None,
    };
    if let (Some(o), true) = (files.out.as_mut(), files.ivf.is_some()) {
        o.write_all(&ivf_header(w, h, fps, 0)).map_err(|e| format!("writing output: {e}"))?;
    }
    let mut sc = Scenario::simple(a.seconds, a.capacity_kbps * 1000, a.delay_ms, a.queue_ms, a.loss, a.seed);
    sc.codec = a.codec;
    if a.codec == Codec::Av1 && (w % 2 != 0 || h % 2 != 0) {
        return Err(format!("AV1 needs even frame sizes; the input is {w}x{h}"));
    }
    sc.bitrate_bps = a.bitrate_kbps * 1000;
    sc.attack = a.attack;
    sc.forward.jitter_us = a.jitter_ms * 1000;
    sc.forward.reorder = a.reorder;
    sc.forward.duplicate = a.duplicate;
    let r = sc.run(sources, &mut files).map_err(|e| e.to_string())?;
    if let Some(e) = files.error.take() {
        return Err(format!("writing output: {e}"));
    }
    if let Some(p) = files.pcap.take() {
        p.finish().map_err(|e| e.to_string())?;
    }
    if let Some(o) = files.out.take() {
        let mut f = o.into_inner().map_err(|e| e.to_string())?;
        if let Some(ivf) = &files.ivf {
            use std::io::{Seek, SeekFrom};
            f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
            f.write_all(&ivf_header(w, h, fps, ivf.frames)).map_err(|e| e.to_string())?;
        }
        f.flush().map_err(|e| e.to_string())?;
    }
    if let Some(p) = &a.report {
        let text = serde_json::to_string_pretty(&report_json(&r)).map_err(|e| e.to_string())?;
        std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let src = a.input.as_ref().map_or("built-in scene".to_string(), |p| p.display().to_string());
    println!("sealcam {} camera(s) -> hub, {} s of {src} ({w}x{h} @ {fps:.2} fps), {}", a.cameras, a.seconds, r.codec);
    println!(
        "link: {} kbit/s, {} ms one way, {} ms queue, {:.1}% random loss; camera target {} kbit/s",
        a.capacity_kbps,
        a.delay_ms,
        a.queue_ms,
        a.loss * 100.0,
        a.bitrate_kbps
    );
    println!(
        "frames: {} captured, {} sent, {} displayed ({} dropped at camera, {} never shown), {} keyframes",
        r.frames_captured,
        r.frames_sent,
        r.frames_displayed,
        r.frames_dropped_sender,
        r.frames_dropped_receiver,
        r.keyframes_sent
    );
    println!(
        "delay: p50 {:.0} ms, p95 {:.0} ms; freezes: {}; PSNR {:.2} dB; utilization {:.0}%; link loss {:.2}%",
        r.delay_ms_p50,
        r.delay_ms_p95,
        r.freezes,
        r.psnr_db_mean,
        r.utilization * 100.0,
        r.loss_rate * 100.0
    );
    println!(
        "repair: {} retransmissions, {} PLIs; hub rejected {} packets; wrong-stream frames {}, corrupt frames shown {}",
        r.retransmissions,
        r.plis_sent,
        r.rejected.values().sum::<u64>(),
        r.wrong_stream_frames,
        r.corrupt_frames_displayed
    );
    if a.attack > 0.0 {
        let t = r.attacks;
        println!(
            "adversary: {} actions ({} misrouted, {} swapped, {} replayed, {} replayed with new seq, {} truncated, \
             {} bit-flipped, {} injected under a foreign key, {} under foreign metadata)",
            t.total(),
            t.misrouted,
            t.swapped,
            t.replayed,
            t.replayed_resequenced,
            t.truncated,
            t.bit_flipped,
            t.injected_foreign_key,
            t.injected_foreign_metadata
        );
    }
    let reasons: Vec<String> = r.rejected.iter().filter(|(_, &n)| n > 0).map(|(k, n)| format!("{k} {n}")).collect();
    if !reasons.is_empty() {
        println!("hub drops by reason: {}", reasons.join(", "));
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args() {
        Ok(None) => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Ok(Some(a)) => match run(a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("camera_to_hub: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("camera_to_hub: {e}\n(see --help)");
            ExitCode::from(2)
        }
    }
}

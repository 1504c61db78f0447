//! The main job: one camera streams through an emulated link to a hub, in virtual time.
//!
//! ```text
//! cargo run --release --example camera_to_hub                 # built-in scene and network
//! cargo run --release --example camera_to_hub -- --input clip.y4m --loss 0.02 --report r.json
//! ```
//! Run with `--help` for every flag.

// The report's `json!` literal has more fields than serde_json's default macro depth.
#![recursion_limit = "256"]

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use sealcam::sim::pcap::{Endpoint, PcapWriter};
use sealcam::sim::scenario::{ReplaySession, Report, Scenario, Tap};
use sealcam::sim::{Capacity, DeliveryTrace, FrameSource, SyntheticScene};
use sealcam::{Codec, I420Buffer};

const HELP: &str = "\
camera_to_hub: stream a camera through an emulated network to a hub (virtual time)

USAGE: camera_to_hub [FLAGS]

  --input FILE.y4m      real footage (8-bit 4:2:0 Y4M; frame rate from the file; loops)
                        default: a built-in synthetic 640x480 30 fps scene
  --codec h264|av1      video codec (default h264; AV1 through rav1e, real-time preset)
  --network NAME        built-in network (default clean):
                          clean        2 Mbit/s, 50 ms one way, 300 ms queue, 10 s
                          poor         3G-like: 0.25-1.5 Mbit/s random walk, two 1.5 s
                                       outages a minute, 80 ms, burst + random loss,
                                       10 ms jitter, lossy feedback path, 120 s
                          rfc8867-5.1  1 -> 2.5 -> 0.6 -> 1 Mbit/s at 0/40/60/80 s, 100 s
                          rfc8867-5.2  two flows, 4/2/3.5/1/2 Mbit/s at 0/25/50/75/100 s
                          rfc8867-5.4  three flows joining at 0/20/40 s on 3.5 Mbit/s
                          lossy-2m     2 Mbit/s with 5% random loss, 60 s
  --trace FILE          mahimahi uplink trace (one 1500-byte delivery opportunity per
                        line, ms timestamps, repeats) as the bottleneck capacity
  --trace-from S        start S seconds into the trace, to the ms (default 0; what came before
                        follows its end), to replay other windows of a long trace
  --abr on|off          adaptive bitrate (default on); off = fixed --bitrate-kbps
  --fec on|off          FlexFEC repair packets where the path needs them (default on: a
                        round trip of 150 ms or more with 0.5% loss or more; needs --abr on)
  --max-kbps K          the camera's ceiling with --abr on (default 2500)
  --start-kbps K        the rate the camera starts at with --abr on (default 500)
  --plot FILE.svg       draw capacity, target, sent rate and frame delay over time
  --seconds S           seconds of capture (default: the network's)
  --seed N              seed of the random processes (default 1)
  --capacity-kbps K     fixed bottleneck capacity (overrides the network's)
  --delay-ms D          one-way propagation delay (overrides the network's)
  --loss P              random packet loss probability, 0..1 (overrides)
  --queue-ms Q          drop-tail queue limit in ms (overrides; default 300)
  --queue-bytes B       drop-tail queue limit in bytes (in addition)
  --jitter-ms J         extra random delay 0..J per packet (reorders)
  --reorder P           probability a packet is held back 5-30 ms
  --duplicate P         probability a packet is delivered twice
  --feedback-loss P     random loss of the hub's feedback (RTCP), 0..1; the media path keeps
                        its own
  --feedback-outage A-B every feedback datagram sent from A to B seconds in is lost
  --bitrate-kbps B      the camera's fixed target bitrate with --abr off (default 1200)
  --cameras N           stream N cameras (each on its own link) into one hub (default:
                        the network's)
  --attack P            an adversary on the path tampers with a fraction P of packets:
                        misroutes, swaps SSRCs, replays, truncates, flips bits, injects
                        frames sealed with another stream's key or metadata
  --restart-camera-at S every camera restarts S seconds in (a new sender, same config)
  --restart-hub-at S    the hub restarts S seconds in (a new hub, same streams)
  --attack-replay-session
                        an adversary records the first 5 s that reach the hub and plays
                        them to it again from halfway through the run (at least 10 s in)
  --out FILE            write the bitstream the hub output for camera 0: Annex B .h264,
                        or an IVF file for AV1
  --pcap FILE.pcap      write every packet both ways as UDP/IPv4 (camera i at 10.0.x.y)
  --report FILE.json    write machine-readable results
  --help                this text
";

struct Args {
    input: Option<PathBuf>,
    codec: Codec,
    network: String,
    trace: Option<PathBuf>,
    trace_from_s: f64,
    abr: bool,
    fec: bool,
    max_kbps: u32,
    start_kbps: u32,
    plot: Option<PathBuf>,
    queue_bytes: Option<u64>,
    seconds: Option<f64>,
    seed: u64,
    capacity_kbps: Option<u64>,
    delay_ms: Option<u64>,
    loss: Option<f64>,
    queue_ms: Option<u64>,
    bitrate_kbps: u32,
    jitter_ms: u64,
    reorder: f64,
    duplicate: f64,
    feedback_loss: f64,
    feedback_outage: Option<(f64, f64)>,
    cameras: Option<usize>,
    attack: f64,
    restart_camera_at_s: Option<f64>,
    restart_hub_at_s: Option<f64>,
    replay_session: bool,
    out: Option<PathBuf>,
    pcap: Option<PathBuf>,
    report: Option<PathBuf>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args {
        input: None,
        codec: Codec::H264,
        network: "clean".into(),
        trace: None,
        trace_from_s: 0.0,
        abr: true,
        fec: true,
        max_kbps: 2500,
        start_kbps: 500,
        plot: None,
        queue_bytes: None,
        seconds: None,
        seed: 1,
        capacity_kbps: None,
        delay_ms: None,
        loss: None,
        queue_ms: None,
        bitrate_kbps: 1200,
        jitter_ms: 0,
        reorder: 0.0,
        duplicate: 0.0,
        feedback_loss: 0.0,
        feedback_outage: None,
        cameras: None,
        attack: 0.0,
        restart_camera_at_s: None,
        restart_hub_at_s: None,
        replay_session: false,
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
            "--network" => a.network = value()?,
            "--trace" => a.trace = Some(value()?.into()),
            "--trace-from" => a.trace_from_s = num(&flag, value()?)?,
            "--abr" => {
                a.abr = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--abr: '{other}' is neither on nor off")),
                }
            }
            "--fec" => {
                a.fec = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--fec: '{other}' is neither on nor off")),
                }
            }
            "--max-kbps" => a.max_kbps = num(&flag, value()?)?,
            "--start-kbps" => a.start_kbps = num(&flag, value()?)?,
            "--plot" => a.plot = Some(value()?.into()),
            "--queue-bytes" => a.queue_bytes = Some(num(&flag, value()?)?),
            "--seconds" => a.seconds = Some(num(&flag, value()?)?),
            "--seed" => a.seed = num(&flag, value()?)?,
            "--capacity-kbps" => a.capacity_kbps = Some(num(&flag, value()?)?),
            "--delay-ms" => a.delay_ms = Some(num(&flag, value()?)?),
            "--loss" => a.loss = Some(num(&flag, value()?)?),
            "--queue-ms" => a.queue_ms = Some(num(&flag, value()?)?),
            "--bitrate-kbps" => a.bitrate_kbps = num(&flag, value()?)?,
            "--jitter-ms" => a.jitter_ms = num(&flag, value()?)?,
            "--reorder" => a.reorder = num(&flag, value()?)?,
            "--duplicate" => a.duplicate = num(&flag, value()?)?,
            "--feedback-loss" => a.feedback_loss = num(&flag, value()?)?,
            "--feedback-outage" => {
                let v = value()?;
                let (from, to) = v.split_once('-').ok_or_else(|| format!("--feedback-outage: '{v}' is not FROM-TO"))?;
                let (from, to): (f64, f64) = (num(&flag, from.to_string())?, num(&flag, to.to_string())?);
                if !((0.0..=86_400.0).contains(&from) && from < to && to <= 86_400.0) {
                    return Err(format!("--feedback-outage: '{v}' is not a span of seconds FROM < TO"));
                }
                a.feedback_outage = Some((from, to));
            }
            "--cameras" => a.cameras = Some(num(&flag, value()?)?),
            "--attack" => a.attack = num(&flag, value()?)?,
            "--restart-camera-at" => a.restart_camera_at_s = Some(num(&flag, value()?)?),
            "--restart-hub-at" => a.restart_hub_at_s = Some(num(&flag, value()?)?),
            "--attack-replay-session" => a.replay_session = true,
            "--out" => a.out = Some(value()?.into()),
            "--pcap" => a.pcap = Some(value()?.into()),
            "--report" => a.report = Some(value()?.into()),
            other => return Err(format!("unknown flag '{other}' (see --help)")),
        }
    }
    if a.trace_from_s != 0.0 && a.trace.is_none() {
        return Err("--trace-from needs --trace".into());
    }
    if !(0.0..=86_400.0 * 365.0).contains(&a.trace_from_s) {
        return Err(format!("--trace-from must be between 0 and a year of seconds, got {}", a.trace_from_s));
    }
    if let Some(s) = a.seconds {
        if !(s > 0.0 && s <= 86_400.0) {
            return Err(format!("--seconds must be in (0, 86400], got {s}"));
        }
    }
    for (flag, t) in [("--restart-camera-at", a.restart_camera_at_s), ("--restart-hub-at", a.restart_hub_at_s)] {
        if t.is_some_and(|t| !(t > 0.0 && t <= 86_400.0)) {
            return Err(format!("{flag} must be in (0, 86400] seconds, got {}", t.unwrap_or(0.0)));
        }
    }
    for (flag, p) in [
        ("--loss", a.loss.unwrap_or(0.0)),
        ("--reorder", a.reorder),
        ("--duplicate", a.duplicate),
        ("--feedback-loss", a.feedback_loss),
        ("--attack", a.attack),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("{flag} must be between 0 and 1, got {p}"));
        }
    }
    if let Some(c) = a.cameras {
        if !(1..=256).contains(&c) {
            return Err(format!("--cameras must be between 1 and 256, got {c}"));
        }
    }
    if a.jitter_ms > 10_000 {
        return Err(format!("--jitter-ms must be at most 10000, got {}", a.jitter_ms));
    }
    if let Some(c) = a.capacity_kbps {
        if !(16..=10_000_000).contains(&c) {
            return Err(format!("--capacity-kbps must be between 16 and 10000000, got {c}"));
        }
    }
    if a.delay_ms.unwrap_or(0) > 10_000 || a.queue_ms.unwrap_or(0) > 60_000 {
        return Err("--delay-ms must be at most 10000 and --queue-ms at most 60000".into());
    }
    for (flag, k) in [("--bitrate-kbps", a.bitrate_kbps), ("--max-kbps", a.max_kbps), ("--start-kbps", a.start_kbps)] {
        if !(10..=100_000).contains(&k) {
            return Err(format!("{flag} must be between 10 and 100000, got {k}"));
        }
    }
    if a.queue_bytes.is_some_and(|b| b < 1500) {
        return Err("--queue-bytes must be at least 1500 (one packet)".into());
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
        sealcam::convert::to_i420(&f, out)?;
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
                "sent_bps": p.sent_bps, "delay_ms": p.delay_ms, "delivered_bps": p.delivered_bps,
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
        "freezes_at_output": r.freezes_at_output,
        "link_silences": r.link_silences,
        "collapses": r.collapses,
        "collapses_undone": r.collapses_undone,
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
        "repair_packets_sent": r.repair_packets_sent,
        "packets_recovered": r.packets_recovered,
        "plis_sent": r.plis_sent,
        "post_repair_loss": r.post_repair_loss,
        "flow_kbps": r.flow_kbps,
        "jain_index": r.jain_index,
        "frames_dropped_congestion": r.frames_dropped_congestion,
        "ladder_switches": r.ladder_switches,
        "probe_padding_packets": r.probe_padding_packets,
        "mean_target_kbps": r.mean_target_kbps,
        "frames_awaiting_hub": r.frames_awaiting_hub,
        "first_frame_ms": r.first_frame_ms,
        "stale_frames_displayed": r.stale_frames_displayed,
        "frames_marked_stale": r.frames_marked_stale,
        "replayed_packets": r.replayed_packets,
        "restarts": r.restarts.iter().map(|x| serde_json::json!({
            "side": x.side, "at_s": x.at_us as f64 / 1e6, "first_frame_ms": x.first_frame_ms,
            "frames_captured_later": x.frames_captured_later, "frames_shown_later": x.frames_shown_later,
        })).collect::<Vec<_>>(),
        "freeze_list": r.freeze_list.iter().map(|f| serde_json::json!({"camera": f.0, "at_ms": f.1, "ms": f.2})).collect::<Vec<_>>(),
        "series": series,
    })
}

fn run(a: Args) -> Result<(), String> {
    let profile = sealcam::sim::network(&a.network, a.seed).map_err(|e| e.to_string())?;
    let cameras = a.cameras.unwrap_or(profile.cameras);
    let seconds = a.seconds.unwrap_or(profile.seconds);
    let mut sources: Vec<Box<dyn FrameSource>> = Vec::new();
    for i in 0..cameras {
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
    let mut sc = Scenario::from_profile(&profile, a.max_kbps * 1000, a.seed);
    sc.seconds = seconds;
    if let Some(c) = a.capacity_kbps {
        sc.forward.capacity = Capacity::Fixed(c * 1000);
    }
    if let Some(t) = &a.trace {
        let trace = DeliveryTrace::from_file(t).map_err(|e| e.to_string())?;
        sc.forward.capacity = Capacity::Trace(Arc::new(trace.starting_at((a.trace_from_s * 1000.0).round() as u64)));
    }
    if let Some(d) = a.delay_ms {
        sc.forward.delay_us = d * 1000;
        sc.feedback.delay_us = d * 1000;
    }
    if let Some(l) = a.loss {
        sc.forward.loss = l;
    }
    if let Some(q) = a.queue_ms {
        sc.forward.queue_us = q * 1000;
    }
    sc.forward.queue_bytes = a.queue_bytes.or(sc.forward.queue_bytes);
    sc.codec = a.codec;
    if a.codec == Codec::Av1 && (w % 2 != 0 || h % 2 != 0) {
        return Err(format!("AV1 needs even frame sizes; the input is {w}x{h}"));
    }
    sc.adaptive = a.abr;
    sc.fec = a.fec;
    sc.bitrate_bps = if a.abr { a.max_kbps * 1000 } else { a.bitrate_kbps * 1000 };
    sc.start_bitrate_bps = a.start_kbps * 1000;
    sc.attack = a.attack;
    sc.restart_camera_at_us = a.restart_camera_at_s.map(|s| (s * 1e6) as u64);
    sc.restart_hub_at_us = a.restart_hub_at_s.map(|s| (s * 1e6) as u64);
    if a.replay_session {
        let replay_at_us = ((seconds * 1e6 / 2.0) as u64).max(10_000_000);
        sc.replay_session = Some(ReplaySession { record_until_us: 5_000_000, replay_at_us });
    }
    if a.jitter_ms > 0 {
        sc.forward.jitter_us = a.jitter_ms * 1000;
    }
    sc.forward.reorder = a.reorder;
    sc.forward.duplicate = a.duplicate;
    sc.feedback.loss = a.feedback_loss;
    if let Some((from, to)) = a.feedback_outage {
        sc.feedback.blackouts.push(((from * 1e6) as u64, (to * 1e6) as u64));
    }
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
    if let Some(p) = &a.plot {
        let title = format!(
            "{} ({}), abr {}",
            a.trace.as_ref().map_or(a.network.clone(), |t| {
                let name = t.file_name().map_or(t.display().to_string(), |f| f.to_string_lossy().into_owned());
                if a.trace_from_s > 0.0 {
                    format!("{name} from {} s", a.trace_from_s)
                } else {
                    name
                }
            }),
            r.codec,
            if a.abr { "on" } else { "off" }
        );
        std::fs::write(p, plot_svg(&r, &title)).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let src = a.input.as_ref().map_or("built-in scene".to_string(), |p| p.display().to_string());
    println!("sealcam {cameras} camera(s) -> hub, {seconds} s of {src} ({w}x{h} @ {fps:.2} fps), {}", r.codec);
    let capacity = match &sc.forward.capacity {
        Capacity::Fixed(b) => format!("{} kbit/s", b / 1000),
        Capacity::Schedule(_) => format!("network {}", a.network),
        Capacity::Trace(t) => format!("trace of mean {} kbit/s", t.mean_bps() / 1000),
    };
    let camera = if a.abr {
        format!("adaptive {}..{} kbit/s from {}", 50, a.max_kbps, a.start_kbps.min(a.max_kbps))
    } else {
        format!("fixed {} kbit/s", a.bitrate_kbps)
    };
    println!(
        "link: {capacity}, {} ms one way, {} ms queue, {:.1}% random loss; camera {camera}",
        sc.forward.delay_us / 1000,
        sc.forward.queue_us / 1000,
        sc.forward.loss * 100.0,
    );
    println!(
        "frames: {} captured, {} sent, {} displayed ({} dropped at camera, {} never shown), {} keyframes; first shown after {}",
        r.frames_captured,
        r.frames_sent,
        r.frames_displayed,
        r.frames_dropped_sender,
        r.frames_dropped_receiver,
        r.keyframes_sent,
        r.first_frame_ms.map_or("never".to_string(), |m| format!("{m:.0} ms"))
    );
    println!(
        "delay: p50 {:.0} ms, p95 {:.0} ms; freezes: {} ({} if shown when output, without the playout hold); PSNR {:.2} dB; utilization {:.0}%; link loss {:.2}%",
        r.delay_ms_p50,
        r.delay_ms_p95,
        r.freezes,
        r.freezes_at_output,
        r.psnr_db_mean,
        r.utilization * 100.0,
        r.loss_rate * 100.0
    );
    if r.link_silences > 0 {
        println!(
            "the trace has {} spans without a delivery opportunity as long as a freeze at the source's full frame rate: each freezes any sender",
            r.link_silences
        );
    }
    println!(
        "repair: {} retransmissions, {} FEC repairs ({} packets recovered), {} PLIs; hub rejected {} packets; wrong-stream frames {}, corrupt frames shown {}",
        r.retransmissions,
        r.repair_packets_sent,
        r.packets_recovered,
        r.plis_sent,
        r.rejected.values().sum::<u64>(),
        r.wrong_stream_frames,
        r.corrupt_frames_displayed
    );
    for x in &r.restarts {
        println!(
            "{} restart at {:.1} s: first frame shown {} later; then {} of {} frames shown",
            x.side,
            x.at_us as f64 / 1e6,
            x.first_frame_ms.map_or("never".to_string(), |m| format!("{m:.0} ms")),
            x.frames_shown_later,
            x.frames_captured_later
        );
    }
    if a.replay_session || !r.restarts.is_empty() || r.stale_frames_displayed > 0 || r.frames_marked_stale > 0 {
        println!(
            "freshness: {} replayed packets; stale frames shown as live {}; frames marked stale {}; {} frames before the hub's nonce",
            r.replayed_packets, r.stale_frames_displayed, r.frames_marked_stale, r.frames_awaiting_hub
        );
    }
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
    println!(
        "rate: mean target {:.0} kbit/s; post-repair loss {:.3}%; {} frames dropped on a full window; \
         {} probe padding packets; {} ladder switches; {} collapses of the estimate ({} undone)",
        r.mean_target_kbps,
        r.post_repair_loss * 100.0,
        r.frames_dropped_congestion,
        r.probe_padding_packets,
        r.ladder_switches,
        r.collapses,
        r.collapses_undone
    );
    if r.flow_kbps.len() > 1 {
        let flows: Vec<String> = r.flow_kbps.iter().map(|k| format!("{k:.0}")).collect();
        println!(
            "flows (kbit/s, second half of the time all stream): {}; Jain's index {:.3}",
            flows.join(", "),
            r.jain_index
        );
    }
    let reasons: Vec<String> = r.rejected.iter().filter(|(_, &n)| n > 0).map(|(k, n)| format!("{k} {n}")).collect();
    if !reasons.is_empty() {
        println!("hub drops by reason: {}", reasons.join(", "));
    }
    Ok(())
}

/// An SVG with two panels sharing the time axis: rates (capacity, target, sent) above,
/// mean frame delay per 100 ms below.
fn plot_svg(r: &Report, title: &str) -> String {
    use std::fmt::Write as _;
    let (w, h, left, right) = (1000.0, 520.0, 70.0, 20.0);
    let (top1, h1, top2, h2) = (40.0, 260.0, 340.0, 140.0);
    let pts = &r.series;
    let t_max = pts.last().map_or(1.0, |p| p.t_ms as f64).max(1.0);
    let rate_max =
        pts.iter().map(|p| p.capacity_bps.max(p.target_bps).max(p.sent_bps)).max().unwrap_or(1).max(1) as f64;
    let rate_max = (rate_max / 1e6 * 1.1).ceil().max(0.5);
    let delay_max = pts.iter().filter_map(|p| p.delay_ms).fold(100.0f64, f64::max).min(2000.0);
    let delay_max = (delay_max / 100.0).ceil() * 100.0;
    let x = |t: f64| left + (w - left - right) * t / t_max;
    let y1 = |bps: f64| top1 + h1 - h1 * (bps / 1e6 / rate_max).min(1.0);
    let y2 = |ms: f64| top2 + h2 - h2 * (ms / delay_max).min(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" \
         font-size=\"12\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{left}\" y=\"22\" font-size=\"15\">{}</text>",
        title.replace('&', "&amp;").replace('<', "&lt;")
    );
    for (top, hh, label) in [(top1, h1, "Mbit/s"), (top2, h2, "frame delay, ms")] {
        let _ = write!(
            s,
            "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{hh}\" fill=\"none\" stroke=\"#999\"/>\
             <text x=\"8\" y=\"{}\" transform=\"rotate(-90 8,{})\" dy=\"8\">{label}</text>",
            w - left - right,
            top + hh / 2.0,
            top + hh / 2.0
        );
    }
    for k in 0..=4 {
        let v = rate_max * k as f64 / 4.0;
        let yy = y1(v * 1e6);
        let _ = write!(s, "<text x=\"{}\" y=\"{yy}\" text-anchor=\"end\" dy=\"4\">{v:.1}</text>", left - 6.0);
        let d = delay_max * k as f64 / 4.0;
        let yy = y2(d);
        let _ = write!(s, "<text x=\"{}\" y=\"{yy}\" text-anchor=\"end\" dy=\"4\">{d:.0}</text>", left - 6.0);
    }
    let step = if t_max > 60_000.0 {
        20_000.0
    } else if t_max > 20_000.0 {
        10_000.0
    } else {
        2_000.0
    };
    let mut t = 0.0;
    while t <= t_max {
        let xx = x(t);
        let _ = write!(
            s,
            "<line x1=\"{xx}\" x2=\"{xx}\" y1=\"{top1}\" y2=\"{}\" stroke=\"#eee\"/>\
             <text x=\"{xx}\" y=\"{}\" text-anchor=\"middle\">{:.0} s</text>",
            top2 + h2,
            top2 + h2 + 16.0,
            t / 1000.0
        );
        t += step;
    }
    let mut line = |color: &str, width: f64, f: &dyn Fn(&sealcam::sim::scenario::SeriesPoint) -> Option<(f64, f64)>| {
        let mut d = String::new();
        let mut pen_up = true;
        for p in pts {
            match f(p) {
                Some((xx, yy)) => {
                    let _ = write!(d, "{}{xx:.1},{yy:.1} ", if pen_up { "M" } else { "L" });
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        let _ = write!(s, "<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"/>");
    };
    line("#888", 2.5, &|p| Some((x(p.t_ms as f64), y1(p.capacity_bps as f64))));
    line("#2a7", 1.0, &|p| Some((x(p.t_ms as f64), y1(p.sent_bps as f64))));
    line("#d33", 2.0, &|p| Some((x(p.t_ms as f64), y1(p.target_bps as f64))));
    line("#36c", 1.5, &|p| p.delay_ms.map(|d| (x(p.t_ms as f64), y2(d))));
    for (i, (name, color)) in
        [("capacity", "#888"), ("target", "#d33"), ("sent", "#2a7"), ("frame delay", "#36c")].iter().enumerate()
    {
        let xx = w - right - 430.0 + i as f64 * 110.0;
        let _ = write!(
            s,
            "<rect x=\"{xx}\" y=\"12\" width=\"14\" height=\"4\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"18\">{name}</text>",
            xx + 18.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{}\">utilization {:.0}%, frame delay p95 {:.0} ms, {} freezes, {:.1} dB</text></svg>",
        h - 8.0,
        r.utilization * 100.0,
        r.delay_ms_p95,
        r.freezes,
        r.psnr_db_mean
    );
    s
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

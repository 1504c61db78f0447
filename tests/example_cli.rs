//! The main job, `examples/camera_to_hub`, as a person runs it: flags, report, output
//! bitstream checked by ffprobe and packets dissected by tshark (each skipped with a
//! message when the tool is not installed; `.ci/run` installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the example with this test's profile and returns its path.
fn example() -> PathBuf {
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root).args(["build", "--quiet", "--example", "camera_to_hub"]);
    if profile == "release" {
        cmd.arg("--release");
    }
    assert!(cmd.status().expect("cargo runs").success(), "building the example failed");
    target.join(profile).join("examples/camera_to_hub")
}

/// `codec,frames` as ffprobe decodes them (it must decode without a single error line).
fn ffprobe_codec_and_frames(path: &Path) -> String {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(o.status.success() && o.stderr.is_empty(), "{s} {}", String::from_utf8_lossy(&o.stderr));
    s
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("-v").output().is_ok();
    if !ok {
        eprintln!("{tool} not installed: check skipped");
    }
    ok
}

#[test]
fn fec_repair_packets_dissect_as_rtp_naming_their_stream() {
    if !have("tshark") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sealcam-fec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("fec.pcap");
    // A long lossy path: FEC comes on once the loss and the round trip are measured.
    let st = Command::new(example())
        .args(["--seconds", "8", "--delay-ms", "300", "--loss", "0.02", "--pcap"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let o = Command::new("tshark")
        .args(["-r"])
        .arg(&pcap)
        .args(["-d", "udp.port==5004,rtp", "-d", "udp.port==5005,rtcp", "-T", "fields"])
        .args(["-e", "rtp.p_type", "-e", "rtp.csrc.item", "-e", "_ws.malformed"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    let repairs = s.lines().filter(|l| l.starts_with("97\t")).collect::<Vec<_>>();
    let media = s.lines().filter(|l| l.starts_with("96\t")).count();
    assert!(repairs.len() > 20 && media > 500, "{} repairs, {media} media packets", repairs.len());
    // Each names camera 0's media SSRC (0x5ea10000) as its CSRC (RFC 8627 section 4.2.1).
    assert!(repairs.iter().all(|l| l.split('\t').nth(1) == Some("0x5ea10000")), "{repairs:?}");
    assert!(!s.lines().any(|l| l.split('\t').nth(2).is_some_and(|m| !m.is_empty())), "malformed: {s}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn example_writes_report_bitstream_and_pcap_that_tools_accept() {
    let dir = std::env::temp_dir().join(format!("sealcam-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (report, out, pcap) = (dir.join("r.json"), dir.join("o.h264"), dir.join("o.pcap"));
    let st = Command::new(example())
        .args(["--seconds", "2", "--loss", "0.03", "--seed", "3", "--report"])
        .arg(&report)
        .arg("--out")
        .arg(&out)
        .arg("--pcap")
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(text.contains("displayed"), "{text}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for key in [
        "codec",
        "seconds",
        "frames_captured",
        "frames_sent",
        "frames_displayed",
        "frames_dropped_sender",
        "frames_dropped_receiver",
        "keyframes_sent",
        "bytes_sent",
        "auth_failures",
        "replays_rejected",
        "rejected",
        "wrong_stream_frames",
        "corrupt_frames_displayed",
        "freezes",
        "delay_ms_p50",
        "delay_ms_p95",
        "loss_rate",
        "utilization",
        "psnr_db_mean",
        "series",
    ] {
        assert!(r.get(key).is_some(), "report lacks {key}");
    }
    assert_eq!(r["frames_captured"], 60);
    assert_eq!(r["corrupt_frames_displayed"], 0);
    let displayed = r["frames_displayed"].as_u64().unwrap();
    assert!(displayed > 40, "{r}");

    if have("ffprobe") {
        assert_eq!(ffprobe_codec_and_frames(&out), format!("h264,{displayed}"));
    }
    if have("tshark") {
        let o = Command::new("tshark")
            .args(["-r"])
            .arg(&pcap)
            .args(["-d", "udp.port==5004,rtp", "-d", "udp.port==5005,rtcp", "-T", "fields", "-e", "frame.protocols"])
            .args(["-e", "rtcp.rtpfb.fmt", "-e", "_ws.malformed"])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rtp = s.lines().filter(|l| l.contains(":rtp")).count();
        let rtcp = s.lines().filter(|l| l.contains(":rtcp")).count();
        assert!(rtp > 100 && rtcp > 0, "rtp {rtp}, rtcp {rtcp}");
        assert!(!s.contains("malformed") && !s.contains("_ws.malformed"), "{s}");
        let fmts = |want: &str| {
            s.lines()
                .filter(|l| {
                    l.contains(":rtcp") && l.split('\t').nth(1).is_some_and(|f| f.split(',').any(|x| x == want))
                })
                .count()
        };
        assert!(fmts("1") > 0, "generic NACKs dissected");
        assert!(fmts("15") > 10, "transport-wide congestion control feedback dissected");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn example_refuses_bad_flags_with_a_clear_message() {
    for (args, needle) in [
        (&["--loss", "2"][..], "--loss must be between 0 and 1"),
        (&["--seconds", "abc"][..], "not a valid number"),
        (&["--codec", "vp8"][..], "unknown codec"),
        (&["--bogus"][..], "unknown flag"),
        (&["--input", "/nonexistent.y4m"][..], "nonexistent"),
        (&["--delay-ms"][..], "needs a value"),
        (&["--network", "dialup"][..], "unknown network 'dialup'"),
        (&["--abr", "maybe"][..], "neither on nor off"),
        (&["--trace", "/nonexistent.up"][..], "cannot read trace"),
        (&["--max-kbps", "5"][..], "--max-kbps must be between"),
    ] {
        let o = Command::new(example()).args(args).output().unwrap();
        assert!(!o.status.success(), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
    }
}

#[test]
fn example_av1_output_plays_in_ffprobe() {
    let dir = std::env::temp_dir().join(format!("sealcam-av1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (report, out) = (dir.join("r.json"), dir.join("o.ivf"));
    let st = Command::new(example())
        .args(["--codec", "av1", "--seconds", "1", "--capacity-kbps", "8000", "--abr", "off", "--report"])
        .arg(&report)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["codec"], "av1");
    assert_eq!(r["corrupt_frames_displayed"], 0);
    let displayed = r["frames_displayed"].as_u64().unwrap();
    assert!(displayed >= 20, "{r}");
    if have("ffprobe") {
        assert_eq!(ffprobe_codec_and_frames(&out), format!("av1,{displayed}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn example_runs_networks_and_traces_and_draws_a_plot() {
    let dir = std::env::temp_dir().join(format!("sealcam-abr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (report, plot, trace) = (dir.join("r.json"), dir.join("p.svg"), dir.join("t.up"));
    // 1.2 Mbit/s: one 1500-byte opportunity every 10 ms.
    std::fs::write(&trace, (1..=1000).map(|i| (i * 10).to_string()).collect::<Vec<_>>().join("\n")).unwrap();
    let st = Command::new(example())
        .args(["--network", "rfc8867-5.1", "--seconds", "4", "--max-kbps", "2000", "--plot"])
        .arg(&plot)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(text.contains("adaptive 50..2000"), "{text}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    for label in ["capacity", "target", "sent", "frame delay"] {
        assert!(svg.contains(label), "plot lacks {label}");
    }
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(r["series"].as_array().unwrap().iter().any(|p| p["capacity_bps"] == 1_000_000));
    let st = Command::new(example())
        .args(["--trace"])
        .arg(&trace)
        .args(["--seconds", "4", "--abr", "off", "--bitrate-kbps", "600", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    assert!(String::from_utf8_lossy(&st.stdout).contains("trace of mean 1200 kbit/s"));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(r["frames_displayed"].as_u64().unwrap() > 100, "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}

//! The C programs in examples/c/ against the installed library, as a firmware team would
//! build them: `make install PREFIX=...`, then `camera.c` linked through
//! `pkg-config --cflags --libs sealcam` (shared) and `hub.c` through
//! `pkg-config --static --cflags --libs sealcam` (fully static). Two cameras and one with the
//! wrong secret stream into one hub over UDP loopback for 10 s: ffprobe decodes each output
//! with no error, at least 95 % of the captured frames arrive, and the wrong secret shows
//! nothing. Also checks the installed layout: the SONAME, the links, and that the shared
//! library exports `sealcam_*` only.

#[path = "common/tools.rs"]
mod tools;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tools::{required_in_ci, root};

/// Runs `cmd` (failing the test if it fails) and returns its standard output.
fn run(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&tools::run(cmd).stdout).into_owned()
}

/// Installs into a fresh prefix; `None` (with a message) where make or pkg-config is missing
/// outside CI.
fn install(tag: &str) -> Option<PathBuf> {
    if !required_in_ci("make", "--version", "the install test")
        || !required_in_ci("pkg-config", "--version", "the install test")
    {
        return None;
    }
    let prefix = std::env::temp_dir().join(format!("sealcam-prefix-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&prefix);
    run(Command::new("make").current_dir(root()).arg("install").arg(format!("PREFIX={}", prefix.display())));
    Some(prefix)
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let out = run(Command::new("pkg-config").env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")).args(args));
    out.split_whitespace().map(str::to_string).collect()
}

#[test]
fn installed_library_has_its_soname_links_and_exports_only_sealcam_names() {
    let Some(prefix) = install("layout") else { return };
    let lib = prefix.join("lib");
    let version = env!("CARGO_PKG_VERSION");
    for f in ["libsealcam.a", "libsealcam.so", "libsealcam.so.0", "pkgconfig/sealcam.pc"] {
        assert!(lib.join(f).exists(), "{f} installed");
    }
    assert!(prefix.join("include/sealcam.h").exists());
    assert_eq!(std::fs::read_link(lib.join("libsealcam.so")).unwrap(), Path::new("libsealcam.so.0"));
    assert_eq!(
        std::fs::read_link(lib.join("libsealcam.so.0")).unwrap(),
        PathBuf::from(format!("libsealcam.so.{version}"))
    );
    let so = lib.join(format!("libsealcam.so.{version}"));
    let dynamic = run(Command::new("readelf").arg("-d").arg(&so));
    assert!(dynamic.contains("Library soname: [libsealcam.so.0]"), "{dynamic}");
    let symbols = run(Command::new("nm").args(["-D", "--defined-only"]).arg(&so));
    let names: Vec<&str> = symbols.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert!(names.len() > 40, "{names:?}");
    let foreign: Vec<_> = names.iter().filter(|n| !n.starts_with("sealcam_")).collect();
    assert!(foreign.is_empty(), "the shared library exports {foreign:?}");
    assert_eq!(pkg_config(&prefix, &["--modversion", "sealcam"]), [version]);
    let _ = std::fs::remove_dir_all(&prefix);
}

/// Compiles `examples/c/NAME.c` with the given pkg-config flags (and `extra`).
fn build(prefix: &Path, name: &str, pkg: &[&str], extra: &[&str]) -> PathBuf {
    let exe = prefix.join(name);
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"])
        .arg(root().join(format!("examples/c/{name}.c")))
        .args(pkg_config(prefix, pkg))
        .args(extra)
        .arg("-o")
        .arg(&exe));
    exe
}

/// The number after `key=` on the line that starts with `prefix`.
fn field(out: &str, prefix: &str, key: &str) -> u64 {
    let line = out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no '{prefix}' in:\n{out}"));
    let v = line.split(&format!("{key}=")).nth(1).unwrap_or_else(|| panic!("no {key} in {line}"));
    v.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn c_camera_and_hub_stream_over_udp_loopback_and_a_wrong_secret_shows_nothing() {
    let Some(prefix) = install("udp") else { return };
    let camera = build(&prefix, "camera", &["--cflags", "--libs", "sealcam"], &[]);
    let hub = build(&prefix, "hub", &["--static", "--cflags", "--libs", "sealcam"], &["-static"]);
    let needed = run(Command::new("readelf").arg("-d").arg(&camera));
    assert!(needed.contains("[libsealcam.so.0]"), "the camera links the shared library: {needed}");
    assert!(!run(Command::new("readelf").arg("-d").arg(&hub)).contains("libsealcam"), "the hub is static");

    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let secret = "c examples secret, 32 bytes long";
    let out_dir = prefix.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut hub_proc = Command::new(&hub)
        .args(["--port", &port.to_string(), "--secret", secret, "--seconds", "12", "--out-dir"])
        .arg(&out_dir)
        .args(["--stream", "kitchen:11", "--stream", "porch:12", "--stream", "garage:13"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("hub starts");
    let mut hub_out = BufReader::new(hub_proc.stdout.take().unwrap());
    let mut first = String::new();
    hub_out.read_line(&mut first).unwrap();
    assert!(first.contains("listening"), "{first}");
    let libdir = prefix.join("lib");
    let cam = |id: &str, ssrc: &str, secret: &str| {
        Command::new(&camera)
            .env("LD_LIBRARY_PATH", &libdir)
            .args(["--hub", &format!("127.0.0.1:{port}"), "--stream-id", id, "--ssrc", ssrc])
            .args(["--secret", secret, "--seconds", "10"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("camera starts")
    };
    let cams = [
        ("kitchen", cam("kitchen", "11", secret)),
        ("porch", cam("porch", "12", secret)),
        ("garage", cam("garage", "13", "not the hub's secret at all!!")),
    ];
    let cam_out: Vec<(&str, String)> = cams
        .into_iter()
        .map(|(id, c)| {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "camera {id} failed");
            (id, String::from_utf8_lossy(&o.stdout).into_owned())
        })
        .collect();
    let mut rest = String::new();
    for line in hub_out.lines() {
        rest += &(line.unwrap() + "\n");
    }
    assert!(hub_proc.wait().unwrap().success(), "hub failed:\n{rest}");
    print!("{rest}");
    assert!(rest.contains("hub kitchen: frames"), "counters once a second:\n{rest}");
    for (id, out) in &cam_out {
        print!("{out}");
        let captured = field(out, &format!("camera {id} done"), "frames_pushed");
        let shown = field(&rest, &format!("hub done: stream={id}"), "frames");
        let file = out_dir.join(format!("{id}.h264"));
        if *id == "garage" {
            assert_eq!(shown, 0, "a camera with the wrong secret shows nothing");
            assert_eq!(std::fs::metadata(&file).unwrap().len(), 0);
            continue;
        }
        assert!(captured >= 250, "{id}: {captured} frames captured in 10 s");
        assert!(shown * 100 >= captured * 95, "{id}: {shown} of {captured} frames shown");
        if required_in_ci("ffprobe", "-version", "decoding the hub's output") {
            let probe = Command::new("ffprobe")
                .args(["-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
                .arg(&file)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&probe.stderr);
            assert!(probe.status.success() && err.trim().is_empty(), "ffprobe {id}: {err}");
            let decoded: u64 = String::from_utf8_lossy(&probe.stdout).trim().parse().unwrap();
            assert_eq!(decoded, shown, "{id}: every frame shown decodes");
        }
    }
    let _ = std::fs::remove_dir_all(&prefix);
}

/// The SFrame (KID, CTR) of every frame among camera-to-hub datagrams, a copy of a packet
/// (same sequence number and bytes: a retransmission or probe padding) counted once.
fn sealed_frames(datagrams: &[Vec<u8>]) -> Vec<(u64, u64)> {
    let mut copies = std::collections::HashSet::new();
    datagrams
        .iter()
        .filter_map(|d| {
            let v = sealcam::wire::RtpView::parse(d).ok()?;
            if v.payload.first()? & 0x80 == 0 || !copies.insert((v.seq, v.payload.to_vec())) {
                return None;
            }
            sealcam::sframe::Header::decode(&v.payload[1..]).ok().map(|(h, _)| (h.kid, h.ctr))
        })
        .collect()
}

#[test]
fn a_c_camera_restarted_mid_run_is_shown_again_and_never_reuses_a_nonce() {
    let Some(prefix) = install("restart") else { return };
    let camera = build(&prefix, "camera", &["--cflags", "--libs", "sealcam"], &[]);
    let hub = build(&prefix, "hub", &["--cflags", "--libs", "sealcam"], &[]);
    let libdir = prefix.join("lib");
    let hub_port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let secret = "restart test secret, 32 bytes!!";
    let out_dir = prefix.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut hub_proc = Command::new(&hub)
        .env("LD_LIBRARY_PATH", &libdir)
        .args(["--port", &hub_port.to_string(), "--secret", secret, "--seconds", "37", "--stream", "door:21"])
        .arg("--out-dir")
        .arg(&out_dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("hub starts");
    let mut hub_out = BufReader::new(hub_proc.stdout.take().unwrap());
    let mut line = String::new();
    hub_out.read_line(&mut line).unwrap();
    // A relay between the cameras and the hub records what the cameras send (the test knows
    // the secret's role: it checks the SFrame headers, which name key and nonce).
    let relay = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_port = relay.local_addr().unwrap().port();
    relay.set_read_timeout(Some(std::time::Duration::from_millis(50))).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let recorder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let hub_addr: std::net::SocketAddr = format!("127.0.0.1:{hub_port}").parse().unwrap();
            let (mut camera_addr, mut log, mut buf) = (None, Vec::new(), [0u8; 2048]);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = relay.recv_from(&mut buf) else { continue };
                if from == hub_addr {
                    if let Some(c) = camera_addr {
                        let _ = relay.send_to(&buf[..n], c);
                    }
                } else {
                    camera_addr = Some(from);
                    log.push(buf[..n].to_vec());
                    let _ = relay.send_to(&buf[..n], hub_addr);
                }
            }
            log
        })
    };
    let life = |seconds: &str| {
        let o = Command::new(&camera)
            .env("LD_LIBRARY_PATH", &libdir)
            .args(["--hub", &format!("127.0.0.1:{relay_port}"), "--stream-id", "door", "--ssrc", "21"])
            .args(["--secret", secret, "--seconds", seconds])
            .output()
            .expect("camera runs");
        assert!(o.status.success());
        field(&String::from_utf8_lossy(&o.stdout), "camera door done", "frames_pushed")
    };
    let first = life("20");
    let second = life("15");
    let mut rest = String::new();
    for l in hub_out.lines() {
        rest += &(l.unwrap() + "\n");
    }
    assert!(hub_proc.wait().unwrap().success());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let log = recorder.join().unwrap();
    let shown = field(&rest, "hub done: stream=door", "frames");
    assert!(shown >= first + second * 95 / 100, "{shown} shown of {first} + {second}: the second life needs 95 %");
    let frames = sealed_frames(&log);
    let mut seen = std::collections::HashSet::new();
    for f in &frames {
        assert!(seen.insert(*f), "(KID {:#x}, CTR {}) sealed twice", f.0, f.1);
    }
    let sessions: std::collections::HashSet<u64> = frames.iter().map(|f| sealcam::sframe::kid_session(f.0)).collect();
    assert_eq!(sessions.len(), 2, "each life seals under its own session's keys");
    assert!(frames.len() as u64 >= first + second - 10);
    let _ = std::fs::remove_dir_all(&prefix);
}

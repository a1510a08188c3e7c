//! The real desktop app under a virtual display: an Xvfb of its own, `tauri-driver` (with
//! WebKitWebDriver) on free ports, a fresh data directory, and every process they start killed
//! as a group when the fixture is dropped. Also the /proc readings the desktop benchmark needs.
//!
//! Nothing here skips: a missing Xvfb, tauri-driver or WebKitWebDriver is a failure that says
//! what to install (`tests/run.sh` installs all three).

use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::webdriver::{Driver, Session};

/// The desktop tests run one app at a time: each app with its WebKit processes takes ~300 MB
/// and a good part of a core while it starts, and the machine has two.
static ONE_APP_AT_A_TIME: Mutex<()> = Mutex::new(());

/// An executable from PATH (or cargo's bin directory, where `cargo install` puts tauri-driver).
/// Panics with what to install when it is missing.
pub fn tool(name: &str, install: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|path| std::env::split_paths(&path).collect()).unwrap_or_default();
    dirs.extend(std::env::var_os("CARGO_HOME").map(|home| PathBuf::from(home).join("bin")));
    dirs.extend(std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin")));
    dirs.iter().map(|dir| dir.join(name)).find(|path| path.is_file()).unwrap_or_else(|| {
        panic!("`{name}` is not installed, and the desktop tests need it: {install} (tests/run.sh does this)")
    })
}

/// A child process started as the leader of its own process group; the whole group (its
/// children and theirs, unless they left the group) is terminated on drop.
#[derive(Debug)]
pub struct ProcessGroup {
    child: Child,
}

impl ProcessGroup {
    pub fn spawn(command: &mut Command) -> std::io::Result<ProcessGroup> {
        use std::os::unix::process::CommandExt as _;
        command.process_group(0).spawn().map(|child| ProcessGroup { child })
    }

    /// The leader's pid, which is also the group's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Whether the leader has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the group, up to `grace` for it to empty, then SIGKILL to whatever is left.
    pub fn terminate(&mut self, grace: Duration) {
        signal_group(self.pid(), "TERM");
        let started = Instant::now();
        while started.elapsed() < grace {
            let _ = self.child.try_wait();
            if group_members(self.pid()).is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group(self.pid(), "KILL");
        let _ = self.child.wait();
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(3));
    }
}

/// Sends SIGsignal to process group `group`; a group that is already gone is fine.
fn signal_group(group: u32, signal: &str) {
    // `kill(1)`, since the workspace forbids the unsafe call to libc::killpg.
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{group}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A running process as /proc shows it.
#[derive(Clone, Debug)]
pub struct ProcessInfo {
    pub pid: u32,
    pub parent: u32,
    pub group: u32,
    /// The command name (at most 15 bytes, as the kernel keeps it).
    pub name: String,
    pub zombie: bool,
}

/// Every process on the machine (those that vanish while being read are left out).
pub fn processes() -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let name = stat[open + 1..close].to_owned();
            let mut rest = stat[close + 1..].split_whitespace();
            let state = rest.next()?;
            let parent = rest.next()?.parse().ok()?;
            let group = rest.next()?.parse().ok()?;
            Some(ProcessInfo { pid, parent, group, name, zombie: state == "Z" })
        })
        .collect()
}

/// Living processes of process group `group`.
pub fn group_members(group: u32) -> Vec<ProcessInfo> {
    processes().into_iter().filter(|process| process.group == group && !process.zombie).collect()
}

/// `root` and every living descendant of it.
pub fn process_tree(root: u32) -> Vec<ProcessInfo> {
    let all = processes();
    let mut tree: Vec<ProcessInfo> = all.iter().filter(|process| process.pid == root).cloned().collect();
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index].pid;
        tree.extend(all.iter().filter(|process| process.parent == parent && !process.zombie).cloned());
        index += 1;
    }
    tree
}

/// Proportional set size of a process in KiB (its private memory plus its share of shared
/// pages), from /proc/<pid>/smaps_rollup; `None` when it is gone or unreadable.
pub fn pss_kib(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// One process's memory in KiB from /proc/<pid>/smaps_rollup: its proportional set size (PSS)
/// and resident set size (RSS, which counts every shared page in full).
#[derive(Clone, Debug)]
pub struct ProcessMemory {
    pub name: String,
    pub pss_kib: u64,
    pub rss_kib: u64,
}

/// The memory of `root` and each of its descendants that could be read, `root` first.
pub fn tree_memory(root: u32) -> Vec<ProcessMemory> {
    process_tree(root)
        .into_iter()
        .filter_map(|process| {
            let rollup = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", process.pid)).ok()?;
            let field = |name: &str| {
                rollup
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            };
            Some(ProcessMemory { name: process.name.clone(), pss_kib: field("Pss:")?, rss_kib: field("Rss:")? })
        })
        .collect()
}

/// The summed PSS (KiB) of `root` and all its descendants, and which processes were counted.
pub fn tree_pss_kib(root: u32) -> (u64, Vec<(String, u64)>) {
    let counted: Vec<(String, u64)> = process_tree(root)
        .into_iter()
        .filter_map(|process| Some((process.name.clone(), pss_kib(process.pid)?)))
        .collect();
    (counted.iter().map(|(_, kib)| kib).sum(), counted)
}

/// A free TCP port on 127.0.0.1 (free when asked; the tests run one driver at a time).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

/// A virtual X display of our own (`Xvfb -displayfd`, which picks a free display number), whose
/// screen Xvfb keeps in a file (`-fbdir`): screenshots are read from there, as the pixels a
/// person would see, whatever the webview's rendering mode.
#[derive(Debug)]
pub struct Display {
    number: u32,
    // Xvfb removes its lock file and socket on SIGTERM.
    _xvfb: ProcessGroup,
    framebuffer: tempfile::TempDir,
}

impl Display {
    pub fn start() -> Display {
        let xvfb = tool("Xvfb", "apt-get install xvfb xauth");
        let framebuffer = tempfile::Builder::new().prefix("harbour-xvfb").tempdir().expect("a framebuffer directory");
        let mut group = ProcessGroup::spawn(
            Command::new(xvfb)
                .args(["-displayfd", "1", "-screen", "0", "1366x768x24", "-nolisten", "tcp", "-nocursor", "-fbdir"])
                .arg(framebuffer.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )
        .expect("Xvfb starts");
        let mut line = String::new();
        let stdout = group.child().stdout.take().expect("stdout is piped");
        let _ = BufReader::new(stdout).read_line(&mut line);
        let number = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb did not print its display number (it printed {line:?})"));
        Display { number, _xvfb: group, framebuffer }
    }

    /// The value for `DISPLAY`, as in `:99`.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }

    /// A PNG of the screen's rectangle `area` (x, y, width, height; clipped to the screen).
    pub fn capture(&self, area: [u32; 4]) -> Vec<u8> {
        let path = self.framebuffer.path().join("Xvfb_screen0");
        let file = std::fs::read(&path).unwrap_or_else(|error| panic!("{} cannot be read: {error}", path.display()));
        let screen = Xwd::parse(&file).unwrap_or_else(|error| panic!("Xvfb's screen file: {error}"));
        screen.png(area)
    }
}

/// The screen file Xvfb writes with `-fbdir`: an X window dump (XWD, version 7) of a 24-bit
/// TrueColor screen stored as 32-bit pixels.
struct Xwd<'a> {
    width: u32,
    height: u32,
    bytes_per_line: usize,
    lsb_first: bool,
    masks: [u32; 3],
    pixels: &'a [u8],
}

impl<'a> Xwd<'a> {
    fn parse(file: &'a [u8]) -> Result<Xwd<'a>, String> {
        let field = |index: usize| -> Result<u32, String> {
            let bytes = file.get(index * 4..index * 4 + 4).ok_or("the header is cut short")?;
            Ok(u32::from_be_bytes(bytes.try_into().expect("four bytes")))
        };
        let (header_size, version, bits_per_pixel) = (field(0)? as usize, field(1)?, field(11)?);
        if version != 7 || bits_per_pixel != 32 {
            return Err(format!("version {version} with {bits_per_pixel}-bit pixels; expected version 7, 32-bit"));
        }
        let (width, height, bytes_per_line) = (field(4)?, field(5)?, field(12)? as usize);
        let colours = field(19)? as usize;
        // Colour map entries are 12 bytes each and come before the pixels.
        let start = header_size + colours * 12;
        let pixels = file.get(start..start + bytes_per_line * height as usize).ok_or("the pixels are cut short")?;
        Ok(Xwd {
            width,
            height,
            bytes_per_line,
            lsb_first: field(7)? == 0,
            masks: [field(14)?, field(15)?, field(16)?],
            pixels,
        })
    }

    fn png(&self, [x, y, width, height]: [u32; 4]) -> Vec<u8> {
        let (x0, y0) = (x.min(self.width), y.min(self.height));
        let (x1, y1) = ((x + width).min(self.width), (y + height).min(self.height));
        assert!(x1 > x0 && y1 > y0, "the area {x},{y} {width}x{height} is off the screen");
        let mut rgb = Vec::with_capacity(((x1 - x0) * (y1 - y0) * 3) as usize);
        for row in y0..y1 {
            let line = &self.pixels[row as usize * self.bytes_per_line..];
            for column in x0..x1 {
                let bytes: [u8; 4] = line[column as usize * 4..column as usize * 4 + 4].try_into().expect("four bytes");
                let pixel = if self.lsb_first { u32::from_le_bytes(bytes) } else { u32::from_be_bytes(bytes) };
                for mask in self.masks {
                    rgb.push(((pixel & mask) >> mask.trailing_zeros()) as u8);
                }
            }
        }
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, x1 - x0, y1 - y0);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("a PNG header");
        writer.write_image_data(&rgb).expect("PNG data");
        writer.finish().expect("a finished PNG");
        png
    }
}

/// Environment that every app started by the tests and the benchmark gets: its own display,
/// X11 even where a Wayland session is around, and no accessibility bus to wait for.
pub fn app_env(command: &mut Command, display: &Display) {
    command
        .env("DISPLAY", display.name())
        .env("GDK_BACKEND", "x11")
        .env("NO_AT_BRIDGE", "1")
        .env_remove("WAYLAND_DISPLAY");
}

/// A desktop app that WebDriver can start: Xvfb, then tauri-driver (and its WebKitWebDriver)
/// in one process group, with `HARBOUR_DATA_DIR` pointing at the fixture's data directory.
/// Each [`Desktop::session`] starts the app; the group is killed on drop.
#[derive(Debug)]
pub struct Desktop {
    // Dropped in this order: the driver with the apps it started, the display, the files.
    driver: ProcessGroup,
    display: Display,
    port: u16,
    app: PathBuf,
    data_dir: PathBuf,
    scratch: tempfile::TempDir,
    _data: Option<tempfile::TempDir>,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl Desktop {
    /// The app `app` with an empty data directory of its own.
    pub fn start(app: &Path) -> Desktop {
        let data = tempfile::Builder::new().prefix("harbour-desktop-data").tempdir().expect("a data directory");
        let mut desktop = Desktop::start_on(app, &data.path().join("harbour"), &[]);
        desktop._data = Some(data);
        desktop
    }

    /// The app `app` on the data directory `data_dir`, with extra environment `env`.
    pub fn start_on(app: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Desktop {
        let one_at_a_time = ONE_APP_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let native = tool("WebKitWebDriver", "apt-get install webkit2gtk-driver");
        let tauri_driver = tool("tauri-driver", "cargo install tauri-driver --locked");
        assert!(app.is_file(), "{} is not built: run `cargo build --workspace --bins` first", app.display());
        let display = Display::start();
        let scratch = tempfile::Builder::new().prefix("harbour-desktop-driver").tempdir().expect("a scratch directory");
        let log = scratch.path().join("driver.log");
        let log_file = std::fs::File::create(&log).expect("the driver log opens");
        let (port, native_port) = (free_port(), free_port());
        let mut command = Command::new(tauri_driver);
        command
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .arg("--native-driver")
            .arg(native)
            .env("HARBOUR_DATA_DIR", data_dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("the log handle clones"))
            .stderr(log_file);
        app_env(&mut command, &display);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut driver = ProcessGroup::spawn(&mut command).expect("tauri-driver starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = driver.exited() {
                panic!("tauri-driver exited ({status}) before listening: {}", log_tail(&log));
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "tauri-driver did not listen on {port} within 20 s: {}",
                log_tail(&log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Desktop {
            driver,
            display,
            port,
            app: app.to_owned(),
            data_dir: data_dir.to_owned(),
            scratch,
            _data: None,
            _one_at_a_time: one_at_a_time,
        }
    }

    /// Starts the app in a new WebDriver session (retrying for up to 20 s).
    pub fn session(&self) -> Session {
        Driver::at_port(self.port).new_session(&self.app, Duration::from_secs(20)).unwrap_or_else(|error| {
            panic!(
                "no WebDriver session for {} within 20 s: {error}\ndriver log:\n{}",
                self.app.display(),
                self.log_tail()
            )
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A PNG of `session`'s window as it is on the screen.
    pub fn screenshot(&self, session: &Session) -> Vec<u8> {
        // WebKit may not have painted the latest changes yet: wait for two frames.
        session.execute_async(
            "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)))",
            serde_json::json!([]),
        );
        self.display.capture(session.window_rect())
    }

    pub fn display(&self) -> &Display {
        &self.display
    }

    /// The pid of tauri-driver (the app runs below it, under WebKitWebDriver).
    pub fn driver_pid(&self) -> u32 {
        self.driver.pid()
    }

    /// The running app's processes (below the driver): the app itself and its WebKit helpers.
    pub fn app_processes(&self) -> Vec<ProcessInfo> {
        let app_name: String =
            self.app.file_name().and_then(|name| name.to_str()).unwrap_or_default().chars().take(15).collect();
        process_tree(self.driver.pid()).into_iter().filter(|process| process.name == app_name).collect()
    }

    /// The driver's log: tauri-driver, WebKitWebDriver and the app's stderr.
    pub fn log_path(&self) -> PathBuf {
        self.scratch.path().join("driver.log")
    }

    /// The last lines of the driver's log (tauri-driver, WebKitWebDriver and the app's stderr).
    pub fn log_tail(&self) -> String {
        log_tail(&self.scratch.path().join("driver.log"))
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Where screenshots of the app go: `docs/screenshots/` with `HARBOUR_SCREENSHOTS=1` (to update
/// the pictures in the repository), otherwise a temporary directory, so that an ordinary test
/// run leaves the work tree clean.
#[derive(Debug)]
pub struct Screenshots {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Screenshots {
    pub fn new() -> Screenshots {
        if std::env::var("HARBOUR_SCREENSHOTS").is_ok_and(|value| value == "1") {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
            std::fs::create_dir_all(&dir).expect("docs/screenshots can be created");
            Screenshots { dir, _temp: None }
        } else {
            let temp = tempfile::Builder::new().prefix("harbour-screenshots").tempdir().expect("a temporary directory");
            Screenshots { dir: temp.path().to_owned(), _temp: Some(temp) }
        }
    }

    /// Saves `session`'s window as `<name>.png`; returns its path.
    pub fn take(&self, desktop: &Desktop, session: &Session, name: &str) -> PathBuf {
        let png = desktop.screenshot(session);
        let path = self.dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }
}

impl Default for Screenshots {
    fn default() -> Screenshots {
        Screenshots::new()
    }
}

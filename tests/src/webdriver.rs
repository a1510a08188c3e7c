//! A small W3C WebDriver client for the desktop tests: plain HTTP/1.1 over a `TcpStream` to
//! `tauri-driver` on 127.0.0.1, one connection per command. Only the commands the tests use.
//!
//! Failures panic with the command and the driver's error, never with the text a test typed or
//! read (case names are personal data, even synthetic ones stay out of test logs).

use std::cell::RefCell;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key W3C gives element references in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a command may take before the client gives up on the driver.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Keys for [`Element::send_keys`] (W3C's private-use code points).
pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const TAB: &str = "\u{E004}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const BACKSPACE: &str = "\u{E003}";
    pub const SPACE: &str = "\u{E00D}";
    pub const ARROW_DOWN: &str = "\u{E015}";
}

/// What went wrong with one WebDriver command.
#[derive(Debug)]
pub enum Error {
    /// No connection, or the connection broke (the driver is not up yet, or died).
    Io(std::io::Error),
    /// The driver answered with a W3C error (`no such element`, `javascript error` …).
    Driver { status: u16, error: String, message: String },
    /// The driver answered something that is not a W3C response.
    Protocol(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(error) => write!(f, "connection to the WebDriver server failed: {error}"),
            Error::Driver { status, error, message } => write!(f, "{error} (HTTP {status}): {message}"),
            Error::Protocol(what) => write!(f, "unexpected answer from the WebDriver server: {what}"),
        }
    }
}

impl Error {
    /// The W3C error code, as in `no such element`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Driver { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A WebDriver remote end (tauri-driver) at 127.0.0.1:`port`.
#[derive(Clone, Copy, Debug)]
pub struct Driver {
    address: SocketAddr,
}

impl Driver {
    pub fn at_port(port: u16) -> Driver {
        Driver { address: SocketAddr::from(([127, 0, 0, 1], port)) }
    }

    /// Starts the app `application` in a new session, retrying for up to `patience` while the
    /// driver comes up or the app fails to start (WebKitWebDriver refuses the first attempts
    /// now and then). The error is the last attempt's.
    pub fn new_session(&self, application: &Path, patience: Duration) -> Result<Session, Error> {
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": { "tauri:options": { "application": application, "args": [] } }
            }
        });
        let started = Instant::now();
        loop {
            match self.request("POST", "/session", Some(&capabilities), COMMAND_TIMEOUT) {
                Ok(value) => {
                    let id = value["sessionId"].as_str().unwrap_or_else(|| {
                        panic!(
                            "the new session has no sessionId: {}",
                            value.to_string().chars().take(300).collect::<String>()
                        )
                    });
                    return Ok(Session { driver: *self, id: id.to_owned() });
                }
                Err(error) if started.elapsed() < patience => {
                    let _ = error;
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// One command: `method path` with an optional JSON body; returns the response's `value`.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>, timeout: Duration) -> Result<Value, Error> {
        let mut stream = TcpStream::connect_timeout(&self.address, Duration::from_secs(5)).map_err(Error::Io)?;
        stream.set_read_timeout(Some(timeout)).map_err(Error::Io)?;
        stream.set_write_timeout(Some(timeout)).map_err(Error::Io)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        // No `Connection: close`: tauri-driver passes it on to WebKitWebDriver, whose closing
        // connection tauri-driver's pool may then reuse, failing the next command with no answer.
        let mut message = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        if method != "GET" {
            message.push_str("Content-Type: application/json; charset=utf-8\r\n");
            message.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        message.push_str("\r\n");
        message.push_str(&body);
        stream.write_all(message.as_bytes()).map_err(Error::Io)?;
        let raw = read_response(&mut stream)?;
        let (status, body) = parse_response(&raw)?;
        let mut answer: Value = serde_json::from_slice(&body)
            .map_err(|error| Error::Protocol(format!("HTTP {status}, body is not JSON: {error}")))?;
        let value = answer.get_mut("value").map(Value::take).unwrap_or(Value::Null);
        if status >= 400 {
            return Err(Error::Driver {
                status,
                error: value["error"].as_str().unwrap_or("unknown error").to_owned(),
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(value)
    }
}

/// Reads one whole response from a kept-alive connection: the headers, then the body as its
/// length or chunks say (or to the end of the stream when they say neither).
fn read_response(stream: &mut TcpStream) -> Result<Vec<u8>, Error> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if response_complete(&raw) {
            return Ok(raw);
        }
        let read = stream.read(&mut buffer).map_err(Error::Io)?;
        if read == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buffer[..read]);
    }
}

fn response_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|window| window == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    for line in head.lines() {
        if let Some(length) = line.strip_prefix("content-length:") {
            return length.trim().parse::<usize>().is_ok_and(|length| body.len() >= length);
        }
        if line.starts_with("transfer-encoding:") && line.contains("chunked") {
            return dechunk(body).is_ok();
        }
    }
    false
}

/// Splits an HTTP/1.1 response into its status and body (chunked or not).
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), Error> {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| Error::Protocol(format!("no end of headers in {} bytes", raw.len())))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| Error::Protocol("no status line".into()))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if name == "content-length" {
            length = value.parse::<usize>().ok();
        }
    }
    if chunked {
        body = dechunk(&body)?;
    } else if let Some(length) = length {
        body.truncate(length);
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or_else(|| Error::Protocol("a chunk has no size line".into()))?;
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| Error::Protocol("a chunk size is not hexadecimal".into()))?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err(Error::Protocol("the body ends inside a chunk".into()));
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

/// One WebDriver session: one running instance of the app. Deleted (the app closed) on drop.
#[derive(Debug)]
pub struct Session {
    driver: Driver,
    id: String,
}

impl Session {
    pub fn id(&self) -> &str {
        &self.id
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        self.driver.request(method, &format!("/session/{}{path}", self.id), body.as_ref(), COMMAND_TIMEOUT)
    }

    fn must(&self, what: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, path, body).unwrap_or_else(|error| panic!("WebDriver: {what} failed: {error}"))
    }

    /// The first element matching the CSS `selector`, if any (no waiting).
    pub fn try_find(&self, selector: &str) -> Option<Element<'_>> {
        match self.command("POST", "/element", Some(json!({"using": "css selector", "value": selector}))) {
            Ok(value) => Some(Element {
                session: self,
                id: RefCell::new(element_id(&value)),
                selector: selector.to_owned(),
                refind: true,
            }),
            Err(error) if error.code() == Some("no such element") => None,
            Err(error) => panic!("WebDriver: finding `{selector}` failed: {error}"),
        }
    }

    /// The first element matching `selector`, waiting up to 10 s for it to appear.
    pub fn find(&self, selector: &str) -> Element<'_> {
        self.wait_for(selector, Duration::from_secs(10))
    }

    /// Clicks the element matching `selector`, waiting up to 10 s for it to be there and
    /// clickable; finds it again when the page replaced it between the finding and the click (a
    /// stale element), and tries again while it is hidden (the sync bar hides "Sync now" while a
    /// sync runs, and a change starts one): a person waits for the button too.
    pub fn click(&self, selector: &str) {
        self.wait_until(&format!("a clickable `{selector}`"), Duration::from_secs(10), || {
            let element = self.try_find(selector)?;
            match element.try_click() {
                Ok(()) => Some(()),
                Err(error) if error.code() == Some("stale element reference") => None,
                Err(error) if error.code() == Some("element not interactable") => None,
                Err(error) => panic!("WebDriver: clicking `{selector}` failed: {error}"),
            }
        });
    }

    /// The rendered text of the element matching `selector`, waiting up to 10 s for it (and
    /// finding it again if the page replaces it meanwhile).
    pub fn text(&self, selector: &str) -> String {
        self.wait_until(&format!("the text of `{selector}`"), Duration::from_secs(10), || {
            let element = self.try_find(selector)?;
            match element.session.command("GET", &format!("/element/{}/text", element.id.borrow()), None) {
                Ok(text) => Some(text.as_str().unwrap_or_default().to_owned()),
                Err(error) if error.code() == Some("stale element reference") => None,
                Err(error) => panic!("WebDriver: reading the text of `{selector}` failed: {error}"),
            }
        })
    }

    /// Every element matching `selector` now.
    pub fn find_all(&self, selector: &str) -> Vec<Element<'_>> {
        let value = self.must(
            &format!("finding all `{selector}`"),
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": selector})),
        );
        value
            .as_array()
            .map(|found| {
                found
                    .iter()
                    .map(|value| Element {
                        session: self,
                        id: RefCell::new(element_id(value)),
                        selector: selector.to_owned(),
                        refind: false,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits up to `timeout` for an element matching `selector` to exist.
    pub fn wait_for(&self, selector: &str, timeout: Duration) -> Element<'_> {
        self.wait_until(&format!("an element `{selector}`"), timeout, || self.try_find(selector))
    }

    /// Polls `check` every 100 ms until it gives `Some`, for up to `timeout`; then panics with
    /// "timed out after …waiting for `what`" and the screen the app shows.
    pub fn wait_until<T>(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = check() {
                return found;
            }
            if started.elapsed() > timeout {
                let screen = self.execute("return document.body ? document.body.dataset.screen : null", json!([]));
                panic!("timed out after {timeout:?} waiting for {what} (the app shows screen {screen})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the script's result is truthy (`return …;`), for up to `timeout`.
    pub fn wait_for_script(&self, what: &str, timeout: Duration, script: &str) -> Value {
        self.wait_until(what, timeout, || {
            let value = self.execute(script, json!([]));
            truthy(&value).then_some(value)
        })
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns what it returns.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.try_execute(script, args).unwrap_or_else(|error| panic!("WebDriver: a script failed: {error}"))
    }

    pub fn try_execute(&self, script: &str, args: Value) -> Result<Value, Error> {
        self.command("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// The element that has the keyboard focus (`document.activeElement`): keys sent to it go
    /// where a person's keys would go.
    pub fn focused(&self) -> Element<'_> {
        let value = self.must(
            "reading the focused element",
            "POST",
            "/execute/sync",
            Some(json!({"script": "return document.activeElement", "args": []})),
        );
        Element {
            session: self,
            id: RefCell::new(element_id(&value)),
            selector: "the focused element".to_owned(),
            refind: false,
        }
    }

    /// Runs an asynchronous script: it ends by calling `arguments[arguments.length - 1](result)`.
    /// Limited by the session's script timeout (see [`Session::set_script_timeout`]).
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        self.command("POST", "/execute/async", Some(json!({"script": script, "args": args})))
            .unwrap_or_else(|error| panic!("WebDriver: an asynchronous script failed: {error}"))
    }

    pub fn set_script_timeout(&self, timeout: Duration) {
        self.must(
            "setting the script timeout",
            "POST",
            "/timeouts",
            Some(json!({"script": timeout.as_millis() as u64})),
        );
    }

    /// The window's position and size on the screen: [x, y, width, height].
    pub fn window_rect(&self) -> [u32; 4] {
        let rect = self.must("reading the window's rectangle", "GET", "/window/rect", None);
        let number = |name: &str| rect[name].as_f64().map_or(0, |value| value.max(0.0) as u32);
        [number("x"), number("y"), number("width"), number("height")]
    }

    /// Resizes the window (a laptop's small screen), and returns the size it took.
    pub fn set_window_size(&self, width: u32, height: u32) -> [u32; 4] {
        self.must("resizing the window", "POST", "/window/rect", Some(json!({"width": width, "height": height})));
        self.window_rect()
    }

    pub fn title(&self) -> String {
        self.must("reading the title", "GET", "/title", None).as_str().unwrap_or_default().to_owned()
    }

    /// Ends the session (the driver closes the app). Also done on drop, ignoring errors.
    pub fn delete(mut self) {
        let id = std::mem::take(&mut self.id);
        self.driver
            .request("DELETE", &format!("/session/{id}"), None, COMMAND_TIMEOUT)
            .unwrap_or_else(|error| panic!("WebDriver: ending the session failed: {error}"));
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            let _ = self.driver.request("DELETE", &format!("/session/{}", self.id), None, Duration::from_secs(20));
        }
    }
}

fn element_id(value: &Value) -> String {
    value[ELEMENT_KEY].as_str().expect("an element reference").to_owned()
}

/// JavaScript's truthiness of a JSON value.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// An element of the page, found by `selector`.
#[derive(Debug)]
pub struct Element<'s> {
    session: &'s Session,
    id: RefCell<String>,
    selector: String,
    /// Found as the first match of `selector`, so a stale reference can be found again by it.
    refind: bool,
}

impl Element<'_> {
    fn command(&self, what: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .unwrap_or_else(|error| panic!("WebDriver: {what} `{}` failed: {error}", self.selector))
    }

    fn try_command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        self.session.command(method, &format!("/element/{}{path}", self.id.borrow()), body)
    }

    /// Reads something of the element. The interface re-renders a screen's parts as data
    /// arrives (a sync, a save), so an element found a moment ago may have been replaced: its
    /// reference is then stale and the element is found again by its selector, as a person
    /// would look again. `absent` is the answer when nothing matches any more.
    fn read(&self, what: &str, path: &str, absent: Value) -> Value {
        for _ in 0..5 {
            match self.try_command("GET", path, None) {
                Ok(value) => return value,
                Err(error) if self.refind && error.code() == Some("stale element reference") => {
                    match self.session.try_find(&self.selector) {
                        Some(again) => *self.id.borrow_mut() = again.id.into_inner(),
                        None => return absent,
                    }
                }
                Err(error) => panic!("WebDriver: {what} `{}` failed: {error}", self.selector),
            }
        }
        panic!("WebDriver: {what} `{}` failed: the element was replaced five times over", self.selector)
    }

    pub fn click(&self) {
        self.command("clicking", "POST", "/click", Some(json!({})));
    }

    pub fn try_click(&self) -> Result<(), Error> {
        self.try_command("POST", "/click", Some(json!({}))).map(drop)
    }

    /// Types `text` (see [`keys`] for special keys).
    pub fn send_keys(&self, text: &str) {
        self.command("typing into", "POST", "/value", Some(json!({"text": text})));
    }

    pub fn clear(&self) {
        self.command("clearing", "POST", "/clear", Some(json!({})));
    }

    /// The rendered text (what a person sees); empty when the element has gone.
    pub fn text(&self) -> String {
        self.read("reading the text of", "/text", json!("")).as_str().unwrap_or_default().to_owned()
    }

    /// An attribute's value; `None` when it is not set or the element has gone.
    pub fn attribute(&self, name: &str) -> Option<String> {
        self.read("reading an attribute of", &format!("/attribute/{name}"), Value::Null).as_str().map(str::to_owned)
    }

    /// A DOM property's value; `null` when the element has gone.
    pub fn property(&self, name: &str) -> Value {
        self.read("reading a property of", &format!("/property/{name}"), Value::Null)
    }

    /// The element as a script argument (`arguments[i]`).
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: *self.id.borrow() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_parsed_with_and_without_chunks() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"value\":1}\r\n";
        assert_eq!(parse_response(plain).unwrap(), (200, b"{\"value\":1}\r\n".to_vec()));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"va\r\n7\r\nlue\":2}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (404, b"{\"value\":2}".to_vec()));
    }
}

//! An HTTP relay in front of a real server that arranges one kind of fault at the moment a
//! test chooses: it parses each request and answer (HTTP/1.1, keep-alive, fixed or chunked
//! bodies), and for the requests a rule matches it can
//! - let the server do the request and drop its answer (the client's connection closes:
//!   an outcome the client cannot know),
//! - hold the request until the test releases it (a barrier, not a sleep),
//! - hold the server's answer until the test releases it.
//!
//! Everything else passes through unchanged. Loopback only.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One request as the relay saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. "/bucket/key?uploadId=...".
    pub target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The MD5 of the SSE-C key the request carries, if any.
    pub fn sse_md5(&self) -> Option<&str> {
        self.header("x-amz-server-side-encryption-customer-key-md5")
    }

    /// A PutObject (not a part, not a copy) of an object whose key ends with `name`.
    pub fn is_put_of(&self, name: &str) -> bool {
        self.method == "PUT"
            && self.path().ends_with(name)
            && !self.target.contains("partNumber=")
            && self.header("x-amz-copy-source").is_none()
    }

    /// A CompleteMultipartUpload of an object whose key ends with `name`.
    pub fn is_complete_of(&self, name: &str) -> bool {
        self.method == "POST" && self.path().ends_with(name) && self.target.contains("uploadId=")
    }

    /// A HEAD of an object whose key ends with `name`.
    pub fn is_head_of(&self, name: &str) -> bool {
        self.method == "HEAD" && self.path().ends_with(name)
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// What the relay does with a matching request.
#[derive(Debug, Clone)]
pub enum Action {
    /// The server does the request; its answer is dropped and the client's connection closed.
    DropAnswer,
    /// The request waits at the relay until `release(name)`.
    Hold(String),
    /// The server's answer waits at the relay until `release(name)`.
    HoldAnswer(String),
    /// The request never reaches the server: the client's connection is closed.
    DropRequest,
    /// The connection is reset (RST) instead of forwarding the request.
    ResetRequest,
    /// The server does the request; the client gets only the first half of its answer,
    /// then the connection closes.
    TruncateAnswer,
    /// The server does the request; its answer reaches the client this much later.
    DelayAnswer(Duration),
    /// The request reaches the server this much later (a stalled link).
    DelayRequest(Duration),
}

type Matcher = Box<dyn Fn(&Request) -> bool + Send + Sync>;

struct Rule {
    matches: Matcher,
    action: Action,
    /// How many more requests it applies to; None: every one, until cleared.
    remaining: Option<usize>,
    /// How many matching requests pass before it applies.
    skip: usize,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// How many requests each held name has seen arrive.
    arrived: HashMap<String, usize>,
    released: HashMap<String, bool>,
    /// How many answers were dropped.
    dropped: usize,
    /// How many times a rule applied.
    fired: usize,
}

pub struct Relay {
    pub endpoint: String,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl Relay {
    /// Listens on 127.0.0.1 and forwards to `upstream` (http://HOST:PORT).
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, state) = (upstream.clone(), shared.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &state);
                });
            }
        });
        Self { endpoint, state }
    }

    /// Adds a rule; `times`: how many matching requests it applies to (None: all).
    pub fn rule(
        &self,
        matches: impl Fn(&Request) -> bool + Send + Sync + 'static,
        action: Action,
        times: Option<usize>,
    ) {
        let (lock, _) = &*self.state;
        lock.lock().unwrap().rules.push(Rule {
            matches: Box::new(matches),
            action,
            remaining: times,
            skip: 0,
        });
    }

    /// Adds a rule that lets `skip` matching requests pass, then applies once.
    pub fn rule_after(
        &self,
        matches: impl Fn(&Request) -> bool + Send + Sync + 'static,
        action: Action,
        skip: usize,
    ) {
        let (lock, _) = &*self.state;
        lock.lock().unwrap().rules.push(Rule {
            matches: Box::new(matches),
            action,
            remaining: Some(1),
            skip,
        });
    }

    /// How many rules have applied (a rule of `rule_after` that has not fired yet: none).
    pub fn fired(&self) -> usize {
        self.state.0.lock().unwrap().fired
    }

    /// Removes every rule: from now on everything passes.
    pub fn clear(&self) {
        self.state.0.lock().unwrap().rules.clear();
    }

    /// Waits until a request (or answer) held under `name` has arrived.
    pub fn wait_arrived(&self, name: &str, secs: u64) {
        let (lock, cv) = &*self.state;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut state = lock.lock().unwrap();
        while state.arrived.get(name).copied().unwrap_or(0) == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "nothing arrived at the relay for {name}");
            state = cv.wait_timeout(state, left).unwrap().0;
        }
    }

    /// Lets what is held under `name` go on (and whatever arrives under it later).
    pub fn release(&self, name: &str) {
        let (lock, cv) = &*self.state;
        lock.lock().unwrap().released.insert(name.to_string(), true);
        cv.notify_all();
    }

    /// How many answers the relay dropped.
    pub fn dropped(&self) -> usize {
        self.state.0.lock().unwrap().dropped
    }
}

/// The action for a request, consuming one use of the rule that matched.
fn action_for(state: &Mutex<State>, request: &Request) -> Option<Action> {
    let mut state = state.lock().unwrap();
    let rule = state
        .rules
        .iter_mut()
        .find(|r| r.remaining != Some(0) && (r.matches)(request))?;
    if rule.skip > 0 {
        rule.skip -= 1;
        return None;
    }
    if let Some(n) = &mut rule.remaining {
        *n -= 1;
    }
    let action = rule.action.clone();
    state.fired += 1;
    Some(action)
}

fn hold(state: &(Mutex<State>, Condvar), name: &str) {
    let (lock, cv) = state;
    let mut s = lock.lock().unwrap();
    *s.arrived.entry(name.to_string()).or_default() += 1;
    cv.notify_all();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !s.released.get(name).copied().unwrap_or(false) && Instant::now() < deadline {
        s = cv.wait_timeout(s, Duration::from_millis(200)).unwrap().0;
    }
}

/// One client connection: request after request, each forwarded on one upstream connection.
fn serve(
    client: TcpStream,
    upstream: &str,
    state: &(Mutex<State>, Condvar),
) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let server = TcpStream::connect(upstream)?;
    let mut from_server = BufReader::new(server.try_clone()?);
    let mut to_server = server;
    loop {
        let Some((request, head, body)) = read_request(&mut from_client, &mut to_client)? else {
            return Ok(());
        };
        let action = action_for(&state.0, &request);
        match &action {
            Some(Action::Hold(name)) => hold(state, name),
            Some(Action::DropRequest) => {
                let _ = to_client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Action::ResetRequest) => {
                reset(&to_client);
                return Ok(());
            }
            Some(Action::DelayRequest(d)) => std::thread::sleep(*d),
            _ => {}
        }
        to_server.write_all(&head)?;
        to_server.write_all(&body)?;
        let answer = read_response(&mut from_server, &request.method)?;
        match &action {
            Some(Action::DropAnswer) => {
                state.0.lock().unwrap().dropped += 1;
                let _ = to_client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Action::HoldAnswer(name)) => hold(state, name),
            Some(Action::TruncateAnswer) => {
                let _ = to_client.write_all(&answer[..answer.len() / 2]);
                let _ = to_client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Action::DelayAnswer(d)) => std::thread::sleep(*d),
            _ => {}
        }
        to_client.write_all(&answer)?;
    }
}

/// Closes a connection with a reset (SO_LINGER 0), as a middlebox that gives up does.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd as _;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket this thread owns, with a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = stream.shutdown(Shutdown::Read);
}

/// A request read from the client: parsed, its head as forwarded, its body.
type Incoming = (Request, Vec<u8>, Vec<u8>);

/// Reads one request: its parsed head, the head to forward (without `Expect`, which the
/// relay answers itself), and its body. None at the end of the connection.
fn read_request(
    from: &mut BufReader<TcpStream>,
    to_client: &mut TcpStream,
) -> std::io::Result<Option<Incoming>> {
    let Some(lines) = read_head(from)? else {
        return Ok(None);
    };
    let mut parts = lines[0].split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let headers = parse_headers(&lines[1..]);
    let request = Request {
        method,
        target,
        headers,
    };
    let mut head = Vec::new();
    for line in &lines {
        if line.to_ascii_lowercase().starts_with("expect:") {
            continue;
        }
        head.extend_from_slice(line.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    if request
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        to_client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(from, &request.headers, false)?;
    Ok(Some((request, head, body)))
}

/// Reads one whole answer (raw bytes), skipping nothing: a 1xx is followed by the real one.
fn read_response(from: &mut BufReader<TcpStream>, method: &str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let lines = read_head(from)?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
        let status: u16 = lines[0]
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for line in &lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if (100..200).contains(&status) {
            continue;
        }
        let headers = parse_headers(&lines[1..]);
        if method != "HEAD" && status != 204 && status != 304 {
            out.extend(read_body(from, &headers, true)?);
        }
        return Ok(out);
    }
}

fn read_head(from: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if from.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue;
            }
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn parse_headers(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// A body as it came (chunked bodies keep their framing); `to_eof`: without a length,
/// the body runs to the end of the connection (answers only).
fn read_body(
    from: &mut BufReader<TcpStream>,
    headers: &[(String, String)],
    to_eof: bool,
) -> std::io::Result<Vec<u8>> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0u8; len];
        from.read_exact(&mut body)?;
        return Ok(body);
    }
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            from.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let mut t = String::new();
                    from.read_line(&mut t)?;
                    body.extend_from_slice(t.as_bytes());
                    if t.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let mut chunk = vec![0u8; size + 2];
            from.read_exact(&mut chunk)?;
            body.extend(chunk);
        }
    }
    let mut body = Vec::new();
    if to_eof {
        from.read_to_end(&mut body)?;
    }
    Ok(body)
}

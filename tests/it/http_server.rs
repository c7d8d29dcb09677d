//! A small HTTP/1.1 server on the loopback address for the download tests: it serves given
//! bytes per path, misbehaving on purpose per route (ignoring Range, dropping the connection
//! half way, redirecting, failing), and records every request it saw.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a route answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// 200, or 206 for a Range request.
    Normal,
    /// 200 with the whole body, whatever Range asks.
    IgnoreRange,
    /// The first request gets the full Content-Length but only `at` bytes, then the connection
    /// closes; later ones are served normally.
    DropOnce { at: usize },
    /// Every answer declares and sends only the first half.
    Truncated,
    /// 302 to another path.
    Redirect(String),
    /// 503 with `Retry-After: secs` for the first `times` requests, then normal.
    RetryAfter { times: usize, secs: u32 },
    /// Normal, but the body trickles: `chunk` bytes, then a pause of `pause_ms`, and so on.
    Slow { chunk: usize, pause_ms: u64 },
    /// Normal (Range honoured), but every answer closes after `at` body bytes.
    Dribble { at: usize },
    /// `code` (no Retry-After) for the first `times` requests, then normal.
    Fail { code: u16, times: usize },
    /// A Range request gets a 206 whose Content-Range starts at 0 (not where asked).
    WrongRange,
}

#[derive(Clone, Debug)]
pub struct Route {
    pub body: Vec<u8>,
    pub mode: Mode,
    /// Served as ETag; a request with a matching If-None-Match gets 304.
    pub etag: Option<String>,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    pub if_none_match: Option<String>,
    pub if_range: Option<String>,
    pub status: u16,
    /// Body bytes sent.
    pub sent: usize,
    pub at: Duration,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: HashMap<String, usize>,
    seen: Vec<Seen>,
}

pub struct Server {
    pub port: u16,
    state: Arc<Mutex<State>>,
    start: Instant,
    active: Arc<AtomicUsize>,
    max_active: Arc<AtomicUsize>,
    /// Each answer waits this long before its body (to see parallel downloads overlap).
    delay: Arc<Mutex<Duration>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let s = Server {
            port,
            state: Arc::default(),
            start: Instant::now(),
            active: Arc::default(),
            max_active: Arc::default(),
            delay: Arc::default(),
        };
        let (state, start, active, max_active, delay) = (
            s.state.clone(),
            s.start,
            s.active.clone(),
            s.max_active.clone(),
            s.delay.clone(),
        );
        // The listener thread lives as long as the test process: each test has its own port.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (state, active, max_active, delay) = (
                    state.clone(),
                    active.clone(),
                    max_active.clone(),
                    delay.clone(),
                );
                std::thread::spawn(move || {
                    let n = active.fetch_add(1, Ordering::SeqCst) + 1;
                    max_active.fetch_max(n, Ordering::SeqCst);
                    let d = *delay.lock().unwrap();
                    let _ = serve(conn, &state, start, d);
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn route(&self, path: &str, body: &[u8], mode: Mode) {
        self.route_tagged(path, body, mode, None);
    }

    pub fn route_tagged(&self, path: &str, body: &[u8], mode: Mode, etag: Option<&str>) {
        let mut st = self.state.lock().unwrap();
        st.routes.insert(
            path.to_string(),
            Route {
                body: body.to_vec(),
                mode,
                etag: etag.map(str::to_string),
            },
        );
        st.hits.remove(path);
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        let st = self.state.lock().unwrap();
        st.seen.iter().filter(|s| s.path == path).cloned().collect()
    }

    pub fn all_seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    pub fn max_active(&self) -> usize {
        self.max_active.load(Ordering::SeqCst)
    }
}

fn serve(
    mut conn: TcpStream,
    state: &Mutex<State>,
    start: Instant,
    delay: Duration,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let range = headers.get("range").cloned();
    let inm = headers.get("if-none-match").cloned();
    let if_range = headers.get("if-range").cloned();
    let (route, hit) = {
        let mut st = state.lock().unwrap();
        let hit = *st
            .hits
            .entry(path.clone())
            .and_modify(|h| *h += 1)
            .or_insert(1);
        (st.routes.get(&path).cloned(), hit)
    };
    let trickle = match route.as_ref().map(|r| &r.mode) {
        Some(Mode::Slow { chunk, pause_ms }) => Some((*chunk, Duration::from_millis(*pause_ms))),
        _ => None,
    };
    let (status, head, body, cut): (u16, Vec<String>, Vec<u8>, Option<usize>) = answer(
        route,
        hit,
        range.as_deref(),
        inm.as_deref(),
        if_range.as_deref(),
    );
    std::thread::sleep(delay);
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for h in &head {
        out += h;
        out += "\r\n";
    }
    if !head.iter().any(|h| h.starts_with("Content-Length")) {
        out += &format!("Content-Length: {}\r\n", body.len());
    }
    out += "\r\n";
    conn.write_all(out.as_bytes())?;
    let sent = cut.unwrap_or(body.len()).min(body.len());
    match trickle {
        Some((chunk, pause)) => {
            for (i, part) in body[..sent].chunks(chunk.max(1)).enumerate() {
                if i > 0 {
                    std::thread::sleep(pause);
                }
                conn.write_all(part)?;
                conn.flush()?;
            }
        }
        None => conn.write_all(&body[..sent])?,
    }
    conn.flush()?;
    state.lock().unwrap().seen.push(Seen {
        path,
        range,
        if_none_match: inm,
        if_range,
        status,
        sent,
        at: start.elapsed(),
    });
    let _ = conn.shutdown(Shutdown::Both);
    Ok(())
}

/// Status, extra headers, body, and how much of the body to send before closing.
fn answer(
    route: Option<Route>,
    hit: usize,
    range: Option<&str>,
    inm: Option<&str>,
    if_range: Option<&str>,
) -> (u16, Vec<String>, Vec<u8>, Option<usize>) {
    let Some(r) = route else {
        return (404, vec![], b"not here".to_vec(), None);
    };
    let etag: Vec<String> = r.etag.iter().map(|e| format!("ETag: {e}")).collect();
    if r.etag.is_some() && r.etag.as_deref() == inm {
        return (304, etag, vec![], None);
    }
    // If-Range: the rest only of the same version (a strong ETag match), else the whole.
    let range = range
        .filter(|_| if_range.is_none_or(|t| !t.starts_with("W/") && r.etag.as_deref() == Some(t)));
    let start = range
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok());
    let whole = |head: Vec<String>| (200, head, r.body.clone(), None);
    match r.mode {
        Mode::Redirect(to) => (302, vec![format!("Location: {to}")], vec![], None),
        Mode::RetryAfter { times, secs } if hit <= times => (
            503,
            vec![format!("Retry-After: {secs}")],
            b"busy".to_vec(),
            None,
        ),
        Mode::IgnoreRange => whole(etag),
        Mode::Truncated => {
            let half = r.body[..r.body.len() / 2].to_vec();
            (200, etag, half, None)
        }
        Mode::DropOnce { at } if hit == 1 => (200, etag, r.body.clone(), Some(at)),
        Mode::Fail { code, times } if hit <= times => (code, vec![], b"no".to_vec(), None),
        Mode::WrongRange if start.is_some() => {
            let mut head = etag;
            let n = r.body.len();
            head.push(format!("Content-Range: bytes 0-{}/{n}", n - 1));
            (206, head, r.body.clone(), None)
        }
        _ => match start {
            Some(s) if s < r.body.len() => {
                let mut head = etag;
                head.push(format!(
                    "Content-Range: bytes {s}-{}/{}",
                    r.body.len() - 1,
                    r.body.len()
                ));
                let cut = match r.mode {
                    Mode::Dribble { at } => Some(at),
                    _ => None,
                };
                (206, head, r.body[s..].to_vec(), cut)
            }
            Some(_) => (416, vec![], vec![], None),
            None => match r.mode {
                Mode::Dribble { at } => (200, etag, r.body.clone(), Some(at)),
                _ => whole(etag),
            },
        },
    }
}

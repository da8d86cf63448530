//! The embedded event log: append-only segment files in the data directory.
//!
//! Layout: `<dir>/segments/<base offset, 20 digits>.log`, each a sequence of frames
//! `[u32 LE length][u32 LE crc32 of payload][payload]`, the payload being one encoded event.
//! Offsets are record numbers, starting at 0. One writer thread owns the tail: it takes every
//! batch waiting, writes them in one go, `fdatasync`s once and only then acknowledges them all
//! (group commit), so durability costs one sync per burst, not per request. A single totally
//! ordered partition keeps every session in order.
//!
//! On open, the last segment is scanned and a torn tail (a crash mid-write) is cut off: it was
//! never acknowledged. Consumer groups keep their committed offset in `<dir>/offsets/<group>`,
//! replaced atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use tandemu_schemas::{Event, encoding};
use tokio::sync::oneshot;

use super::{BoxFuture, EventLog, LogError};

const FRAME_HEADER: usize = 8;
/// A frame larger than this is corruption, not an event.
const MAX_FRAME: u32 = 16 << 20;

#[derive(Clone, Debug)]
pub struct EmbeddedLogConfig {
    pub dir: PathBuf,
    /// A new segment starts once the current one is this large.
    pub segment_bytes: u64,
    /// Sync to disk before acknowledging. Off only for benchmarks of everything else.
    pub fsync: bool,
}

impl EmbeddedLogConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), segment_bytes: 128 << 20, fsync: true }
    }
}

struct WriteReq {
    frames: Vec<u8>,
    count: u64,
    done: oneshot::Sender<Result<u64, String>>,
}

/// Handle to an embedded log; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    tx: mpsc::Sender<WriteReq>,
    /// Next offset to be written; everything below is durable.
    end: Arc<AtomicU64>,
    healthy: Arc<AtomicBool>,
}

impl EmbeddedLog {
    /// Opens (or creates) the log in `cfg.dir`, repairing a torn tail.
    pub fn open(cfg: EmbeddedLogConfig) -> Result<Self, LogError> {
        let seg_dir = cfg.dir.join("segments");
        fs::create_dir_all(&seg_dir)?;
        fs::create_dir_all(cfg.dir.join("offsets"))?;
        let segments = list_segments(&seg_dir)?;
        let (base, path) = match segments.last() {
            Some(&base) => (base, segment_path(&seg_dir, base)),
            None => (0, segment_path(&seg_dir, 0)),
        };
        let (count, valid_len) = if path.exists() { scan(&path)? } else { (0, 0) };
        let file = OpenOptions::new().create(true).read(true).write(true).truncate(false).open(&path)?;
        if file.metadata()?.len() != valid_len {
            tracing::warn!(segment = %path.display(), valid_len, "cutting a torn tail off the event log");
            file.set_len(valid_len)?;
            file.sync_all()?;
        }
        sync_dir(&seg_dir)?;

        let end = Arc::new(AtomicU64::new(base + count));
        let healthy = Arc::new(AtomicBool::new(true));
        let (tx, rx) = mpsc::channel::<WriteReq>();
        let writer = Writer { seg_dir, file, size: valid_len, end: end.clone(), healthy: healthy.clone(), segment_bytes: cfg.segment_bytes, fsync: cfg.fsync };
        std::thread::Builder::new().name("tandemu-log-writer".into()).spawn(move || writer.run(rx))?;
        Ok(Self { inner: Arc::new(Inner { dir: cfg.dir, tx, end, healthy }) })
    }

    /// The offset the next record will get; every record below it is durable.
    pub fn end_offset(&self) -> u64 {
        self.inner.end.load(Ordering::Acquire)
    }

    /// Appends already-encoded events; returns the offset of the first.
    pub async fn append_encoded(&self, payloads: &[Vec<u8>]) -> Result<u64, LogError> {
        let mut frames = Vec::with_capacity(payloads.iter().map(|p| p.len() + FRAME_HEADER).sum());
        for p in payloads {
            push_frame(&mut frames, p);
        }
        self.write(frames, payloads.len() as u64).await
    }

    async fn write(&self, frames: Vec<u8>, count: u64) -> Result<u64, LogError> {
        let (done, rx) = oneshot::channel();
        self.inner.tx.send(WriteReq { frames, count, done }).map_err(|_| LogError::Unavailable("log writer has stopped".into()))?;
        match rx.await {
            Ok(Ok(first)) => Ok(first),
            Ok(Err(e)) => Err(LogError::Unavailable(e)),
            Err(_) => Err(LogError::Unavailable("log writer has stopped".into())),
        }
    }

    /// Reads up to `max` records starting at `from` (only durable ones).
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let mut reader = self.reader(from)?;
        reader.next_batch(max)
    }

    /// A sequential reader positioned at `from`.
    pub fn reader(&self, from: u64) -> Result<LogReader, LogError> {
        LogReader::open(self.inner.dir.join("segments"), from, self.inner.end.clone())
    }

    /// The committed offset of a consumer group: the next record it has not processed.
    pub fn committed(&self, group: &str) -> Result<u64, LogError> {
        let path = self.offset_path(group)?;
        match fs::read_to_string(&path) {
            Ok(s) => s.trim().parse().map_err(|_| LogError::Corrupt(format!("offset file {} is not a number", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Durably records that `group` has processed everything below `next`.
    pub fn commit(&self, group: &str, next: u64) -> Result<(), LogError> {
        let path = self.offset_path(group)?;
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(next.to_string().as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
        Ok(())
    }

    fn offset_path(&self, group: &str) -> Result<PathBuf, LogError> {
        if group.is_empty() || !group.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(LogError::Unavailable(format!("invalid consumer group name {group:?}")));
        }
        Ok(self.inner.dir.join("offsets").join(group))
    }
}

impl EventLog for EmbeddedLog {
    fn append<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, Result<(), LogError>> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(());
            }
            let mut frames = Vec::with_capacity(events.len() * 256);
            let mut payload = Vec::with_capacity(512);
            for ev in events {
                payload.clear();
                encoding::encode_into(ev, &mut payload);
                push_frame(&mut frames, &payload);
            }
            self.write(frames, events.len() as u64).await.map(|_| ())
        })
    }

    fn ready(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.inner.healthy.load(Ordering::Acquire) })
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }
}

fn push_frame(buf: &mut Vec<u8>, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

struct Writer {
    seg_dir: PathBuf,
    file: File,
    size: u64,
    end: Arc<AtomicU64>,
    healthy: Arc<AtomicBool>,
    segment_bytes: u64,
    fsync: bool,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<WriteReq>) {
        while let Ok(first) = rx.recv() {
            // Group commit: everything already waiting goes into this write and this sync.
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
                if batch.len() >= 4096 {
                    break;
                }
            }
            let result = self.write_batch(&batch);
            self.healthy.store(result.is_ok(), Ordering::Release);
            let mut next = self.end.load(Ordering::Acquire);
            match result {
                Ok(()) => {
                    // Publish the new end before acknowledging, so whoever hears "appended"
                    // can read it back at once.
                    let total: u64 = batch.iter().map(|r| r.count).sum();
                    self.end.store(next + total, Ordering::Release);
                    for req in batch {
                        let first = next;
                        next += req.count;
                        let _ = req.done.send(Ok(first));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "event log write failed");
                    // Nothing of this batch counts: cut back to the last durable length.
                    let _ = self.file.set_len(self.size);
                    for req in batch {
                        let _ = req.done.send(Err(e.to_string()));
                    }
                }
            }
        }
    }

    fn write_batch(&mut self, batch: &[WriteReq]) -> std::io::Result<()> {
        if self.size >= self.segment_bytes {
            self.roll()?;
        }
        let len: usize = batch.iter().map(|r| r.frames.len()).sum();
        let mut buf = Vec::with_capacity(len);
        for r in batch {
            buf.extend_from_slice(&r.frames);
        }
        self.file.seek(SeekFrom::Start(self.size))?;
        self.file.write_all(&buf)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        self.size += len as u64;
        Ok(())
    }

    fn roll(&mut self) -> std::io::Result<()> {
        let base = self.end.load(Ordering::Acquire);
        let path = segment_path(&self.seg_dir, base);
        self.file = OpenOptions::new().create(true).read(true).write(true).truncate(true).open(&path)?;
        self.size = 0;
        sync_dir(&self.seg_dir)
    }
}

/// Reads records sequentially across segments.
pub struct LogReader {
    seg_dir: PathBuf,
    next: u64,
    end: Arc<AtomicU64>,
    cur: Option<(u64, BufReader<File>)>,
}

impl LogReader {
    fn open(seg_dir: PathBuf, from: u64, end: Arc<AtomicU64>) -> Result<Self, LogError> {
        let mut r = Self { seg_dir, next: from, end, cur: None };
        r.position(from)?;
        Ok(r)
    }

    /// The offset of the next record this reader returns.
    pub fn position_offset(&self) -> u64 {
        self.next
    }

    fn position(&mut self, from: u64) -> Result<(), LogError> {
        let segments = list_segments(&self.seg_dir)?;
        let Some(&base) = segments.iter().rev().find(|b| **b <= from) else {
            self.cur = None;
            return Ok(());
        };
        let mut f = BufReader::new(File::open(segment_path(&self.seg_dir, base))?);
        let mut at = base;
        while at < from {
            match read_frame(&mut f)? {
                Some(_) => at += 1,
                None => break,
            }
        }
        self.next = at;
        self.cur = Some((base, f));
        Ok(())
    }

    /// Up to `max` durable records from the current position.
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let mut out = Vec::new();
        let end = self.end.load(Ordering::Acquire);
        while out.len() < max && self.next < end {
            let Some((_, f)) = self.cur.as_mut() else {
                self.position(self.next)?;
                if self.cur.is_none() {
                    break;
                }
                continue;
            };
            match read_frame(f)? {
                Some(payload) => {
                    out.push((self.next, payload));
                    self.next += 1;
                }
                None => {
                    // End of this segment: the next one starts at `self.next`.
                    let next_seg = segment_path(&self.seg_dir, self.next);
                    if next_seg.exists() {
                        self.cur = Some((self.next, BufReader::new(File::open(next_seg)?)));
                    } else {
                        return Err(LogError::Corrupt(format!("record {} is below the end {end} but missing", self.next)));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Reads one frame; `None` at a clean end of file.
fn read_frame(f: &mut impl Read) -> Result<Option<Vec<u8>>, LogError> {
    let mut header = [0u8; FRAME_HEADER];
    match f.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(header[..4].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(header[4..].try_into().unwrap_or_default());
    if len > MAX_FRAME {
        return Err(LogError::Corrupt(format!("frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len as usize];
    f.read_exact(&mut payload)?;
    if crc32fast::hash(&payload) != crc {
        return Err(LogError::Corrupt("frame checksum mismatch".into()));
    }
    Ok(Some(payload))
}

/// Counts the valid frames of a segment and the length they span (a torn tail is not counted).
fn scan(path: &Path) -> Result<(u64, u64), LogError> {
    let mut f = BufReader::new(File::open(path)?);
    let (mut count, mut len) = (0u64, 0u64);
    loop {
        match read_frame(&mut f) {
            Ok(Some(p)) => {
                count += 1;
                len += (FRAME_HEADER + p.len()) as u64;
            }
            // A clean end, or a torn/damaged tail from a crash mid-write: stop here.
            Ok(None) | Err(_) => return Ok((count, len)),
        }
    }
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut bases: Vec<u64> = fs::read_dir(dir)?.filter_map(|e| e.ok()).filter_map(|e| e.file_name().to_str()?.strip_suffix(".log")?.parse().ok()).collect();
    bases.sort_unstable();
    Ok(bases)
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// How long `append` waits for the writer before giving up (`Unavailable`).
pub const DEFAULT_APPEND_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    use tandemu_schemas::*;
    use uuid::Uuid;

    fn ev(n: u64) -> Event {
        Event {
            id: EventId([n as u8; 16]),
            tenant: TenantId(Uuid::from_u128(1)),
            user: UserId(Uuid::from_u128(2)),
            session: Some(SessionId(format!("s{}", n % 3))),
            time_unix_nano: 1_000 + n,
            sequence: Some(n),
            client: Client::default(),
            body: EventBody::UserPrompt(UserPrompt { prompt_id: None, prompt_length: Some(n) }),
        }
    }

    fn decode_all(log: &EmbeddedLog) -> Vec<Event> {
        log.read(0, usize::MAX).unwrap().into_iter().map(|(_, p)| encoding::decode(&p).unwrap()).collect()
    }

    #[tokio::test]
    async fn appends_survive_a_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<Event> = (0..50).map(ev).collect();
        {
            let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
            log.append(&events[..20]).await.unwrap();
            log.append(&events[20..]).await.unwrap();
            assert_eq!(log.end_offset(), 50);
        }
        let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
        assert_eq!(log.end_offset(), 50);
        assert_eq!(decode_all(&log), events);
        let tail = log.read(45, 100).unwrap();
        assert_eq!(tail.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![45, 46, 47, 48, 49]);
    }

    #[tokio::test]
    async fn concurrent_appends_are_all_durable_and_each_batch_contiguous() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let batch: Vec<Event> = (0..25).map(|i| ev(t * 100 + i)).collect();
                log.append(&batch).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let all = decode_all(&log);
        assert_eq!(all.len(), 200);
        for chunk in all.chunks(25) {
            let batch = chunk[0].sequence.unwrap() / 100;
            assert!(chunk.iter().enumerate().all(|(i, e)| e.sequence == Some(batch * 100 + i as u64)));
        }
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_and_the_log_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
            log.append(&[ev(1), ev(2)]).await.unwrap();
        }
        let seg = segment_path(&dir.path().join("segments"), 0);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap(); // half a frame, as a crash leaves it
        drop(f);
        let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
        assert_eq!(log.end_offset(), 2);
        log.append(&[ev(3)]).await.unwrap();
        assert_eq!(decode_all(&log).iter().map(|e| e.sequence.unwrap()).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn segments_roll_and_reads_cross_them() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddedLogConfig { segment_bytes: 300, ..EmbeddedLogConfig::new(dir.path()) };
        let log = EmbeddedLog::open(cfg.clone()).unwrap();
        for i in 0..30 {
            log.append(&[ev(i)]).await.unwrap();
        }
        assert!(list_segments(&dir.path().join("segments")).unwrap().len() > 3);
        assert_eq!(decode_all(&log).len(), 30);
        drop(log);
        let log = EmbeddedLog::open(cfg).unwrap();
        assert_eq!(log.end_offset(), 30);
        let mid = log.read(17, 5).unwrap();
        assert_eq!(mid.first().map(|r| r.0), Some(17));
        assert_eq!(encoding::decode(&mid[0].1).unwrap().sequence, Some(17));
    }

    #[tokio::test]
    async fn consumer_offsets_are_committed_durably() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
        assert_eq!(log.committed("processor").unwrap(), 0);
        log.commit("processor", 42).unwrap();
        drop(log);
        let log = EmbeddedLog::open(EmbeddedLogConfig::new(dir.path())).unwrap();
        assert_eq!(log.committed("processor").unwrap(), 42);
        assert!(log.commit("../escape", 1).is_err());
    }
}

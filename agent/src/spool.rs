//! The durable spool: every report is written to `<state dir>/spool/` (temporary file, fsync,
//! rename, fsync of the folder) before it is sent, and removed only once the collector has
//! acknowledged it. A crash at any point leaves either a complete spool file, delivered later
//! (the collector deduplicates by report id), or a temporary file, which is ignored and cleaned.
//!
//! The spool is bounded by count and bytes; when full, the oldest reports are dropped and the
//! drops counted (persisted in `spool-drops`, and sent with every report).
//!
//! Spooled reports name other users, their paths and tenant ids: the folder is private to the
//! service account (0700 and files 0600 on Unix, SYSTEM and Administrators only on Windows),
//! and [`Spool::open`] tightens a folder an older version left open.

use std::path::{Path, PathBuf};

use azver_proto::v1::InventoryReport;
use prost::Message as _;

use crate::state::{StateError, restrict_dir, write_atomically};

/// A spooled report file name: `<sequence, zero-padded>-<report id>.report`.
const SUFFIX: &str = ".report";

/// Why the spool failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file operation failed (full disk, permissions).
    #[error(transparent)]
    State(#[from] StateError),
    /// Listing the spool folder failed.
    #[error("spool {path}: {source}")]
    Io {
        /// The folder or file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// One spooled report.
#[derive(Debug, Clone)]
pub struct Spooled {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

/// The spool folder and its bounds.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    drops_file: PathBuf,
    max_reports: usize,
    max_bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.display().to_string(), source }
}

impl Spool {
    /// Opens the spool under `state_dir`, removing temporary files a crash left behind.
    pub fn open(state_dir: &Path, max_reports: usize, max_bytes: u64) -> Result<Self, SpoolError> {
        let dir = state_dir.join("spool");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        restrict_dir(&dir)?;
        let spool = Self { drops_file: state_dir.join("spool-drops"), dir, max_reports: max_reports.max(1), max_bytes };
        for entry in std::fs::read_dir(&spool.dir).map_err(io(&spool.dir))? {
            let path = entry.map_err(io(&spool.dir))?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                tracing::warn!(path = %path.display(), "removing a half-written spool file left by an interrupted agent");
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
        }
        Ok(spool)
    }

    /// The spool of a state dir, for reading only (`azver-agent status`): unlike [`Spool::open`]
    /// it creates and removes nothing, because a running service may be writing a temporary
    /// file that it is about to rename.
    pub fn inspect(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("spool"),
            drops_file: state_dir.join("spool-drops"),
            max_reports: usize::MAX,
            max_bytes: u64::MAX,
        }
    }

    /// Spooled reports, oldest first (none when the folder does not exist yet).
    pub fn list(&self) -> Result<Vec<Spooled>, SpoolError> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            entries => entries.map_err(io(&self.dir))?,
        };
        for entry in entries {
            let entry = entry.map_err(io(&self.dir))?;
            let path = entry.path();
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(SUFFIX)) {
                let bytes = entry.metadata().map_err(io(&path))?.len();
                out.push(Spooled { path, bytes });
            }
        }
        // Zero-padded sequence numbers sort in delivery order.
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Writes `report` durably, then drops the oldest reports beyond the bounds (never the new
    /// one). Returns how many were dropped.
    pub fn push(&self, report: &InventoryReport) -> Result<u64, SpoolError> {
        write_atomically(&self.file_for(report), &report.encode_to_vec())?;
        let mut spooled = self.list()?;
        let mut total: u64 = spooled.iter().map(|s| s.bytes).sum();
        let mut dropped = 0;
        while spooled.len() > 1 && (spooled.len() > self.max_reports || total > self.max_bytes) {
            let oldest = spooled.remove(0);
            std::fs::remove_file(&oldest.path).map_err(io(&oldest.path))?;
            total -= oldest.bytes;
            dropped += 1;
            tracing::warn!(path = %oldest.path.display(), "spool full: dropped the oldest undelivered report");
        }
        if dropped > 0 {
            self.add_drops(dropped)?;
        }
        Ok(dropped)
    }

    /// Replaces a spooled report by another of the same sequence (the reduced form of a report
    /// the collector refused): the new one is durable before the old one goes.
    pub fn replace(&self, old: &Spooled, report: &InventoryReport) -> Result<Spooled, SpoolError> {
        let bytes = report.encode_to_vec();
        let path = self.file_for(report);
        write_atomically(&path, &bytes)?;
        if path != old.path {
            self.remove(old)?;
        }
        Ok(Spooled { path, bytes: bytes.len() as u64 })
    }

    /// The file a report is spooled in.
    fn file_for(&self, report: &InventoryReport) -> PathBuf {
        self.dir.join(format!("{:020}-{}{SUFFIX}", report.sequence, sanitise(&report.report_id)))
    }

    /// Reads a spooled report; `None` (and the file removed) when it does not decode.
    pub fn read(&self, spooled: &Spooled) -> Result<Option<InventoryReport>, SpoolError> {
        let bytes = std::fs::read(&spooled.path).map_err(io(&spooled.path))?;
        match InventoryReport::decode(bytes.as_slice()) {
            Ok(report) => Ok(Some(report)),
            Err(error) => {
                tracing::error!(path = %spooled.path.display(), %error, "removing a spool file that does not decode");
                self.remove(spooled)?;
                self.add_drops(1)?;
                Ok(None)
            }
        }
    }

    /// Removes a delivered report.
    pub fn remove(&self, spooled: &Spooled) -> Result<(), SpoolError> {
        match std::fs::remove_file(&spooled.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&spooled.path)(e)),
            _ => Ok(()),
        }
    }

    /// Reports dropped so far (spool full, undecodable, or refused by the collector as invalid).
    pub fn drops(&self) -> u64 {
        std::fs::read_to_string(&self.drops_file).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
    }

    /// Counts more drops.
    pub fn add_drops(&self, more: u64) -> Result<(), SpoolError> {
        let total = self.drops() + more;
        write_atomically(&self.drops_file, format!("{total}\n").as_bytes())?;
        Ok(())
    }
}

/// Report ids are UUIDs; anything else is made safe for a file name.
fn sanitise(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(sequence: u64, padding: usize) -> InventoryReport {
        InventoryReport {
            report_id: format!("id-{sequence}"),
            sequence,
            errors: vec![azver_proto::v1::ScanError {
                path: "x".repeat(padding),
                kind: "io".into(),
                message: String::new(),
            }],
            ..InventoryReport::default()
        }
    }

    #[test]
    fn reports_come_back_oldest_first_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 10, 1 << 20).unwrap();
        for sequence in [3, 1, 12, 2] {
            spool.push(&report(sequence, 10)).unwrap();
        }
        let reopened = Spool::open(dir.path(), 10, 1 << 20).unwrap();
        let sequences: Vec<u64> =
            reopened.list().unwrap().iter().map(|s| reopened.read(s).unwrap().unwrap().sequence).collect();
        assert_eq!(sequences, [1, 2, 3, 12]);
    }

    #[test]
    fn full_spools_drop_the_oldest_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 3, 1 << 20).unwrap();
        for sequence in 1..=5 {
            spool.push(&report(sequence, 10)).unwrap();
        }
        let left: Vec<u64> = spool.list().unwrap().iter().map(|s| spool.read(s).unwrap().unwrap().sequence).collect();
        assert_eq!(left, [3, 4, 5]);
        assert_eq!(spool.drops(), 2);
        // Bytes bound too, but the newest report is always kept.
        let small = Spool::open(&dir.path().join("small"), 100, 1500).unwrap();
        for sequence in 1..=3 {
            small.push(&report(sequence, 1000)).unwrap();
        }
        assert_eq!(small.list().unwrap().len(), 1);
        assert_eq!(small.drops(), 2);
    }

    #[test]
    fn half_written_and_corrupt_files_are_cleaned_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 10, 1 << 20).unwrap();
        spool.push(&report(1, 10)).unwrap();
        std::fs::write(dir.path().join("spool/00000000000000000002-id-2.tmp"), b"\x0a\xff half").unwrap();
        std::fs::write(dir.path().join("spool/00000000000000000003-id-3.report"), b"\xff\xff\xff garbage").unwrap();
        let spool = Spool::open(dir.path(), 10, 1 << 20).unwrap();
        assert!(!dir.path().join("spool/00000000000000000002-id-2.tmp").exists());
        let listed = spool.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(spool.read(&listed[0]).unwrap().map(|r| r.sequence), Some(1));
        assert!(spool.read(&listed[1]).unwrap().is_none());
        assert_eq!(spool.list().unwrap().len(), 1);
        assert_eq!(spool.drops(), 1);
    }
}
